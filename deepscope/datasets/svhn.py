"""SVHN, the Street View House Numbers (cropped 32x32 digits), TFlearn-style:
``X, Y, X_test, Y_test = svhn.load_data(one_hot=True)``.

Source: ``train_32x32.mat`` and ``test_32x32.mat`` (Stanford), sha256-verified, cached in
``ROOT/svhn``, read with scipy's MATLAB reader (no pickle). Label 10 in the files is the digit 0.
Needs scipy (``pip install 'deepscope[brain]'``).
"""
from __future__ import annotations

import os

import numpy as np

from .._checks import fail
from ._common import check_bool, check_limit, images_out, labels_out
from ._formats import DatasetFormatError
from .registry import load_with_recovery


def load_data(data_dir: str | os.PathLike | None = None, one_hot: bool = False, limit: int | None = None,
              verbose: bool = True):
    """Load SVHN (73,257 train / 26,032 test images, 32x32 RGB), downloading it once if needed.

    Returns:
        ``(X, Y, X_test, Y_test)``: X float32 NHWC ``(N, 32, 32, 3)`` in [0, 1]; Y digits 0-9 (one-hot
        float32 ``(N, 10)`` with ``one_hot``).
    """
    one_hot = check_bool(one_hot, "svhn.load_data one_hot")
    limit = check_limit(limit, "svhn.load_data limit")
    try:
        from scipy.io import loadmat
    except ImportError:
        fail("svhn.load_data", "scipy installed (pip install 'deepscope[brain]')", None, error=ImportError)

    def parse(paths):
        out = []
        for path in paths:
            try:
                data = loadmat(path)
                images, labels = data["X"], data["y"].reshape(-1).astype(np.int64)
            except (ValueError, KeyError, OSError, TypeError) as err:
                raise DatasetFormatError(f"{path}: not an SVHN .mat file ({err})") from err
            if images.ndim != 4 or images.shape[:3] != (32, 32, 3) or images.shape[3] != len(labels):
                raise DatasetFormatError(f"{path}: images of shape {images.shape}, expected (32, 32, 3, N)")
            out += [np.ascontiguousarray(images.transpose(3, 0, 1, 2)), labels % 10]  # (N, 32, 32, 3); 10 -> 0
        return out

    x, y, tx, ty = load_with_recovery("svhn", data_dir, parse, verbose)
    if limit is not None:
        x, y, tx, ty = x[:limit], y[:limit], tx[:limit], ty[:limit]
    return (images_out(x, False), labels_out(y, 10, one_hot), images_out(tx, False), labels_out(ty, 10, one_hot))


def label_to_one_hot_y(y, classes):
    """TFlearn's: an SVHN ``.mat`` label (1 to 10, 10 for the digit 0) as a one-hot row of ``classes``."""
    row = np.zeros(classes)
    row[int(y) - 1] = 1
    return row


def read_data_from_file(filepath, instances=None):
    """TFlearn's: an SVHN ``.mat`` file as ``(X (N, 32, 32, 3) float32 in 0-255, Y one-hot (N, 10))`` (label 10 is
    the digit 0, in column 9 as TFlearn's ``label_to_one_hot_y``)."""
    try:
        from scipy.io import loadmat
    except ImportError:
        fail("svhn.read_data_from_file", "scipy installed (pip install 'deepscope[brain]')", None, error=ImportError)
    data = loadmat(filepath)
    images, labels = data["X"].transpose(3, 0, 1, 2).astype(np.float32), data["y"].reshape(-1)
    count = len(labels) if instances is None else int(instances)
    return images[:count], np.stack([label_to_one_hot_y(y, 10) for y in labels[:count]])


def maybe_download(filename, work_directory):
    """TFlearn's: ``work_directory/filename`` (``train_32x32.mat``, ``test_32x32.mat``, ``extra_32x32.mat``),
    downloaded from Stanford if absent."""
    from .tflearn_files import maybe_download as fetch
    return fetch(filename, "http://ufldl.stanford.edu/housenumbers/", work_directory)


def load_extra_data(data_dir="svhn/", one_hot=True):
    """TFlearn's: the 531,131 extra SVHN images (``extra_32x32.mat``, 1.3 GB) as ``(X, Y)``."""
    return read_data_from_file(maybe_download("extra_32x32.mat", data_dir))
