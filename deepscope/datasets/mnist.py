"""MNIST handwritten digits, TFlearn-style: ``X, Y, testX, testY = mnist.load_data(one_hot=True)``.

Files: the four original IDX files from the torchvision mirror (ossci-datasets) with
yann.lecun.com as fallback, sha256-verified, cached in ``ROOT/mnist`` (``ROOT`` is
``data_dir``, else ``$DEEPSCOPE_DATA``, else ``~/.deepscope/datasets``). A folder that
already holds the IDX files (gzip-compressed or raw) is used without any download.
"""
from __future__ import annotations

import os

import numpy as np

from ._common import check_limit, images_out, labels_out, tflearn_args
from ._formats import read_idx_pair
from .registry import load_with_recovery

N_CLASSES = 10


def load_idx_dataset(name: str, one_hot, data_dir, limit, flatten: bool, verbose: bool):
    """Load an MNIST-layout dataset (4 IDX files: train images/labels, test images/labels).

    Args:
        name: registry name (``'mnist'``, ``'fashion_mnist'``).
        one_hot, data_dir: as in ``load_data`` (TFlearn's positional order also accepted).
        limit: keep at most this many rows of each split (None: all).
        flatten: return images as ``(N, 784)`` (TFlearn) instead of ``(N, 28, 28, 1)``.
        verbose: print download progress lines.

    Returns:
        ``X, Y, testX, testY``.
    """
    one_hot, data_dir = tflearn_args(one_hot, data_dir, f"{name}.load_data")
    limit = check_limit(limit, f"{name}.load_data limit")

    def parse(paths):
        train = read_idx_pair(paths[0], paths[1])
        test = read_idx_pair(paths[2], paths[3])
        return train, test

    (x, y), (tx, ty) = load_with_recovery(name, data_dir, parse, verbose)
    x, y, tx, ty = x[:limit], y[:limit], tx[:limit], ty[:limit]
    if not flatten:
        x, tx = x[..., None], tx[..., None]  # (N, 28, 28, 1) NHWC
    return (images_out(x, flatten), labels_out(y, N_CLASSES, one_hot),
            images_out(tx, flatten), labels_out(ty, N_CLASSES, one_hot))


def load_data(one_hot: bool = False, data_dir: str | os.PathLike | None = None,
              limit: int | None = None, flatten: bool = True, verbose: bool = True
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load MNIST (60,000 train / 10,000 test), downloading it once if needed.

    Args:
        one_hot: labels as one-hot float32 ``(N, 10)`` instead of int64 ``(N,)``.
        data_dir: folder with the IDX files or the cache root (default: see module doc).
            TFlearn's order ``load_data("mnist/", one_hot)`` is accepted too.
        limit: keep only the first ``limit`` rows of each split (quick modes).
        flatten: ``(N, 784)`` like TFlearn (default), or ``(N, 28, 28, 1)`` NHWC if False.
        verbose: print download progress lines.

    Returns:
        ``X, Y, testX, testY``: X float32 in [0, 1].
    """
    return load_idx_dataset("mnist", one_hot, data_dir, limit, flatten, verbose)



# TFlearn's lower-level names (tflearn.datasets.mnist.extract_images ...)
from .idx_sets import DataSet, dense_to_one_hot, extract_images, extract_labels  # noqa: E402
from .idx_sets import maybe_download_with, read_data_sets_with  # noqa: E402


def read_data_sets(train_dir="mnist/", fake_data=False, one_hot=False):
    """TFlearn's ``read_data_sets``: ``train`` (55,000), ``validation`` (5,000) and ``test`` as ``DataSet``s with
    ``next_batch``; ``train_dir`` as ``load_data``'s ``data_dir``."""
    return read_data_sets_with(load_data, None if train_dir == "mnist/" else train_dir, one_hot)


def maybe_download(filename, work_directory):
    """The path of one of the dataset's files, fetched (and verified) if needed into ``work_directory``."""
    return maybe_download_with(load_data, filename, work_directory)
