"""TFlearn names that have no meaning without TensorFlow's graph: each raises a clear error that says why
and what to use instead (never a silent no-op). ``TENSORFLOW_ONLY`` lists them for README's table."""
from __future__ import annotations

import functools

#: ``'tflearn.module.name' -> (why, what to use instead)`` for every refused name
TENSORFLOW_ONLY: dict[str, tuple[str, str]] = {}


class TensorFlowOnlyError(NotImplementedError):
    """A TFlearn name that only has a meaning inside a TensorFlow graph or session."""


def tensorflow_only(module: str, name: str, why: str, instead: str):
    """A function named ``name`` that raises :class:`TensorFlowOnlyError` with ``why`` and ``instead``.

    Args:
        module: TFlearn's module path (``'tflearn.utils'``), for the error and the README table.
        name: the function's name.
        why: why it cannot mean anything on PyTorch.
        instead: what to use in deepscope.

    Returns:
        The refusing function (its docstring says the same).
    """
    TENSORFLOW_ONLY[f"{module}.{name}"] = (why, instead)

    def refuse(*args, **kwargs):
        raise TensorFlowOnlyError(f"{module}.{name} is TensorFlow-only: {why}. Instead: {instead}.")

    refuse.__name__ = refuse.__qualname__ = name
    refuse.__doc__ = f"TensorFlow-only in TFlearn ({why}); raises. Instead: {instead}."
    return functools.wraps(refuse)(refuse)
