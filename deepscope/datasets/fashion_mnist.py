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



# TFlearn's lower-level names (tflearn.datasets.fashion_mnist.extract_images ...)
from .idx_sets import DataSet, dense_to_one_hot, extract_images, extract_labels  # noqa: E402
from .idx_sets import maybe_download_with, read_data_sets_with  # noqa: E402


def read_data_sets(train_dir="fashion_mnist/", fake_data=False, one_hot=False):
    """TFlearn's ``read_data_sets``: ``train`` (55,000), ``validation`` (5,000) and ``test`` as ``DataSet``s with
    ``next_batch``; ``train_dir`` as ``load_data``'s ``data_dir``."""
    return read_data_sets_with(load_data, None if train_dir == "fashion_mnist/" else train_dir, one_hot)


def maybe_download(filename, work_directory):
    """The path of one of the dataset's files, fetched (and verified) if needed into ``work_directory``."""
    return maybe_download_with(load_data, filename, work_directory)
