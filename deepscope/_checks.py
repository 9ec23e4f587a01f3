"""Small argument checks that raise the project's clear errors.

Every message says where (argument and layer), what was expected, what was received and,
when it helps, how to fix it. Never ``assert`` on user input.
"""
from __future__ import annotations

import difflib
import functools
import inspect
import numbers
from typing import Any, Callable, Iterable


class Text(str):
    """A description shown as is (not quoted) as the ``got`` part of a message."""

    def __repr__(self) -> str:
        return str(self)


def _where(where: str | None) -> str:
    return f"{where}: " if where else ""


def fail(where: str | None, expected: str, got: Any, fix: str = "", error: type = ValueError):
    """Raise ``error`` with the project's message layout.

    Args:
        where: who is complaining, e.g. ``"fully_connected 'fc1' n_units"``.
        expected: what was expected ("a positive integer").
        got: the value received (shown with ``repr``).
        fix: optional advice.
        error: the exception class.
    """
    message = f"{_where(where)}expected {expected}, got {got!r}."
    if fix:
        message += f" {fix}"
    raise error(message)


def check_int(value: Any, where: str, minimum: int | None = 1, maximum: int | None = None) -> int:
    """Return ``value`` as int, or raise a clear error (bools and floats with a fraction refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            fail(where, "an integer", value, error=TypeError)
    value = int(value)
    if minimum is not None and value < minimum:
        fail(where, f"an integer >= {minimum}", value)
    if maximum is not None and value > maximum:
        fail(where, f"an integer <= {maximum}", value)
    return value


def check_float(
    value: Any,
    where: str,
    minimum: float | None = None,
    maximum: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
) -> float:
    """Return ``value`` as a finite float inside the given bounds, or raise a clear error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(where, "a number", value, error=TypeError)
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        fail(where, "a finite number", value)
    if minimum is not None and (value < minimum or (not min_inclusive and value == minimum)):
        fail(where, f"a number {'>=' if min_inclusive else '>'} {minimum}", value)
    if maximum is not None and (value > maximum or (not max_inclusive and value == maximum)):
        fail(where, f"a number {'<=' if max_inclusive else '<'} {maximum}", value)
    return value


def check_instance(value: Any, cls: type, where: str, made_by: str) -> Any:
    """``value`` when it is a ``cls``, else a TypeError that names the function making one (``made_by``)."""
    if not isinstance(value, cls):
        fail(where, f"a {cls.__name__} (what {made_by} returns)", Text(type(value).__name__), error=TypeError)
    return value


def check_choice(value: Any, where: str, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise listing them."""
    choices = list(choices)
    if value not in choices:
        fail(where, "one of " + ", ".join(repr(c) for c in choices), value)
    return value


def check_shape_list(value: Any, where: str) -> list:
    """A shape given TFlearn-style: a list/tuple of positive ints, the first may be None."""
    if not isinstance(value, (list, tuple)) or len(value) == 0:
        fail(where, "a list of dimensions such as [None, 28, 28, 1]", value, error=TypeError)
    shape = list(value)
    for i, dim in enumerate(shape):
        if dim is None or (i == 0 and dim == -1):
            if i == 0:
                continue
            fail(where, f"a positive size for dimension {i} (only the batch dimension 0 may be None)", value)
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:
            fail(where, f"positive integer sizes (dimension {i} is {dim!r})", value)
    return [None if (i == 0 and d in (None, -1)) else int(d) for i, d in enumerate(shape)]


def check_keywords(where: str, names, kwargs: dict) -> None:
    """Refuse a keyword argument of ``where`` that is not among ``names``, with the closest name as
    "did you mean" (Python's own ``TypeError`` names no alternative)."""
    for key in kwargs:
        if key not in names:
            close = difflib.get_close_matches(key, list(names), n=1, cutoff=0.6)
            fix = f"Did you mean {close[0]}=...?" if close else f"Its arguments: {', '.join(names)}."
            fail(where, "one of its keyword arguments", Text(f"unknown argument {key!r}"), fix, error=TypeError)


def checks_keywords(fn: Callable = None, *, where: str | None = None) -> Callable:
    """Decorator: an unknown keyword argument gets a clear error with "did you mean" instead of
    Python's bare ``TypeError`` (the public API's functions and methods)."""
    if fn is None:
        return functools.partial(checks_keywords, where=where)
    signature = inspect.signature(fn)
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        return fn
    names = keyword_names(signature)
    label = where or fn.__qualname__.replace(".__init__", "")

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        check_keywords(label, names, kwargs)
        return fn(*args, **kwargs)
    return wrapper


def keyword_names(signature: inspect.Signature) -> tuple:
    """The names a call may give by keyword (``self`` left out)."""
    return tuple(n for n, p in signature.parameters.items() if n != "self"
                 and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
