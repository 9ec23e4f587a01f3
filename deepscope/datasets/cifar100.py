"""CIFAR-100: ``(X, Y), (X_test, Y_test) = cifar100.load_data(label_mode='fine')``.

Source: the binary version ``cifar-100-binary.tar.gz`` from www.cs.toronto.edu/~kriz
(sha256-verified, read in memory, never unpickled), cached in ``ROOT/cifar100``; an extracted
``cifar-100-binary`` folder is also accepted. Each record: coarse label byte, fine label
byte, 3072 bytes CHW.
"""
from __future__ import annotations

import os

from .._checks import check_choice
from ._common import check_bool, check_limit, images_out, labels_out
from ._formats import read_cifar_members
from .cifar10 import find_extracted
from .registry import find_local, get_spec, load_with_recovery

N_CLASSES = {"fine": 100, "coarse": 20}


def load_data(dirname: str | os.PathLike | None = None, one_hot: bool = False,
              label_mode: str = "fine", data_dir: str | os.PathLike | None = None,
              limit: int | None = None, verbose: bool = True):
    """Load CIFAR-100 (50,000 train / 10,000 test, 32x32 RGB), downloading it once if needed.

    Args:
        dirname: folder argument (TFlearn style); used as ``data_dir`` when that is not given.
        one_hot: labels as one-hot float32 instead of int64.
        label_mode: ``'fine'`` (100 classes) or ``'coarse'`` (20 superclasses).
        data_dir: folder holding the archive or extracted files, or the cache root.
        limit: keep only the first ``limit`` rows of each split.
        verbose: print download progress lines.

    Returns:
        ``(X, Y), (X_test, Y_test)``: X float32 NHWC ``(N, 32, 32, 3)`` in [0, 1].
    """
    one_hot = check_bool(one_hot, "cifar100.load_data one_hot")
    check_choice(label_mode, "cifar100.load_data label_mode", list(N_CLASSES))
    limit = check_limit(limit, "cifar100.load_data limit")
    data_dir = data_dir if data_dir is not None else dirname
    column = 1 if label_mode == "fine" else 0
    names = ["train.bin", "test.bin"]

    def parse(paths):
        batches = read_cifar_members(paths[0], names, label_bytes=2)
        return (*batches["train.bin"], *batches["test.bin"])

    spec = get_spec("cifar100")
    folder = None
    if find_local(spec, spec.files[0], data_dir) is None:
        folder = find_extracted("cifar100", data_dir, "cifar-100-binary", names)
    x, y, tx, ty = (parse([folder]) if folder is not None
                    else load_with_recovery("cifar100", data_dir, parse, verbose))
    n = N_CLASSES[label_mode]
    return ((images_out(x[:limit], False), labels_out(y[:limit, column], n, one_hot)),
            (images_out(tx[:limit], False), labels_out(ty[:limit, column], n, one_hot)))


# TFlearn's lower-level names (tflearn.datasets.cifar100.load_batch ...): CIFAR-100's records have 2 label bytes
from .tflearn_files import maybe_download, untar  # noqa: E402,F401


def load_batch(fpath):
    """One CIFAR-100 binary batch: ``(data (N, 3072) uint8, fine labels)`` (see ``tflearn_files.load_batch``)."""
    from .tflearn_files import load_batch as load_records
    return load_records(fpath, label_bytes=2)
