"""Weight regularizers with TFlearn's names (``tflearn.losses.L1`` / ``L2``).

A regularizer is ``fn(weight, weight_decay) -> scalar tensor`` added to the training loss.
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from ._registry import Registry

REGISTRY = Registry("regularizer")


def L1(tensor: torch.Tensor, wd: float = 0.001) -> torch.Tensor:  # noqa: N802 (TFlearn's name)
    """``wd * sum(|w|)``.

    Args:
        tensor: the weight.
        wd: the weight decay factor.

    Returns:
        A scalar tensor on the weight's device.
    """
    return tensor.abs().sum() * wd


def L2(tensor: torch.Tensor, wd: float = 0.001) -> torch.Tensor:  # noqa: N802 (TFlearn's name)
    """``wd * sum(w^2) / 2`` (``tf.nn.l2_loss`` times ``wd``).

    Args:
        tensor: the weight.
        wd: the weight decay factor.

    Returns:
        A scalar tensor on the weight's device.
    """
    return tensor.square().sum() * (wd / 2.0)


REGISTRY.add("L1", L1)
REGISTRY.add("L2", L2)


def get(identifier: Any, where: str | None = None) -> Callable[[torch.Tensor, float], torch.Tensor] | None:
    """``'L1'`` / ``'L2'`` -> the function; a callable ``fn(weight, wd)`` passes through; ``None`` -> ``None``."""
    if identifier is None:
        return None
    return REGISTRY.get(identifier, where=where)
