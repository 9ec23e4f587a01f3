"""3-D (volumetric) convolution and pooling layers, as in ``tflearn.layers.conv``: ``conv_3d``,
``conv_3d_transpose``, ``max_pool_3d``, ``avg_pool_3d`` and ``upscore_layer3d``.

Nodes are ``[None, depth, height, width, channels]`` (TFlearn's NDHWC) and stay so inside the network;
each module moves the channels first for torch's kernel and back (see :func:`conv.channels_first`).
Padding follows TensorFlow, as for the 2-D layers.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_int, fail
from ..graph import Layer, Node, add_layer, layer_function, layer_label, require_node
from .conv import (_conv_layer, _padding, _pool_layer, _require_rank, _sizes, add_transposed, bilinear_ramp,
                   channels_first, channels_last, transpose_crop, upscore_output)


@layer_function("conv")
def conv_3d(incoming, nb_filter, filter_size, strides=1, padding="same", activation="linear", bias=True,
            weights_init="uniform_scaling", bias_init="zeros", regularizer=None, weight_decay=0.001, trainable=True,
            restore=True, reuse=False, scope=None, name="Conv3D") -> Node:
    """3-D convolution (TFlearn's arguments).

    Args:
        incoming: a 5-D node ``[None, D, H, W, C]``.
        nb_filter: number of filters (output channels).
        filter_size: ``k``, ``[kd, kh, kw]`` or ``[1, kd, kh, kw, 1]``.
        strides: the same forms (TFlearn's default 1).
        padding, activation, bias, weights_init, bias_init, regularizer, weight_decay, trainable, restore,
            reuse, scope: as in :func:`conv_2d`.
        name: layer name.

    Returns:
        The new node ``[None, D', H', W', nb_filter]``.
    """
    return _conv_layer("conv_3d", 3, incoming, nb_filter, filter_size, strides, padding, activation, bias,
                       weights_init, bias_init, regularizer, weight_decay, trainable, name)


class ConvTranspose3d(Layer):
    """Transposed 3-D convolution on ``(N, D, H, W, C)`` producing exactly the requested output sizes."""

    def __init__(self, in_channels, out_channels, kernel, strides, crop, activation, activation_name, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_channels, out_channels, *kernel))  # (in, out, kd, kh, kw)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.stride = tuple(strides)
        self.crop = tuple(crop)  # F.pad argument: negative crops, positive pads with zeros
        self.activation = activation
        self.activation_name = activation_name

    def _transpose(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, D, H, W) -> (N, C_out, D', H', W')
        y = F.pad(F.conv_transpose3d(x, self.weight, None, self.stride), self.crop)
        return y if self.bias is None else y + self.bias.view(1, -1, 1, 1, 1)

    def pre_activation(self, x: torch.Tensor) -> torch.Tensor:  # (N, D, H, W, C) -> (N, D', H', W', C_out)
        return channels_last(self._transpose(channels_first(x, 3)), 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channels_last(self.activation(self._transpose(channels_first(x, 3))), 3)


def _check_transpose_3d(kind: str, incoming, name: str, nb_filter, filter_size, strides):
    """The checked incoming node, error label, filter count, kernel and strides of a transposed 3-D layer."""
    incoming = require_node(incoming, f"{kind} '{name}'")
    where = layer_label(kind, incoming, name)
    _require_rank(incoming, 5, where)
    nb_filter = check_int(nb_filter, f"{where} nb_filter", minimum=1)
    return incoming, where, nb_filter, _sizes(filter_size, 3, where, "filter_size"), _sizes(strides, 3, where, "strides")


@layer_function("conv")
def conv_3d_transpose(incoming, nb_filter, filter_size, output_shape, strides=1, padding="same",
                      activation="linear", bias=True, weights_init="uniform_scaling", bias_init="zeros",
                      regularizer=None, weight_decay=0.001, trainable=True, restore=True, reuse=False, scope=None,
                      name="Conv3DTranspose") -> Node:
    """Transposed 3-D convolution (TFlearn's arguments; ``output_shape`` is ``[D, H, W]`` or ``[D, H, W, C]``).

    The input size must be the one a ``conv_3d`` with the same ``filter_size``, ``strides`` and ``padding``
    would produce from ``output_shape`` (as in TensorFlow).

    Returns:
        The new node ``[None, D, H, W, nb_filter]``.
    """
    incoming, where, nb_filter, kernel, stride = _check_transpose_3d("conv_3d_transpose", incoming, name, nb_filter,
                                                                     filter_size, strides)
    padding = _padding(padding, where)
    if not isinstance(output_shape, (list, tuple)) or len(output_shape) not in (3, 4):
        fail(f"{where} output_shape", "[depth, height, width] or [depth, height, width, nb_filter]", output_shape,
             error=TypeError)
    out = [check_int(v, f"{where} output_shape", minimum=1) for v in output_shape[:3]]
    crop = transpose_crop(list(incoming.shape[1:4]), out, kernel, stride, padding, where, output_shape)
    return add_transposed(ConvTranspose3d, incoming, nb_filter, kernel, stride, crop, out, activation, bias,
                          weights_init, bias_init, regularizer, weight_decay, trainable, where, name)


@layer_function("conv")
def max_pool_3d(incoming, kernel_size, strides=1, padding="same", name="MaxPool3D") -> Node:
    """3-D max pooling of a ``[None, D, H, W, C]`` node (TFlearn: ``strides`` defaults to 1, not the kernel).

    Args:
        incoming: a 5-D node.
        kernel_size: ``k``, ``[kd, kh, kw]`` or ``[1, kd, kh, kw, 1]``.
        strides: the same forms.
        padding: ``'same'`` or ``'valid'`` (TensorFlow semantics).
        name: layer name.

    Returns:
        The new node ``[None, D', H', W', C]``.
    """
    return _pool_layer("max_pool_3d", "max", 3, incoming, kernel_size, strides, padding, name)


@layer_function("conv")
def avg_pool_3d(incoming, kernel_size, strides=1, padding="same", name="AvgPool3D") -> Node:
    """3-D average pooling (same arguments as :func:`max_pool_3d`; windows average their real elements)."""
    return _pool_layer("avg_pool_3d", "avg", 3, incoming, kernel_size, strides, padding, name)


@layer_function("conv")
def upscore_layer3d(incoming, num_classes, shape=None, kernel_size=4, strides=2, trainable=True, restore=True,
                    reuse=False, scope=None, name="Upscore") -> Node:
    """3-D upscore: a transposed convolution initialized as trilinear upsampling, channel ``i`` to ``i``.

    Args:
        incoming: a 5-D node ``[None, D, H, W, C]`` with ``C >= num_classes``.
        num_classes: the output channels.
        shape: the output ``[D', H', W']`` (a 4th value ignored); None: ``(n - 1) * s + 1`` per dimension.
        kernel_size: the (cubic) filter size.
        strides: the upsampling factor.
        trainable, restore, reuse, scope: as in :func:`conv_2d`.
        name: layer name.

    Returns:
        The new node ``[None, D', H', W', num_classes]``.
    """
    incoming, where, num_classes, kernel, stride = _check_transpose_3d("upscore_layer3d", incoming, name, num_classes,
                                                                       kernel_size, strides)
    channels = incoming.shape[4]
    if channels < num_classes:
        fail(f"{where} num_classes", f"at most the incoming channels ({channels}): the filter maps channel i to "
             f"class i", num_classes, "Reduce the channels with a 1x1x1 conv_3d to num_classes first.")
    out = upscore_output(list(shape)[:3] if isinstance(shape, (list, tuple)) else shape, list(incoming.shape[1:4]),
                         stride, where)
    crop = transpose_crop(list(incoming.shape[1:4]), out, kernel, stride, "same", where, shape)
    layer = ConvTranspose3d(channels, num_classes, kernel, stride, crop, nn.Identity(), "linear", False)
    ramp = bilinear_ramp(max(kernel))
    cube = (ramp[:, None, None] * ramp[None, :, None] * ramp[None, None, :])[: kernel[0], : kernel[1], : kernel[2]]
    with torch.no_grad():
        layer.weight.zero_()  # (in, out, kd, kh, kw)
        for i in range(num_classes):
            layer.weight[i, i] = cube
    if not trainable:
        layer.requires_grad_(False)
    return add_layer(incoming, layer, [None, *out, num_classes], name)
