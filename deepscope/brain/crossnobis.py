"""Cross-validated distances from repeated measurements: the crossnobis (cross-validated Mahalanobis)
RDM and its noise precision, equal to rsatoolbox's ``calc_rdm(..., method='crossnobis')`` and
``prec_from_residuals`` (tested to 1e-9).

::

    # responses: (runs, conditions, channels) (or rows with a condition and a run label each)
    precision = noise_precision(residuals)                 # shrinkage towards the diagonal
    rdm, conditions = crossnobis_rdm(responses, noise=precision)

A cross-validated distance is unbiased: noise that does not repeat across runs adds nothing, so two
conditions that evoke the same pattern are 0 apart on average (and can come out negative), unlike a
plain Euclidean distance of noisy means, which grows with the noise.
"""
from __future__ import annotations

import numpy as np

from .._checks import Text, check_choice, fail
from ..introspect.similarity import as_array


def noise_precision(residuals, method: str = "shrinkage_diag", dof: int | None = None) -> np.ndarray:
    """The inverse of the channels' noise covariance, estimated from residuals.

    Args:
        residuals: ``(observations, channels)`` (the responses minus their condition's mean); the
            column means are removed first.
        method: ``'shrinkage_diag'`` (Schafer & Strimmer's optimal shrinkage of the correlations towards
            0, i.e. of the covariance towards its diagonal), ``'diag'`` (variances only) or ``'full'``
            (the sample covariance; needs more observations than channels).
        dof: degrees of freedom (default: observations - 1; less the regressors of a GLM).

    Returns:
        ``(channels, channels)`` precision matrix.
    """
    check_choice(method, "noise_precision method", ("shrinkage_diag", "diag", "full"))
    x = as_array(residuals, "noise_precision residuals", min_rank=2)
    if x.ndim != 2 or len(x) < 2:
        fail("noise_precision residuals", "an (observations >= 2, channels) array", Text(f"shape {x.shape}"))
    x = x - x.mean(0, keepdims=True)
    n = len(x)
    dof = n - 1 if dof is None else int(dof)
    outer = x.T @ x  # (C, C) sum of the observations' outer products
    cov = outer / dof
    if method == "diag":
        cov = np.diag(np.diag(cov))
    elif method == "shrinkage_diag":
        var = np.diag(cov)
        std = np.sqrt(var)
        r = outer / std[None, :] / std[:, None] / (n - 1)  # mean of the standardized products
        r2 = ((x ** 2).T @ (x ** 2)) / var[None, :] / var[:, None] / (n - 1)
        var_r = n / dof ** 2 * (r2 - r ** 2)  # the estimated variance of each correlation
        off = ~np.eye(len(cov), dtype=bool)
        shrink = float(np.clip(var_r[off].sum() / max((r[off] ** 2).sum(), 1e-300), 0.0, 1.0))
        cov = cov * np.where(off, 1.0 - shrink, 1.0)
    try:
        return np.linalg.inv(cov)
    except np.linalg.LinAlgError:
        fail("noise_precision", "an invertible noise covariance", Text(f"a singular one ({method})"),
             "Use method='shrinkage_diag' or 'diag', or give more observations than channels.")


def crossnobis_rdm(responses, conditions=None, runs=None, noise=None) -> tuple[np.ndarray, np.ndarray]:
    """The crossnobis RDM: for each run, the condition means of that run against the means of the other
    runs; ``d(i, j) = (u_i - u_j)^T P (v_i - v_j) / channels`` averaged over the runs (leave one run out).

    Args:
        responses: ``(runs, conditions, channels)``, or ``(observations, channels)`` with ``conditions``
            and ``runs`` labels per observation (every condition measured in every run).
        conditions, runs: the labels for 2-D ``responses``.
        noise: the noise precision ``(channels, channels)`` (:func:`noise_precision`); None: the
            identity (the cross-validated Euclidean distance).

    Returns:
        ``(rdm (K, K), conditions (K,))``: conditions in sorted order (as rsatoolbox).
    """
    x = as_array(responses, "crossnobis_rdm responses", min_rank=2)
    if x.ndim == 3:
        n_runs, n_cond, _ = x.shape
        if conditions is not None or runs is not None:
            fail("crossnobis_rdm", "labels only with 2-D responses (observations, channels)",
                 Text("conditions/runs with a (runs, conditions, channels) array"))
        conditions = np.tile(np.arange(n_cond), n_runs)
        runs = np.repeat(np.arange(n_runs), n_cond)
        x = x.reshape(n_runs * n_cond, -1)
    elif x.ndim != 2 or conditions is None or runs is None:
        fail("crossnobis_rdm responses", "(runs, conditions, channels), or (observations, channels) with "
             "conditions= and runs= labels", Text(f"shape {x.shape}" + ("" if x.ndim != 2 else " without labels")))
    conditions, runs = np.asarray(conditions).reshape(-1), np.asarray(runs).reshape(-1)
    if len(conditions) != len(x) or len(runs) != len(x):
        fail("crossnobis_rdm conditions / runs", f"one label per observation ({len(x)})",
             Text(f"{len(conditions)} conditions, {len(runs)} runs"))
    labels, cond_index = np.unique(conditions, return_inverse=True)
    folds, run_index = np.unique(runs, return_inverse=True)
    if len(folds) < 2:
        fail("crossnobis_rdm runs", "at least 2 runs (cross-validation needs independent measurements)",
             Text(f"{len(folds)}"))
    channels = x.shape[1]
    precision = np.eye(channels) if noise is None else as_array(noise, "crossnobis_rdm noise", min_rank=2)
    if precision.shape != (channels, channels):
        fail("crossnobis_rdm noise", f"a ({channels}, {channels}) precision matrix", Text(f"shape {precision.shape}"))
    sums = np.zeros((len(folds), len(labels), channels))
    counts = np.zeros((len(folds), len(labels)))
    np.add.at(sums, (run_index, cond_index), x)
    np.add.at(counts, (run_index, cond_index), 1)
    if (counts == 0).any():
        fold, cond = np.argwhere(counts == 0)[0]
        fail("crossnobis_rdm", "every condition measured in every run",
             Text(f"condition {labels[cond]!r} missing from run {folds[fold]!r}"))
    upper = np.triu_indices(len(labels), 1)
    total = np.zeros(len(upper[0]))
    for f in range(len(folds)):
        test = sums[f] / counts[f][:, None]
        rest = np.delete(np.arange(len(folds)), f)
        train = sums[rest].sum(0) / counts[rest].sum(0)[:, None]
        kernel = train @ precision @ test.T  # (K, K)
        d = np.diag(kernel)[None, :] + np.diag(kernel)[:, None] - kernel - kernel.T
        total = total + d[upper] / channels
    vector = total / len(folds)
    out = np.zeros((len(labels), len(labels)))
    out[upper] = vector
    return out + out.T, labels
