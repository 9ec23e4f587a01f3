"""TFlearn's per-dataset file helpers (``maybe_download``, ``reporthook``, ``untar``, CIFAR's ``load_batch``,
oxflower17's ``build_class_directories``), shared by the dataset modules that give them TFlearn's paths.

Downloads are atomic (a partial file never takes the final name); archives are extracted with tarfile's ``'data'``
filter (no absolute paths, no links out of the folder); CIFAR batches are read from the binary version (deepscope
never unpickles).
"""
from __future__ import annotations

import os
import sys
import tarfile
import urllib.request
from pathlib import Path

import numpy as np

from .._checks import Text, fail
from ._formats import DatasetFormatError, parse_cifar_records


def reporthook(blocknum, blocksize, totalsize):
    """Print download progress to stderr (``urlretrieve``'s hook)."""
    read = blocknum * blocksize
    if totalsize > 0:
        sys.stderr.write(f"\r{min(100.0, 100.0 * read / totalsize):5.1f}% {min(read, totalsize)} / {totalsize}")
        if read >= totalsize:
            sys.stderr.write("\n")
    else:
        sys.stderr.write(f"read {read}\n")


def maybe_download(filename, source_url, work_directory):
    """``work_directory/filename``, downloaded from ``source_url + filename`` first if it is not there.

    Returns:
        The file's path.
    """
    folder = Path(work_directory)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / filename
    if not target.is_file():
        download(f"{source_url}{filename}", target)
    return str(target)


def download(url: str, target: Path) -> None:
    """``url`` to ``target`` atomically (a partial file never takes the name), with progress on stderr."""
    partial = target.with_name(target.name + ".part")
    try:
        urllib.request.urlretrieve(url, str(partial), reporthook)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        fail("download", f"{url} reachable", Text(f"{type(exc).__name__}: {exc}"),
             f"Put {target.name} in {target.parent} yourself (offline machines), then call again.", error=OSError)
    os.replace(partial, target)


def untar(fname, path=""):
    """Extract a ``.tar.gz`` / ``.tgz`` archive into ``path`` (safely: tarfile's 'data' filter)."""
    if not str(fname).endswith(("tar.gz", "tgz", ".tar")):
        fail("untar fname", "a .tar.gz, .tgz or .tar archive", Text(repr(str(fname))))
    with tarfile.open(fname) as archive:
        archive.extractall(path or ".", filter="data")


def load_batch(fpath, label_bytes: int = 1):
    """One CIFAR batch file as ``(data, labels)``: uint8 ``(N, 3072)`` rows in TFlearn's channel-first order and a
    list of int labels (the fine label for CIFAR-100, ``label_bytes=2``).

    Reads the binary version (``data_batch_1.bin``); TFlearn's python version is a pickle, which deepscope never
    loads (a pickle can run code): use ``cifar10.load_data()`` or the ``-binary`` archive.
    """
    data = Path(fpath).read_bytes() if Path(fpath).is_file() else None
    if data is None:
        fail("load_batch fpath", "a CIFAR binary batch file", Text(repr(str(fpath))), error=FileNotFoundError)
    if data[:1] == b"\x80":  # a pickle (protocol 2 or later): TFlearn's python version
        fail("load_batch fpath", "the binary CIFAR version (data_batch_1.bin)", Text("a Python pickle"),
             "deepscope never unpickles (it can run code): use cifar10.load_data(), or the -binary archive.")
    try:
        images, labels = parse_cifar_records(data, label_bytes, str(fpath))
    except DatasetFormatError as exc:
        fail("load_batch fpath", "a CIFAR binary batch file", Text(str(exc)))
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)  # NHWC -> TFlearn's (N, 3 * 32 * 32) CHW rows
    return rows, labels[:, -1].astype(np.int64).tolist()


def build_class_directories(dir):  # noqa: A002 - TFlearn's argument name
    """oxflower17's layout: ``image_0001.jpg`` ... ``image_1360.jpg`` moved into folders ``0`` ... ``16`` (80 each)."""
    root = Path(dir)
    for i in range(1, 1361):
        source = root / f"image_{i:04d}.jpg"
        if not source.is_file():
            fail("build_class_directories dir", "a folder with image_0001.jpg ... image_1360.jpg",
                 Text(f"{root} without {source.name}"))
        folder = root / str(min((i - 1) // 80, 16))
        folder.mkdir(exist_ok=True)
        os.replace(source, folder / source.name)
