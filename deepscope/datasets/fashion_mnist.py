"""Fashion-MNIST (Zalando), a drop-in replacement for MNIST with the same layout and API.

Files: the four original IDX files from fashion-mnist.s3-website.eu-central-1.amazonaws.com,
sha256-verified, cached in ``ROOT/fashion_mnist``. Labels: 0 T-shirt/top, 1 Trouser,
2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot.
"""
from __future__ import annotations

import os

import numpy as np

from .mnist import load_idx_dataset

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def load_data(one_hot: bool = False, data_dir: str | os.PathLike | None = None,
              limit: int | None = None, flatten: bool = True, verbose: bool = True
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load Fashion-MNIST (60,000 train / 10,000 test), downloading it once if needed.

    Args:
        one_hot: labels as one-hot float32 ``(N, 10)`` instead of int64 ``(N,)``.
        data_dir: folder with the IDX files or the cache root.
        limit: keep only the first ``limit`` rows of each split.
        flatten: ``(N, 784)`` (default) or ``(N, 28, 28, 1)`` NHWC.
        verbose: print download progress lines.

    Returns:
        ``X, Y, testX, testY``: X float32 in [0, 1].
    """
    return load_idx_dataset("fashion_mnist", one_hot, data_dir, limit, flatten, verbose)
