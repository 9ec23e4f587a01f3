"""notMNIST_small: glyphs of the letters A-J in many fonts, 28x28 grey, labels 0-9.

Source: ``notMNIST_small.tar.gz`` (Yaroslav Bulatov; ~18.7k PNG files in ``A/`` ... ``J/``).
No checksum was ever published for it: a download is checked by its size (8,458,043 bytes)
and by decoding every image; unreadable images (two are known-corrupt in the original) are
skipped. After a first decode, ``notmnist_small.npz`` is written next to the archive (the
same layout as the project's shared copy, which is used directly when present).

There is no official split: ``load_data`` makes a **stratified, fixed-seed** split. Images
are first sorted by ``letter/file name``; then for each letter ``round(n * test_fraction)``
images, chosen by ``numpy.random.default_rng(seed).permutation``, go to the test set; finally
each split is shuffled with the same generator. Same files + same arguments -> same split.
"""
from __future__ import annotations

import os
import tempfile
import warnings
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np

from .._checks import check_float, check_int
from ._common import check_limit, images_out, labels_out, tflearn_args
from ._download import data_root
from ._formats import DatasetFormatError, decode_png_gray, iter_tar
from .registry import find_local, get_spec, load_with_recovery

LETTERS = "ABCDEFGHIJ"


def read_archive(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode every PNG of a notMNIST tar archive (in memory; unreadable images skipped).

    Returns:
        ``(images uint8 (N, 28, 28), labels uint8 (N,), names (N,) 'A/file.png')``, sorted by name.
    """
    images, labels, names, skipped = [], [], [], []

    def want(name: str) -> bool:
        parts = PurePosixPath(name).parts
        return name.endswith(".png") and len(parts) >= 2 and parts[-2] in LETTERS

    for member, data in iter_tar(path, want):
        parts = PurePosixPath(member).parts
        try:
            image = decode_png_gray(data)
        except DatasetFormatError:
            skipped.append(member)
            continue
        if image.shape != (28, 28):
            skipped.append(member)
            continue
        images.append(image)
        labels.append(LETTERS.index(parts[-2]))
        names.append(f"{parts[-2]}/{parts[-1]}")
    if not images:
        raise DatasetFormatError(f"{path}: no readable notMNIST PNG image in the archive")
    if skipped:
        warnings.warn(f"notMNIST: skipped {len(skipped)} unreadable image(s) of {path.name} "
                      f"(the original archive has known-corrupt files): {skipped[:3]}", stacklevel=3)
    order = np.argsort(np.array(names), kind="stable")
    return (np.stack(images)[order], np.array(labels, dtype=np.uint8)[order],
            np.array(names)[order])


def _save_npz(folder: Path, x: np.ndarray, y: np.ndarray, names: np.ndarray) -> None:
    """Cache the decoded images as ``notmnist_small.npz`` (atomic; silently skipped if read-only)."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".notmnist_small.", suffix=".npz.part")
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, x_test=x, y_test=y, names_test=names)
        os.replace(tmp, folder / "notmnist_small.npz")
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def load_all(data_dir=None, verbose: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """All images ``(N, 28, 28)`` uint8 and labels ``(N,)``, sorted by ``letter/file name``."""
    spec = get_spec("notmnist")
    npz = find_local(spec, spec.local[0], data_dir)
    if npz is not None:
        try:
            with np.load(npz, allow_pickle=False) as data:
                x, y, names = data["x_test"], data["y_test"], data["names_test"]
            order = np.argsort(names, kind="stable")
            return x[order], y[order]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
            if find_local(spec, spec.files[0], data_dir) is None:
                raise DatasetFormatError(f"{npz}: cannot read the npz ({err})") from err
            warnings.warn(f"{npz} is unreadable ({err}); decoding the archive again", stacklevel=2)
    x, y, names = load_with_recovery("notmnist", data_dir, lambda p: read_archive(p[0]), verbose)
    folder = data_root(data_dir) / spec.subdir
    if folder.is_dir():
        _save_npz(folder, x, y, names)
    return x, y


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, test)`` of a fixed-seed stratified split (see the module docstring)."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        perm = idx[rng.permutation(len(idx))]
        n_test = int(round(len(idx) * test_fraction))
        test.append(perm[:n_test])
        train.append(perm[n_test:])
    train, test = np.concatenate(train), np.concatenate(test)
    return train[rng.permutation(len(train))], test[rng.permutation(len(test))]


def load_data(one_hot: bool = False, data_dir: str | os.PathLike | None = None,
              test_fraction: float = 0.2, seed: int = 0, limit: int | None = None,
              flatten: bool = True, verbose: bool = True):
    """Load notMNIST_small with a deterministic stratified train/test split.

    Args:
        one_hot: labels as one-hot float32 ``(N, 10)`` instead of int64 ``(N,)``.
        data_dir: folder holding ``notmnist_small.npz`` or ``notMNIST_small.tar.gz``, or the
            cache root.
        test_fraction: share of each letter put in the test set (0 < f < 1).
        seed: seed of the split (fixed default: the same split everywhere).
        limit: keep only the first ``limit`` rows of each split.
        flatten: ``(N, 784)`` like MNIST (default), or ``(N, 28, 28, 1)`` NHWC.
        verbose: print download progress lines.

    Returns:
        ``X, Y, testX, testY``: X float32 in [0, 1].
    """
    one_hot, data_dir = tflearn_args(one_hot, data_dir, "notmnist.load_data")
    test_fraction = check_float(test_fraction, "notmnist.load_data test_fraction", 0.0, 1.0,
                                min_inclusive=False, max_inclusive=False)
    seed = check_int(seed, "notmnist.load_data seed", minimum=0)
    limit = check_limit(limit, "notmnist.load_data limit")
    x, y = load_all(data_dir, verbose)
    train, test = stratified_split(y, test_fraction, seed)
    train, test = train[:limit], test[:limit]
    xs = x if flatten else x[..., None]
    return (images_out(xs[train], flatten), labels_out(y[train], 10, one_hot),
            images_out(xs[test], flatten), labels_out(y[test], 10, one_hot))
