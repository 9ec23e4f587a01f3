"""What the representation analyses share: a layer's features as an ``(N, F)`` matrix, labels as classes,
and every layer's features recorded in chunks with bounded memory (:func:`layer_features`)."""
from __future__ import annotations

import numpy as np
import torch

from .._checks import Text, check_int, fail
from ..utils import RECORDING_BATCH_SIZE
from .recording import forward_in_chunks, resolve_layers, to_user_layout
from .similarity import as_array


def flat_features(x, where: str, min_samples: int = 2) -> np.ndarray:
    """``x`` as a float64 ``(N, F)`` matrix (one row per sample), with clear errors."""
    x = as_array(x, where, min_rank=1)
    x = x.reshape(len(x), -1)
    if len(x) < min_samples:
        fail(where, f"at least {min_samples} samples (rows)", Text(f"{len(x)}"))
    return x


def class_labels(labels, n: int, where: str) -> np.ndarray:
    """Class labels ``(n,)`` from labels or one-hot rows ``(n, classes)``."""
    y = np.asarray(labels.detach().cpu() if isinstance(labels, torch.Tensor) else labels)
    if y.ndim == 2 and y.shape[1] > 1:
        y = y.argmax(1)
    y = y.reshape(-1) if y.ndim == 2 else y
    if y.ndim != 1 or len(y) != n:
        fail(where, f"{n} labels (one per sample) or one-hot rows (N, classes)", Text(f"shape {y.shape}"))
    return y


class LayerFeatures(dict):
    """``{layer: (N, F) float32 array}``; ``projected[layer]``: the original width of a layer that was
    reduced to its first ``max_features`` principal components."""

    projected: dict


class _Reducer:
    """A wide layer's features reduced to principal components: the basis is fitted on the first
    ``k`` samples (all of them when there are no more), then every chunk is projected on it."""

    def __init__(self, k: int):
        self.k = k
        self.buffer: list[torch.Tensor] = []
        self.rows = 0
        self.mean = self.basis = None

    def add(self, flat: torch.Tensor) -> list[torch.Tensor]:
        """Take a chunk ``(B, width)``; return the projected chunks ready so far."""
        if self.basis is not None:
            return [self.project(flat)]
        self.buffer.append(flat.cpu())
        self.rows += flat.shape[0]
        return self.fit() if self.rows >= self.k else []

    def fit(self) -> list[torch.Tensor]:
        """Fit the basis on the buffered samples; return them projected."""
        rows = torch.cat(self.buffer).double()
        self.buffer = []
        self.mean = rows.mean(0)
        _, s, vh = torch.linalg.svd(rows - self.mean, full_matrices=False)
        keep = min(self.k, int((s > 1e-9 * s.max().clamp(min=1e-300)).sum()))  # (centered: rank <= rows - 1)
        self.basis = vh[:keep].T.contiguous()  # (width, components)
        return [self.project(rows)]

    def project(self, flat: torch.Tensor) -> torch.Tensor:
        return ((flat.cpu().double() - self.mean) @ self.basis).float()


def layer_features(model, X, layers=None, max_features: int | None = None,
                   batch_size: int = RECORDING_BATCH_SIZE) -> LayerFeatures:
    """Every (or the named) layer's output on ``X``, flattened per sample, recorded ``batch_size`` samples
    at a time. A layer wider than ``max_features`` is reduced, chunk by chunk, to ``max_features``
    principal components fitted on its first ``max_features`` samples (Brain-Score's convention, with
    1,000), so memory stays ``N x max_features`` per layer however wide the layer: 10,000 images through
    a CNN do not hold its full feature maps. The reduction keeps Euclidean geometry (exactly when
    ``N <= max_features``: distances, linear read-outs, the covariance spectrum up to ``max_features``
    components), not the features' own axes (correlation distances, single units).

    Args:
        model: a ``DNN`` or ``nn.Module``.
        X: its inputs.
        layers: layer names (default: every layer).
        max_features: the widest layer kept whole (None: every layer whole).

    Returns:
        :class:`LayerFeatures`.
    """
    modules = resolve_layers(model, layers)
    if max_features is not None:
        max_features = check_int(max_features, "layer_features max_features", minimum=2)
    chunks: dict[str, list] = {name: [] for name in modules}
    reducers: dict[str, _Reducer] = {}
    projected: dict[str, int] = {}

    def hook_for(name):
        def hook(module, inputs, output):
            if not isinstance(output, torch.Tensor):
                return
            flat = to_user_layout(output.detach()).reshape(output.shape[0], -1).float()
            if max_features is not None and flat.shape[1] > max_features:
                if name not in reducers:
                    reducers[name], projected[name] = _Reducer(max_features), flat.shape[1]
                chunks[name].extend(t.numpy() for t in reducers[name].add(flat))
            else:
                chunks[name].append(flat.cpu().numpy())
        return hook

    handles = [module.register_forward_hook(hook_for(name)) for name, module in modules.items()]
    try:
        forward_in_chunks(model, X, batch_size, "layer_features X")
    finally:
        for handle in handles:
            handle.remove()
    for name, reducer in reducers.items():
        if reducer.basis is None:  # fewer samples than max_features: fitted on all of them
            chunks[name].extend(t.numpy() for t in reducer.fit())
    out = LayerFeatures({name: np.concatenate(parts) for name, parts in chunks.items() if parts})
    out.projected = projected
    return out
