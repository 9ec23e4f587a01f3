"""Comparing representations: representational similarity analysis (RSA) and linear CKA.

::

    from deepscope.introspect.similarity import cka_matrix, plot_similarity_matrix
    result = cka_matrix(model, X)                    # every layer against every layer
    plot_similarity_matrix(result.matrix, result.rows, "cka.png", "CKA")
    cka_matrix(model_seed0, X, model_b=model_seed1)  # the same layers of two trained seeds

RSA (Kriegeskorte et al. 2008): each layer's representational dissimilarity matrix (RDM) between
samples; two layers (or a layer and a brain area) are compared by correlating their RDMs.
Linear CKA (Kornblith et al. 2019): a similarity in [0, 1] between two sets of features of the
same samples, invariant to rotations and isotropic scaling, not to arbitrary linear maps.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from .._checks import Text, check_choice, fail
from .recording import activations, resolve_layers
from .._io import save_figure
from ..utils import RECORDING_BATCH_SIZE


class LayerSimilarity(NamedTuple):
    """Layer-by-layer similarities: ``matrix[i, j]`` compares layer ``rows[i]`` with ``cols[j]``."""
    matrix: np.ndarray  # (len(rows), len(cols))
    rows: list
    cols: list


def as_array(x, where: str, min_rank: int = 1, finite: bool = True) -> np.ndarray:
    """A numpy float64 copy of an array, list or tensor, with a clear error for a bad rank, no values or
    (``finite``) NaNs."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    try:
        x = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        fail(where, "a numeric array", Text(type(x).__name__ if not isinstance(x, str) else f"the text {x!r}"),
             error=TypeError)
    if x.ndim < min_rank:
        fail(where, f"an array of rank >= {min_rank}", Text(f"shape {x.shape}"))
    if x.size == 0:
        fail(where, "a non-empty array", Text(f"shape {x.shape}"))
    if finite and not np.isfinite(x).all():
        fail(where, "finite values", Text("NaN or inf values"), "Check the data or the layer for divergence.")
    return x


def _flat(x, where: str) -> np.ndarray:
    x = as_array(x, where, min_rank=1)
    return x.reshape(len(x), -1)  # (N, F)


def rdm(features, metric: str = "correlation") -> np.ndarray:
    """Representational dissimilarity matrix between samples.

    Args:
        features: ``(N, ...)``, flattened per sample.
        metric: ``'correlation'`` (1 - Pearson r across features), ``'euclidean'`` or ``'cosine'``
            (1 - cosine similarity). A constant sample (correlation) or zero sample (cosine)
            has similarity 0 with every other sample.

    Returns:
        Symmetric ``(N, N)`` array with a zero diagonal.
    """
    check_choice(metric, "rdm metric", ["correlation", "euclidean", "cosine"])
    x = _flat(features, "rdm features")  # (N, F)
    if metric == "euclidean":
        sq = (x * x).sum(1)
        d = np.sqrt(np.clip(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0, None))
    else:
        if metric == "correlation":
            x = x - x.mean(1, keepdims=True)
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        x = np.divide(x, norm, out=np.zeros_like(x), where=norm > 1e-12)
        d = 1 - np.clip(x @ x.T, -1, 1)
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0)
    return d


def rank_rows(v: np.ndarray) -> np.ndarray:
    """Average ranks (1-based, ties share their mean rank) of each row of ``v`` ``(k, P)``, vectorized."""
    v = np.atleast_2d(v)
    k, p = v.shape
    order = np.argsort(v, axis=1, kind="stable")
    s = np.take_along_axis(v, order, axis=1)
    idx = np.broadcast_to(np.arange(p), (k, p))
    starts = np.ones((k, p), dtype=bool)
    starts[:, 1:] = s[:, 1:] != s[:, :-1]
    ends = np.ones((k, p), dtype=bool)
    ends[:, :-1] = s[:, :-1] != s[:, 1:]
    first = np.maximum.accumulate(np.where(starts, idx, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends, idx, p - 1)[:, ::-1], axis=1)[:, ::-1]
    ranks = np.empty((k, p))
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=1)
    return ranks


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else float("nan")


def _upper(m, where: str) -> np.ndarray:
    m = as_array(m, where, min_rank=2)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or len(m) < 3:
        fail(where, "a square dissimilarity matrix (N, N) with N >= 3", Text(f"shape {m.shape}"))
    return m[np.triu_indices(len(m), k=1)]


def compare_rdms(a, b, method: str = "spearman") -> float:
    """Correlation between the upper triangles (diagonal excluded) of two RDMs.

    Args:
        a, b: ``(N, N)`` RDMs of the same samples.
        method: ``'spearman'`` (ranks, ties averaged) or ``'pearson'``.

    Returns:
        The correlation (NaN when one triangle is constant).
    """
    check_choice(method, "compare_rdms method", ["spearman", "pearson"])
    ua, ub = _upper(a, "compare_rdms a"), _upper(b, "compare_rdms b")
    if ua.shape != ub.shape:
        fail("compare_rdms", "two RDMs of the same samples", Text(f"{len(a)} and {len(b)} samples"))
    if method == "spearman":
        ua, ub = rank_rows(ua)[0], rank_rows(ub)[0]
    return _pearson(ua, ub)


def _gram(x: np.ndarray) -> np.ndarray:
    """Centered linear Gram matrix ``(N, N)`` of features ``(N, F)``."""
    x = x - x.mean(0)
    return x @ x.T


def _cka_from_grams(kx: np.ndarray, ky: np.ndarray) -> float:
    denominator = np.linalg.norm(kx) * np.linalg.norm(ky)
    return float((kx * ky).sum() / denominator) if denominator > 0 else float("nan")


def _unbiased_hsic(k: np.ndarray, l: np.ndarray) -> float:
    """Song et al. (2012)'s unbiased HSIC estimator of two ``(N, N)`` Gram matrices (N >= 4)."""
    n = len(k)
    k, l = k.copy(), l.copy()
    np.fill_diagonal(k, 0)
    np.fill_diagonal(l, 0)
    kl = k @ l
    term = np.trace(kl) + k.sum() * l.sum() / ((n - 1) * (n - 2)) - 2 * kl.sum() / (n - 2)
    return float(term / (n * (n - 3)))


def _debiased_cka_from_grams(kx: np.ndarray, ky: np.ndarray) -> float:
    denominator = np.sqrt(max(_unbiased_hsic(kx, kx), 0.0) * max(_unbiased_hsic(ky, ky), 0.0))
    return _unbiased_hsic(kx, ky) / denominator if denominator > 0 else float("nan")


def linear_cka(x, y, debiased: bool = False) -> float:
    """Linear centered kernel alignment between two representations of the same samples.

    ``CKA = ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` with column-centered ``Xc, Yc``
    (Kornblith et al. 2019). This plain estimator is biased upwards when the samples are few
    compared with the features: independent random features of 50 samples x 2,000 features give
    about 0.97. ``debiased=True`` uses the unbiased HSIC estimator (Song et al. 2012; as in
    Nguyen et al. 2021 and Kornblith et al.'s code), which gives about 0 there; use it whenever
    samples are not many times more numerous than features.

    Args:
        x: ``(N, ...)`` features, flattened per sample.
        y: ``(N, ...)`` features of the same ``N`` samples.
        debiased: the debiased estimator (needs N >= 4; may be slightly negative).

    Returns:
        A number in [0, 1] (debiased: about [-0.1, 1]; NaN when one representation is constant).
    """
    x, y = _flat(x, "linear_cka x"), _flat(y, "linear_cka y")
    if len(x) != len(y):
        fail("linear_cka", "two representations of the same samples", Text(f"{len(x)} and {len(y)} samples"))
    if len(x) < 2:
        fail("linear_cka", "at least 2 samples", Text(f"{len(x)} sample"))
    if debiased:
        if len(x) < 4:
            fail("linear_cka debiased", "at least 4 samples", Text(f"{len(x)}"))
        return _debiased_cka_from_grams(x @ x.T, y @ y.T)
    if max(x.shape[1], y.shape[1]) > len(x):  # wide features: the (N, N) Gram form is cheaper
        return _cka_from_grams(_gram(x), _gram(y))
    x, y = x - x.mean(0), y - y.mean(0)
    denominator = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(np.linalg.norm(y.T @ x) ** 2 / denominator) if denominator > 0 else float("nan")


def _layer_pairs(model_a, X, layers_a, model_b, layers_b, batch_size):
    """Activations of the rows' and the columns' layers: two ``{name: (N, F)}`` dicts."""
    names_a = list(resolve_layers(model_a, layers_a))
    acts_a = activations(model_a, X, names_a, batch_size)
    if model_b is None and layers_b is None:
        acts_b = acts_a
    else:
        model_b = model_a if model_b is None else model_b
        acts_b = activations(model_b, X, list(resolve_layers(model_b, layers_b)), batch_size)
    flat = lambda acts: {n: a.reshape(len(a), -1).astype(np.float64) for n, a in acts.items()}  # noqa: E731
    return flat(acts_a), flat(acts_b)


def _matrix(acts_a, acts_b, prepare, score) -> LayerSimilarity:
    prep_a = {n: prepare(a) for n, a in acts_a.items()}
    prep_b = prep_a if acts_b is acts_a else {n: prepare(b) for n, b in acts_b.items()}
    m = np.array([[score(pa, pb) for pb in prep_b.values()] for pa in prep_a.values()])
    return LayerSimilarity(m, list(prep_a), list(prep_b))


def cka_matrix(model_a, X, layers_a=None, model_b=None, layers_b=None, batch_size: int = RECORDING_BATCH_SIZE,
               debiased: bool = False) -> LayerSimilarity:
    """Linear CKA between every pair of layers, of one model or of two (e.g. two seeds).

    Args:
        model_a: a ``DNN`` or ``nn.Module`` (the rows).
        X: inputs given to both models.
        layers_a: row layer names (default: every layer).
        model_b: the columns' model (default: ``model_a``).
        layers_b: column layer names (default: every layer of ``model_b``; ``layers_a`` for one model).
        batch_size: samples per forward pass.
        debiased: the debiased estimator (see :func:`linear_cka`; recommended when samples are few
            compared with a layer's features).

    Returns:
        ``LayerSimilarity(matrix (rows, cols), rows, cols)``; unpacks as a tuple.
    """
    acts_a, acts_b = _layer_pairs(model_a, X, layers_a, model_b, layers_b, batch_size)
    n = len(next(iter(acts_a.values()))) if acts_a else 0
    if n < (4 if debiased else 2):
        fail("cka_matrix X", f"at least {4 if debiased else 2} samples (CKA compares samples' similarities)",
             Text(f"{n} sample(s)"))
    if debiased:
        return _matrix(acts_a, acts_b, lambda a: a @ a.T, _debiased_cka_from_grams)
    return _matrix(acts_a, acts_b, _gram, _cka_from_grams)


def rsa_matrix(model_a, X, layers_a=None, model_b=None, layers_b=None, metric: str = "correlation",
               method: str = "spearman", batch_size: int = RECORDING_BATCH_SIZE) -> LayerSimilarity:
    """RDM correlation between every pair of layers (arguments as :func:`cka_matrix`).

    Args:
        metric: the RDM metric (see :func:`rdm`).
        method: ``'spearman'`` or ``'pearson'`` (see :func:`compare_rdms`).

    Returns:
        ``LayerSimilarity(matrix (rows, cols), rows, cols)``.
    """
    check_choice(metric, "rsa_matrix metric", ["correlation", "euclidean", "cosine"])
    check_choice(method, "rsa_matrix method", ["spearman", "pearson"])
    acts_a, acts_b = _layer_pairs(model_a, X, layers_a, model_b, layers_b, batch_size)

    def prepare(a):  # upper triangle of the RDM, ranked once for Spearman
        u = _upper(rdm(a, metric), "rsa_matrix RDM")
        return rank_rows(u)[0] if method == "spearman" else u
    return _matrix(acts_a, acts_b, prepare, _pearson)


def plot_similarity_matrix(matrix, labels, path, title: str = "") -> Path:
    """Draw a similarity matrix as a heat map (values written in the cells when it is small).

    Args:
        matrix: ``(R, C)`` array, or a ``LayerSimilarity`` (its names are used when ``labels`` is None).
        labels: names of a square matrix's rows and columns, or a pair ``(row_labels, col_labels)``.
        path: the PNG file to write.
        title: figure title.

    Returns:
        The path written.
    """
    from matplotlib.figure import Figure

    if isinstance(matrix, LayerSimilarity):
        labels = (matrix.rows, matrix.cols) if labels is None else labels
        matrix = matrix.matrix
    m = as_array(matrix, "plot_similarity_matrix matrix", finite=False)
    if m.ndim != 2:
        fail("plot_similarity_matrix matrix", "a 2-D array", Text(f"shape {m.shape}"))
    rows, cols = (labels if isinstance(labels, tuple) and len(labels) == 2 else (labels, labels))
    rows = list(rows) if rows is not None else [str(i) for i in range(m.shape[0])]
    cols = list(cols) if cols is not None else [str(i) for i in range(m.shape[1])]
    if (len(rows), len(cols)) != m.shape:
        fail("plot_similarity_matrix labels", f"{m.shape[0]} row and {m.shape[1]} column labels",
             Text(f"{len(rows)} and {len(cols)}"))
    side = 1.2 + 0.45 * max(m.shape)
    fig = Figure(figsize=(side + 1.5, side), layout="constrained")
    ax = fig.add_subplot()
    finite = m[np.isfinite(m)]
    unit = finite.size == 0 or (finite.min() >= -1e-6 and finite.max() <= 1 + 1e-6)  # (CKA, RSA in [0, 1])
    image = ax.imshow(m, cmap="viridis", vmin=0 if unit else None, vmax=1 if unit else None)
    fig.colorbar(image, ax=ax, shrink=0.8, label=(title or "similarity") + (" (0 to 1)" if unit else ""))
    ax.set_xticks(range(len(cols)), cols, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    if max(m.shape) <= 12:
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6, color="white" if v < 0.5 else "black")
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)
