"""One question, one call: how does every layer of my network compare with every brain region?

::

    from deepscope import brain
    data = kriegeskorte92.load_data()
    result = brain.compare(model, brain.stimuli_for(model, data.images),
                           rdms={"human IT": data.human_it_subjects_rdms(), "monkey IT": data.monkey_it},
                           labels=data.animate)
    result.best()            # the best layer per region and analysis, with its interval
    result.rows              # a tidy table (pandas.DataFrame(result.rows))
    result.plot("compare.png"); result.report("compare.html")

The layers are recorded once (in chunks). With ``rdms`` each layer is compared with each region by RSA
(noise ceiling, bootstrap intervals: exactly :func:`~deepscope.brain.layer_rsa`); with ``responses``
by encoding (ridge, stratified 90/10 splits when ``labels`` are given, scores normalized by each unit's
noise ceiling: exactly :func:`~deepscope.brain.layer_encoding` with those folds); with ``labels`` every
layer is also decoded (:func:`~deepscope.introspect.decoding.decode`: the chance level beside it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._checks import Text, fail
from .._io import atomic_write_text, save_figure
from ..introspect.decoding import LayerDecoding, decode
from ..introspect.features import class_labels, layer_features
from ..introspect.similarity import rdm
from .._html import figure_img, page, section, table_html
from .encoding import ALPHAS, EncodingMap, encoding_scores
from .rsa import LayerRSA, layer_rsa


@dataclass
class BrainComparison:
    """What :func:`compare` found.

    Attributes:
        rows: one dict per (analysis, region, layer): ``analysis`` (``'rsa'``, ``'encoding'``,
            ``'decoding'``), ``region``, ``layer``, ``score``, ``ci_low``, ``ci_high``, ``ceiling``
            (RSA: the lower noise ceiling; decoding: chance), ``normalized`` (RSA: score / lower ceiling;
            encoding: already ceiling-normalized).
        rsa, encoding, decoding: the full results (:class:`LayerRSA`, :class:`EncodingMap`,
            :class:`LayerDecoding`), or None when not asked.
    """

    rows: list
    rsa: LayerRSA | None = None
    encoding: EncodingMap | None = None
    decoding: LayerDecoding | None = None
    projected: dict = field(default_factory=dict)

    def best(self) -> list[dict]:
        """The best layer of each (analysis, region): its row."""
        best: dict[tuple, dict] = {}
        for row in self.rows:
            key = (row["analysis"], row["region"])
            if np.isfinite(row["score"]) and (key not in best or row["score"] > best[key]["score"]):
                best[key] = row
        return list(best.values())

    def table(self) -> str:
        """The best layers in words, then every row."""
        lines = ["best layer per region:"]
        for row in self.best():
            ci = (f" [{row['ci_low']:.3f}, {row['ci_high']:.3f}]" if row["ci_low"] is not None
                  and np.isfinite(row["ci_low"]) else "")
            lines.append(f"  {row['analysis']:<9} {row['region']:<14} {row['layer']:<22} {row['score']:.3f}{ci}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def to_pandas(self):
        """The rows as a ``pandas.DataFrame`` (pandas needed)."""
        import pandas as pd
        return pd.DataFrame(self.rows)

    def plot(self, path, title: str = "Network layers vs brain regions") -> Path:
        """One panel per analysis: each region's score per layer (intervals where bootstrapped; RSA's noise
        ceiling and decoding's chance level as dashed lines)."""
        return save_figure(self._figure(title), path, where="BrainComparison.plot path")

    def _figure(self, title: str):
        from matplotlib.figure import Figure

        analyses = [a for a in ("rsa", "encoding", "decoding") if any(r["analysis"] == a for r in self.rows)]
        fig = Figure(figsize=(6.5, 3.0 * len(analyses)), layout="constrained")
        axes = fig.subplots(len(analyses), 1, squeeze=False)[:, 0]
        ylabels = {"rsa": "RDM correlation", "encoding": "median r / noise ceiling", "decoding": "decoding accuracy"}
        for ax, analysis in zip(axes, analyses):
            rows = [r for r in self.rows if r["analysis"] == analysis]
            regions = list(dict.fromkeys(r["region"] for r in rows))
            layers = list(dict.fromkeys(r["layer"] for r in rows))
            x = np.arange(len(layers))
            for k, region in enumerate(regions):
                mine = {r["layer"]: r for r in rows if r["region"] == region}
                y = np.array([mine[layer]["score"] for layer in layers])
                line = ax.plot(x, y, "o-", label=region)[0]
                low = np.array([mine[layer]["ci_low"] if mine[layer]["ci_low"] is not None else np.nan for layer in layers])
                high = np.array([mine[layer]["ci_high"] if mine[layer]["ci_high"] is not None else np.nan for layer in layers])
                if np.isfinite(low).any():
                    ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2)
                ceiling = mine[layers[0]]["ceiling"]
                if ceiling is not None and np.isfinite(ceiling):
                    name = "chance" if analysis == "decoding" else "noise ceiling (lower)"
                    ax.axhline(ceiling, color=line.get_color(), linestyle="--", linewidth=0.9,
                               label=f"{region}: {name} {ceiling:.2f}")
            ax.set_xticks(x, layers, rotation=30, ha="right", fontsize=8)
            ax.set_ylabel(ylabels[analysis])
            ax.set_title(analysis.upper() if analysis == "rsa" else analysis)
            ax.legend(fontsize=7)
        axes[-1].set_xlabel("network layer")
        fig.suptitle(title)
        return fig

    def _best_table(self) -> str:
        return table_html(["analysis", "region", "best layer", "score", "interval"],
                          [[r["analysis"], r["region"], r["layer"], r["score"],
                            "-" if r["ci_low"] is None or not np.isfinite(r["ci_low"])
                            else f"{r['ci_low']:.3f} to {r['ci_high']:.3f}"] for r in self.best()])

    def report_section(self, title: str = "Network vs brain") -> tuple[str, str, str]:
        """``(id, title, html)`` of this comparison as one section of a run report
        (``deepscope.report(model, sections=[comparison])``): the best layer per region, the figure."""
        body = ("<h3>Best layer per region</h3>" + self._best_table()
                + figure_img(self._figure(title), "network layers vs brain regions")
                + '<p class="muted">RSA with noise ceilings and bootstrap intervals; encoding normalized by each '
                  "unit's noise ceiling; decoding against chance. Every score: BrainComparison.rows.</p>")
        return "brain", title, body

    def report(self, path, title: str = "Network vs brain") -> Path:
        """A self-contained HTML page: the best layers, the figure, every row."""
        columns = ["analysis", "region", "layer", "score", "ci_low", "ci_high", "ceiling", "normalized"]
        rows = table_html(columns, [[r[c] for c in columns] for r in self.rows])
        html = page(title, [section("best", "Best layer per region", self._best_table()),
                            section("figure", "Every layer", figure_img(self._figure(title), "layers vs regions")),
                            section("rows", "All scores", rows)],
                    "RSA with noise ceilings and bootstrap intervals; encoding normalized by each unit's noise "
                    "ceiling; decoding against chance.")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, html)
        return path


def compare(model, stimuli, rdms: dict | None = None, responses: dict | None = None, labels=None, layers=None,
            method: str = "spearman", n_bootstrap: int = 1000, n_folds: int = 10, alphas=ALPHAS,
            regression: str = "ridge", max_features: int | None = None, seed: int = 0,
            batch_size: int = 256) -> BrainComparison:
    """Every layer of ``model`` against every brain region, by every analysis the data allow.

    Args:
        model: a ``DNN`` (or ``nn.Module``).
        stimuli: the inputs, in the order of the brain data's stimuli.
        rdms: ``{region: RDMs (N, N) or (subjects, N, N)}`` for RSA (None: no RSA).
        responses: ``{region: (N, units) or (N, repeats, units)}`` for encoding (None: no encoding).
        labels: a category per stimulus: decoding of every layer, and stratified encoding folds.
        layers: layer names (default: every layer).
        method: RSA's RDM comparison (see :func:`~deepscope.brain.layer_rsa`).
        n_bootstrap: RSA's bootstrap samples over stimuli and subjects.
        n_folds: encoding and decoding folds (10: Brain-Score's 90/10 splits).
        alphas: the ridge penalties of the encoding models.
        regression: ``'ridge'`` or ``'pls'`` (see :func:`~deepscope.brain.encoding_scores`).
        max_features: reduce layers wider than this to their principal components (bounded memory on many
            stimuli; None: whole, which RSA's correlation distances need to equal ``layer_rsa``).
        seed: seed of the bootstrap and the folds.

    Returns:
        :class:`BrainComparison`.
    """
    if rdms is None and responses is None and labels is None:
        fail("brain.compare", "rdms=, responses= or labels= (what to compare the layers with)",
             Text("none of them"), "Give rdms={'IT': rdm_array} for RSA, responses={'V1': array} for encoding.")
    for name, value in (("rdms", rdms), ("responses", responses)):
        if value is not None and (not isinstance(value, dict) or not value):
            fail(f"brain.compare {name}", "a dict {region name: array}", Text(type(value).__name__), error=TypeError)
    feats = layer_features(model, stimuli, layers, max_features=max_features, batch_size=batch_size)
    n = len(next(iter(feats.values())))
    rows: list[dict] = []
    rsa = encoding = decoding = None
    if rdms is not None:
        rsa = layer_rsa({name: rdm(values) for name, values in feats.items()}, None, rdms, method=method,
                        n_bootstrap=n_bootstrap, seed=seed)
        for r, region in enumerate(rsa.regions):
            ceiling = rsa.ceilings.get(region)
            for i, layer in enumerate(rsa.layers):
                score = float(rsa.scores[r, i])
                rows.append({"analysis": "rsa", "region": region, "layer": layer, "score": score,
                             "ci_low": float(rsa.ci_low[r, i]), "ci_high": float(rsa.ci_high[r, i]),
                             "ceiling": None if ceiling is None else float(ceiling[0]),
                             "normalized": None if ceiling is None or ceiling[0] <= 0 else score / float(ceiling[0])})
    if responses is not None:
        for region, data in responses.items():
            if len(data) != n:
                fail(f"brain.compare responses[{region!r}]", f"one row per stimulus ({n}, in the stimuli's order)",
                     Text(f"{len(data)} rows"))
        results = {region: {layer: encoding_scores(values, data, n_folds, alphas, seed=seed, labels=labels,
                                                         regression=regression)
                            for layer, values in feats.items()} for region, data in responses.items()}
        median = np.array([[results[region][layer].median_normalized for layer in feats] for region in responses])
        encoding = EncodingMap(list(feats), list(responses), median, results)
        for r, region in enumerate(encoding.regions):
            for i, layer in enumerate(encoding.layers):
                rows.append({"analysis": "encoding", "region": region, "layer": layer, "score": float(median[r, i]),
                             "ci_low": None, "ci_high": None, "ceiling": 1.0, "normalized": float(median[r, i])})
    if labels is not None:
        folds = min(n_folds, max(2, int(np.unique(class_labels(labels, n, "brain.compare labels"),
                                                      return_counts=True)[1].min())))  # (the smallest class)
        decoding = LayerDecoding({layer: decode(values, labels, n_folds=folds, seed=seed)
                                  for layer, values in feats.items()}, dict(feats.projected))
        for layer, result in decoding.results.items():
            rows.append({"analysis": "decoding", "region": "labels", "layer": layer, "score": result.accuracy,
                         "ci_low": None, "ci_high": None, "ceiling": result.chance, "normalized": None})
    return BrainComparison(rows, rsa, encoding, decoding, dict(feats.projected))
