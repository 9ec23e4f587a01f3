"""The dataset registry: names, files, where they are cached, and fetching with recovery.

``list_datasets()``, ``info(name)`` and ``download(name)`` are what the CLI calls; loaders use
``find_local``, ``fetch_files`` and ``load_with_recovery``.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Callable, TypeVar

from .._checks import check_choice
from ._download import ChecksumError, DownloadError, data_root, fetch, verify_file, where_to_put
from ._formats import DatasetFormatError
from ._sources import DATASETS, DatasetSpec, FileSpec

T = TypeVar("T")


def list_datasets() -> list[str]:
    """Names of the downloadable datasets (toy generators live in ``deepscope.datasets.toy``)."""
    return sorted(DATASETS)


def get_spec(name: str) -> DatasetSpec:
    """The ``DatasetSpec`` registered under ``name`` (clear error listing the names otherwise)."""
    check_choice(name, "datasets: name", list_datasets())
    return DATASETS[name]


def search_dirs(spec: DatasetSpec, data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for local copies: ``ROOT/<subdir>``, other known subfolders, ``ROOT``."""
    root = data_root(data_dir)
    return [root / spec.subdir] + [root / extra for extra in spec.extra_subdirs] + [root]


_VERIFIED: dict[tuple, bool] = {}  # (path, size, mtime) -> verified in this process


def find_local(spec: DatasetSpec, file: FileSpec, data_dir: str | os.PathLike | None = None
               ) -> Path | None:
    """The verified local copy of ``file`` if present (``.gz`` IDX files may also be stored uncompressed).

    Every copy is checked against the checksums on record once per process (and again if it
    changes): a damaged file never loads silently. A damaged file in a writable folder is moved
    aside (``NAME.corrupt``, with a warning) and treated as missing, so it is downloaded again; in
    a read-only folder it is an error that names it.
    """
    names = [file.filename]
    if file.content_md5 and file.filename.endswith(".gz"):
        names.append(file.filename[:-3])
    for folder in search_dirs(spec, data_dir):
        for name in names:
            path = folder / name
            if path.is_file() and _verified_once(path, file):
                return path
    return None


def _verified_once(path: Path, file: FileSpec) -> bool:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if _VERIFIED.get(key):
        return True
    ok, sha = verify_file(path, file)
    if ok:
        _VERIFIED[key] = True
        return True
    try:
        os.replace(path, path.with_name(path.name + ".corrupt"))
    except OSError:
        raise ChecksumError(f"{path} does not match the checksums on record for {file.filename} (its sha256 is "
                            f"{sha}): the file is damaged. Replace it with a good copy, or delete it so it is "
                            "downloaded again.") from None
    warnings.warn(f"{path} does not match the checksums on record (sha256 {sha}); moved it to "
                  f"{path.name}.corrupt and it will be downloaded again.", RuntimeWarning, stacklevel=3)
    return False


def fetch_files(name: str, data_dir: str | os.PathLike | None = None, verbose: bool = True
                ) -> list[Path]:
    """Paths of all files of a dataset, downloading the missing ones into ``ROOT/<subdir>``.

    Args:
        name: registry name.
        data_dir: cache folder (see ``data_root``).
        verbose: print download progress lines.

    Returns:
        One path per ``spec.files`` entry, in order.

    Raises:
        DownloadError: offline or every source failed; the message lists every missing file,
            its official URLs, and the folder to put local copies in.
    """
    spec = get_spec(name)
    folder = data_root(data_dir) / spec.subdir
    found = [find_local(spec, f, data_dir) for f in spec.files]
    missing = [f for f, p in zip(spec.files, found) if p is None]
    paths = []
    for file, path in zip(spec.files, found):
        if path is None:
            try:
                path = fetch(file, folder, verbose=verbose)
            except DownloadError as err:
                if not err.unreachable:
                    raise
                alt = "".join(f"\nA local {f.filename} (project copy) would also be used if "
                              f"present in {folder}/." for f in spec.local)
                tried = "\n".join(f"  - {line}" for line in err.tried)
                raise DownloadError(
                    f"{spec.title} is not in {folder} and could not be downloaded: no server "
                    f"answered (offline?).\nTried for {file.filename}:\n{tried}\n"
                    + where_to_put(missing, folder) + alt, unreachable=True, tried=err.tried
                ) from None
        paths.append(path)
    return paths


def load_with_recovery(name: str, data_dir: str | os.PathLike | None,
                       parse: Callable[[list[Path]], T], verbose: bool = True) -> T:
    """Fetch a dataset's files and parse them; if parsing fails, re-verify and re-download.

    A file that fails to parse and also fails its checksum is moved aside (``NAME.corrupt``)
    and downloaded again; if all checksums are right the parse error is raised as is.

    Args:
        name: registry name.
        data_dir: cache folder.
        parse: ``parse(paths) -> result``; raises ``DatasetFormatError`` on corrupt data.
        verbose: print download progress lines.
    """
    spec = get_spec(name)
    paths = fetch_files(name, data_dir, verbose)
    try:
        return parse(paths)
    except DatasetFormatError as err:
        bad = []
        for file, path in zip(spec.files, paths):
            ok, sha = verify_file(path, file)
            if not ok:
                bad.append((path, sha, file))
        if not bad:
            raise DatasetFormatError(f"{err} (the checksums of {spec.title}'s files are right, so "
                                     "this looks like a bug in deepscope: please report it)") from err
        for path, sha, file in bad:
            warnings.warn(f"{path} is corrupt (sha256 {sha}, expected {file.sha256 or 'n/a'}); "
                          f"moving it to {path.name}.corrupt and downloading it again", stacklevel=3)
            os.replace(path, path.with_name(path.name + ".corrupt"))
        return parse(fetch_files(name, data_dir, verbose))


def info(name: str, data_dir: str | os.PathLike | None = None) -> dict:
    """Describe a dataset: its files, URLs, checksums, sizes, and whether they are cached where.

    Args:
        name: registry name (see ``list_datasets()``).
        data_dir: cache folder to inspect.

    Returns:
        ``{'name', 'title', 'folder', 'cached', 'local_copy', 'files': [{'filename', 'urls', 'sha256', 'md5',
        'size', 'checksum', 'cached', 'path'}, ...]}``; ``local`` files (project copies) are
        listed with ``'local_only': True``; ``local_copy`` says one of them is there (the loaders use it).
    """
    spec = get_spec(name)
    files = []
    for file in spec.files + spec.local:
        path = find_local(spec, file, data_dir)
        check = "sha256" if file.sha256 else ("md5" if file.md5 else
                                              ("size only (none published)" if file.size else "none"))
        files.append({"filename": file.filename, "urls": list(file.urls), "sha256": file.sha256,
                      "md5": file.md5, "size": file.size, "checksum": check,
                      "local_only": file.local_only, "cached": path is not None,
                      "path": str(path) if path else None})
    main = files[:len(spec.files)]
    return {"name": spec.name, "title": spec.title,
            "folder": str(data_root(data_dir) / spec.subdir),
            "cached": all(f["cached"] for f in main),
            "local_copy": any(f["cached"] for f in files[len(spec.files):]), "files": files}


def download(name: str, data_dir: str | os.PathLike | None = None, verbose: bool = True
             ) -> list[Path]:
    """Download (or find) every file of a dataset and return their verified paths.

    Args:
        name: registry name.
        data_dir: cache folder; default ``$DEEPSCOPE_DATA`` or ``~/.deepscope/datasets``.
        verbose: print download progress lines.
    """
    return fetch_files(name, data_dir, verbose)
