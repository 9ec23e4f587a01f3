"""Turning the user's X and Y (lists, numpy arrays, tensors) into checked device tensors."""
from __future__ import annotations

import numbers

import numpy as np
import torch

from .._checks import check_float, fail


def to_tensor(data, argument: str, integer: bool = False) -> torch.Tensor:
    """Convert one array-like to a tensor, with clear errors for strings, ragged lists, NaN, empty.

    Args:
        data: list, numpy array or tensor.
        argument: the argument's name for messages (``"fit X"``).
        integer: keep integer labels as int64 instead of float32.

    Returns:
        A float32 (or int64) CPU/GPU tensor.
    """
    if isinstance(data, torch.Tensor):
        tensor = data.detach()
    else:
        if isinstance(data, (str, bytes)) or data is None or isinstance(data, numbers.Number):
            fail(argument, "an array (list, numpy array or tensor) of samples", data, error=TypeError)
        try:
            array = np.asarray(data)
        except ValueError as exc:  # ragged nested lists
            fail(argument, "a rectangular array (every sample the same shape)", _short(data),
                 f"numpy could not stack it: {exc}")
        if array.dtype == object:
            fail(argument, "a rectangular numeric array (every sample the same shape)", _short(data),
                 "Check that all samples have the same length.")
        if array.dtype.kind in "USa":
            fail(argument, "numbers", _short(data),
                 "The data contains strings: convert them to numbers (e.g. labels with to_categorical).",
                 error=TypeError)
        if array.dtype.kind == "b":
            array = array.astype(np.float32)
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    if tensor.numel() == 0 or tensor.dim() == 0 or tensor.shape[0] == 0:
        fail(argument, "at least one sample", f"an empty array of shape {tuple(tensor.shape)}")
    if tensor.is_complex():
        fail(argument, "real numbers", f"complex dtype {tensor.dtype}", error=TypeError)
    if integer and not tensor.is_floating_point():
        return tensor.long()
    tensor = tensor.float()
    if not torch.isfinite(tensor).all():
        bad = (~torch.isfinite(tensor)).nonzero()[0].tolist()
        fail(argument, "finite numbers", f"NaN or Inf at index {bad}",
             "Clean the data (e.g. np.nan_to_num) or drop those samples.")
    return tensor


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
             f"an array of shape {tuple(x.shape)}",
             f"Reshape the data, e.g. X.reshape([-1] + {list(expected)}), or change input_data's shape.")
    return out


def split_inputs(X, n_inputs: int, argument: str) -> list:
    """X for a one-input network, or a list with one array per ``input_data``."""
    if n_inputs == 1:
        return [X]
    if not isinstance(X, (list, tuple)) or len(X) != n_inputs:
        fail(argument, f"a list of {n_inputs} arrays (one per input_data layer)", _short(X))
    return list(X)


def check_same_length(xs: list[torch.Tensor], y: torch.Tensor | None, where: str) -> int:
    n = xs[0].shape[0]
    for x in xs[1:]:
        if x.shape[0] != n:
            fail(where, "inputs with the same number of samples", [t.shape[0] for t in xs])
    if y is not None and y.shape[0] != n:
        fail(where, f"as many targets as samples ({n} samples in X)", f"{y.shape[0]} targets in Y",
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
