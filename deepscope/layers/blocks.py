"""The residual family and highway layers (TFlearn's names and arguments).

``residual_block``, ``residual_bottleneck``, ``resnext_block`` and ``densenet_block`` are built from
the ordinary layer functions (convolution, batch normalization, activation, pooling, merge), so a
network using them saves and loads like any other. ``highway``, ``highway_conv_2d`` and
``grouped_conv_2d`` are layers with their own modules. TFlearn's paths work:
``from deepscope.layers.conv import residual_block``, ``from deepscope.layers.core import highway``.

Shortcuts follow the papers (He et al. 2016, "Identity Mappings"; Xie et al. 2017; Huang et al.
2017; Srivastava et al. 2015) as TFlearn builds them: downsampling by average pooling and new
channels by zero padding (no projection weights).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import Text, check_float, check_int, fail
from ..graph import Layer, Node, add_layer, layer_function, layer_label, require_node
from . import core
from .conv import Conv, _padding, channels_first, channels_last, _require_rank, _sizes, _spatial_output, avg_pool_2d, conv_2d
from .core import activation as activation_layer
from .core import attach_regularizer, build_activation, init_bias, init_weight
from .merge_ops import merge
from .normalization import batch_normalization

RESNEXT_BOTTLENECK = {1: 64, 2: 40, 4: 24, 8: 14, 32: 4}  # cardinality -> width (ResNeXt paper, Table 2)


# ---------------------------------------------------------------------------------------------
# the shortcut of residual blocks: average-pool to the new size, zero-pad the new channels
# ---------------------------------------------------------------------------------------------
class PadChannels(nn.Module):
    """Zero channels added before and after the existing ones (NCHW dim 1)."""

    def __init__(self, before: int, after: int):
        super().__init__()
        self.before, self.after = before, after

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, before + C + after, H, W)
        return F.pad(x, (0, 0, 0, 0, self.before, self.after))


@layer_function("conv")
def pad_channels(incoming, before, after, name="PadChannels") -> Node:
    """Add ``before`` zero channels in front of and ``after`` behind a 4-D node's channels."""
    incoming = require_node(incoming, f"pad_channels '{name}'")
    where = layer_label("pad_channels", incoming, name)
    _require_rank(incoming, 4, where)
    before = check_int(before, f"{where} before", minimum=0)
    after = check_int(after, f"{where} after", minimum=0)
    shape = list(incoming.shape)
    shape[3] += before + after
    return add_layer(incoming, PadChannels(before, after), shape, name)


def _shortcut(identity: Node, strides: int, out_channels: int, kernel: int) -> Node:
    """The identity path brought to the residual path's size (pooling, then zero channels)."""
    if strides > 1:
        identity = avg_pool_2d(identity, kernel, strides)
    missing = out_channels - identity.shape[3]
    if missing < 0:
        fail("residual shortcut", f"out_channels >= the input's {identity.shape[3]} channels", out_channels,
             "The identity shortcut can add channels (zeros), not remove them.")
    if missing:
        identity = pad_channels(identity, missing // 2, missing - missing // 2)
    return identity


def _check_block(where: str, incoming, nb, reuse, downsample, downsample_strides) -> tuple[Node, int, int]:
    """The checked input, number of blocks/layers, and stride (1 without ``downsample``)."""
    incoming = require_node(incoming, where)
    _require_rank(incoming, 4, where)
    if reuse:
        fail(f"{where} reuse", "False (sharing a whole block's weights is not supported)", reuse,
             "Share single layers with scope=... and reuse=True instead.")
    strides = check_int(downsample_strides, f"{where} downsample_strides", minimum=1)
    return incoming, check_int(nb, f"{where} number of blocks/layers", minimum=1), strides if downsample else 1


def _norm_act(net: Node, batch_norm: bool, activation, trainable=True, restore=True) -> Node:
    if batch_norm:
        net = batch_normalization(net, trainable=trainable, restore=restore)
    return activation_layer(net, activation)


# ---------------------------------------------------------------------------------------------
# residual blocks
# ---------------------------------------------------------------------------------------------
def residual_block(incoming, nb_blocks, out_channels, downsample=False, downsample_strides=2, activation="relu",
                   batch_norm=True, bias=True, weights_init="variance_scaling", bias_init="zeros", regularizer="L2",
                   weight_decay=0.0001, trainable=True, restore=True, reuse=False, scope=None,
                   name="ResidualBlock") -> Node:
    """Residual blocks with full pre-activation (He et al. 2016): ``nb_blocks`` times
    ``x + conv3x3(act(bn(conv3x3(act(bn(x))))))``.

    Args:
        incoming: a 4-D node ``[None, H, W, C]``.
        nb_blocks: number of blocks.
        out_channels: filters of the convolutions.
        downsample: stride ``downsample_strides`` in every block's first convolution (the shortcut is
            average-pooled to match); new channels of the shortcut are zeros.
        activation, batch_norm, bias, weights_init, bias_init, regularizer, weight_decay, trainable,
        restore: as in ``conv_2d`` (TFlearn's defaults: He init, L2 1e-4).
        reuse, scope, name: accepted (``reuse=True`` is refused with a clear error).

    Returns:
        The node ``[None, H', W', out_channels]``.
    """
    where = f"residual_block '{name}'"
    net, nb_blocks, strides = _check_block(where, incoming, nb_blocks, reuse, downsample, downsample_strides)
    out_channels = check_int(out_channels, f"{where} out_channels", minimum=1)
    conv = dict(activation="linear", bias=bias, weights_init=weights_init, bias_init=bias_init,
                regularizer=regularizer, weight_decay=weight_decay, trainable=trainable, restore=restore)
    for _ in range(nb_blocks):
        identity = net
        net = _norm_act(net, batch_norm, activation, trainable, restore)
        net = conv_2d(net, out_channels, 3, strides, "same", **conv)
        net = _norm_act(net, batch_norm, activation, trainable, restore)
        net = conv_2d(net, out_channels, 3, 1, "same", **conv)
        net = net + _shortcut(identity, strides, out_channels, strides)
    return net


def residual_bottleneck(incoming, nb_blocks, bottleneck_size, out_channels, downsample=False, downsample_strides=2,
                        activation="relu", batch_norm=True, bias=True, weights_init="variance_scaling",
                        bias_init="zeros", regularizer="L2", weight_decay=0.0001, trainable=True, restore=True,
                        reuse=False, scope=None, name="ResidualBottleneck") -> Node:
    """Bottleneck residual blocks: ``act(x + conv1x1_out(act(conv3x3(act(bn(conv1x1(act(bn(x)))))))))``,
    the middle convolutions ``bottleneck_size`` wide.

    (TFlearn's own code adds the shortcut only in blocks that change the channel count, an
    indentation slip; here every block adds it, as in the paper.)

    Args:
        bottleneck_size: filters of the 1x1 and 3x3 bottleneck convolutions.
        (others as :func:`residual_block`)

    Returns:
        The node ``[None, H', W', out_channels]``.
    """
    where = f"residual_bottleneck '{name}'"
    net, nb_blocks, strides = _check_block(where, incoming, nb_blocks, reuse, downsample, downsample_strides)
    bottleneck_size = check_int(bottleneck_size, f"{where} bottleneck_size", minimum=1)
    out_channels = check_int(out_channels, f"{where} out_channels", minimum=1)
    conv = dict(bias=bias, weights_init=weights_init, bias_init=bias_init, regularizer=regularizer,
                weight_decay=weight_decay, trainable=trainable, restore=restore)
    for _ in range(nb_blocks):
        identity = net
        net = _norm_act(net, batch_norm, activation, trainable, restore)
        net = conv_2d(net, bottleneck_size, 1, strides, "valid", "linear", **conv)
        net = _norm_act(net, batch_norm, activation, trainable, restore)
        net = conv_2d(net, bottleneck_size, 3, 1, "same", "linear", **conv)
        net = conv_2d(net, out_channels, 1, 1, "valid", activation, **conv)
        net = activation_layer(net + _shortcut(identity, strides, out_channels, strides), activation)
    return net


def resnext_block(incoming, nb_blocks, out_channels, cardinality, downsample=False, downsample_strides=2,
                  activation="relu", batch_norm=True, weights_init="variance_scaling", regularizer="L2",
                  weight_decay=0.0001, bias=True, bias_init="zeros", trainable=True, restore=True, reuse=False,
                  scope=None, name="ResNeXtBlock") -> Node:
    """ResNeXt blocks (Xie et al. 2017, Fig. 3c): 1x1 convolution to the bottleneck width of
    ``cardinality``, a grouped 3x3 convolution, 1x1 to ``out_channels``, batch norm, + shortcut, act.

    Args:
        cardinality: 1, 2, 4, 8 or 32 (the bottleneck width follows the paper's Table 2).
        (others as :func:`residual_block`)

    Returns:
        The node ``[None, H', W', out_channels]``.
    """
    where = f"resnext_block '{name}'"
    net, nb_blocks, strides = _check_block(where, incoming, nb_blocks, reuse, downsample, downsample_strides)
    out_channels = check_int(out_channels, f"{where} out_channels", minimum=1)
    if cardinality not in RESNEXT_BOTTLENECK:
        fail(f"{where} cardinality", f"one of {sorted(RESNEXT_BOTTLENECK)} (TFlearn's table)", cardinality)
    width = RESNEXT_BOTTLENECK[cardinality]
    conv = dict(bias=bias, weights_init=weights_init, bias_init=bias_init, regularizer=regularizer,
                weight_decay=weight_decay, trainable=trainable, restore=restore)
    for _ in range(nb_blocks):
        identity = net
        net = conv_2d(net, width, 1, strides, "valid", "linear", **conv)
        net = _norm_act(net, batch_norm, activation, trainable, restore)
        net = grouped_conv_2d(net, cardinality, 3, 1, "same", "linear", False, weights_init, bias_init,
                              regularizer, weight_decay, trainable, restore)
        net = _norm_act(net, batch_norm, activation, trainable, restore)
        net = conv_2d(net, out_channels, 1, 1, "valid", activation, **conv)
        if batch_norm:
            net = batch_normalization(net, trainable=trainable, restore=restore)
        net = activation_layer(net + _shortcut(identity, strides, out_channels, 1), activation)
    return net


def densenet_block(incoming, nb_layers, growth, bottleneck=True, downsample=True, downsample_strides=2,
                   activation="relu", batch_norm=True, dropout=False, dropout_keep_prob=0.5,
                   weights_init="variance_scaling", regularizer="L2", weight_decay=0.0001, bias=True,
                   bias_init="zeros", trainable=True, restore=True, reuse=False, scope=None,
                   name="DenseNetBlock") -> Node:
    """A DenseNet block (Huang et al. 2017): ``nb_layers`` times ``concat(x, conv3x3(act(bn(...))))``
    (with a 1x1 bottleneck of ``4 * growth`` first when ``bottleneck``), then a 1x1 transition
    convolution to ``growth`` channels, optional dropout, and average-pool downsampling.

    Args:
        nb_layers: layers in the block.
        growth: channels each layer adds (and the transition's output).
        bottleneck: a 1x1 convolution of ``4 * growth`` before each 3x3.
        downsample: 2x2 average pooling with ``downsample_strides`` at the end.
        dropout, dropout_keep_prob: dropout after the transition.
        (others as :func:`residual_block`)

    Returns:
        The node ``[None, H', W', growth]``.
    """
    where = f"densenet_block '{name}'"
    net, nb_layers, strides = _check_block(where, incoming, nb_layers, reuse, downsample, downsample_strides)
    growth = check_int(growth, f"{where} growth", minimum=1)
    conv = dict(bias=bias, weights_init=weights_init, bias_init=bias_init, regularizer=regularizer,
                weight_decay=weight_decay, trainable=trainable, restore=restore)
    for _ in range(nb_layers):
        connection = net
        if bottleneck:
            net = _norm_act(net, batch_norm, activation, trainable, restore)
            net = conv_2d(net, 4 * growth, 1, **conv)
        net = _norm_act(net, batch_norm, activation, trainable, restore)
        net = conv_2d(net, growth, 3, **conv)
        net = merge([net, connection], "concat", axis=3)
    net = _norm_act(net, batch_norm, activation, trainable, restore)
    net = conv_2d(net, growth, 1, **conv)
    if dropout:
        net = core.dropout(net, dropout_keep_prob)
    if downsample:
        net = avg_pool_2d(net, 2, strides)
    return net


# ---------------------------------------------------------------------------------------------
# grouped convolution
# ---------------------------------------------------------------------------------------------
@layer_function("conv")
def grouped_conv_2d(incoming, channel_multiplier, filter_size, strides=1, padding="same", activation="linear",
                    bias=False, weights_init="auto", bias_init="zeros", regularizer=None, weight_decay=0.001,
                    trainable=True, restore=True, reuse=False, scope=None, name="GroupedConv2D") -> Node:
    """Depthwise 2-D convolution (TFlearn's ``grouped_conv_2d``): every input channel is convolved
    on its own into ``channel_multiplier`` output channels.

    Returns:
        The node ``[None, H', W', in_channels * channel_multiplier]``.
    """
    incoming = require_node(incoming, f"grouped_conv_2d '{name}'")
    where = layer_label("grouped_conv_2d", incoming, name)
    _require_rank(incoming, 4, where)
    multiplier = check_int(channel_multiplier, f"{where} channel_multiplier", minimum=1)
    kernel, stride = _sizes(filter_size, 2, where, "filter_size"), _sizes(strides, 2, where, "strides")
    padding = _padding(padding, where)
    channels = incoming.shape[3]
    out, pads = _spatial_output(list(incoming.shape[1:3]), kernel, stride, padding, where, "filter_size", "")
    act, act_name = build_activation(activation, channels * multiplier, where)
    layer = Conv(channels, channels * multiplier, kernel, stride, pads, act, act_name, bool(bias), groups=channels)
    init_weight(layer.weight, weights_init, activation, where)
    init_bias(layer.bias, bias_init, where)
    attach_regularizer(layer, "weight", regularizer, weight_decay, where)
    if not trainable:
        layer.requires_grad_(False)
    return add_layer(incoming, layer, [None, *out, channels * multiplier], name)


# ---------------------------------------------------------------------------------------------
# highway layers
# ---------------------------------------------------------------------------------------------
class Highway(Layer):
    """``H(x) * T(x) + x * (1 - T(x))`` with ``H = act(x W + b)`` and the gate
    ``T = sigmoid(x W_T + b_T)`` (b_T starts at -1: the layer first passes its input through)."""

    def __init__(self, features: int, activation: nn.Module, activation_name):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(features, features))  # (out, in)
        self.bias = nn.Parameter(torch.zeros(features))
        self.gate_weight = nn.Parameter(torch.empty(features, features))
        self.gate_bias = nn.Parameter(torch.full((features,), -1.0))
        self.activation, self.activation_name = activation, activation_name
        self.transform_dropout = None

    def pre_activation(self, x):
        return F.linear(x, self.weight, self.bias)

    def forward(self, x):  # (N, F) -> (N, F)
        h = self.activation(F.linear(x, self.weight, self.bias))
        if self.transform_dropout is not None:
            h = self.transform_dropout(h)
        t = torch.sigmoid(F.linear(x, self.gate_weight, self.gate_bias))
        return h * t + x * (1.0 - t)


@layer_function("core")
def highway(incoming, n_units, activation="linear", transform_dropout=None, weights_init="truncated_normal",
            bias_init="zeros", regularizer=None, weight_decay=0.001, trainable=True, restore=True, reuse=False,
            scope=None, name="FullyConnectedHighway") -> Node:
    """A fully connected highway layer (Srivastava et al. 2015); its output has the input's size.

    Args:
        incoming: a 2-D node ``[None, n_units]``.
        n_units: units; must equal the input's features (the carry path passes the input through).
        activation: of the transform ``H``.
        transform_dropout: keep probability of dropout on ``H`` (None: none).
        (others as ``fully_connected``; TFlearn's default init is truncated normal)

    Returns:
        The node ``[None, n_units]``.
    """
    incoming = require_node(incoming, f"highway '{name}'")
    where = layer_label("highway", incoming, name)
    if len(incoming.shape) != 2:
        fail(where, "a 2-D input [None, features]", Text(f"shape {list(incoming.shape)}"),
             "Flatten it first (net = flatten(net)).")
    n_units = check_int(n_units, f"{where} n_units", minimum=1)
    if n_units != incoming.shape[1]:
        fail(f"{where} n_units", f"the input's {incoming.shape[1]} features (a highway layer carries its input)",
             n_units, "Put a fully_connected layer of that size before it.")
    act, act_name = build_activation(activation, n_units, where)
    layer = Highway(n_units, act, act_name)
    if transform_dropout is not None:
        keep = check_float(transform_dropout, f"{where} transform_dropout", 0.0, 1.0, min_inclusive=False)
        layer.transform_dropout = nn.Dropout(1.0 - keep)
    for weight in (layer.weight, layer.gate_weight):
        init_weight(weight, weights_init, act, where)
    init_bias(layer.bias, bias_init, where)
    attach_regularizer(layer, "weight", regularizer, weight_decay, where)
    if not trainable:
        layer.requires_grad_(False)
    return add_layer(incoming, layer, [None, n_units], name)


class HighwayConv(Layer):
    """TFlearn's highway convolution: one convolution ``c`` shared by the transform and the gate,
    ``act(c + b) * T + c * (1 - T)`` with ``T = sigmoid(c * w_T + b_T)`` per channel (b_T starts at -3).
    2-D on ``(N, C, H, W)``; 1-D on ``(N, T, C)`` (channels last, as conv_1d)."""

    def __init__(self, conv: Conv, channels: int):
        super().__init__()
        self.conv = conv  # its bias is off: b is added to the transform only
        self.bias = nn.Parameter(torch.zeros(channels))
        self.gate_weight = nn.Parameter(torch.empty(channels))
        self.gate_bias = nn.Parameter(torch.full((channels,), -3.0))
        self.activation, self.activation_name = conv.activation, conv.activation_name
        self.conv.activation = nn.Identity()

    @property
    def weight(self):
        return self.conv.weight

    def _per_channel(self, value: torch.Tensor) -> torch.Tensor:  # (C,) -> broadcast over (N, C, *spatial)
        return value.view(1, -1, *([1] * self.conv.ndim))

    def pre_activation(self, x):
        c = self.conv._conv(channels_first(x, self.conv.ndim)) + self._per_channel(self.bias)
        return channels_last(c, self.conv.ndim)

    def forward(self, x):  # (N, C, H, W) -> (N, F, H', W'); 1-D (N, T, C) -> (N, T', F)
        c = self.conv._conv(channels_first(x, self.conv.ndim))
        t = torch.sigmoid(c * self._per_channel(self.gate_weight) + self._per_channel(self.gate_bias))
        y = self.activation(c + self._per_channel(self.bias)) * t + c * (1.0 - t)
        return channels_last(y, self.conv.ndim)


def _highway_conv(kind, ndim, incoming, nb_filter, filter_size, strides, padding, activation, weights_init, bias_init,
                  regularizer, weight_decay, trainable, name) -> Node:
    incoming = require_node(incoming, f"{kind} '{name}'")
    where = layer_label(kind, incoming, name)
    _require_rank(incoming, ndim + 2, where)
    nb_filter = check_int(nb_filter, f"{where} nb_filter", minimum=1)
    kernel, stride = _sizes(filter_size, ndim, where, "filter_size"), _sizes(strides, ndim, where, "strides")
    padding = _padding(padding, where)
    what = " steps" if ndim == 1 else ""
    out, pads = _spatial_output(list(incoming.shape[1:-1]), kernel, stride, padding, where, "filter_size", what)
    act, act_name = build_activation(activation, nb_filter, where)
    if getattr(act, "expansion", 1) != 1:
        fail(f"{where} activation", "an element-wise activation", activation)
    conv = Conv(incoming.shape[-1], nb_filter, kernel, stride, pads, act, act_name, False)
    layer = HighwayConv(conv, nb_filter)
    init_weight(conv.weight, weights_init, act, where)
    init_weight(layer.gate_weight.view(1, -1), weights_init, act, where)
    init_bias(layer.bias, bias_init, where)
    attach_regularizer(layer, "weight", regularizer, weight_decay, where)
    if not trainable:
        layer.requires_grad_(False)
    return add_layer(incoming, layer, [None, *out, nb_filter], name)


@layer_function("conv")
def highway_conv_2d(incoming, nb_filter, filter_size, strides=1, padding="same", activation="linear",
                    weights_init="uniform_scaling", bias_init="zeros", regularizer=None, weight_decay=0.001,
                    trainable=True, restore=True, reuse=False, scope=None, name="HighwayConv2D") -> Node:
    """A highway 2-D convolution (TFlearn's form: the gate reuses the convolution, per channel).

    Returns:
        The node ``[None, H', W', nb_filter]``.
    """
    return _highway_conv("highway_conv_2d", 2, incoming, nb_filter, filter_size, strides, padding, activation,
                         weights_init, bias_init, regularizer, weight_decay, trainable, name)


@layer_function("conv")
def highway_conv_1d(incoming, nb_filter, filter_size, strides=1, padding="same", activation="linear",
                    weights_init="uniform_scaling", bias_init="zeros", regularizer=None, weight_decay=0.001,
                    trainable=True, restore=True, reuse=False, scope=None, name="HighwayConv1D") -> Node:
    """A highway 1-D convolution over the steps of a ``[None, T, F]`` node (as :func:`highway_conv_2d`).

    Returns:
        The node ``[None, T', nb_filter]``.
    """
    return _highway_conv("highway_conv_1d", 1, incoming, nb_filter, filter_size, strides, padding, activation,
                         weights_init, bias_init, regularizer, weight_decay, trainable, name)
