"""Reproducibility helpers."""
from __future__ import annotations

import random

import numpy as np
import torch

from ._checks import check_int


def set_seed(seed: int) -> int:
    """Seed Python, numpy and torch (all devices) for a reproducible run.

    Args:
        seed: a non-negative integer.

    Returns:
        The seed.
    """
    seed = check_int(seed, "set_seed seed", minimum=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return seed


def init_graph(seed=None, log_device=False, num_cores=0, gpu_memory_fraction=0, soft_placement=True):
    """TFlearn's ``init_graph``: here it seeds the random generators and sets the CPU threads."""
    if seed is not None:
        set_seed(seed)
    if num_cores:
        torch.set_num_threads(check_int(num_cores, "init_graph num_cores"))
