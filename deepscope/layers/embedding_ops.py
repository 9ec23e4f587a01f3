"""Embedding layer, as in ``tflearn.layers.embedding_ops``."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_int, fail
from ..graph import Node, add_layer, layer_function, layer_label, require_node
from .core import init_weight


class Embedding(nn.Module):
    """Look up ``(N, T)`` integer indices in a ``(input_dim, output_dim)`` table -> ``(N, T, output_dim)``.

    Indices are checked on the CPU always, and on other devices when ``validate_indices`` (the
    check needs a device sync). Unchecked out-of-range indices on a GPU end in a device-side assert.
    """

    def __init__(self, input_dim: int, output_dim: int, validate_indices: bool, where: str):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(input_dim, output_dim))  # (vocabulary, features)
        self.validate_indices = validate_indices
        self.where = where

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, T) -> (N, T, output_dim)
        if x.is_floating_point():
            x = x.long()
        if self.validate_indices or x.device.type == "cpu":
            if x.numel() and (int(x.min()) < 0 or int(x.max()) >= self.weight.shape[0]):
                raise ValueError(
                    f"{self.where}: expected word indices in [0, {self.weight.shape[0] - 1}] "
                    f"(input_dim={self.weight.shape[0]}), got values from {int(x.min())} to {int(x.max())}. "
                    f"Increase input_dim to the vocabulary size, or map unknown words to a reserved index.")
        return F.embedding(x, self.weight)


@layer_function("embedding")
def embedding(incoming, input_dim, output_dim, validate_indices=False, weights_init="truncated_normal",
              trainable=True, restore=True, reuse=False, scope=None, name="Embedding") -> Node:
    """Embedding of integer sequences (TFlearn's arguments).

    Args:
        incoming: a node ``[None, steps]`` of integer indices (given as ints or floats). When it
            comes straight from ``input_data``, the model casts that input to int64.
        input_dim: vocabulary size (indices lie in ``[0, input_dim)``).
        output_dim: embedding size.
        validate_indices: check index ranges on GPUs too (costs a device sync per batch).
        weights_init: initializer of the table (TFlearn: truncated normal, stddev 0.02).
        trainable: False freezes the table.
        restore, reuse, scope: accepted for TFlearn compatibility.
        name: layer name.

    Returns:
        The new node ``[None, steps, output_dim]``.
    """
    incoming = require_node(incoming, f"embedding '{name}'")
    where = layer_label("embedding", incoming, name)
    shape = list(incoming.shape)
    if len(shape) != 2:
        fail(where, "an input [None, steps] of integer indices", f"shape {shape}",
             "Give input_data(shape=[None, steps]) with one word index per step.")
    input_dim = check_int(input_dim, f"{where} input_dim", minimum=1)
    output_dim = check_int(output_dim, f"{where} output_dim", minimum=1)
    if not incoming.parents:  # an input_data node: DNN feeds it as int64
        incoming.integer_input = True
    layer = Embedding(input_dim, output_dim, bool(validate_indices), where)
    init_weight(layer.weight, weights_init, None, where)
    if not trainable:
        layer.requires_grad_(False)
    return add_layer(incoming, layer, [None, shape[1], output_dim], name)
