"""Convolution and pooling layers, as in ``tflearn.layers.conv``.

Shapes on nodes are TFlearn's (NHWC ``[None, H, W, C]``, sequences ``[None, T, F]``); inside the
module rank-4 tensors are NCHW and ``conv_1d`` works on ``(N, F, T)`` (see docs/INTERNALS.md).

Padding follows TensorFlow: ``'valid'`` gives ``out = floor((in - k) / s) + 1``; ``'same'`` gives
``out = ceil(in / s)`` and pads ``total = max((out - 1) * s + k - in, 0)`` with the extra element
at the end (bottom / right). Shapes are static, so padding is computed once when the layer is
built: symmetric padding goes to ``F.conv2d``'s ``padding``; asymmetric padding is an explicit
``F.pad`` (zeros for convolutions, ``-inf`` for max pooling; average pooling divides by the
number of real elements in each window, as TensorFlow does).
"""
from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_int, fail
from ..graph import Layer, Node, add_layer, layer_function, layer_label, require_node
from .core import attach_regularizer, build_activation, init_bias, init_weight


# ---------------------------------------------------------------------------------------------
# argument parsing and TensorFlow padding arithmetic
# ---------------------------------------------------------------------------------------------
def _sizes(value, ndim: int, where: str, argument: str) -> tuple[int, ...]:
    """``k`` / ``[k]`` / ``[kh, kw]`` / TFlearn's ``[1, kh, kw, 1]`` -> a tuple of ``ndim`` ints."""
    label = f"{where} {argument}"
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (check_int(value, label),) * ndim
    if isinstance(value, (list, tuple)):
        values = list(value)
        if len(values) == ndim + 2:  # [1, kh, kw, 1] (TensorFlow's form)
            values = values[1:-1]
        if len(values) == 1:
            values = values * ndim
        if len(values) == ndim:
            return tuple(check_int(v, label) for v in values)
    forms = "an int k or [k]" if ndim == 1 else "an int k, [kh, kw] or [1, kh, kw, 1]"
    fail(label, forms, value, error=TypeError)


def _padding(padding, where: str) -> str:
    if isinstance(padding, str) and padding.lower() in ("same", "valid"):
        return padding.lower()
    fail(f"{where} padding", "'same' or 'valid'", padding)


def _output_size(size: int, k: int, s: int, padding: str) -> int:
    """TensorFlow's output length along one dimension (may be <= 0 for impossible 'valid')."""
    return -(-size // s) if padding == "same" else (size - k) // s + 1


def _same_pads(size: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding (before, after): the extra element goes after."""
    total = max((-(-size // s) - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _spatial_output(sizes, kernel, strides, padding: str, where: str, argument: str, what: str):
    """Output sizes and pads per spatial dimension, or a clear error when 'valid' cannot fit."""
    out, pads = [], []
    for n, k, s in zip(sizes, kernel, strides):
        o = _output_size(n, k, s, padding)
        if o < 1:
            shown_in = "x".join(map(str, sizes))
            need = "x".join(map(str, kernel))
            k_text = kernel[0] if len(set(kernel)) == 1 else list(kernel)
            raise ValueError(
                f"{where}: input is {shown_in}{what}, but {argument}={k_text} with padding='valid' needs at "
                f"least {need}{what} (W2 = (W1 - F + 2P)/S + 1 = ({n} - {k} + 0)/{s} + 1 = {o}). "
                f"Use padding='same' or fewer poolings / smaller strides before this layer."
            )
        out.append(o)
        pads.append(_same_pads(n, k, s) if padding == "same" else (0, 0))
    return out, pads


def _torch_pad(pads) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    """(symmetric padding for the op, explicit F.pad argument or None)."""
    if all(a == b for a, b in pads):
        return tuple(a for a, _ in pads), None
    explicit: list[int] = []
    for a, b in reversed(pads):  # F.pad lists the last dimension first
        explicit += [a, b]
    return (0,) * len(pads), tuple(explicit)


def _require_rank(incoming: Node, rank: int, where: str) -> None:
    shape = list(incoming.shape)
    if len(shape) == rank:
        return
    if rank == 5:
        raise ValueError(f"{where}: expected a 5-D input [None, depth, height, width, channels], got shape {shape}. "
                         f"Reshape it first, e.g. net = reshape(net, [-1, depth, height, width, channels]), or give "
                         f"input_data a 5-D shape.")
    if rank == 4:
        features = math.prod(shape[1:])
        side = math.isqrt(features)
        example = f"[-1, {side}, {side}, 1]" if side * side == features else "[-1, height, width, channels]"
        raise ValueError(f"{where}: expected a 4-D input [None, height, width, channels], got shape {shape}. "
                         f"Reshape it first, e.g. net = reshape(net, {example}), or give input_data a 4-D shape.")
    raise ValueError(f"{where}: expected a 3-D input [None, steps, features], got shape {shape}. "
                     f"Reshape it first, e.g. net = reshape(net, [-1, steps, features]).")


# ---------------------------------------------------------------------------------------------
# convolution modules
# ---------------------------------------------------------------------------------------------
_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def channels_first(x: torch.Tensor, ndim: int) -> torch.Tensor:
    """The layout a torch convolution wants: 1-D ``(N, T, C) -> (N, C, T)``, 3-D ``(N, D, H, W, C) ->
    (N, C, D, H, W)``; 2-D tensors are already NCHW inside the network."""
    if ndim == 1:
        return x.transpose(1, 2)
    return x.permute(0, 4, 1, 2, 3) if ndim == 3 else x


def channels_last(x: torch.Tensor, ndim: int) -> torch.Tensor:
    """The inverse of :func:`channels_first`."""
    if ndim == 1:
        return x.transpose(1, 2)
    return x.permute(0, 2, 3, 4, 1) if ndim == 3 else x


class Conv(Layer):
    """A 1-D, 2-D or 3-D convolution with TensorFlow padding; ``forward = activation(conv(x) + b)``.

    Args:
        in_channels, out_channels: channel counts (``out_channels`` before a maxout reduction).
        kernel, strides: per spatial dimension.
        pads: TensorFlow (before, after) pads per spatial dimension.
        activation, activation_name: the built activation module and its name.
        bias: whether to add a bias.
        groups: channel groups (each output channel sees ``in_channels / groups`` inputs).
        dilation: the atrous rate (holes between kernel taps; 1 = a plain convolution).
    """

    def __init__(self, in_channels, out_channels, kernel, strides, pads, activation, activation_name, bias,
                 groups: int = 1, dilation: int = 1):
        super().__init__()
        self.ndim = len(kernel)
        self.groups = groups
        self.dilation = dilation  # grouped (depthwise when groups == in_channels) convolution
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, *kernel))  # (out, in/groups, *k)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.stride = tuple(strides)
        self.padding, self.explicit_pad = _torch_pad(pads)
        self.activation = activation
        self.activation_name = activation_name

    def _conv(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, *spatial) -> (N, C_out, *spatial')
        if self.explicit_pad is not None:
            x = F.pad(x, self.explicit_pad)
        return _CONV[self.ndim](x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def pre_activation(self, x: torch.Tensor) -> torch.Tensor:  # 1-D (N, T, F) and 3-D (N, D, H, W, C): channels last
        return channels_last(self._conv(channels_first(x, self.ndim)), self.ndim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # the activation acts on dim 1 = channels
        return channels_last(self.activation(self._conv(channels_first(x, self.ndim))), self.ndim)


def _conv_layer(kind, ndim, incoming, nb_filter, filter_size, strides, padding, activation, bias,
                weights_init, bias_init, regularizer, weight_decay, trainable, name, rate=1) -> Node:
    incoming = require_node(incoming, f"{kind} '{name}'")
    where = layer_label(kind, incoming, name)
    _require_rank(incoming, ndim + 2, where)
    nb_filter = check_int(nb_filter, f"{where} nb_filter", minimum=1)
    kernel = _sizes(filter_size, ndim, where, "filter_size")
    stride = _sizes(strides, ndim, where, "strides")
    rate = check_int(rate, f"{where} rate", minimum=1)
    padding = _padding(padding, where)
    spatial, channels = list(incoming.shape[1:-1]), incoming.shape[-1]
    what = " steps" if ndim == 1 else ""
    reach = [(k - 1) * rate + 1 for k in kernel]  # the kernel's extent with holes between taps
    out, pads = _spatial_output(spatial, reach, stride, padding, where, "filter_size", what)
    act, act_name = build_activation(activation, nb_filter, where)
    expansion = getattr(act, "expansion", 1)
    layer = Conv(channels, nb_filter * expansion, kernel, stride, pads, act, act_name, bool(bias), dilation=rate)
    init_weight(layer.weight, weights_init, activation, where)
    init_bias(layer.bias, bias_init, where)
    attach_regularizer(layer, "weight", regularizer, weight_decay, where)
    if not trainable:
        layer.requires_grad_(False)
    return add_layer(incoming, layer, [None, *out, nb_filter], name)


@layer_function("conv")
def conv_2d(incoming, nb_filter, filter_size, strides=1, padding="same", activation="linear", bias=True,
            weights_init="auto", bias_init="zeros", regularizer=None, weight_decay=0.001, trainable=True,
            restore=True, reuse=False, scope=None, name="Conv2D") -> Node:
    """2-D convolution (TFlearn's arguments).

    Args:
        incoming: a 4-D node ``[None, H, W, C]``.
        nb_filter: number of filters (output channels).
        filter_size: ``k``, ``[kh, kw]`` or ``[1, kh, kw, 1]``.
        strides: ``s``, ``[sh, sw]`` or ``[1, sh, sw, 1]``.
        padding: ``'same'`` (``out = ceil(in / s)``) or ``'valid'`` (``out = floor((in - k) / s) + 1``).
        activation: name or module / function (applied on channels).
        bias: whether to add a bias.
        weights_init: initializer; ``'auto'`` pairs He with ReLU-like activations, else Glorot.
        bias_init: initializer for the bias.
        regularizer: ``'L1'``, ``'L2'`` or None, scaled by ``weight_decay``.
        weight_decay: scale of the regularizer.
        trainable: False freezes the weights.
        restore, reuse, scope: accepted for TFlearn compatibility.
        name: layer name.

    Returns:
        The new node ``[None, H', W', nb_filter]``.
    """
    return _conv_layer("conv_2d", 2, incoming, nb_filter, filter_size, strides, padding, activation, bias,
                       weights_init, bias_init, regularizer, weight_decay, trainable, name)


@layer_function("conv")
def conv_1d(incoming, nb_filter, filter_size, strides=1, padding="same", activation="linear", bias=True,
            weights_init="auto", bias_init="zeros", regularizer=None, weight_decay=0.001, trainable=True,
            restore=True, reuse=False, scope=None, name="Conv1D") -> Node:
    """1-D convolution over steps of a ``[None, T, F]`` node (same arguments as :func:`conv_2d`).

    Returns:
        The new node ``[None, T', nb_filter]``.
    """
    return _conv_layer("conv_1d", 1, incoming, nb_filter, filter_size, strides, padding, activation, bias,
                       weights_init, bias_init, regularizer, weight_decay, trainable, name)


class ConvTranspose2d(Layer):
    """Transposed 2-D convolution producing exactly ``output_shape`` (TensorFlow's convention)."""

    def __init__(self, in_channels, out_channels, kernel, strides, crop, activation, activation_name, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_channels, out_channels, *kernel))  # (in, out, kh, kw)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.stride = tuple(strides)
        self.crop = tuple(crop)  # F.pad argument: negative crops, positive pads with zeros
        self.activation = activation
        self.activation_name = activation_name

    def pre_activation(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, C_out, H', W')
        y = F.conv_transpose2d(x, self.weight, None, self.stride)
        y = F.pad(y, self.crop)
        return y if self.bias is None else y + self.bias.view(1, -1, 1, 1)


@layer_function("conv")
def conv_2d_transpose(incoming, nb_filter, filter_size, output_shape, strides=1, padding="same",
                      activation="linear", bias=True, weights_init="auto", bias_init="zeros", regularizer=None,
                      weight_decay=0.001, trainable=True, restore=True, reuse=False, scope=None,
                      name="Conv2DTranspose") -> Node:
    """Transposed 2-D convolution (TFlearn's arguments; ``output_shape`` is ``[H, W]`` or ``[H, W, C]``).

    The input size must be the one a ``conv_2d`` with the same ``filter_size``, ``strides`` and
    ``padding`` would produce from ``output_shape`` (as in TensorFlow).

    Returns:
        The new node ``[None, H, W, nb_filter]``.
    """
    incoming = require_node(incoming, f"conv_2d_transpose '{name}'")
    where = layer_label("conv_2d_transpose", incoming, name)
    _require_rank(incoming, 4, where)
    nb_filter = check_int(nb_filter, f"{where} nb_filter", minimum=1)
    kernel = _sizes(filter_size, 2, where, "filter_size")
    stride = _sizes(strides, 2, where, "strides")
    padding = _padding(padding, where)
    if not isinstance(output_shape, (list, tuple)) or len(output_shape) not in (2, 3):
        fail(f"{where} output_shape", "[height, width] or [height, width, nb_filter]", output_shape, error=TypeError)
    out = [check_int(v, f"{where} output_shape") for v in output_shape[:2]]
    crop = transpose_crop(list(incoming.shape[1:3]), out, kernel, stride, padding, where, output_shape)
    return add_transposed(ConvTranspose2d, incoming, nb_filter, kernel, stride, crop, out, activation, bias,
                          weights_init, bias_init, regularizer, weight_decay, trainable, where, name)


def add_transposed(layer_class, incoming: Node, nb_filter: int, kernel, stride, crop, out, activation, bias,
                   weights_init, bias_init, regularizer, weight_decay, trainable, where: str, name: str) -> Node:
    """Build a transposed convolution (2-D or 3-D ``layer_class``), initialize it with the forward convolution's
    fans, attach its regularizer and add its node ``[None, *out, nb_filter]``."""
    act, act_name = build_activation(activation, nb_filter, where)
    expansion = getattr(act, "expansion", 1)
    channels = incoming.shape[-1]
    layer = layer_class(channels, nb_filter * expansion, kernel, stride, crop, act, act_name, bool(bias))
    init_layout = torch.empty(nb_filter * expansion, channels, *kernel)  # (out, in, *k): the forward fans
    init_weight(init_layout, weights_init, activation, where)
    with torch.no_grad():
        layer.weight.copy_(init_layout.transpose(0, 1))
    init_bias(layer.bias, bias_init, where)
    attach_regularizer(layer, "weight", regularizer, weight_decay, where)
    if not trainable:
        layer.requires_grad_(False)
    return add_layer(incoming, layer, [None, *out, nb_filter], name)


def transpose_crop(sizes, out, kernel, stride, padding: str, where: str, output_shape) -> list[int]:
    """``F.pad`` argument turning a transposed convolution's full output into TensorFlow's ``out`` sizes
    (negative crops), or a clear error when ``out`` is not a size the forward convolution maps to ``sizes``."""
    crop: list[int] = []
    for n, o, k, s in reversed(list(zip(sizes, out, kernel, stride))):
        expected = _output_size(o, k, s, padding)
        if expected != n:
            fail(f"{where} output_shape", f"a size whose convolution (filter {k}, stride {s}, padding={padding!r}) "
                 f"gives the input size {n}", output_shape, f"That size gives {expected} instead.")
        before = _same_pads(o, k, s)[0] if padding == "same" else 0
        full = (n - 1) * s + k
        crop += [-before, o - (full - before)]
    return crop


# ---------------------------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------------------------
class Pool(nn.Module):
    """Max or average pooling (1-D over steps, 2-D or 3-D) with TensorFlow padding.

    Average pooling divides by the number of real (unpadded) elements in each window.
    """

    def __init__(self, mode: str, kernel, strides, pads, in_sizes):
        super().__init__()
        self.mode, self.ndim = mode, len(kernel)
        self.kernel, self.stride = tuple(kernel), tuple(strides)
        self.padding, self.explicit_pad = _torch_pad(pads)
        if mode == "avg" and self.explicit_pad is not None:
            ones = F.pad(torch.ones(1, 1, *in_sizes), self.explicit_pad)
            fraction = _AVG_POOL[self.ndim](ones, self.kernel, self.stride)  # share of real elements per window
            self.register_buffer("scale", 1.0 / fraction, persistent=False)
        else:
            self.scale = None

    def _pool(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, *spatial)
        if x.dim() == 4:  # channels-last memory: CPU pooling is ~4x faster on it. A conv's output already is (no
            # copy then); under a stack's vmap the grouped convolutions give NCHW (memory_format= is not vmap-able)
            x = x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)
        if self.explicit_pad is not None:
            x = F.pad(x, self.explicit_pad, value=float("-inf") if self.mode == "max" else 0.0)
        if self.mode == "max":
            return _MAX_POOL[self.ndim](x, self.kernel, self.stride, self.padding)
        y = _AVG_POOL[self.ndim](x, self.kernel, self.stride, self.padding, count_include_pad=False)
        return y if self.scale is None else y * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # 1-D (N, T, C) and 3-D (N, D, H, W, C): channels last
        return channels_last(self._pool(channels_first(x, self.ndim)), self.ndim)


def _pool_layer(kind, mode, ndim, incoming, kernel_size, strides, padding, name) -> Node:
    incoming = require_node(incoming, f"{kind} '{name}'")
    where = layer_label(kind, incoming, name)
    _require_rank(incoming, ndim + 2, where)
    kernel = _sizes(kernel_size, ndim, where, "kernel_size")
    stride = kernel if strides is None else _sizes(strides, ndim, where, "strides")
    padding = _padding(padding, where)
    spatial = list(incoming.shape[1:-1])
    what = " steps" if ndim == 1 else ""
    out, pads = _spatial_output(spatial, kernel, stride, padding, where, "kernel_size", what)
    return add_layer(incoming, Pool(mode, kernel, stride, pads, spatial), [None, *out, incoming.shape[-1]], name)


@layer_function("conv")
def max_pool_2d(incoming, kernel_size, strides=None, padding="same", name="MaxPool2D") -> Node:
    """2-D max pooling (TFlearn: ``strides`` defaults to ``kernel_size``).

    Args:
        incoming: a 4-D node ``[None, H, W, C]``.
        kernel_size: ``k``, ``[kh, kw]`` or ``[1, kh, kw, 1]``.
        strides: same forms; None means ``kernel_size``.
        padding: ``'same'`` or ``'valid'`` (TensorFlow semantics).
        name: layer name.

    Returns:
        The new node ``[None, H', W', C]``.
    """
    return _pool_layer("max_pool_2d", "max", 2, incoming, kernel_size, strides, padding, name)


@layer_function("conv")
def avg_pool_2d(incoming, kernel_size, strides=None, padding="same", name="AvgPool2D") -> Node:
    """2-D average pooling (same arguments as :func:`max_pool_2d`)."""
    return _pool_layer("avg_pool_2d", "avg", 2, incoming, kernel_size, strides, padding, name)


@layer_function("conv")
def max_pool_1d(incoming, kernel_size, strides=None, padding="same", name="MaxPool1D") -> Node:
    """1-D max pooling over the steps of a ``[None, T, F]`` node."""
    return _pool_layer("max_pool_1d", "max", 1, incoming, kernel_size, strides, padding, name)


@layer_function("conv")
def avg_pool_1d(incoming, kernel_size, strides=None, padding="same", name="AvgPool1D") -> Node:
    """1-D average pooling over the steps of a ``[None, T, F]`` node."""
    return _pool_layer("avg_pool_1d", "avg", 1, incoming, kernel_size, strides, padding, name)


class GlobalPool(nn.Module):
    """Mean or max over all spatial positions / steps: ``(N, C, H, W)`` or ``(N, T, C)`` -> ``(N, C)``."""

    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = (2, 3) if x.dim() == 4 else (1,)
        return x.mean(dims) if self.mode == "avg" else x.amax(dims)


def _global_pool(kind, mode, incoming, name) -> Node:
    incoming = require_node(incoming, f"{kind} '{name}'")
    where = layer_label(kind, incoming, name)
    if len(incoming.shape) not in (3, 4):
        raise ValueError(f"{where}: expected a 4-D input [None, height, width, channels] (or 3-D "
                         f"[None, steps, features]), got shape {list(incoming.shape)}.")
    return add_layer(incoming, GlobalPool(mode), [None, incoming.shape[-1]], name)


@layer_function("conv")
def global_avg_pool(incoming, name="GlobalAvgPool") -> Node:
    """Average over height and width (or steps): ``[None, H, W, C]`` -> ``[None, C]``."""
    return _global_pool("global_avg_pool", "avg", incoming, name)


@layer_function("conv")
def global_max_pool(incoming, name="GlobalMaxPool") -> Node:
    """Maximum over height and width (or steps): ``[None, H, W, C]`` -> ``[None, C]``."""
    return _global_pool("global_max_pool", "max", incoming, name)


class Upsample(nn.Module):
    def __init__(self, factor):
        super().__init__()
        self.factor = tuple(factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, C, H*fh, W*fw)
        return F.interpolate(x, scale_factor=self.factor, mode="nearest")


@layer_function("conv")
def upsample_2d(incoming, kernel_size, name="UpSample2D") -> Node:
    """Nearest-neighbour upsampling by an integer factor per dimension (TFlearn's ``kernel_size``).

    Returns:
        The new node ``[None, H * kh, W * kw, C]``.
    """
    incoming = require_node(incoming, f"upsample_2d '{name}'")
    where = layer_label("upsample_2d", incoming, name)
    _require_rank(incoming, 4, where)
    factor = _sizes(kernel_size, 2, where, "kernel_size")
    _, h, w, c = incoming.shape
    return add_layer(incoming, Upsample(factor), [None, h * factor[0], w * factor[1], c], name)


@layer_function("conv")
def atrous_conv_2d(incoming, nb_filter, filter_size, rate=1, padding="same", activation="linear", bias=True,
                   weights_init="uniform_scaling", bias_init="zeros", regularizer=None, weight_decay=0.001,
                   trainable=True, restore=True, reuse=False, scope=None, name="AtrousConv2D") -> Node:
    """Atrous (dilated) 2-D convolution: ``rate - 1`` holes between kernel taps, stride 1 (TFlearn's arguments).

    Args:
        incoming: a 4-D node ``[None, H, W, C]``.
        nb_filter, filter_size: as in :func:`conv_2d`.
        rate: the dilation (1 = a plain convolution); the kernel then reaches ``(k - 1) * rate + 1`` pixels.
        padding: ``'same'`` keeps ``H, W``; ``'valid'`` gives ``H - (k - 1) * rate``.
        (the others): as in :func:`conv_2d`.

    Returns:
        The new node ``[None, H', W', nb_filter]``.
    """
    return _conv_layer("atrous_conv_2d", 2, incoming, nb_filter, filter_size, 1, padding, activation, bias,
                       weights_init, bias_init, regularizer, weight_decay, trainable, name, rate=rate)


def upscore_output(shape, sizes: list[int], stride, where: str) -> list[int]:
    """The output sizes of an upscore layer: ``shape``'s spatial sizes, else TFlearn's ``(n - 1) * s + 1``."""
    ndim = len(sizes)
    if shape is None:
        return [(n - 1) * s + 1 for n, s in zip(sizes, stride)]
    if isinstance(shape, (list, tuple)) and len(shape) in (ndim, ndim + 1, ndim + 2):
        spatial = shape if len(shape) == ndim else shape[1: 1 + ndim]
        return [check_int(v, f"{where} shape", minimum=1) for v in spatial]
    fail(f"{where} shape", f"None or the {ndim} output sizes (optionally after the batch and before the channels)",
         shape, error=TypeError)


def bilinear_ramp(size: int) -> torch.Tensor:
    """The 1-D profile of the bilinear upsampling filter of fully convolutional networks (Long et al. 2015),
    with TFlearn's centre (``(2f - 1 - f % 2) / 2`` for ``f = ceil(size / 2)``); filters are its outer products."""
    factor = -(-size // 2)
    center = (2 * factor - 1 - factor % 2) / 2
    return 1 - (torch.arange(size, dtype=torch.float32) - center).abs() / factor  # (size,)


@layer_function("conv")
def upscore_layer(incoming, num_classes, shape=None, kernel_size=4, strides=2, trainable=True, restore=True,
                  reuse=False, scope=None, name="Upscore") -> Node:
    """Upscore (Long et al. 2015): a transposed convolution initialized as bilinear upsampling, channel
    ``i`` to channel ``i`` (TFlearn's arguments; no bias, no activation, 'same' padding).

    Args:
        incoming: a 4-D node ``[None, H, W, C]`` with ``C >= num_classes`` (channel i maps to class i).
        num_classes: the output channels.
        shape: the output ``[H', W']``, ``[batch, H', W']`` or ``[batch, H', W', X]`` (batch and X ignored);
            None: ``(H - 1) * s + 1`` by ``(W - 1) * s + 1`` (TFlearn's default).
        kernel_size: the (square) filter size.
        strides: the upsampling factor.
        trainable, restore, reuse, scope: as in :func:`conv_2d`.
        name: layer name.

    Returns:
        The new node ``[None, H', W', num_classes]``.
    """
    incoming = require_node(incoming, f"upscore_layer '{name}'")
    where = layer_label("upscore_layer", incoming, name)
    _require_rank(incoming, 4, where)
    num_classes = check_int(num_classes, f"{where} num_classes", minimum=1)
    kernel = _sizes(kernel_size, 2, where, "kernel_size")
    stride = _sizes(strides, 2, where, "strides")
    _, h, w, channels = incoming.shape
    if channels < num_classes:
        fail(f"{where} num_classes", f"at most the incoming channels ({channels}): the bilinear filter maps "
             f"channel i to class i", num_classes, "Reduce the channels with a 1x1 conv_2d to num_classes first.")
    out = upscore_output(shape, [h, w], stride, where)
    crop = transpose_crop([h, w], out, kernel, stride, "same", where, shape)
    layer = ConvTranspose2d(channels, num_classes, kernel, stride, crop, nn.Identity(), "linear", False)
    with torch.no_grad():
        layer.weight.zero_()  # (in, out, kh, kw)
        ramp = bilinear_ramp(max(kernel))
        filters = (ramp[:, None] * ramp[None, :])[: kernel[0], : kernel[1]]
        for i in range(num_classes):
            layer.weight[i, i] = filters
    if not trainable:
        layer.requires_grad_(False)
    return add_layer(incoming, layer, [None, *out, num_classes], name)


deconv_2d = upsample_2d  # TFlearn 0.5 names upsample_2d deconv_2d as well
