"""RSA against the brain: every layer's RDM against brain RDMs, with noise ceilings, bootstrap
confidence intervals over stimuli and subjects, and tests of "layer A fits better than layer B".

::

    result = layer_rsa(model, stimuli, {"human IT": human_it, "monkey IT": monkey_it})
    print(result.table())                      # score, 95% interval, noise ceiling per region x layer
    result.compare_layers("human IT", "FullyConnected", "Conv2D")   # bootstrap test of the difference
    plot_layer_rsa(result, "rsa.png")

Conventions (those of rsatoolbox, Nili et al. 2014; tests check agreement on the real 92-image data):
a model is compared with each subject's RDM separately and the correlations are averaged over
subjects; the comparison uses the upper triangles (diagonal excluded). ``'spearman'`` ranks with
ties averaged, ``'pearson'`` (rsatoolbox's ``'corr'``), ``'kendall_tau_a'`` (rsatoolbox's ``'tau-a'``).
The noise ceiling (Nili et al. 2014) is ``upper = mean_s r(mean RDM of all subjects, RDM_s)``,
``lower = mean_s r(mean RDM of the other subjects, RDM_s)``, where the mean is taken over rank-
transformed RDMs for the rank methods and z-scored RDMs for Pearson (rsatoolbox's ``pool_rdm``).
The bootstrap resamples stimuli (pairs of a stimulus with its own copy are dropped, as rsatoolbox
does) and, for regions with several subjects, subjects, both with replacement.

Why our own code instead of calling rsatoolbox: the same statistics vectorized over layers,
subjects and bootstrap samples (ranks in numpy), so 1,000 bootstrap samples of 6 layers take
about a second instead of minutes (benchmarks/brain.py), and rsatoolbox stays optional.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._checks import Text, check_choice, check_float, check_instance, check_int, fail
from ..introspect.recording import activations
from ..introspect.similarity import as_array, rank_rows, rdm
from .data import as_rdms
from .._io import save_figure
from ..utils import RECORDING_BATCH_SIZE

METHODS = {"spearman": "spearman", "pearson": "pearson", "corr": "pearson",
           "kendall_tau_a": "kendall_tau_a", "tau-a": "kendall_tau_a",
           "cosine_cov": "cosine_cov", "corr_cov": "corr_cov"}
#: whitened comparisons (Diedrichsen et al. 2021): distances weighted by the inverse of their covariance under
#: independent noise, as rsatoolbox's ``compare(..., method='cosine_cov' / 'corr_cov')``
WHITENED = ("cosine_cov", "corr_cov")


# -- comparisons ----------------------------------------------------------------------------------
def upper_vectors(rdms: np.ndarray) -> np.ndarray:
    """``(k, N, N)`` RDMs -> ``(k, N (N - 1) / 2)`` upper triangles (row-major, diagonal excluded)."""
    rdms = as_array(rdms, "upper_vectors rdms", min_rank=2, finite=False)
    if rdms.shape[-1] != rdms.shape[-2]:
        fail("upper_vectors rdms", "square matrices (..., N, N)", Text(f"shape {rdms.shape}"))
    n = rdms.shape[-1]
    i, j = np.triu_indices(n, k=1)
    return rdms[..., i, j]


def _zscore_rows(v: np.ndarray) -> np.ndarray:
    v = v - v.mean(1, keepdims=True)
    norm = np.sqrt((v * v).sum(1, keepdims=True))
    return np.divide(v, norm, out=np.full_like(v, np.nan), where=norm > 0)


def whitened(vectors: np.ndarray, center: bool) -> np.ndarray:
    """RDM vectors ``(k, P)`` in the space where their entries' noise is isotropic: the double-centred matrices
    ``G = -H D H / 2`` ``(k, N * N)``. For independent, equal noise on the patterns the covariance of the
    distances is ``V = (C C')∘(C C')`` (C: the pairwise contrasts), and ``d1' V^-1 d2`` is proportional to
    ``<G1, G2>``: a cosine of the G's is the whitened cosine (exact: no linear solve of the P x P system).

    Args:
        vectors: upper-triangle RDM vectors (row-major, as :func:`upper_vectors`).
        center: subtract each vector's mean first (``'corr_cov'``).
    """
    vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
    if center:
        vectors = vectors - vectors.mean(1, keepdims=True)
    k, p = vectors.shape
    n = int(round((1 + np.sqrt(1 + 8 * p)) / 2))
    if n * (n - 1) // 2 != p:
        fail("whitened vectors", "upper triangles of square RDMs (N (N - 1) / 2 entries)", Text(f"{p} entries"))
    square = np.zeros((k, n, n))
    i, j = np.triu_indices(n, k=1)
    square[:, i, j] = vectors
    square[:, j, i] = vectors
    square -= square.mean(1, keepdims=True)  # H D H: rows and columns centred
    square -= square.mean(2, keepdims=True)
    return (-0.5 * square).reshape(k, n * n)


def _cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na, nb = np.linalg.norm(a, axis=1, keepdims=True), np.linalg.norm(b, axis=1, keepdims=True)
    return np.divide(a, na, out=np.full_like(a, np.nan), where=na > 0) @ \
        np.divide(b, nb, out=np.full_like(b, np.nan), where=nb > 0).T


def correlate(a: np.ndarray, b: np.ndarray, method: str) -> np.ndarray:
    """Every row of ``a`` ``(m, P)`` against every row of ``b`` ``(s, P)``: an ``(m, s)`` array."""
    if method in WHITENED:
        return _cosine_rows(whitened(a, method == "corr_cov"), whitened(b, method == "corr_cov"))
    if method == "kendall_tau_a":
        return np.array([[kendall_tau_a(x, y) for y in b] for x in a])
    if method == "spearman":
        a, b = rank_rows(a), rank_rows(b)
    return _zscore_rows(a) @ _zscore_rows(b).T


def kendall_tau_a(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's tau-a: (concordant - discordant pairs) / all pairs; ties count as neither.

    From scipy's O(n log n) tau-b and the tie counts: ``tau_a = tau_b sqrt((n0 - n1)(n0 - n2)) / n0``.
    """
    try:
        from scipy.stats import kendalltau
    except ImportError:  # pragma: no cover - scipy comes with the 'brain' extra
        fail("kendall_tau_a", "scipy installed (pip install 'deepscope[brain]')", Text("no scipy"), error=ImportError)
    x, y = as_array(x, "kendall_tau_a x").reshape(-1), as_array(y, "kendall_tau_a y").reshape(-1)
    if len(x) != len(y) or len(x) < 2:
        fail("kendall_tau_a", "two vectors of the same length >= 2", Text(f"lengths {len(x)} and {len(y)}"))
    n0 = len(x) * (len(x) - 1) / 2
    tau_b = kendalltau(x, y).statistic
    if not np.isfinite(tau_b):
        return float("nan")

    def ties(v):
        _, counts = np.unique(v, return_counts=True)
        return float((counts * (counts - 1) / 2).sum())
    return float(tau_b * math.sqrt((n0 - ties(x)) * (n0 - ties(y))) / n0)


def compare_to_brain(model_rdm, brain_rdms, method: str = "spearman") -> float:
    """One model RDM against a brain region's RDMs: the correlation with each subject, averaged.

    Args:
        model_rdm: ``(N, N)``.
        brain_rdms: ``(N, N)`` or ``(subjects, N, N)``.
        method: ``'spearman'``, ``'pearson'`` or ``'kendall_tau_a'``.
    """
    method = _method(method, "compare_to_brain method")
    brain = as_rdms(brain_rdms, "compare_to_brain brain_rdms")
    model = as_rdms(model_rdm, "compare_to_brain model_rdm", brain.shape[1])
    return float(correlate(upper_vectors(model), upper_vectors(brain), method).mean())


POOLING = ("rsatoolbox", "mean")


def _pool(vectors: np.ndarray, method: str, pooling: str = "rsatoolbox") -> np.ndarray:
    """The RDM that best represents several subjects: ``'rsatoolbox'``: the mean of rank-transformed
    (rank methods) or z-scored (Pearson) RDMs, as rsatoolbox's ``pool_rdm``; ``'mean'``: the plain
    mean of the RDMs (the MATLAB RSA toolbox's and many papers' convention)."""
    if pooling == "mean":
        return vectors.mean(0, keepdims=True)
    if method == "cosine_cov":  # as rsatoolbox's noise ceiling pools them: each RDM over its RMS, then the mean
        return (vectors / np.sqrt((vectors ** 2).mean(1, keepdims=True))).mean(0, keepdims=True)
    if method in ("pearson", "corr_cov"):
        return np.nanmean(_zscore_rows(vectors), axis=0, keepdims=True)
    return rank_rows(vectors).mean(0, keepdims=True)


def noise_ceiling(brain_rdms, method: str = "spearman", pooling: str = "rsatoolbox") -> tuple[float, float]:
    """Lower and upper bound of the noise ceiling, leave one subject out (needs >= 2 subjects).

    Args:
        brain_rdms: ``(subjects, N, N)``.
        method: ``'spearman'``, ``'pearson'``, ``'kendall_tau_a'``, ``'corr_cov'`` or ``'cosine_cov'``.
        pooling: how subjects' RDMs are averaged into the best model: ``'rsatoolbox'`` (ranks or
            z-scores, as rsatoolbox) or ``'mean'`` (raw RDMs; the 92-image README's reference values
            0.379 / 0.661 for human IT use it). They differ by about 0.005 on that data.

    Returns:
        ``(lower, upper)``: no model can be expected to score above ``upper``; a model reaching
        ``lower`` explains as much as the other subjects do.
    """
    method = _method(method, "noise_ceiling method")
    check_choice(pooling, "noise_ceiling pooling", list(POOLING))
    brain = as_rdms(brain_rdms, "noise_ceiling brain_rdms")
    if len(brain) < 2:
        fail("noise_ceiling brain_rdms", "RDMs of at least 2 subjects (subjects, N, N)", Text("1 RDM"),
             "A single RDM has no between-subject variability to estimate a ceiling from.")
    return _ceiling(upper_vectors(brain), method, pooling)


def _ceiling(vectors: np.ndarray, method: str, pooling: str = "rsatoolbox") -> tuple[float, float]:
    s = len(vectors)
    upper = correlate(_pool(vectors, method, pooling), vectors, method)[0].mean()
    lower = np.mean([correlate(_pool(np.delete(vectors, i, axis=0), method, pooling), vectors[i:i + 1],
                               method)[0, 0] for i in range(s)])
    return float(lower), float(upper)


def _method(method, where: str) -> str:
    check_choice(method, where, list(METHODS))
    return METHODS[method]


# -- layers against regions ----------------------------------------------------------------------
@dataclass
class LayerRSA:
    """Every layer against every brain region.

    Attributes:
        layers, regions: names, in order.
        method: the comparison method.
        scores: ``(regions, layers)``: correlation with each subject's RDM, averaged over subjects.
        ci_low, ci_high: ``(regions, layers)`` bootstrap percentile interval (``confidence``).
        ceilings: ``{region: (lower, upper)}`` (None for a region with one RDM).
        bootstrap: ``{region: (n_bootstrap, layers)}`` bootstrap scores (for tests between layers).
        layer_rdms: ``{layer: (N, N)}`` the network's RDMs.
    """

    layers: list
    regions: list
    method: str
    scores: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    ceilings: dict
    bootstrap: dict = field(repr=False, default_factory=dict)
    layer_rdms: dict = field(repr=False, default_factory=dict)
    confidence: float = 0.95

    def best_layer(self, region: str) -> str:
        """The layer with the highest score for ``region``."""
        return self.layers[int(np.nanargmax(self.scores[self._region(region)]))]

    def compare_layers(self, region: str, layer_a: str, layer_b: str) -> dict:
        """Does ``layer_a`` fit ``region`` better than ``layer_b``? From the paired bootstrap samples.

        Returns:
            ``difference`` (score a - score b), its ``ci`` (percentile interval), ``p_one_sided``
            (fraction of bootstrap differences <= 0: small when a is reliably better) and
            ``p_two_sided``.
        """
        r = self._region(region)
        a, b = (self._layer(name) for name in (layer_a, layer_b))
        boot = self.bootstrap.get(region)
        if boot is None or not len(boot):
            fail("compare_layers", "a result computed with n_bootstrap > 0", Text("no bootstrap samples"))
        diff = boot[:, a] - boot[:, b]
        diff = diff[np.isfinite(diff)]
        tail = (1 - self.confidence) / 2
        p_one = float((np.sum(diff <= 0) + 1) / (len(diff) + 1))
        p_other = float((np.sum(diff >= 0) + 1) / (len(diff) + 1))
        return {"difference": float(self.scores[r, a] - self.scores[r, b]),
                "ci": (float(np.quantile(diff, tail)), float(np.quantile(diff, 1 - tail))),
                "p_one_sided": p_one, "p_two_sided": min(1.0, 2 * min(p_one, p_other)), "n_bootstrap": len(diff)}

    def table(self) -> str:
        """One line per region and layer: score, interval, and the region's noise ceiling."""
        lines = [f"RSA ({self.method}; {100 * self.confidence:.0f}% bootstrap interval; noise ceiling lower-upper)"]
        width = max(len(n) for n in self.layers)
        for r, region in enumerate(self.regions):
            ceiling = self.ceilings.get(region)
            lines.append(f"{region}: noise ceiling " + (f"{ceiling[0]:.3f}-{ceiling[1]:.3f}" if ceiling else
                                                        "- (one RDM)"))
            for i, layer in enumerate(self.layers):
                interval = (f"[{self.ci_low[r, i]:.3f}, {self.ci_high[r, i]:.3f}]"
                            if np.isfinite(self.ci_low[r, i]) else "")
                lines.append(f"  {layer.ljust(width)}  {self.scores[r, i]:7.3f}  {interval}")
        return "\n".join(lines)

    def _region(self, region: str) -> int:
        if region not in self.regions:
            fail("LayerRSA region", f"one of {self.regions}", region)
        return self.regions.index(region)

    def _layer(self, layer: str) -> int:
        if layer not in self.layers:
            fail("LayerRSA layer", f"one of {self.layers}", layer)
        return self.layers.index(layer)


def layer_rdms(model, stimuli, layers=None, metric: str = "correlation", batch_size: int = RECORDING_BATCH_SIZE) -> dict:
    """Each layer's RDM of the stimuli (``{layer: (N, N)}``), from the network's activations."""
    acts = activations(model, stimuli, layers, batch_size=batch_size)
    return {name: rdm(a, metric) for name, a in acts.items()}


def layer_rsa(model, stimuli, brain: dict, layers=None, method: str = "spearman", metric: str = "correlation",
              n_bootstrap: int = 1000, bootstrap: str | None = None, confidence: float = 0.95, seed: int = 0,
              batch_size: int = RECORDING_BATCH_SIZE, pooling: str = "rsatoolbox") -> LayerRSA:
    """Compare every layer of ``model`` with brain RDMs of the same stimuli.

    Args:
        model: a ``DNN`` (or ``nn.Module``); or a dict ``{layer: (N, N) RDM}`` of precomputed RDMs.
        stimuli: the inputs, in the order of the RDMs' rows (see :func:`~deepscope.brain.stimuli_for`).
        brain: ``{region: RDMs}``, each ``(N, N)`` or ``(subjects, N, N)``.
        layers: layer names (default: every layer).
        method: ``'spearman'``, ``'pearson'``, ``'kendall_tau_a'`` (slow with a bootstrap), or the whitened
            ``'corr_cov'`` / ``'cosine_cov'`` (rsatoolbox's, Diedrichsen et al. 2021).
        metric: the dissimilarity for the layers' RDMs (``'correlation'``: 1 - Pearson r, as the brain RDMs).
        n_bootstrap: bootstrap samples (0: no intervals).
        bootstrap: resample ``'stimuli'``, ``'subjects'`` or ``'both'``; None: ``'both'``, but ``'subjects'`` for
            the whitened methods (a stimulus drawn twice would sit at distance 0 from its copy in both RDMs and
            inflate a whitened similarity, so those intervals resample subjects only).
        confidence: the width of the intervals.
        seed: the bootstrap's random seed.
        pooling: the noise ceiling's averaging of subjects (see :func:`noise_ceiling`).

    Returns:
        :class:`LayerRSA`.
    """
    method = _method(method, "layer_rsa method")
    n_bootstrap = check_int(n_bootstrap, "layer_rsa n_bootstrap", minimum=0)
    if bootstrap is None:
        bootstrap = "subjects" if method in WHITENED else "both"
    check_choice(bootstrap, "layer_rsa bootstrap", ["stimuli", "subjects", "both"])
    if method in WHITENED and bootstrap != "subjects":
        fail("layer_rsa bootstrap", f"'subjects' with method={method!r} (whitening needs whole RDMs; resampled "
             "stimuli would meet their own copies at distance 0 and inflate the similarity)", bootstrap,
             "Give bootstrap='subjects' (or None), or a rank / linear method for stimulus intervals.")
    check_choice(pooling, "layer_rsa pooling", list(POOLING))
    confidence = check_float(confidence, "layer_rsa confidence", 0.0, 1.0, min_inclusive=False, max_inclusive=False)
    if not isinstance(brain, dict) or not brain:
        fail("layer_rsa brain", "a dict {region name: RDMs (N, N) or (subjects, N, N)}", Text(type(brain).__name__),
             error=TypeError)
    rdms = dict(model) if isinstance(model, dict) else layer_rdms(model, stimuli, layers, metric, batch_size)
    names = list(rdms)
    n = len(next(iter(rdms.values())))
    regions = {name: as_rdms(r, f"layer_rsa brain[{name!r}]", n) for name, r in brain.items()}
    model_vectors = upper_vectors(np.stack([as_rdms(rdms[k], f"layer RDM {k!r}", n)[0] for k in names]))  # (L, P)
    rng = np.random.default_rng(seed)
    shape = (len(regions), len(names))
    scores, low, high = np.zeros(shape), np.full(shape, np.nan), np.full(shape, np.nan)
    ceilings, boots = {}, {}
    tail = (1 - confidence) / 2
    for r, (region, region_rdms) in enumerate(regions.items()):
        vectors = upper_vectors(region_rdms)  # (S, P)
        scores[r] = correlate(model_vectors, vectors, method).mean(1)
        ceilings[region] = _ceiling(vectors, method, pooling) if len(vectors) > 1 else None
        if n_bootstrap:
            boot = bootstrap_scores(model_vectors, vectors, n, method, n_bootstrap, bootstrap, rng)
            boots[region] = boot
            low[r], high[r] = np.nanquantile(boot, tail, axis=0), np.nanquantile(boot, 1 - tail, axis=0)
    return LayerRSA(names, list(regions), method, scores, low, high, ceilings, boots, rdms, confidence)


def bootstrap_scores(model_vectors: np.ndarray, brain_vectors: np.ndarray, n: int, method: str, n_bootstrap: int,
                     over: str, rng: np.random.Generator) -> np.ndarray:
    """``(n_bootstrap, layers)`` scores on bootstrap samples of stimuli and/or subjects.

    A stimulus drawn twice contributes its pairs with the other stimuli twice; the pair of a
    stimulus with its own copy is dropped (it has no dissimilarity), as in rsatoolbox.
    """
    subjects = len(brain_vectors)
    out = np.empty((n_bootstrap, len(model_vectors)))
    for b in range(n_bootstrap):
        columns = resampled_pairs(rng.integers(0, n, n), n) if over in ("stimuli", "both") else slice(None)
        rows = rng.integers(0, subjects, subjects) if over in ("subjects", "both") and subjects > 1 else slice(None)
        out[b] = correlate(model_vectors[:, columns], brain_vectors[rows][:, columns], method).mean(1)
    return out


def resampled_pairs(drawn: np.ndarray, n: int) -> np.ndarray:
    """The RDM-vector entries of a resampled stimulus list ``drawn`` (indices into ``n`` stimuli):
    one entry per pair of positions ``a < b`` (row-major), skipping pairs of a stimulus with itself."""
    i, j = np.triu_indices(len(drawn), k=1)
    a, c = drawn[i], drawn[j]
    keep = a != c
    a, c = np.minimum(a[keep], c[keep]), np.maximum(a[keep], c[keep])
    return a * n - a * (a + 1) // 2 + (c - a - 1)  # the index of (a, c) in the upper triangle


def plot_layer_rsa(result: LayerRSA, path, title: str | None = None):
    """Bars of each layer's score per region, with bootstrap intervals and the noise ceiling (grey band)."""
    from matplotlib.figure import Figure

    check_instance(result, LayerRSA, "plot_layer_rsa result", "layer_rsa(...)")
    regions = len(result.regions)
    fig = Figure(figsize=(max(5.0, 0.7 * len(result.layers) + 2.5), 3.2 * regions), layout="constrained")
    axes = fig.subplots(regions, 1, squeeze=False)[:, 0]
    x = np.arange(len(result.layers))
    for r, (ax, region) in enumerate(zip(axes, result.regions)):
        ceiling = result.ceilings.get(region)
        if ceiling is not None:
            ax.axhspan(ceiling[0], ceiling[1], color="0.85", label=f"noise ceiling {ceiling[0]:.2f}-{ceiling[1]:.2f}")
        errors = None
        if np.isfinite(result.ci_low[r]).all():
            errors = np.stack([result.scores[r] - result.ci_low[r], result.ci_high[r] - result.scores[r]])
        ax.bar(x, result.scores[r], yerr=errors, capsize=3, color="tab:blue",
               label=f"{100 * result.confidence:.0f}% bootstrap interval" if errors is not None else None)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(x, result.layers, rotation=30, ha="right")
        ax.set_ylabel(f"RDM correlation ({result.method})")
        ax.set_title(f"{region}: layer RDMs vs brain RDM")
        ax.legend(fontsize=7, loc="upper left")
    axes[-1].set_xlabel("network layer")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path, where="plot_layer_rsa path")
