"""Your own images as training data (TFlearn's ``image_preloader`` and ``build_hdf5_image_dataset``;
``deepscope.data_utils`` re-exports them).

Two ways to name the images, as in TFlearn:
- ``mode='folder'``: ``root/<class folder>/<image>``; classes are the sub-folders in sorted order
  (sub-folders named 0..n-1 keep their numbers);
- ``mode='file'``: a text file of ``path class_id`` lines.

Images are decoded with Pillow, converted to RGB (or grayscale), resized to ``image_shape``
(width, height as TFlearn orders it) and scaled to [0, 1] with ``normalize``.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._checks import Text, check_choice, fail

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".ppm", ".pgm")


def list_images(target_path, mode: str = "file", files_extension=None, image_base_path: str = "",
                float_labels: bool = False) -> tuple[list[str], list]:
    """The image paths and their labels named by a folder tree or a ``path class_id`` file."""
    mode = check_choice(mode, "image_preloader mode", ("file", "folder"))
    if not isinstance(target_path, (str, os.PathLike)):
        fail("image_preloader target_path", "a folder or a text file (a path)", type(target_path).__name__,
             error=TypeError)
    target = Path(target_path)
    extensions = tuple(e.lower() for e in (files_extension or IMAGE_EXTENSIONS))
    if mode == "folder":
        if not target.is_dir():
            fail("image_preloader target_path", "a folder with one sub-folder per class (mode='folder')",
                 str(target), error=FileNotFoundError)
        classes = sorted((d for d in target.iterdir() if d.is_dir()), key=lambda d: (not d.name.isdigit(),
                         int(d.name) if d.name.isdigit() else 0, d.name))
        paths, labels = [], []
        for label, folder in enumerate(classes):
            for image in sorted(folder.iterdir()):
                if image.suffix.lower() in extensions:
                    paths.append(str(image))
                    labels.append(int(folder.name) if folder.name.isdigit() else label)
        if not paths:
            fail("image_preloader target_path", f"images ({', '.join(extensions)}) in class sub-folders",
                 Text(f"none under {target}"))
        return paths, labels
    if not target.is_file():
        fail("image_preloader target_path", "a text file of 'path class_id' lines (mode='file')", str(target),
             error=FileNotFoundError)
    paths, labels = [], []
    for number, line in enumerate(target.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.rsplit(maxsplit=1)
        if len(parts) != 2:
            fail(f"image_preloader {target.name} line {number}", "'path class_id'", line)
        try:
            label = float(parts[1]) if float_labels else int(parts[1])
        except ValueError:
            fail(f"image_preloader {target.name} line {number}", "a numeric class id after the path", parts[1])
        paths.append(os.path.join(image_base_path, parts[0]))
        labels.append(label)
    return paths, labels


def load_image(path: str, image_shape, grayscale: bool = False, normalize: bool = True) -> np.ndarray:
    """One image as float32 ``(height, width, channels)``, resized to ``image_shape = (width, height)``."""
    from PIL import Image  # (Pillow: matplotlib's dependency)

    try:
        with Image.open(path) as image:
            image = image.convert("L" if grayscale else "RGB").resize(tuple(image_shape))
            array = np.asarray(image, dtype=np.float32)
    except (OSError, ValueError) as error:
        fail("image_preloader", "readable image files", Text(f"{path}: {error}"), error=OSError)
    if grayscale:
        array = array[:, :, None]
    return array / 255.0 if normalize else array


class ImagePreloader:
    """An array-like of images loaded when indexed (``X[i]``, ``X[a:b]``, ``X[[i, j]]``, ``np.asarray(X)``)."""

    def __init__(self, paths, image_shape, normalize=True, grayscale=False):
        self.paths, self.image_shape, self.normalize, self.grayscale = list(paths), image_shape, normalize, grayscale

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            return load_image(self.paths[index], self.image_shape, self.grayscale, self.normalize)
        chosen = self.paths[index] if isinstance(index, slice) else [self.paths[i] for i in index]
        return np.stack([load_image(p, self.image_shape, self.grayscale, self.normalize) for p in chosen])

    def __array__(self, dtype=None, copy=None):
        array = self[:]
        return array if dtype is None else array.astype(dtype)

    @property
    def shape(self) -> tuple:
        width, height = self.image_shape
        return (len(self), height, width, 1 if self.grayscale else 3)


class LabelPreloader:
    """The labels of an ``ImagePreloader`` (one-hot rows with ``categorical_labels``)."""

    def __init__(self, labels, n_classes: int | None, categorical: bool):
        self.labels = np.asarray(labels)
        self.n_classes, self.categorical = n_classes, categorical

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index):
        values = self.labels[index]
        if not self.categorical:
            return values
        return np.eye(self.n_classes, dtype=np.float32)[values]

    def __array__(self, dtype=None, copy=None):
        array = self[:]
        return array if dtype is None else array.astype(dtype)


def image_preloader(target_path, image_shape, mode="file", normalize=True, grayscale=False,
                    categorical_labels=True, files_extension=None, filter_channel=False, image_base_path="",
                    float_labels=False):
    """Images and labels from a folder tree or a ``path class_id`` file, loaded when used.

    Args:
        target_path: the root folder (``mode='folder'``) or the text file (``mode='file'``).
        image_shape: ``(width, height)`` every image is resized to.
        mode: ``'file'`` or ``'folder'``.
        normalize: scale pixels to [0, 1].
        grayscale: one channel instead of RGB.
        categorical_labels: one-hot labels.
        files_extension: the image extensions to take (default: common image formats).
        filter_channel: accepted (images are converted to RGB or grayscale anyway).
        image_base_path: prefix of the paths in ``mode='file'``.
        float_labels: labels are numbers, not class ids (regression targets).

    Returns:
        ``(X, Y)``: an ``ImagePreloader`` and a ``LabelPreloader`` (``DNN.fit`` takes them as arrays).
    """
    paths, labels = list_images(target_path, mode, files_extension, image_base_path, float_labels)
    n_classes = None if float_labels else int(max(labels)) + 1
    return (ImagePreloader(paths, image_shape, normalize, grayscale),
            LabelPreloader(labels, n_classes, categorical_labels and not float_labels))


def build_hdf5_image_dataset(target_path, image_shape, output_path="dataset.h5", mode="file",
                             categorical_labels=True, normalize=True, grayscale=False, files_extension=None,
                             chunks=False, image_base_path="", float_labels=False) -> str:
    """Write the images and labels into one HDF5 file (datasets ``X`` and ``Y``), as TFlearn does;
    read it back with ``h5py.File(output_path, 'r')['X']``. Needs h5py (``pip install deepscope[hdf5]``).

    Returns:
        ``output_path``.
    """
    try:
        import h5py
    except ImportError:
        fail("build_hdf5_image_dataset", "h5py installed (pip install 'deepscope[hdf5]')", None,
             error=ImportError)
    X, Y = image_preloader(target_path, image_shape, mode, normalize, grayscale, categorical_labels,
                           files_extension, False, image_base_path, float_labels)
    tmp = f"{output_path}.tmp"
    with h5py.File(tmp, "w") as f:
        images = f.create_dataset("X", X.shape, dtype="float32", chunks=True if chunks else None)
        for i in range(len(X)):
            images[i] = X[i]
        f.create_dataset("Y", data=np.asarray(Y))
    os.replace(tmp, output_path)
    return str(output_path)
