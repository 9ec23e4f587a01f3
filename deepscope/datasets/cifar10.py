"""CIFAR-10, TFlearn-style: ``(X, Y), (X_test, Y_test) = cifar10.load_data(one_hot=True)``.

Source: the binary version ``cifar-10-binary.tar.gz`` from www.cs.toronto.edu/~kriz
(sha256-verified; read member by member, never extracted, never unpickled), cached in
``ROOT/cifar10``. Also accepted without download, in this order: the archive in
``data_dir``; an extracted ``cifar-10-batches-bin`` folder; the project's 4,000/1,000-image
``cifar10_exact_subset.npz`` (with a warning that it is a subset).
"""
from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path

import numpy as np

from ._common import check_bool, check_limit, images_out, labels_out
from ._formats import DatasetFormatError, read_cifar_members
from .registry import find_local, get_spec, load_with_recovery, search_dirs

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck")
TRAIN_BATCHES = [f"data_batch_{i}.bin" for i in range(1, 6)]
TEST_BATCH = "test_batch.bin"


def find_extracted(name: str, data_dir, folder_name: str, files: list[str]) -> Path | None:
    """An already extracted folder holding all ``files`` (``<dir>/<folder_name>`` or ``<dir>``)."""
    for folder in search_dirs(get_spec(name), data_dir):
        for candidate in (folder / folder_name, folder):
            if all((candidate / f).is_file() for f in files):
                return candidate
    return None


def load_npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read ``x_train, y_train, x_test, y_test`` from an npz (no pickle allowed)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return data["x_train"], data["y_train"], data["x_test"], data["y_test"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise DatasetFormatError(f"{path}: cannot read the npz ({err})") from err


def load_data(dirname: str | os.PathLike | None = None, one_hot: bool = False,
              data_dir: str | os.PathLike | None = None, limit: int | None = None,
              verbose: bool = True):
    """Load CIFAR-10 (50,000 train / 10,000 test, 32x32 RGB), downloading it once if needed.

    Args:
        dirname: TFlearn's folder argument; used as ``data_dir`` when that is not given.
        one_hot: labels as one-hot float32 ``(N, 10)`` instead of int64 ``(N,)``.
        data_dir: folder holding the archive / extracted batches / subset, or the cache root.
        limit: keep only the first ``limit`` rows of each split (quick modes).
        verbose: print download progress lines.

    Returns:
        ``(X, Y), (X_test, Y_test)``: X float32 NHWC ``(N, 32, 32, 3)`` in [0, 1].
    """
    one_hot = check_bool(one_hot, "cifar10.load_data one_hot")
    limit = check_limit(limit, "cifar10.load_data limit")
    data_dir = data_dir if data_dir is not None else dirname
    spec = get_spec("cifar10")
    names = TRAIN_BATCHES + [TEST_BATCH]

    def parse(paths):
        batches = read_cifar_members(paths[0], names, label_bytes=1)
        x = np.concatenate([batches[n][0] for n in TRAIN_BATCHES])
        y = np.concatenate([batches[n][1][:, 0] for n in TRAIN_BATCHES])
        return x, y, batches[TEST_BATCH][0], batches[TEST_BATCH][1][:, 0]

    if find_local(spec, spec.files[0], data_dir) is not None:
        x, y, tx, ty = load_with_recovery("cifar10", data_dir, parse, verbose)
    elif (folder := find_extracted("cifar10", data_dir, "cifar-10-batches-bin", names)) is not None:
        x, y, tx, ty = parse([folder])
    elif (subset := find_local(spec, spec.local[0], data_dir)) is not None:
        x, y, tx, ty = load_npz(subset)
        warnings.warn(f"CIFAR-10: only the subset {subset} was found ({len(x)} train / {len(tx)} "
                      "test images, not 50,000 / 10,000): fine for tests and small checks, not for "
                      "comparing with published accuracies. Pass a data_dir holding "
                      "cifar-10-binary.tar.gz (or let it download) for the full set.", stacklevel=2)
    else:
        x, y, tx, ty = load_with_recovery("cifar10", data_dir, parse, verbose)
    return ((images_out(x[:limit], False), labels_out(y[:limit], 10, one_hot)),
            (images_out(tx[:limit], False), labels_out(ty[:limit], 10, one_hot)))


# TFlearn's lower-level names (tflearn.datasets.cifar10.load_batch ...)
from .tflearn_files import load_batch, maybe_download, reporthook, untar  # noqa: E402,F401
