"""Shape metrics beyond CKA: how alike two representations of the same stimuli are, up to rotation.

::

    procrustes_distance(a, b)        # angular shape distance (Williams et al. 2021), 0 = same up to rotation
    canonical_correlations(a, b)     # CCA's correlations, largest first
    svcca(a, b), pwcca(a, b)         # SVCCA (Raghu et al. 2017), PWCCA (Morcos et al. 2018)
    shape_matrix(model_a, X, metric="procrustes", model_b=model_b)   # layer x layer, models or seeds

All take ``(N, ...)`` arrays of the same N stimuli (flattened per stimulus) and center them over stimuli.
"""
from __future__ import annotations

import numpy as np

from .._checks import Text, check_choice, check_float, fail
from .features import flat_features
from .similarity import LayerSimilarity, _layer_pairs, _matrix
from ..utils import RECORDING_BATCH_SIZE

SHAPE_METRICS = ("procrustes", "cca", "svcca", "pwcca")


def _pair(a, b, where: str) -> tuple[np.ndarray, np.ndarray]:
    x = flat_features(a, f"{where} a", min_samples=3)
    y = flat_features(b, f"{where} b", min_samples=3)
    if len(x) != len(y):
        fail(f"{where} b", f"the same {len(x)} stimuli as a (rows)", Text(f"{len(y)} rows"))
    return x - x.mean(0), y - y.mean(0)


def procrustes_distance(a, b, kind: str = "angular") -> float:
    """The orthogonal Procrustes shape distance between two representations of the same stimuli.

    Both are centered and scaled to unit Frobenius norm; the best rotation of one onto the other leaves
    ``||X - Y Q||^2 = 2 - 2 * nuclear(X^T Y)`` (a narrower one is padded with zero units).

    Args:
        a, b: ``(N, ...)`` representations (any widths).
        kind: ``'angular'`` (``arccos`` of the nuclear norm, in radians, 0 to pi/2: a metric) or
            ``'euclidean'`` (``sqrt(2 - 2 * nuclear)``).
    """
    check_choice(kind, "procrustes_distance kind", ("angular", "euclidean"))
    x, y = _pair(a, b, "procrustes_distance")
    nx, ny = np.linalg.norm(x), np.linalg.norm(y)
    if nx == 0 or ny == 0:
        fail("procrustes_distance", "representations that vary over the stimuli", Text("a constant one"))
    # the nuclear norm of X^T Y from thin SVDs (X = Ux Sx Vx^T): that of Sx Ux^T Uy Sy (r x r, not F x F)
    ux, sx, _ = np.linalg.svd(x / nx, full_matrices=False)
    uy, sy, _ = np.linalg.svd(y / ny, full_matrices=False)
    core = (sx[:, None] * (ux.T @ uy)) * sy[None, :]
    nuclear = float(np.clip(np.linalg.svd(core, compute_uv=False).sum(), 0.0, 1.0))
    return float(np.arccos(nuclear)) if kind == "angular" else float(np.sqrt(max(0.0, 2 - 2 * nuclear)))


def _orthobasis(x: np.ndarray, tolerance: float = 1e-10) -> np.ndarray:
    """An orthonormal basis of the column space of centered ``x`` (``N x rank``), from its SVD."""
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    return u[:, s > tolerance * max(s.max(initial=0.0), 1e-300)]


def canonical_correlations(a, b) -> np.ndarray:
    """The canonical correlations of ``a`` and ``b`` (largest first): the singular values of ``Qa^T Qb``,
    with ``Qa``, ``Qb`` orthonormal bases of the centered data (Bjorck & Golub), as many as the smaller
    rank. Needs more stimuli than units for meaningful values (else every correlation is 1)."""
    x, y = _pair(a, b, "canonical_correlations")
    qx, qy = _orthobasis(x), _orthobasis(y)
    if not qx.shape[1] or not qy.shape[1]:
        fail("canonical_correlations", "representations that vary over the stimuli", Text("a constant one"))
    return np.clip(np.linalg.svd(qx.T @ qy, compute_uv=False), 0.0, 1.0)


def _top_directions(x: np.ndarray, keep: float) -> np.ndarray:
    """Project centered ``x`` on its principal directions that explain ``keep`` of the variance."""
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    share = np.cumsum(s ** 2) / max(np.sum(s ** 2), 1e-300)
    k = int(np.searchsorted(share, keep - 1e-12) + 1)
    return u[:, :k] * s[:k]


def svcca(a, b, keep: float = 0.99) -> float:
    """SVCCA: the mean canonical correlation after keeping each representation's principal directions
    that explain ``keep`` of its variance."""
    keep = check_float(keep, "svcca keep", 0.0, 1.0, min_inclusive=False)
    x, y = _pair(a, b, "svcca")
    return float(canonical_correlations(_top_directions(x, keep), _top_directions(y, keep)).mean())


def pwcca(a, b) -> float:
    """PWCCA: the canonical correlations weighted by how much of ``a``'s units each canonical variate of
    ``a`` accounts for (Morcos et al. 2018; not symmetric: ``a`` is the representation being explained)."""
    x, y = _pair(a, b, "pwcca")
    qx, qy = _orthobasis(x), _orthobasis(y)
    u, rho, _ = np.linalg.svd(qx.T @ qy, full_matrices=False)
    k = len(rho)
    variates = qx @ u[:, :k]  # (N, k) canonical variates of a, unit norm
    weights = np.abs(variates.T @ x).sum(1)  # how much each variate accounts for a's units
    return float(np.sum(weights * np.clip(rho, 0, 1)) / max(weights.sum(), 1e-300))


def shape_matrix(model_a, X, layers_a=None, model_b=None, layers_b=None, metric: str = "procrustes",
                 batch_size: int = RECORDING_BATCH_SIZE) -> LayerSimilarity:
    """A shape metric between every layer of ``model_a`` and every layer of ``model_b`` (default: itself)
    on the inputs ``X``: layers of one network, two seeds, or two architectures.

    Args:
        metric: ``'procrustes'`` (angular distance: 0 = same shape), ``'cca'`` (mean canonical
            correlation), ``'svcca'`` or ``'pwcca'`` (similarities: 1 = same).

    Returns:
        ``LayerSimilarity(matrix, rows, cols)`` (``plot_similarity_matrix`` draws it).
    """
    check_choice(metric, "shape_matrix metric", SHAPE_METRICS)
    score = {"procrustes": procrustes_distance, "cca": lambda a, b: float(canonical_correlations(a, b).mean()),
             "svcca": svcca, "pwcca": pwcca}[metric]
    acts_a, acts_b = _layer_pairs(model_a, X, layers_a, model_b, layers_b, batch_size)
    return _matrix(acts_a, acts_b, lambda v: v.reshape(len(v), -1).astype(np.float64), score)
