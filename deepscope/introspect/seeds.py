"""Any layer analysis over seeds: is what I see a property of the network, or of one seed?

::

    models = study.trained_models({"l2": 1e-3})                  # one trained model per seed
    summary = across_seeds(layer_decoding, models, X_test, labels)
    summary.table()            # per layer: mean, sd, min, max over seeds of every number of the analysis
    summary.per_seed           # each seed's own table
    plot_across_seeds(summary, "accuracy", "decoding_seeds.png")

Works with every analysis whose result has a ``table()`` of rows with a ``layer`` (``layer_decoding``,
``layer_dimensionality``, ``layer_selectivity``) or that returns such rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .._checks import Text, check_instance, fail
from .._io import save_figure


@dataclass
class SeedSummary:
    """``per_seed``: each model's rows (``[{layer, ...}, ...]``); ``analysis``: the function's name."""

    per_seed: list
    analysis: str

    def table(self) -> list[dict]:
        """Per layer and number: ``layer``, then ``<name>_mean``, ``<name>_sd``, ``<name>_min``, ``<name>_max``
        over the seeds (``n_seeds``: how many seeds had the layer)."""
        layers = list(dict.fromkeys(row["layer"] for rows in self.per_seed for row in rows))
        out = []
        for layer in layers:
            rows = [row for rows in self.per_seed for row in rows if row["layer"] == layer]
            entry = {"layer": layer, "n_seeds": len(rows)}
            for key in rows[0]:
                values = [row.get(key) for row in rows]
                if key == "layer" or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                    continue
                v = np.asarray(values, dtype=float)
                entry.update({f"{key}_mean": float(v.mean()), f"{key}_sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                              f"{key}_min": float(v.min()), f"{key}_max": float(v.max())})
            out.append(entry)
        return out

    def values(self, key: str) -> dict:
        """``{layer: [value of each seed]}`` for one number of the analysis."""
        out: dict[str, list] = {}
        for rows in self.per_seed:
            for row in rows:
                if key not in row:
                    fail("SeedSummary key", f"a number of the analysis ({', '.join(k for k in row if k != 'layer')})", key)
                out.setdefault(row["layer"], []).append(row[key])
        return out


def across_seeds(analysis: Callable, models: list, *args, **kwargs) -> SeedSummary:
    """Run ``analysis(model, *args, **kwargs)`` for every model (one per seed) and keep each one's rows.

    Args:
        analysis: a layer analysis, e.g. ``introspect.layer_decoding``.
        models: the trained models of the seeds (``Study.trained_models``, or your own list).
        args, kwargs: the analysis' other arguments (the same inputs for every seed).

    Returns:
        :class:`SeedSummary`.
    """
    if not callable(analysis):
        fail("across_seeds analysis", "a function such as introspect.layer_decoding", Text(type(analysis).__name__),
             error=TypeError)
    models = list(models)
    if len(models) < 2:
        fail("across_seeds models", "at least 2 models (one per seed)", Text(f"{len(models)}"))
    per_seed = []
    for model in models:
        result = analysis(model, *args, **kwargs)
        rows = result.table() if hasattr(result, "table") else result
        if not (isinstance(rows, list) and all(isinstance(r, dict) and "layer" in r for r in rows)):
            fail("across_seeds analysis", "a result with table() rows that name their layer",
                 Text(type(result).__name__))
        per_seed.append(rows)
    return SeedSummary(per_seed, getattr(analysis, "__name__", "analysis"))


def plot_across_seeds(summary: SeedSummary, key: str, path, title: str | None = None) -> Path:
    """One number per layer: each seed's value (dots) and the mean with its spread (sd) over seeds."""
    from matplotlib.figure import Figure

    check_instance(summary, SeedSummary, "plot_across_seeds summary", "across_seeds(...)")
    values = summary.values(key)
    layers = list(values)
    fig = Figure(figsize=(max(4.5, 0.8 * len(layers) + 2), 3.6), layout="constrained")
    ax = fig.subplots()
    for i, layer in enumerate(layers):
        v = np.asarray(values[layer], dtype=float)
        ax.scatter(np.full(len(v), i) + np.linspace(-0.12, 0.12, len(v)), v, color="0.55", s=14,
                   label="each seed" if i == 0 else None)
        ax.errorbar(i, v.mean(), yerr=v.std(ddof=1) if len(v) > 1 else 0, fmt="o", color="tab:blue", capsize=4,
                    label="mean ± sd over seeds" if i == 0 else None)
    ax.set_xticks(range(len(layers)), layers, rotation=30, ha="right", fontsize=8)
    ax.set_xlabel("layer")
    ax.set_ylabel(key)
    ax.set_title(title or f"{summary.analysis}: {key} over {len(summary.per_seed)} seeds")
    ax.legend(fontsize=7)
    return save_figure(fig, path, where="plot_across_seeds path")
