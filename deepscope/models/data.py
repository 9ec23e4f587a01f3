"""Turning the user's X and Y (lists, numpy arrays, tensors) into checked device tensors."""
from __future__ import annotations

import numpy as np
import torch

from ..graph import Node
from .._checks import Text, check_float, fail
from ..data_utils import as_tensor


def to_tensor(data, argument: str, integer: bool = False) -> torch.Tensor:
    """Convert one array-like to a checked tensor (see ``data_utils.as_tensor`` for the errors).

    Args:
        data: list, numpy array or tensor.
        argument: the argument's name for messages (``"fit X"``).
        integer: keep integer labels as int64 instead of float32.

    Returns:
        A float32 (or int64) tensor.
    """
    dtype = "int64" if integer and _is_integer_array(data) else "float32"
    return as_tensor(data, argument, dtype=dtype)


def _is_integer_array(data) -> bool:
    if isinstance(data, torch.Tensor):
        return not data.is_floating_point() and not data.is_complex()
    try:
        return np.asarray(data).dtype.kind in "iu"
    except (ValueError, TypeError):
        return False  # as_tensor gives the clear error


def _short(data) -> str:
    text = repr(data)
    return text if len(text) < 80 else text[:77] + "..."


def check_inputs(xs: list[torch.Tensor], shapes: list[list], argument: str) -> list[torch.Tensor]:
    """Check each input against its ``input_data`` shape; reshape flat data when sizes agree."""
    out = []
    for i, (x, shape) in enumerate(zip(xs, shapes)):
        label = argument if len(xs) == 1 else f"{argument}[{i}]"
        expected = tuple(shape[1:])
        if tuple(x.shape[1:]) == expected:
            out.append(x)
            continue
        fail(label, f"samples of shape {list(expected)} to match input_data(shape={list(shape)})",
             Text(f"an array of shape {tuple(x.shape)}"), _layout_advice(tuple(x.shape[1:]), expected))
    return out


def _layout_advice(got: tuple, expected: tuple) -> str:
    """How to fix a sample shape: a transpose when the axes are only in another order (channels first,
    ``(N, C, H, W)`` for NHWC: a reshape would scramble the pixels), else a reshape."""
    if len(got) == len(expected) and sorted(got) == sorted(expected) and got != expected:
        if len(got) == 3 and got == (expected[2], expected[0], expected[1]):
            return ("The samples are channels-first (N, C, H, W) and the network takes channels-last (N, H, W, C): "
                    "transpose them, X.transpose(0, 2, 3, 1) (numpy) or X.permute(0, 2, 3, 1) (torch); a reshape "
                    "would scramble the pixels.")
        order = []
        for size in expected:  # the axis order that turns got into expected (first unused match)
            order.append(next(i for i, g in enumerate(got) if g == size and i not in order))
        axes = ", ".join(str(a + 1) for a in order)
        return (f"The axes are in another order: transpose them, X.transpose(0, {axes}); a reshape would scramble "
                "the values.")
    return f"Reshape the data, e.g. X.reshape([-1] + {list(expected)}), or change input_data's shape."


def split_inputs(X, input_names: list[str], argument: str) -> list:
    """One array per ``input_data``, from X as TFlearn takes it: one array (one input), a list
    (one array per input, in creation order) or a dict ``{input_data name: array}``."""
    if isinstance(X, dict):
        X = by_name(X)
        if len(input_names) == 1 and len(X) == 1:
            return list(X.values())
        if sorted(map(str, X)) != sorted(input_names):
            unknown = sorted(set(map(str, X)) - set(input_names))
            asked = (f"Feed dict asks for variable named {unknown[0]!r} but no such variable is known to exist. "
                     if unknown else "")
            fail(argument, "a dict with one array per input_data name (" + ", ".join(map(repr, input_names)) + ")",
                 Text(f"the keys {sorted(map(str, X))}"), asked + "Name the inputs with input_data(..., name='input').")
        return [X[name] for name in input_names]
    if len(input_names) == 1:
        return [X]
    if not isinstance(X, (list, tuple)) or len(X) != len(input_names):
        fail(argument, f"a list of {len(input_names)} arrays (one per input_data layer)", _short(X))
    return list(X)


def by_name(feed: dict) -> dict:
    """A feed dict keyed by layer names, whether it was keyed by names or by the layers themselves
    (TFlearn accepts ``{input_layer: X}`` as well as ``{'input': X}``)."""
    named = {}
    for key, value in feed.items():
        name = key.name if isinstance(key, Node) or (not isinstance(key, str) and isinstance(
            getattr(key, "name", None), str)) else key  # a layer, or a placeholder object, by its name
        if isinstance(name, str) and name.endswith(":0"):  # a TensorFlow tensor name ('input:0')
            name = name[:-2]
        named[name] = value
    return named


def single_target(Y, target_name: str | None, argument: str):
    """Y, or the one array of TFlearn's ``{regression name: array}`` form."""
    if not isinstance(Y, dict):
        return Y
    Y = by_name(Y)
    if len(Y) != 1 or (target_name is not None and target_name not in Y):
        fail(argument, f"the targets, or a dict {{{target_name!r}: targets}} naming the regression layer",
             Text(f"a dict with keys {sorted(map(str, Y))}"), "Give regression(..., name='target') the key you use.")
    return next(iter(Y.values()))


def check_same_length(xs: list[torch.Tensor], y: torch.Tensor | None, where: str) -> int:
    n = xs[0].shape[0]
    for x in xs[1:]:
        if x.shape[0] != n:
            fail(where, "inputs with the same number of samples", Text(f"{[t.shape[0] for t in xs]} samples"))
    if y is not None and y.shape[0] != n:
        fail(where, f"as many targets as samples ({n} samples in X)", Text(f"{y.shape[0]} targets in Y"),
             "X and Y must have the same length.")
    return n


def validation_split(fraction, n: int) -> int:
    """Number of trailing samples held out for ``validation_set=fraction``."""
    fraction = check_float(fraction, "fit validation_set", minimum=0.0, maximum=1.0,
                           min_inclusive=False, max_inclusive=False)
    n_val = int(round(n * fraction))
    if n_val < 1 or n_val >= n:
        fail("fit validation_set", f"a fraction leaving at least one sample on each side of {n} samples",
             fraction)
    return n_val
