"""Merging several nodes, as in ``tflearn.layers.merge_ops``: ``merge`` and ``merge_outputs``.

``axis`` is given in TFlearn's (NHWC) terms; for rank-4 nodes it is mapped to the internal
NCHW dimension (channels: user axis 3 -> internal dim 1).
"""
from __future__ import annotations

import numbers

import torch
from torch import nn

from .._checks import check_choice, fail
from ..graph import Node, add_layer, layer_function, layer_label

MODES = ("concat", "elemwise_sum", "elemwise_mul", "sum", "mean", "prod", "max", "min", "and", "or")
_NHWC_TO_NCHW = {0: 0, 1: 2, 2: 3, 3: 1}


def user_axis(axis, rank: int, where: str) -> int:
    """Check a TFlearn axis (negative allowed) and return it in ``[0, rank)``."""
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or not -rank <= axis < rank:
        fail(where, f"an integer axis in [{-rank}, {rank - 1}] for a rank-{rank} input", axis)
    return int(axis) % rank


def internal_axis(axis: int, rank: int) -> int:
    """A TFlearn (NHWC) axis in ``[0, rank)`` -> the dimension of the internal tensor."""
    return _NHWC_TO_NCHW[axis] if rank == 4 else axis


class Merge(nn.Module):
    """Merge a list of tensors (all in the internal layout) with one of TFlearn's modes.

    ``concat`` concatenates along ``dim``; ``elemwise_*`` add / multiply the tensors;
    ``sum``, ``mean``, ``prod``, ``max``, ``min``, ``and``, ``or`` concatenate along ``dim`` and
    then reduce that dimension (as TFlearn does: the result has one dimension fewer).

    Args:
        mode: one of :data:`MODES`.
        dim: internal dimension for concatenation / reduction.
        reduce_nhwc: for rank-4 reductions: reduce this TFlearn axis after moving the
            concatenated tensor to NHWC (the rank-3 result is then in the user's layout).
    """

    def __init__(self, mode: str, dim: int, reduce_nhwc: int | None = None):
        super().__init__()
        self.mode, self.dim, self.reduce_nhwc = mode, dim, reduce_nhwc

    def forward(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        mode = self.mode
        if mode == "elemwise_sum":
            out = tensors[0]
            for t in tensors[1:]:
                out = out + t
            return out
        if mode == "elemwise_mul":
            out = tensors[0]
            for t in tensors[1:]:
                out = out * t
            return out
        x = torch.cat(list(tensors), self.dim)
        if mode == "concat":
            return x
        dim = self.dim
        if self.reduce_nhwc is not None:
            x, dim = x.permute(0, 2, 3, 1), self.reduce_nhwc  # (N, H, W, C)
        if mode == "sum":
            return x.sum(dim)
        if mode == "mean":
            return x.mean(dim)
        if mode == "prod":
            return x.prod(dim)
        if mode == "max":
            return x.amax(dim)
        if mode == "min":
            return x.amin(dim)
        reduce = torch.all if mode == "and" else torch.any
        dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
        return reduce(x != 0, dim).to(dtype)


def _check_nodes(tensors_list, where: str) -> list[Node]:
    if not isinstance(tensors_list, (list, tuple)) or len(tensors_list) < 1:
        fail(f"{where} tensors_list", "a list of nodes (outputs of layers)", tensors_list, error=TypeError)
    for i, t in enumerate(tensors_list):
        if not isinstance(t, Node):
            fail(f"{where} tensors_list[{i}]", "the output of input_data(...) or of another layer",
                 type(t).__name__, error=TypeError)
    return list(tensors_list)


@layer_function("merge")
def merge(tensors_list, mode, axis=1, name="Merge") -> Node:
    """Merge a list of nodes (TFlearn's arguments).

    Args:
        tensors_list: the nodes to merge (TFlearn shapes, e.g. ``[None, 32, 32, 16]``).
        mode: ``'concat'``, ``'elemwise_sum'``, ``'elemwise_mul'``, ``'sum'``, ``'mean'``,
            ``'prod'``, ``'max'``, ``'min'``, ``'and'`` or ``'or'``.
        axis: TFlearn (NHWC) axis for concatenation / reduction (3 = channels for images).
        name: layer name.

    Returns:
        The merged node.
    """
    nodes = _check_nodes(tensors_list, f"merge '{name}'")
    where = layer_label("merge", nodes[0], name)
    check_choice(mode, f"{where} mode", MODES)
    shapes = [list(n.shape) for n in nodes]
    rank = len(shapes[0])
    if any(len(s) != rank for s in shapes):
        fail(where, "nodes of the same rank", shapes, "Reshape or flatten the inputs first.")
    if mode.startswith("elemwise"):
        if any(s != shapes[0] for s in shapes):
            fail(where, f"nodes of the same shape for mode={mode!r}", shapes,
                 "Use mode='concat' to join nodes of different sizes.")
        return add_layer(nodes, Merge(mode, 1), shapes[0], name)
    axis = user_axis(axis, rank, f"{where} axis")
    if axis == 0:
        fail(f"{where} axis", "a non-batch axis (>= 1)", axis, "Axis 0 is the batch dimension.")
    for s in shapes:
        if [d for i, d in enumerate(s) if i != axis] != [d for i, d in enumerate(shapes[0]) if i != axis]:
            fail(where, f"nodes whose shapes agree except on axis {axis}", shapes)
    total = sum(s[axis] for s in shapes)
    out_shape = list(shapes[0])
    if mode == "concat":
        out_shape[axis] = total
    else:  # TFlearn: concatenate, then reduce that axis (one dimension fewer)
        del out_shape[axis]
    reduce_nhwc = axis if (rank == 4 and mode != "concat") else None
    return add_layer(nodes, Merge(mode, internal_axis(axis, rank), reduce_nhwc), out_shape, name)


@layer_function("merge")
def merge_outputs(tensor_list, name="MergeOutputs") -> Node:
    """Concatenate nodes along axis 1 (TFlearn's ``merge_outputs``)."""
    nodes = _check_nodes(tensor_list, f"merge_outputs '{name}'")
    return merge(nodes, "concat", axis=1, name=name)
