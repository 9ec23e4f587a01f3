"""Helpers shared by the loaders: labels, limits, TFlearn argument compatibility."""
from __future__ import annotations

import os

import numpy as np

from .._checks import check_int, fail
from ..data_utils import to_categorical


def labels_out(labels: np.ndarray, n_classes: int, one_hot_: bool) -> np.ndarray:
    """Labels as int64 ``(N,)``, or one-hot float32 ``(N, n_classes)``."""
    labels = np.asarray(labels, dtype=np.int64)
    return to_categorical(labels, n_classes) if one_hot_ else labels


def images_out(images: np.ndarray, flatten: bool) -> np.ndarray:
    """uint8 images -> float32 in [0, 1]; flattened to ``(N, H*W*C)`` if ``flatten``."""
    x = images.astype(np.float32) / 255.0
    return x.reshape(len(x), -1) if flatten else x


def check_limit(limit, where: str) -> int | None:
    """``None`` or a positive int (the most rows to keep from each split)."""
    return None if limit is None else check_int(limit, where, minimum=1)


def tflearn_args(one_hot_, data_dir, where: str):
    """Accept TFlearn's positional order ``load_data(data_dir, one_hot)`` as well as ours.

    TFlearn's ``mnist.load_data(data_dir="mnist/", one_hot=False)`` takes the folder first;
    deepscope documents ``load_data(one_hot=False, data_dir=None)``. A path given where
    ``one_hot`` is expected is taken as the folder.
    """
    if isinstance(one_hot_, (str, os.PathLike)):
        if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
            one_hot_, data_dir = data_dir, one_hot_
        elif data_dir is None:
            one_hot_, data_dir = False, one_hot_
        else:
            fail(f"{where} one_hot", "True or False", one_hot_, error=TypeError)
    return check_bool(one_hot_, f"{where} one_hot"), data_dir


def check_bool(value, where: str) -> bool:
    """``value`` as a bool, or a clear TypeError."""
    if not isinstance(value, (bool, np.bool_)):
        fail(where, "True or False", value, error=TypeError)
    return bool(value)
