"""Dimensionality: how many directions a layer's representation really uses.

::

    participation_ratio(features)      # (sum of eigenvalues)^2 / sum of squares (Gao et al. 2017)
    effective_dimensionality(features) # exp(entropy of the normalized eigenvalues) (Roy & Vetterli 2007)
    powerlaw_exponent(eigenspectrum(features))  # alpha of lambda_n ~ n^-alpha (Stringer et al. 2019)
    two_nn(features)                   # intrinsic dimension from nearest-neighbour ratios (Facco et al. 2017)
    layer_dimensionality(model, X)     # all four for every layer; plot_dimensionality(...)

``eigenspectrum(a, b)`` with two repeats of the same stimuli is Stringer et al.'s cross-validated PCA:
the components come from repeat ``a``; each eigenvalue is the covariance of the two repeats' projections
on it, so noise that does not repeat does not add variance.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._checks import Text, check_float, fail
from .._io import save_figure
from .features import flat_features, layer_features
from .similarity import as_array


def eigenspectrum(features, repeat=None) -> np.ndarray:
    """The eigenvalues of the features' covariance over samples, largest first.

    Args:
        features: ``(N, ...)`` (samples x units, flattened per sample).
        repeat: the responses to the same N stimuli a second time (cross-validated PCA: the
            shared-signal variance along each of the first repeat's components; may be negative).

    Returns:
        ``(min(N - 1, F),)`` eigenvalues.
    """
    return _spectrum(features, repeat, "eigenspectrum")


def _spectrum(features, repeat, caller: str) -> np.ndarray:
    """:func:`eigenspectrum`, its errors naming ``caller`` (the function the user called)."""
    x = flat_features(features, f"{caller} features", min_samples=3)
    x = x - x.mean(0)
    if repeat is None:
        s = np.linalg.svd(x, compute_uv=False)
        return (s ** 2 / (len(x) - 1))[:min(len(x) - 1, x.shape[1])]
    y = flat_features(repeat, f"{caller} repeat", min_samples=3)
    if y.shape != x.shape:
        fail(f"{caller} repeat", f"the same stimuli and units as features {x.shape}", Text(f"shape {y.shape}"))
    y = y - y.mean(0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)  # the first repeat's components (rows of vt)
    k = min(len(x) - 1, x.shape[1])
    return ((x @ vt[:k].T) * (y @ vt[:k].T)).sum(0) / (len(x) - 1)


def participation_ratio(features) -> float:
    """``(sum_i lambda_i)^2 / sum_i lambda_i^2`` of the covariance eigenvalues: 1 when one direction
    carries all variance, F when F directions carry equal variance."""
    return _participation_ratio(_spectrum(features, None, "participation_ratio"))


def effective_dimensionality(features) -> float:
    """``exp(H(p))`` with ``p_i = lambda_i / sum lambda`` (Roy & Vetterli's effective rank): the number
    of equal directions with the same entropy of variance."""
    return _effective_dimensionality(_spectrum(features, None, "effective_dimensionality"))


def _participation_ratio(lam: np.ndarray) -> float:
    return float(lam.sum() ** 2 / max(np.sum(lam ** 2), 1e-300))


def _effective_dimensionality(lam: np.ndarray) -> float:
    lam = np.clip(lam, 0, None)
    p = lam / max(lam.sum(), 1e-300)
    p = p[p > 0]
    return float(np.exp(-np.sum(p * np.log(p))))


def powerlaw_exponent(spectrum, fit_range: tuple[int, int] = (11, 500)) -> float:
    """The exponent ``alpha`` of ``lambda_n ~ n^-alpha``: least squares on ``log lambda`` vs ``log n``
    over the ranks ``fit_range`` (1-based, inclusive; Stringer et al. fit ranks 11-500), positive
    eigenvalues only.

    Args:
        spectrum: eigenvalues, largest first (:func:`eigenspectrum`).
        fit_range: ``(first, last)`` rank; ``last`` is cut to the spectrum's length.
    """
    lam = as_array(spectrum, "powerlaw_exponent spectrum").reshape(-1)
    first, last = int(fit_range[0]), int(fit_range[1])
    if first < 1 or last <= first:
        fail("powerlaw_exponent fit_range", "(first, last) ranks with 1 <= first < last", fit_range)
    ranks = np.arange(1, len(lam) + 1)
    keep = (ranks >= first) & (ranks <= last) & (lam > 0)
    if keep.sum() < 3:
        fail("powerlaw_exponent spectrum", f"at least 3 positive eigenvalues at ranks {first}-{last}",
             Text(f"{int(keep.sum())} (spectrum of {len(lam)})"), "Give more samples, or a lower fit_range.")
    slope = np.polyfit(np.log(ranks[keep]), np.log(lam[keep]), 1)[0]
    return float(-slope)


def two_nn(features, discard_fraction: float = 0.1) -> float:
    """Intrinsic dimension by TwoNN (Facco et al. 2017): from the ratio ``mu = r2 / r1`` of each point's
    second to first nearest-neighbour distance, the slope through the origin of ``-log(1 - F(mu))``
    against ``log(mu)``, leaving out the largest ``discard_fraction`` of the ratios (as scikit-dimension).

    Args:
        features: ``(N, ...)`` points (distinct points; duplicates are dropped).
        discard_fraction: the share of the largest ratios left out of the fit.
    """
    x = np.unique(flat_features(features, "two_nn features", min_samples=4), axis=0)
    discard_fraction = check_float(discard_fraction, "two_nn discard_fraction", 0.0, 1.0, max_inclusive=False)
    if len(x) < 4:
        fail("two_nn features", "at least 4 distinct points", Text(f"{len(x)}"))
    sq = np.sum(x * x, 1)
    d2 = np.clip(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0, None)
    np.fill_diagonal(d2, np.inf)
    nearest = np.sqrt(np.partition(d2, 1, axis=1)[:, :2])
    mu = np.sort(nearest[:, 1] / np.maximum(nearest[:, 0], 1e-300))
    n = len(mu)
    keep = int(np.floor(n * (1 - discard_fraction)))
    empirical = np.arange(1, n + 1) / n
    log_mu, y = np.log(mu[:keep]), -np.log(1 - empirical[:keep])
    return float(np.dot(log_mu, y) / np.dot(log_mu, log_mu))


@dataclass
class LayerDimensionality:
    """Per layer: ``participation_ratio``, ``effective_dimensionality``, ``powerlaw_alpha`` (None when the
    spectrum is too short), ``two_nn``, ``width`` and ``spectra`` (the eigenvalues)."""

    rows: list
    spectra: dict = field(default_factory=dict)
    projected: dict = field(default_factory=dict)

    def table(self) -> list[dict]:
        return [dict(r) for r in self.rows]


def layer_dimensionality(model, X, layers=None, max_features: int | None = 1000, batch_size: int = 256,
                         fit_range: tuple[int, int] = (11, 500)) -> LayerDimensionality:
    """The four measures for every (or the named) layer of ``model`` on ``X`` (activations in chunks; a
    layer wider than ``max_features`` keeps its first ``max_features`` principal components, see
    :func:`~deepscope.introspect.features.layer_features`: the spectrum is cut there)."""
    feats = layer_features(model, X, layers, max_features=max_features, batch_size=batch_size)
    rows, spectra = [], {}
    for name, values in feats.items():
        lam = eigenspectrum(values)
        spectra[name] = lam
        try:
            alpha = powerlaw_exponent(lam, fit_range)
        except ValueError:
            alpha = None
        rows.append({"layer": name, "width": feats.projected.get(name, values.shape[1]),
                     "participation_ratio": _participation_ratio(lam),
                     "effective_dimensionality": _effective_dimensionality(lam),
                     "powerlaw_alpha": alpha, "two_nn": two_nn(values)})
    return LayerDimensionality(rows, spectra, dict(feats.projected))


def plot_dimensionality(result: LayerDimensionality, path, title: str = "Dimensionality per layer") -> Path:
    """Left: each layer's eigenspectrum (log-log, variance share per rank); right: participation ratio,
    effective dimensionality and TwoNN intrinsic dimension per layer."""
    from matplotlib.figure import Figure

    if not isinstance(result, LayerDimensionality):
        fail("plot_dimensionality result", "a LayerDimensionality (from layer_dimensionality)", type(result).__name__,
             error=TypeError)
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    for name, lam in result.spectra.items():
        lam = lam[lam > 1e-12 * lam.max()]  # (numerical zeros of a rank-deficient layer left out)
        left.loglog(np.arange(1, len(lam) + 1), lam / lam.sum(), label=name)
    left.set_xlabel("principal component (rank)")
    left.set_ylabel("share of variance")
    left.set_title("eigenspectra")
    left.legend(fontsize=7)
    names = [r["layer"] for r in result.rows]
    for offset, key, label in ((-0.25, "participation_ratio", "participation ratio"),
                               (0.0, "effective_dimensionality", "effective dimensionality"),
                               (0.25, "two_nn", "TwoNN intrinsic dimension")):
        right.bar(np.arange(len(names)) + offset, [r[key] for r in result.rows], width=0.25, label=label)
    right.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    right.set_ylabel("dimensions")
    right.set_xlabel("layer")
    right.set_title("dimensionality")
    right.legend(fontsize=7)
    fig.suptitle(title)
    return save_figure(fig, path, where="plot_dimensionality path")
