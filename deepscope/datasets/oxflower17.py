"""Oxford 17 category flowers (TFlearn's ``oxflower17.load_data``): 1,360 photos, 80 per class.

Source: ``17flowers.tgz`` (Oxford VGG), cached in ``ROOT/oxflower17`` and checked against the md5
on record (no sha256 has been published), read member by member (never extracted). The images are
``jpg/image_0001.jpg`` ... in class order, 80 per class; they are resized to ``resize_pics``.
"""
from __future__ import annotations

import io
import os
import re

import numpy as np

from .._checks import check_int
from ._common import check_bool, labels_out
from ._formats import DatasetFormatError, iter_tar
from .registry import load_with_recovery

PER_CLASS = 80
IMAGE = re.compile(r"(?:^|/)jpg/image_(\d{4})\.jpg$")


def load_data(dirname: str | os.PathLike | None = None, resize_pics=(224, 224), shuffle: bool = True,
              one_hot: bool = False, data_dir: str | os.PathLike | None = None, verbose: bool = True):
    """Load the 17 flower classes as arrays.

    Args:
        dirname: TFlearn's folder argument (used as ``data_dir`` when that is not given).
        resize_pics: ``(width, height)`` of the returned images.
        shuffle: shuffle the samples (with a fixed seed).
        one_hot: labels as one-hot float32 ``(N, 17)``.

    Returns:
        ``(X, Y)``: X float32 ``(1360, height, width, 3)`` in [0, 1]; Y class indices 0-16.
    """
    from PIL import Image

    one_hot = check_bool(one_hot, "oxflower17.load_data one_hot")
    width, height = (check_int(v, "oxflower17.load_data resize_pics", minimum=1) for v in resize_pics)

    def parse(paths):
        images, labels = [], []
        for name, data in iter_tar(paths[0], lambda n: IMAGE.search(n) is not None):
            number = int(IMAGE.search(name).group(1))
            try:
                with Image.open(io.BytesIO(data)) as image:
                    images.append(np.asarray(image.convert("RGB").resize((width, height)), dtype=np.float32) / 255.0)
            except OSError as err:
                raise DatasetFormatError(f"{paths[0]}: {name} is not a readable image ({err})") from err
            labels.append((number - 1) // PER_CLASS)
        if not images:
            raise DatasetFormatError(f"{paths[0]}: no jpg/image_NNNN.jpg members")
        return np.stack(images), np.asarray(labels, dtype=np.int64)

    X, y = load_with_recovery("oxflower17", data_dir if data_dir is not None else dirname, parse, verbose)
    if shuffle:
        order = np.random.default_rng(0).permutation(len(X))
        X, y = X[order], y[order]
    return X, labels_out(y, 17, one_hot)


# TFlearn's lower-level names (tflearn.datasets.oxflower17.build_class_directories ...)
from .tflearn_files import build_class_directories, maybe_download, reporthook, untar  # noqa: E402,F401
