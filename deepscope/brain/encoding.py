"""Encoding models: predict each recorded unit (or voxel) from a layer's activations.

::

    result = encoding_scores(features, responses)      # features (stimuli, F); responses (stimuli, repeats, units)
    result.normalized                                  # per unit: held-out r / the unit's noise ceiling
    scores = layer_encoding(model, stimuli, {"V1": responses})   # every layer x region
    plot_encoding(scores, "encoding.png")

Cross-validated ridge regression (scikit-learn's ``RidgeCV``, the optional extra ``brain``): the
stimuli are split into ``n_folds`` folds; on the training folds the features are standardized,
optionally reduced by PCA, and ``RidgeCV`` picks each unit's penalty by efficient leave-one-out;
the held-out predictions of all folds give each unit's prediction correlation ``r``. A unit's noise
ceiling is the correlation its own repeats allow: the split-half reliability (odd vs even
repeats) with the Spearman-Brown correction, ``rel = 2 r_half / (1 + r_half)``; the ceiling on a
prediction correlation is ``sqrt(rel)`` and ``normalized = r / sqrt(rel)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._checks import Text, check_choice, check_instance, check_int, fail
from ..introspect.recording import activations
from ..introspect.similarity import as_array
from .data import as_responses
from .._io import save_figure
from ..utils import RECORDING_BATCH_SIZE

ALPHAS = np.logspace(-2, 7, 19)


def _sklearn():
    try:
        from sklearn.decomposition import PCA
        from sklearn.linear_model import RidgeCV
        from sklearn.model_selection import KFold
        from sklearn.preprocessing import StandardScaler
    except ImportError:  # pragma: no cover - the optional extra is missing
        fail("encoding models", "scikit-learn installed (pip install 'deepscope[brain]')", Text("no sklearn"),
             error=ImportError)
    return PCA, RidgeCV, KFold, StandardScaler


def _column_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of each column of ``a`` with the same column of ``b`` ``(N, U)`` -> ``(U,)``."""
    a, b = a - a.mean(0), b - b.mean(0)
    denominator = np.sqrt((a * a).sum(0) * (b * b).sum(0))
    return np.divide((a * b).sum(0), denominator, out=np.full(a.shape[1], np.nan), where=denominator > 0)


def reliability(responses) -> np.ndarray:
    """Each unit's split-half reliability (odd vs even repeats), Spearman-Brown corrected: the
    reliability of its mean response over all repeats. ``(units,)``; NaN with fewer than 2 repeats."""
    x = as_responses(responses, "reliability responses")
    if x.shape[1] < 2:
        return np.full(x.shape[2], np.nan)
    half = _column_correlation(x[:, 0::2].mean(1), x[:, 1::2].mean(1))
    return 2 * half / (1 + half)


@dataclass
class EncodingResult:
    """Per unit: ``r`` (held-out prediction correlation), ``reliability``, ``ceiling`` (= sqrt of the
    reliability), ``normalized`` (= r / ceiling; NaN where the unit is not reliable), and the
    held-out ``predictions`` ``(stimuli, units)``; ``alphas``: the penalty chosen per unit (last fold)."""
    r: np.ndarray
    reliability: np.ndarray
    ceiling: np.ndarray
    normalized: np.ndarray
    predictions: np.ndarray = field(repr=False)
    alphas: np.ndarray = field(repr=False)

    @property
    def median_normalized(self) -> float:
        values = self.normalized[np.isfinite(self.normalized)]
        return float(np.median(values)) if values.size else float("nan")


def encoding_scores(features, responses, n_folds: int = 5, alphas=ALPHAS, n_components: int | None = None,
                    seed: int = 0, labels=None, regression: str = "ridge", pls_components: int = 25) -> EncodingResult:
    """Cross-validated ridge (or PLS) regression from ``features`` to every unit of ``responses``.

    Args:
        features: ``(stimuli, ...)`` activations (flattened per stimulus).
        responses: ``(stimuli, units)`` or ``(stimuli, repeats, units)``; the mean over repeats is predicted.
        n_folds: cross-validation folds over stimuli (shuffled with ``seed``).
        alphas: the ridge penalties ``RidgeCV`` chooses from (per unit).
        n_components: reduce the features by PCA to this many components first (fitted on the
            training folds only); None: no PCA.
        labels: a category per stimulus: the folds are stratified by it (each holds out the same share
            of every category, as Brain-Score's splits); None: plain shuffled folds.
        regression: ``'ridge'`` (``RidgeCV``, a penalty per unit) or ``'pls'`` (scikit-learn's
            ``PLSRegression`` with ``pls_components`` components, Brain-Score's neural predictivity).

    Returns:
        :class:`EncodingResult` (``alphas``: the ridge penalties; NaN for PLS).
    """
    check_choice(regression, "encoding_scores regression", ["ridge", "pls"])
    PCA, RidgeCV, KFold, StandardScaler = _sklearn()
    y_all = as_responses(responses, "encoding_scores responses")
    x = as_array(features, "encoding_scores features")
    x = x.reshape(len(x), -1)  # (stimuli, features)
    if len(x) != len(y_all):
        fail("encoding_scores", "features and responses of the same stimuli",
             Text(f"{len(x)} feature rows and {len(y_all)} response rows"))
    n_folds = check_int(n_folds, "encoding_scores n_folds", minimum=2, maximum=len(x))
    y = y_all.mean(1)  # (stimuli, units)
    predictions = np.zeros_like(y)
    chosen = np.zeros(y.shape[1])
    if labels is None:
        splits = KFold(n_folds, shuffle=True, random_state=seed).split(x)
    else:
        from sklearn.model_selection import StratifiedKFold
        groups = np.asarray(labels).reshape(len(labels), -1)
        groups = groups.argmax(1) if groups.shape[1] > 1 else groups[:, 0]
        if len(groups) != len(x):
            fail("encoding_scores labels", f"one label per stimulus ({len(x)})", Text(f"{len(groups)}"))
        splits = StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(x, groups)
    for train, test in splits:
        scaler = StandardScaler().fit(x[train])
        x_train, x_test = scaler.transform(x[train]), scaler.transform(x[test])
        if n_components is not None:
            pca = PCA(min(n_components, len(train) - 1, x.shape[1]), random_state=seed).fit(x_train)
            x_train, x_test = pca.transform(x_train), pca.transform(x_test)
        if regression == "pls":
            from sklearn.cross_decomposition import PLSRegression
            k = check_int(pls_components, "encoding_scores pls_components", minimum=1)
            model = PLSRegression(min(k, len(train) - 1, x_train.shape[1]), scale=False).fit(x_train, y[train])
            predictions[test] = model.predict(x_test).reshape(len(test), -1)
            chosen = np.full(chosen.shape, np.nan)
            continue
        model = RidgeCV(alphas=np.asarray(alphas, dtype=float), alpha_per_target=True).fit(x_train, y[train])
        predictions[test] = model.predict(x_test)
        chosen = np.broadcast_to(model.alpha_, chosen.shape).copy()
    r = _column_correlation(predictions, y)
    rel = reliability(y_all)
    ceiling = np.sqrt(np.where(rel > 0, rel, np.nan))
    return EncodingResult(r, rel, ceiling, r / ceiling, predictions, chosen)


@dataclass
class EncodingMap:
    """Layers x regions: ``median`` ``(regions, layers)`` median normalized score over each region's
    units; ``results[region][layer]``: the :class:`EncodingResult`."""
    layers: list
    regions: list
    median: np.ndarray
    results: dict = field(repr=False)

    def best_layer(self, region: str) -> str:
        if region not in self.regions:
            fail("EncodingMap region", f"one of {self.regions}", region)
        return self.layers[int(np.nanargmax(self.median[self.regions.index(region)]))]

    def table(self) -> str:
        width = max(len(n) for n in self.layers)
        lines = ["encoding: median over units of held-out r / noise ceiling"]
        lines.append(" " * (width + 2) + "".join(r[:12].rjust(13) for r in self.regions))
        for i, layer in enumerate(self.layers):
            lines.append(f"{layer.ljust(width)}  " + "".join(f"{self.median[r, i]:13.3f}"
                                                            for r in range(len(self.regions))))
        return "\n".join(lines)


def layer_encoding(model, stimuli, regions: dict, layers=None, n_folds: int = 5, alphas=ALPHAS,
                   n_components: int | None = None, seed: int = 0, batch_size: int = RECORDING_BATCH_SIZE) -> EncodingMap:
    """:func:`encoding_scores` of every layer for every region's responses.

    Args:
        model: a ``DNN`` (or ``nn.Module``).
        stimuli: the inputs, in the order of the responses' rows.
        regions: ``{name: responses}``, each ``(stimuli, units)`` or ``(stimuli, repeats, units)``.
        layers: layer names (default: every layer).
    """
    if not isinstance(regions, dict) or not regions:
        fail("layer_encoding regions", "a dict {region: responses}", Text(type(regions).__name__), error=TypeError)
    acts = activations(model, stimuli, layers, batch_size=batch_size)
    names = list(acts)
    results = {region: {layer: encoding_scores(acts[layer], data, n_folds, alphas, n_components, seed)
                        for layer in names} for region, data in regions.items()}
    median = np.array([[results[region][layer].median_normalized for layer in names] for region in regions])
    return EncodingMap(names, list(regions), median, results)


def plot_encoding(result: EncodingMap, path, title: str | None = None):
    """Heat map of the median normalized encoding score, regions x layers."""
    from matplotlib.figure import Figure

    check_instance(result, EncodingMap, "plot_encoding result", "layer_encoding(...)")
    fig = Figure(figsize=(max(5.0, 0.8 * len(result.layers) + 2.5), 1.0 * len(result.regions) + 2.2),
                 layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(result.median, cmap="magma", vmin=0.0, vmax=max(1.0, float(np.nanmax(result.median))),
                      aspect="auto")
    fig.colorbar(image, ax=ax, label="median held-out r / noise ceiling")
    for r in range(len(result.regions)):
        for i in range(len(result.layers)):
            value = result.median[r, i]
            ax.text(i, r, f"{value:.2f}", ha="center", va="center", fontsize=8,
                    color="black" if np.isfinite(value) and value > 0.6 else "white")
    ax.set_xticks(range(len(result.layers)), result.layers, rotation=30, ha="right")
    ax.set_yticks(range(len(result.regions)), result.regions)
    ax.set_xlabel("network layer")
    ax.set_ylabel("recorded region")
    ax.set_title(title or "encoding models: how well each layer predicts each region")
    return save_figure(fig, path, where="plot_encoding path")
