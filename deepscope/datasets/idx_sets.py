"""TFlearn's lower-level MNIST / Fashion-MNIST readers (``extract_images``, ``extract_labels``, ``DataSet``,
``read_data_sets`` ...), on deepscope's verified files; ``mnist.py`` and ``fashion_mnist.py`` give them
their TFlearn paths."""
from __future__ import annotations

import os

import numpy as np

from .._checks import Text, check_int, fail
from ._formats import read_idx


def _read(filename, what: str) -> np.ndarray:
    try:
        return read_idx(filename)
    except OSError as exc:
        fail(f"{what} filename", "an IDX file (gzip or raw)", Text(f"{str(filename)!r} ({exc.strerror or exc})"),
             error=FileNotFoundError)


def extract_images(filename) -> np.ndarray:
    """An IDX image file (gzip or raw) as uint8 ``(N, rows, cols, 1)``."""
    images = _read(filename, "extract_images")
    if images.ndim != 3:
        fail("extract_images filename", "an IDX file of images (3 dimensions)", Text(f"{images.ndim} dimensions"))
    return images[..., None]


def dense_to_one_hot(labels_dense, num_classes=10) -> np.ndarray:
    """Class indices ``(N,)`` as one-hot rows ``(N, num_classes)`` (float64, as TFlearn)."""
    labels = np.asarray(labels_dense).astype(np.int64).ravel()
    return np.eye(check_int(num_classes, "dense_to_one_hot num_classes", minimum=1))[labels]


def extract_labels(filename, one_hot=False) -> np.ndarray:
    """An IDX label file as uint8 ``(N,)`` (or one-hot rows)."""
    labels = _read(filename, "extract_labels")
    return dense_to_one_hot(labels) if one_hot else labels


class DataSet:
    """Images and labels with TFlearn's ``next_batch`` (the order is reshuffled after each pass).

    Args:
        images: uint8 ``(N, rows, cols, 1)``: kept as float32 ``(N, rows * cols)`` in [0, 1].
        labels: ``(N,)`` or one-hot ``(N, C)``.
        fake_data: TFlearn's testing mode (10,000 all-ones images of label 0).
    """

    def __init__(self, images, labels, fake_data=False):
        if fake_data:
            images, labels = np.ones((10000, 28, 28, 1), np.uint8) * 255, np.zeros(10000, np.int64)
        images, labels = np.asarray(images), np.asarray(labels)
        if images.ndim != 4 or images.shape[3] != 1 or len(images) != len(labels):
            fail("DataSet images", "(N, rows, cols, 1) images and N labels", Text(
                f"images {images.shape}, labels {labels.shape}"))
        self._images = images.reshape(len(images), -1).astype(np.float32) / 255.0
        self._labels = labels
        self._num_examples = len(images)
        self._epochs_completed = 0
        self._index_in_epoch = 0

    images = property(lambda self: self._images)
    labels = property(lambda self: self._labels)
    num_examples = property(lambda self: self._num_examples)
    epochs_completed = property(lambda self: self._epochs_completed)

    def next_batch(self, batch_size, fake_data=False):
        """The next ``batch_size`` images and labels (a new shuffled pass when this one is used up)."""
        batch_size = check_int(batch_size, "next_batch batch_size", minimum=1, maximum=self._num_examples)
        start = self._index_in_epoch
        self._index_in_epoch += batch_size
        if self._index_in_epoch > self._num_examples:
            self._epochs_completed += 1
            order = np.random.permutation(self._num_examples)
            self._images, self._labels = self._images[order], self._labels[order]
            start, self._index_in_epoch = 0, batch_size
        return self._images[start:self._index_in_epoch], self._labels[start:self._index_in_epoch]


class DataSets:
    """``train``, ``validation`` (the first 5,000 training images, as TFlearn) and ``test``."""

    def __init__(self, train: DataSet, validation: DataSet, test: DataSet):
        self.train, self.validation, self.test = train, validation, test


def data_sets_from(train_x, train_y, test_x, test_y, one_hot: bool, classes: int = 10) -> DataSets:
    """TFlearn's split of arrays from ``load_data(flatten=False)`` (float [0, 1] images back to uint8)."""
    to_uint8 = lambda x: np.rint(np.asarray(x).reshape(len(x), 28, 28, 1) * 255).astype(np.uint8)  # noqa: E731
    train_x, test_x = to_uint8(train_x), to_uint8(test_x)
    label = (lambda y: dense_to_one_hot(y, classes)) if one_hot else np.asarray  # noqa: E731
    train_y, test_y = label(train_y), label(test_y)
    return DataSets(DataSet(train_x[5000:], train_y[5000:]), DataSet(train_x[:5000], train_y[:5000]),
                    DataSet(test_x, test_y))


def read_data_sets_with(load_data, data_dir, one_hot: bool) -> DataSets:
    """TFlearn's ``read_data_sets`` for a loader (``mnist.load_data`` or ``fashion_mnist.load_data``)."""
    X, Y, testX, testY = load_data(one_hot=False, data_dir=data_dir, flatten=False)
    return data_sets_from(X, Y, testX, testY, one_hot)


def maybe_download_with(load_data, filename, work_directory) -> str:
    """TFlearn's ``maybe_download`` for a loader: the loader fetches (and verifies) its files into
    ``work_directory``; the path of the one named ``filename`` (with or without ``.gz``)."""
    load_data(data_dir=work_directory, limit=1, verbose=False)
    stem = os.path.basename(filename).replace(".gz", "")
    found = [os.path.join(root, name) for root, _, names in os.walk(work_directory) for name in names
             if name.startswith(stem)]
    if not found:
        raise FileNotFoundError(f"maybe_download: {filename!r} is not among the files in {work_directory!r}.")
    return found[0]
