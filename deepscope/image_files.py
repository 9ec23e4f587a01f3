"""TFlearn's image-file helpers (``tflearn.data_utils``: ``load_image``, ``resize_image``, ``directory_to_samples``
...), on Pillow images, with TFlearn's signatures (``data_utils`` re-exports them, beside its
``build_image_dataset_from_dir``)."""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np

from ._checks import Text, fail


def _pil():
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib
        raise ImportError("image files need Pillow: pip install pillow") from None
    return Image


def load_image(in_image):
    """Open an image file as a ``PIL.Image`` (TFlearn's; a local path: deepscope does not download).

    Args:
        in_image: the file's path.

    Returns:
        The ``PIL.Image``.
    """
    if not isinstance(in_image, (str, os.PathLike)) or not Path(in_image).is_file():
        fail("load_image in_image", "the path of an image file", Text(repr(in_image)),
             "Give a local file (URLs are not downloaded).", error=FileNotFoundError)
    return _pil().open(in_image)


def resize_image(in_image, new_width, new_height, out_image=None, resize_mode=None):
    """Resize a ``PIL.Image`` (TFlearn's; ``resize_mode`` None = Lanczos, TFlearn's ANTIALIAS).

    Returns:
        The resized ``PIL.Image`` (also saved to ``out_image`` when given).
    """
    image = _pil()
    img = in_image.resize((int(new_width), int(new_height)), image.LANCZOS if resize_mode is None else resize_mode)
    if out_image:
        img.save(out_image)
    return img


def convert_color(in_image, mode):
    """``in_image.convert(mode)`` (``'L'``: grey, ``'RGB'``)."""
    return in_image.convert(mode)


def pil_to_nparray(pil_image):
    """A ``PIL.Image`` as a float32 array ``(H, W[, C])`` in 0-255."""
    pil_image.load()
    return np.asarray(pil_image, dtype="float32")


def get_img_channel(image_path):
    """The number of channels of an image file (1 grey, 3 RGB, 4 RGBA)."""
    return len(load_image(image_path).getbands())


def directory_to_samples(directory, flags=None, filter_channel=False):
    """Every file of each subfolder of ``directory`` as a sample of the class of that folder (sorted names,
    classes 0, 1, ...).

    Args:
        directory: a folder with one subfolder per class.
        flags: keep only files whose name contains one of these strings (e.g. ``['.jpg', '.png']``).
        filter_channel: keep only 3-channel images.

    Returns:
        ``(paths, labels)``: two lists.
    """
    root = Path(directory)
    if not root.is_dir():
        fail("directory_to_samples directory", "a folder with one subfolder per class", Text(repr(str(directory))),
             error=FileNotFoundError)
    samples, targets = [], []
    for label, folder in enumerate(sorted(p for p in root.iterdir() if p.is_dir())):
        for file in sorted(p for p in folder.iterdir() if p.is_file()):
            if flags and not any(flag in file.name for flag in flags):
                continue
            if filter_channel and get_img_channel(file) != 3:
                continue
            samples.append(str(file))
            targets.append(label)
    return samples, targets


def image_dirs_to_samples(directory, resize=None, convert_gray=None, filetypes=None):
    """Images of a class-per-subfolder directory as arrays in [0, 1] (TFlearn's).

    Returns:
        ``(images, labels)``: a list of float32 arrays and a list of ints.
    """
    paths, targets = directory_to_samples(directory, flags=list(filetypes) if filetypes else None)
    samples = []
    for path in paths:
        img = load_image(path)
        if resize:
            img = resize_image(img, resize[0], resize[1])
        if convert_gray:
            img = convert_color(img, "L")
        samples.append(pil_to_nparray(img) / 255.0)
    return samples, targets


def random_flip_leftright(x):
    """``x`` mirrored left-right with probability 1/2 (Python's ``random``, as TFlearn)."""
    return np.fliplr(x) if random.getrandbits(1) else x


def random_flip_updown(x):
    """``x`` flipped upside down with probability 1/2."""
    return np.flipud(x) if random.getrandbits(1) else x
