"""TFlearn's ``tflearn.distances`` (used by its k-nearest-neighbour estimators)."""
from __future__ import annotations

import torch

from ._checks import fail


def euclidean(a, b) -> torch.Tensor:
    """``sqrt(sum((a - b)^2))`` over the first dimension (TFlearn's ``reduction_indices=0``)."""
    a, b = torch.as_tensor(a, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32)
    return torch.sqrt(torch.sum(torch.square(a - b), dim=0))


def cosine(a, b) -> torch.Tensor:
    """``1 - a @ b`` (TFlearn's: for unit-length rows of ``a`` and columns of ``b``, the cosine distance)."""
    a, b = torch.as_tensor(a, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32)
    return 1 - torch.matmul(a, b)


def get(identifier):
    """A distance by name (``'euclidean'``, ``'cosine'``); a function passes through."""
    if callable(identifier):
        return identifier
    found = {"euclidean": euclidean, "cosine": cosine}.get(str(identifier).lower())
    if found is None:
        fail("distances.get identifier", "'euclidean', 'cosine' or a function", identifier)
    return found
