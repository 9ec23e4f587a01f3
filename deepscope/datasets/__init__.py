"""Datasets: download, verify, cache and parse MNIST, Fashion-MNIST, notMNIST, CIFAR, SVHN, IMDB, the
Oxford 17 flowers and the Titanic passengers; toy data.

TFlearn-compatible: ``from deepscope.datasets import mnist; X, Y, testX, testY =
mnist.load_data(one_hot=True)``. Files are cached in ``data_dir``, else ``$DEEPSCOPE_DATA``,
else ``~/.deepscope/datasets``; a folder already holding the files is used without download.
"""
from __future__ import annotations

from . import cifar10, cifar100, fashion_mnist, imdb, kriegeskorte92, mnist, notmnist, oxflower17, svhn, titanic, toy
from ._download import ChecksumError, DownloadError, data_root
from ._formats import DatasetFormatError, read_idx
from .registry import download, info, list_datasets
from .toy import (blobs, checkerboard, circles, logic_gate, moons, noisy_line, spirals,
                  xor_quadrants)

__all__ = [
    "mnist", "fashion_mnist", "notmnist", "cifar10", "cifar100", "kriegeskorte92", "toy", "titanic", "svhn", "imdb",
    "oxflower17",
    "list_datasets", "info", "download", "data_root", "read_idx",
    "DownloadError", "ChecksumError", "DatasetFormatError",
    "logic_gate", "spirals", "circles", "moons", "blobs", "xor_quadrants", "checkerboard",
    "noisy_line",
]
