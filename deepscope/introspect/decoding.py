"""Decoding: how well a linear read-out recovers the labels from a layer (cross-validated linear probes).

::

    result = decode(features, labels, n_permutations=100)   # arrays (N, ...) and (N,)
    result.accuracy, result.chance, result.p_value
    per_layer = layer_decoding(model, X, labels)             # every layer, activations in chunks
    plot_decoding(per_layer, "decoding.png")

The probe is scikit-learn's ``LogisticRegression`` on standardized features, scored with a stratified
k-fold split (what a course's notebook writes by hand; tested equal to that loop). The chance level is
the accuracy of always answering the most frequent class of the training folds; the permutation test
decodes shuffled labels with the same folds (p = (1 + null >= observed) / (1 + permutations)).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._checks import Text, check_int, fail
from .._io import save_figure
from .features import class_labels, flat_features, layer_features


@dataclass
class Decoding:
    """One read-out: ``accuracy`` (mean over folds), ``folds`` (per fold), ``chance`` (majority class),
    ``p_value`` and ``null`` (the permutation accuracies; None without a permutation test)."""

    accuracy: float
    folds: np.ndarray
    chance: float
    p_value: float | None = None
    null: np.ndarray | None = None


@dataclass
class LayerDecoding:
    """Decoding per layer: ``results[layer]``; ``projected[layer]``: the width of a layer that was decoded
    from its principal components (absent: decoded whole)."""

    results: dict
    projected: dict = field(default_factory=dict)

    def table(self) -> list[dict]:
        """One row per layer: ``layer, accuracy, sd, chance, p_value``."""
        return [{"layer": name, "accuracy": r.accuracy, "sd": float(np.std(r.folds)), "chance": r.chance,
                 "p_value": r.p_value} for name, r in self.results.items()]

    def best(self) -> str:
        """The layer with the highest accuracy."""
        return max(self.results, key=lambda name: self.results[name].accuracy)


def _sklearn():
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        fail("decode", "scikit-learn installed (the linear probe)", Text("no module named 'sklearn'"),
             "pip install 'deepscope[brain]'", error=ImportError)
    return LogisticRegression, StratifiedKFold, make_pipeline, StandardScaler


def decode(features, labels, n_folds: int = 5, C: float = 1.0, n_permutations: int = 0, seed: int = 0,
           standardize: bool = True, max_iter: int = 1000) -> Decoding:
    """Cross-validated accuracy of a linear probe predicting ``labels`` from ``features``.

    Args:
        features: ``(N, ...)`` (flattened per sample).
        labels: ``(N,)`` class labels, or one-hot ``(N, classes)``.
        n_folds: stratified folds (shuffled with ``seed``).
        C: inverse L2 strength of the logistic regression.
        n_permutations: label shuffles for the permutation test (0: none).
        seed: seed of the folds and the shuffles.
        standardize: z-score each feature on the training folds first.
        max_iter: iterations of the solver.

    Returns:
        :class:`Decoding`.
    """
    x = flat_features(features, "decode features")
    y = class_labels(labels, len(x), "decode labels")
    n_folds = check_int(n_folds, "decode n_folds", minimum=2)
    n_permutations = check_int(n_permutations, "decode n_permutations", minimum=0)
    smallest = int(np.bincount(np.unique(y, return_inverse=True)[1]).min())
    if len(np.unique(y)) < 2:
        fail("decode labels", "at least 2 classes", Text(f"1 class ({y[0]!r})"))
    if smallest < n_folds:
        fail("decode n_folds", f"at most the size of the smallest class ({smallest})", n_folds,
             "Use fewer folds or more samples per class.")
    LogisticRegression, StratifiedKFold, make_pipeline, StandardScaler = _sklearn()
    folds = list(StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(x, y))

    def score(targets: np.ndarray) -> np.ndarray:
        out = []
        for train, test in folds:
            steps = [StandardScaler()] if standardize else []
            probe = make_pipeline(*steps, LogisticRegression(C=C, max_iter=max_iter))
            probe.fit(x[train], targets[train])
            out.append(float((probe.predict(x[test]) == targets[test]).mean()))
        return np.asarray(out)

    per_fold = score(y)
    chance = float(np.mean([(y[test] == _majority(y[train])).mean() for train, test in folds]))
    result = Decoding(float(per_fold.mean()), per_fold, chance)
    if n_permutations:
        rng = np.random.default_rng(seed)
        result.null = np.asarray([score(rng.permutation(y)).mean() for _ in range(n_permutations)])
        result.p_value = float((1 + np.sum(result.null >= result.accuracy)) / (1 + n_permutations))
    return result


def _majority(y: np.ndarray):
    values, counts = np.unique(y, return_counts=True)
    return values[np.argmax(counts)]


def layer_decoding(model, X, labels, layers=None, n_folds: int = 5, C: float = 1.0, n_permutations: int = 0,
                   seed: int = 0, max_features: int | None = 1000, batch_size: int = 256) -> LayerDecoding:
    """:func:`decode` for every (or the named) layer of ``model`` on the inputs ``X``.

    Args:
        model, X: a ``DNN`` (or ``nn.Module``) and its inputs (recorded in chunks of ``batch_size``).
        labels: one label per input.
        layers: layer names (default: every layer).
        max_features: a layer wider than this is decoded from its first ``max_features`` principal
            components (memory stays bounded on many inputs; see
            :func:`~deepscope.introspect.features.layer_features`; None: always whole).
        n_folds, C, n_permutations, seed: as :func:`decode` (which z-scores each feature; a layer
            reduced to principal components is decoded from them unscaled).

    Returns:
        :class:`LayerDecoding`.
    """
    feats = layer_features(model, X, layers, max_features=max_features, batch_size=batch_size)
    # a layer reduced to principal components is decoded from them as they are (z-scoring would give its
    # weakest components the weight of the strongest)
    results = {name: decode(values, labels, n_folds, C, n_permutations, seed, standardize=name not in feats.projected)
               for name, values in feats.items()}
    return LayerDecoding(results, dict(feats.projected))


def plot_decoding(result: LayerDecoding, path, title: str = "Linear decoding per layer") -> Path:
    """Accuracy per layer (mean and the folds' spread), the chance level as a dashed line, and the
    permutation p-value above each bar when tested."""
    from matplotlib.figure import Figure

    if not isinstance(result, LayerDecoding):
        fail("plot_decoding result", "a LayerDecoding (from layer_decoding)", type(result).__name__, error=TypeError)
    names = list(result.results)
    acc = [result.results[n].accuracy for n in names]
    sd = [float(np.std(result.results[n].folds)) for n in names]
    fig = Figure(figsize=(max(4.0, 0.8 * len(names) + 2), 3.6), layout="constrained")
    ax = fig.subplots()
    ax.bar(range(len(names)), acc, yerr=sd, color="#4c72b0", capsize=3, label="accuracy (mean ± sd over folds)")
    chance = max(result.results[n].chance for n in names)
    ax.axhline(chance, color="0.4", linestyle="--", label=f"chance (majority class) {chance:.2f}")
    for i, n in enumerate(names):
        p = result.results[n].p_value
        if p is not None:
            ax.text(i, min(1.0, acc[i] + sd[i]) + 0.02, f"p={p:.2g}", ha="center", fontsize=7)
    ax.set_xticks(range(len(names)), [n + (" *" if n in result.projected else "") for n in names], rotation=30,
                  ha="right", fontsize=8)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("cross-validated accuracy")
    ax.set_xlabel("layer" + (" (* from principal components)" if result.projected else ""))
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right")
    return save_figure(fig, path, where="plot_decoding path")
