"""Selectivity: which category a unit prefers and how sharply; how sparse a layer's code is.

::

    s = selectivity(features, labels)     # features (N, units), one category label per stimulus
    s.d_prime          # (units,) d' of each unit's preferred category against the others
    s.preferred        # (units,) that category
    s.lifetime         # (units,) lifetime sparseness (0: responds to all stimuli alike, 1: to one)
    s.population       # (N,) population sparseness of each stimulus' response over the units
    layer_selectivity(model, X, labels); plot_selectivity(result, "sel.png")

Sparseness is Vinje & Gallant's (2000) form of the Rolls-Tovee measure,
``(1 - (sum r / n)^2 / (sum r^2 / n)) / (1 - 1 / n)``, on responses clipped at 0 (firing rates).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._checks import Text, check_int, fail
from .._io import save_figure
from .features import class_labels, flat_features, layer_features
from .similarity import as_array


@dataclass
class Selectivity:
    """Per unit: ``d_prime``, ``preferred`` (category), ``lifetime`` sparseness; per stimulus:
    ``population`` sparseness; ``categories``: the category of each index."""

    d_prime: np.ndarray
    preferred: np.ndarray
    lifetime: np.ndarray
    population: np.ndarray
    categories: np.ndarray

    def summary(self) -> dict:
        """Layer means: ``d_prime``, ``lifetime``, ``population`` and ``selective`` (share of units with d' > 1)."""
        return {"d_prime": float(np.nanmean(self.d_prime)), "lifetime": float(np.nanmean(self.lifetime)),
                "population": float(np.nanmean(self.population)),
                "selective": float(np.mean(np.nan_to_num(self.d_prime) > 1.0))}


def sparseness(responses, axis: int) -> np.ndarray:
    """Vinje & Gallant's sparseness of non-negative ``responses`` along ``axis`` (NaN where all are 0)."""
    r = np.clip(as_array(responses, "sparseness responses"), 0, None)
    axis = check_int(axis, "sparseness axis", minimum=-r.ndim, maximum=r.ndim - 1)
    n = r.shape[axis]
    if n < 2:
        fail("sparseness responses", "at least 2 values along the axis", Text(f"{n}"))
    mean, mean_sq = r.mean(axis), (r ** 2).mean(axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mean_sq > 0, (1 - mean ** 2 / mean_sq) / (1 - 1 / n), np.nan)


def selectivity(features, labels) -> Selectivity:
    """Category selectivity and sparseness of every unit.

    Args:
        features: ``(N, ...)`` responses (flattened per stimulus into units).
        labels: ``(N,)`` category per stimulus (or one-hot rows).

    Returns:
        :class:`Selectivity`. A unit's ``d_prime`` is ``(mu_c - mu_rest) / sqrt((var_c + var_rest) / 2)`` for
        the category ``c`` with the largest value (NaN for a unit that never varies).
    """
    x = flat_features(features, "selectivity features", min_samples=3)
    y = class_labels(labels, len(x), "selectivity labels")
    categories, index = np.unique(y, return_inverse=True)
    if len(categories) < 2:
        fail("selectivity labels", "at least 2 categories", Text(f"1 ({categories[0]!r})"))
    counts = np.bincount(index)
    if counts.min() < 2:
        fail("selectivity labels", "at least 2 stimuli per category", Text(f"a category with {counts.min()}"))
    onehot = np.eye(len(categories))[index]  # (N, C)
    total, total_sq = x.sum(0), (x ** 2).sum(0)
    sums, sums_sq = onehot.T @ x, onehot.T @ (x ** 2)  # (C, units)
    n_in, n_out = counts[:, None], len(x) - counts[:, None]
    mu_in, mu_out = sums / n_in, (total - sums) / n_out
    var_in = (sums_sq - n_in * mu_in ** 2) / (n_in - 1)
    var_out = (total_sq - sums_sq - n_out * mu_out ** 2) / np.maximum(n_out - 1, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = (mu_in - mu_out) / np.sqrt(np.clip((var_in + var_out) / 2, 0, None))
    d = np.where(np.isfinite(d), d, -np.inf)
    best = d.argmax(0)
    d_best = d[best, np.arange(x.shape[1])]
    return Selectivity(np.where(np.isfinite(d_best), d_best, np.nan), categories[best], sparseness(x, 0),
                       sparseness(x, 1), categories)


@dataclass
class LayerSelectivity:
    """``results[layer]``: the :class:`Selectivity` of each layer."""

    results: dict
    projected: dict = field(default_factory=dict)

    def table(self) -> list[dict]:
        return [{"layer": name, **r.summary()} for name, r in self.results.items()]


def layer_selectivity(model, X, labels, layers=None, batch_size: int = 256) -> LayerSelectivity:
    """:func:`selectivity` of every (or the named) layer of ``model`` on ``X`` (units kept whole)."""
    feats = layer_features(model, X, layers, max_features=None, batch_size=batch_size)
    return LayerSelectivity({name: selectivity(v, labels) for name, v in feats.items()})


def plot_selectivity(result: LayerSelectivity, path, title: str = "Category selectivity per layer") -> Path:
    """Left: the distribution of the units' d' per layer; right: mean lifetime and population sparseness."""
    from matplotlib.figure import Figure

    if not isinstance(result, LayerSelectivity):
        fail("plot_selectivity result", "a LayerSelectivity (from layer_selectivity)", type(result).__name__,
             error=TypeError)
    names = list(result.results)
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    data = [r.d_prime[np.isfinite(r.d_prime)] for r in result.results.values()]
    left.boxplot([d if len(d) else [np.nan] for d in data], showfliers=False)
    left.set_xticks(range(1, len(names) + 1), names, rotation=30, ha="right", fontsize=8)
    left.axhline(1.0, color="0.5", linestyle="--", linewidth=0.8, label="d' = 1")
    left.set_ylabel("d' of the preferred category")
    left.set_xlabel("layer")
    left.set_title("units' category selectivity")
    left.legend(fontsize=7)
    rows = result.table()
    right.plot(range(len(names)), [r["lifetime"] for r in rows], "o-", label="lifetime sparseness (per unit)")
    right.plot(range(len(names)), [r["population"] for r in rows], "s-", label="population sparseness (per stimulus)")
    right.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    right.set_ylim(0, 1)
    right.set_ylabel("sparseness (0 dense - 1 sparse)")
    right.set_xlabel("layer")
    right.set_title("sparseness")
    right.legend(fontsize=7)
    fig.suptitle(title)
    return save_figure(fig, path, where="plot_selectivity path")
