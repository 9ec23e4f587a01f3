"""Normalization layers, as in ``tflearn.layers.normalization``.

- ``batch_normalization``: torch's BatchNorm over the feature / channel dimension (rank 2:
  ``(N, F)``; rank 3: ``(N, T, F)``, statistics over batch and steps; rank 4: NCHW channels).
  TFlearn's ``decay`` (moving average ``m = decay * m + (1 - decay) * batch``) is torch's
  ``momentum = 1 - decay``. ``gamma`` starts from ``N(gamma, stddev)``, as in TFlearn.
- ``local_response_normalization``: TensorFlow's formula
  ``out = x / (bias + alpha * sum_{|c' - c| <= depth_radius} x_{c'}^2) ** beta``.
  torch's ``local_response_norm`` divides ``alpha`` by the window size, so it receives
  ``alpha * (2 * depth_radius + 1)``.
- ``l2_normalize``: TensorFlow's ``x / sqrt(max(sum(x^2, dim), epsilon))``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_float, check_int, fail
from ..graph import Node, add_layer, layer_function, layer_label, require_node
from .merge_ops import internal_axis, user_axis


class SequenceBatchNorm(nn.BatchNorm1d):
    """BatchNorm1d for ``(N, T, F)`` tensors: normalizes each feature over batch and steps."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)  # via (N, F, T)


@layer_function("normalization")
def batch_normalization(incoming, beta=0.0, gamma=1.0, epsilon=1e-5, decay=0.9, stddev=0.002, trainable=True,
                        restore=True, reuse=False, scope=None, name="BatchNormalization") -> Node:
    """Batch normalization (TFlearn's arguments).

    Args:
        incoming: a node of rank 2, 3 or 4; the last TFlearn axis (features / channels) is normalized.
        beta: initial shift.
        gamma: mean of the initial scale (drawn from ``N(gamma, stddev)``).
        epsilon: added to the variance.
        decay: moving-average decay of the running statistics (torch momentum ``1 - decay``).
        stddev: standard deviation of the initial scale.
        trainable: False freezes beta and gamma (running statistics still update in training).
        restore, reuse, scope: accepted for TFlearn compatibility.
        name: layer name.

    Returns:
        A node of the same shape. Note: torch keeps the unbiased batch variance in the
        running variance (TensorFlow the biased one); the difference is ``n / (n - 1)``.
    """
    incoming = require_node(incoming, f"batch_normalization '{name}'")
    where = layer_label("batch_normalization", incoming, name)
    rank = len(incoming.shape)
    if rank not in (2, 3, 4):
        fail(where, "an input of rank 2, 3 or 4 ([None, F], [None, T, F], [None, H, W, C])", list(incoming.shape))
    epsilon = check_float(epsilon, f"{where} epsilon", minimum=0.0, min_inclusive=False)
    decay = check_float(decay, f"{where} decay", minimum=0.0, maximum=1.0)
    beta = check_float(beta, f"{where} beta")
    gamma = check_float(gamma, f"{where} gamma")
    stddev = check_float(stddev, f"{where} stddev", minimum=0.0)
    features = incoming.shape[-1]
    cls = {2: nn.BatchNorm1d, 3: SequenceBatchNorm, 4: nn.BatchNorm2d}[rank]
    module = cls(features, eps=epsilon, momentum=1.0 - decay)
    with torch.no_grad():
        module.bias.fill_(beta)
        module.weight.normal_(gamma, stddev) if stddev > 0 else module.weight.fill_(gamma)
    if not trainable:
        module.weight.requires_grad_(False)
        module.bias.requires_grad_(False)
    return add_layer(incoming, module, incoming.shape, name)


class LocalResponseNorm(nn.Module):
    """TensorFlow's local response normalization across channels (dim 1 internally).

    Args:
        depth_radius: half-width of the channel window (window size ``2 * depth_radius + 1``).
        bias, alpha, beta: TensorFlow's parameters (``alpha`` NOT divided by the window size).
        sequence: the input is ``(N, T, F)`` (channels last) rather than ``(N, C, ...)``.
    """

    def __init__(self, depth_radius: int, bias: float, alpha: float, beta: float, sequence: bool = False):
        super().__init__()
        self.size = 2 * depth_radius + 1
        self.bias, self.alpha, self.beta, self.sequence = bias, alpha, beta, sequence

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.sequence:  # (N, T, F) -> (N, F, T) and back
            return self.forward_channels(x.transpose(1, 2)).transpose(1, 2)
        return self.forward_channels(x)

    def forward_channels(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, ...)
        squeeze = x.dim() == 2
        if squeeze:
            x = x.unsqueeze(-1)  # torch needs a spatial dimension: (N, F, 1)
        y = F.local_response_norm(x, self.size, alpha=self.alpha * self.size, beta=self.beta, k=self.bias)
        return y.squeeze(-1) if squeeze else y


@layer_function("normalization")
def local_response_normalization(incoming, depth_radius=5, bias=1.0, alpha=0.0001, beta=0.75,
                                 name="LocalResponseNormalization") -> Node:
    """Local response normalization across channels, with TensorFlow's formula.

    Args:
        incoming: a node (normally ``[None, H, W, C]``; ranks 2 and 3 normalize the last axis).
        depth_radius: half-width of the channel window.
        bias: the constant ``k`` added before the power.
        alpha: scale of the sum of squares (TensorFlow's: not divided by the window size).
        beta: the exponent.
        name: layer name.

    Returns:
        A node of the same shape.
    """
    incoming = require_node(incoming, f"local_response_normalization '{name}'")
    where = layer_label("local_response_normalization", incoming, name)
    rank = len(incoming.shape)
    if rank not in (2, 3, 4):
        fail(where, "an input of rank 2, 3 or 4 (normally [None, H, W, C])", list(incoming.shape))
    depth_radius = check_int(depth_radius, f"{where} depth_radius", minimum=0)
    bias = check_float(bias, f"{where} bias")
    alpha = check_float(alpha, f"{where} alpha")
    beta = check_float(beta, f"{where} beta")
    module = LocalResponseNorm(depth_radius, bias, alpha, beta, sequence=rank == 3)
    return add_layer(incoming, module, incoming.shape, name)


class L2Normalize(nn.Module):
    """``x / sqrt(max(sum(x^2, dims), epsilon))`` over internal dimensions ``dims``."""

    def __init__(self, dims: tuple[int, ...], epsilon: float):
        super().__init__()
        self.dims, self.epsilon = tuple(dims), epsilon

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        square_sum = x.square().sum(self.dims, keepdim=True)
        return x * torch.rsqrt(square_sum.clamp_min(self.epsilon))


@layer_function("normalization")
def l2_normalize(incoming, dim, epsilon=1e-12, name="l2_normalize") -> Node:
    """Normalize to unit L2 norm along ``dim`` (TensorFlow's formula).

    Args:
        incoming: a node.
        dim: TFlearn (NHWC) axis or list of axes, e.g. 1 for ``[None, F]``, 3 for image channels.
        epsilon: lower bound of the sum of squares.
        name: layer name.

    Returns:
        A node of the same shape.
    """
    incoming = require_node(incoming, f"l2_normalize '{name}'")
    where = layer_label("l2_normalize", incoming, name)
    rank = len(incoming.shape)
    axes = list(dim) if isinstance(dim, (list, tuple)) else [dim]
    if not axes:
        fail(f"{where} dim", "an axis or a non-empty list of axes", dim)
    axes = [user_axis(a, rank, f"{where} dim") for a in axes]
    epsilon = check_float(epsilon, f"{where} epsilon", minimum=0.0)
    dims = tuple(sorted({internal_axis(a, rank) for a in axes}))
    return add_layer(incoming, L2Normalize(dims, epsilon), incoming.shape, name)


def get(identifier):
    """A normalization layer function by name (``'batch_normalization'``, ...); a function passes through."""
    if callable(identifier):
        return identifier
    found = {"batch_normalization": batch_normalization, "local_response_normalization": local_response_normalization,
             "l2_normalize": l2_normalize}.get(str(identifier))
    if found is None:
        fail("normalization.get identifier", "'batch_normalization', 'local_response_normalization', "
             "'l2_normalize' or a function", identifier)
    return found
