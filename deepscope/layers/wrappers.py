"""Layers of ``tflearn.layers.core`` that wrap other layers or targets: ``time_distributed``,
``one_hot_encoding`` and ``multi_target_data``."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import Text, check_float, check_int, fail
from .._unsupported import tensorflow_only
from ..graph import LAYERS, Node, add_layer, layer_function, layer_label, require_node
from ..network import Network
from .core import input_data, to_internal_layout


class OneHot(nn.Module):
    """Integer labels ``(N, ...)`` -> ``(N, ..., n_classes)`` with ``on_value`` / ``off_value``."""

    def __init__(self, n_classes: int, on_value: float, off_value: float):
        super().__init__()
        self.n_classes, self.on_value, self.off_value = n_classes, on_value, off_value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        labels = x.long()
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.n_classes):
            raise ValueError(f"one_hot_encoding: labels must lie in [0, {self.n_classes - 1}] for n_classes="
                             f"{self.n_classes}; got {int(labels.min())} to {int(labels.max())}.")
        hot = F.one_hot(labels, self.n_classes).float()
        return hot * (self.on_value - self.off_value) + self.off_value


@layer_function("core")
def one_hot_encoding(target, n_classes, on_value=1.0, off_value=0.0, name="OneHotEncoding"):
    """One-hot encoding of integer labels (TFlearn's arguments).

    Args:
        target: a node of integer labels (``input_data(shape=[None])``), or labels as an array / tensor
            (encoded at once).
        n_classes: the number of classes.
        on_value, off_value: the values for the label's class and the others.
        name: layer name.

    Returns:
        The node ``[None, ..., n_classes]``, or the encoded float32 tensor.
    """
    n_classes = check_int(n_classes, "one_hot_encoding n_classes", minimum=1)
    module = OneHot(n_classes, check_float(on_value, "one_hot_encoding on_value"),
                    check_float(off_value, "one_hot_encoding off_value"))
    if not isinstance(target, Node):
        try:
            values = torch.as_tensor(target)
        except (TypeError, ValueError, RuntimeError):
            fail("one_hot_encoding target", "a node, or integer labels (array, list, tensor)",
                 Text(type(target).__name__), error=TypeError)
        return module(values)
    return add_layer(target, module, [None, *target.shape[1:], n_classes], name)


class TimeDistributed(nn.Module):
    """One sub-network applied to every step: ``(N, T, ...) -> (N * T, ...) -> sub-network -> (N, T, ...)``."""

    def __init__(self, network: Network, out_rank: int):
        super().__init__()
        self.network = network
        self.out_rank = out_rank  # rank of the output node (4: NCHW inside the network)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, T, *step) in the user's layout
        n, t = x.shape[:2]
        y = self.network(x.reshape(n * t, *x.shape[2:]))  # (N * T, *out) in the user's layout
        y = y.reshape(n, t, *y.shape[1:])
        return to_internal_layout(y) if self.out_rank == 4 else y


@layer_function("core")
def time_distributed(incoming, fn, args=None, scope=None) -> Node:
    """Apply ``fn(step, *args)`` to every time step of ``[None, T, ...]`` (TFlearn's arguments).

    Unlike TFlearn (which made one copy of the layers per step unless a scope was reused), every step
    shares one set of weights, as Keras' ``TimeDistributed``; ``scope`` names that sub-network.

    Args:
        incoming: a node ``[None, T, ...]`` (rank 3 to 5).
        fn: a layer function, e.g. ``fully_connected``; its first argument is one step ``[None, ...]``.
        args: a list of further arguments for ``fn`` (``[64]`` for 64 units).
        scope: a name for the shared layers (optional).

    Returns:
        The node ``[None, T, ...fn's output]``.
    """
    incoming = require_node(incoming, "time_distributed")
    where = layer_label("time_distributed", incoming, scope or "TimeDistributed")
    if len(incoming.shape) < 3:
        fail(f"{where} incoming", "a node with a time axis [None, steps, ...]", Text(f"shape {list(incoming.shape)}"))
    if args is not None and not isinstance(args, (list, tuple)):
        fail(f"{where} args", "a list of further arguments for fn", args, error=TypeError)
    if isinstance(fn, str) and fn in LAYERS:
        fn = LAYERS.get(fn)
    if not callable(fn):
        fail(f"{where} fn", "a layer function such as fully_connected (or its name)", fn, error=TypeError)
    step = input_data(shape=[None, *incoming.shape[2:]], name="TimeStep")
    out = fn(step, *(args or []))
    if not isinstance(out, Node):
        fail(f"{where} fn", "a layer function returning a node", Text(type(out).__name__), error=TypeError)
    shape = [None, incoming.shape[1], *out.shape[1:]]
    if len(shape) > 5:
        fail(f"{where} fn", "a function whose output has at most 3 dimensions after the batch", Text(str(out.shape)))
    return add_layer(incoming, TimeDistributed(Network(out), len(shape)), shape, scope or "TimeDistributed")


multi_target_data = tensorflow_only(
    "tflearn.layers.core", "multi_target_data",
    "it concatenates several TensorFlow target placeholders along the batch for one regression (TFlearn's GAN "
    "example); deepscope feeds targets by regression layer, not by placeholder",
    "one regression layer per output (fit(X, {'target_a': Ya, 'target_b': Yb})), or a custom loop over "
    "DNN.net (a plain torch.nn.Module)")
