"""Download dataset files safely: verified, atomic, locked, retried, with clear errors.

A download streams into a hidden temporary file (``.NAME.XXXX.part``) in the cache folder,
computes its sha256 on the way, and is renamed onto its final name (``os.replace``) only
once verified, so a killed download never leaves a file that looks complete. An exclusive
``fcntl.flock`` on ``NAME.lock`` serialises processes: the second one waits, then finds the
verified file and reuses it. Only ``urllib`` is used.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import json
import os
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

from .._io import atomic_write_text
from ._sources import FileSpec

try:  # POSIX; elsewhere the atomic rename alone protects the cache
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

CHUNK = 1 << 16
USER_AGENT = "deepscope-datasets/0.1 (+python urllib)"


class DownloadError(OSError):
    """A dataset file could not be obtained. ``unreachable`` is True when no server answered."""

    def __init__(self, message: str, unreachable: bool = False, tried: tuple[str, ...] = ()):
        super().__init__(message)
        self.unreachable = unreachable
        self.tried = tried  # one line per failed attempt: "URL: reason"


class ChecksumError(DownloadError):
    """A downloaded (or cached) file does not have the checksum on record."""


class _Transient(Exception):
    """A failure worth retrying on the same URL (connection reset, truncated body, 5xx)."""


class _Permanent(Exception):
    """A failure where retrying the same URL is pointless (404, an HTML page, bad checksum)."""


#: the data folder that set-up (``make``) found, recorded in the environment it created, so that every
#: shell using that environment finds it without exporting anything (``deepscope datasets use FOLDER``)
ENVIRONMENT_CONFIG = Path(sys.prefix) / "deepscope.json"
DEFAULT_ROOT = Path.home() / ".deepscope" / "datasets"


def recorded_data_dir() -> str | None:
    """The data folder recorded in this environment's ``deepscope.json`` (None when there is none)."""
    try:
        value = json.loads(ENVIRONMENT_CONFIG.read_text()).get("data_dir")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None


def data_source(data_dir: str | os.PathLike | None = None) -> tuple[Path, str]:
    """The datasets folder and why it is that one: the ``data_dir`` argument, else ``$DEEPSCOPE_DATA``,
    else the folder recorded in this environment by set-up, else ``~/.deepscope/datasets``."""
    if data_dir is not None:
        return Path(data_dir).expanduser().absolute(), "the data_dir argument"
    if os.environ.get("DEEPSCOPE_DATA"):
        return Path(os.environ["DEEPSCOPE_DATA"]).expanduser().absolute(), "$DEEPSCOPE_DATA"
    recorded = recorded_data_dir()
    if recorded is not None:
        return Path(recorded).expanduser().absolute(), f"recorded by set-up in {ENVIRONMENT_CONFIG}"
    return DEFAULT_ROOT, "the default (nothing recorded, $DEEPSCOPE_DATA not set)"


def record_data_dir(folder: str | os.PathLike) -> Path:
    """Record ``folder`` as this environment's datasets folder (what ``make`` does when it finds the real
    datasets beside the checkout). Returns the config file."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise NotADirectoryError(f"datasets folder {str(folder)!r} does not exist (or is not a folder).")
    atomic_write_text(ENVIRONMENT_CONFIG, json.dumps({"data_dir": str(folder)}, indent=1) + "\n", durable=False)
    return ENVIRONMENT_CONFIG


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``data_dir``, else ``$DEEPSCOPE_DATA``, else the folder set-up recorded in this
    environment (``<venv>/deepscope.json``), else ``~/.deepscope/datasets`` (see :func:`data_source`).

    Args:
        data_dir: explicit folder, or None.

    Returns:
        The folder as an absolute ``Path`` (not created).
    """
    data_dir, _ = data_source(data_dir)
    root = Path(data_dir).expanduser().absolute()
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"data_dir {str(root)!r} is a file; expected the folder that holds (or will "
                                 "hold) the datasets.")
    return root


@contextlib.contextmanager
def file_lock(path: Path, verbose: bool = True) -> Iterator[None]:
    """Hold an exclusive inter-process lock on ``path`` (created if needed) while inside."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if verbose:
                    print(f"deepscope: waiting for another process to finish {path.stem} ...",
                          file=sys.stderr)
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def hash_file(path: Path, gunzip: bool = False) -> tuple[str, str]:
    """Return ``(sha256, md5)`` hex digests of a file (of its decompressed content if ``gunzip``)."""
    sha, md5 = hashlib.sha256(), hashlib.md5()
    opener = gzip.open if gunzip else open
    with opener(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK * 16), b""):
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), md5.hexdigest()


def verify_file(path: Path, spec: FileSpec) -> tuple[bool, str]:
    """Check a local file against every checksum on record for ``spec``.

    Accepted: the published sha256 (or md5), a known re-packed copy (``alt_sha256``), or,
    for IDX files, a re-compressed / uncompressed copy whose content md5 is the published one.

    Args:
        path: the local file.
        spec: what is on record for it.

    Returns:
        ``(ok, sha256_of_the_file)``.
    """
    sha, md5 = hash_file(path)
    if sha == spec.sha256 or sha in spec.alt_sha256 or (spec.md5 and md5 == spec.md5):
        return True, sha
    if spec.content_md5:
        try:
            content = hash_file(path, gunzip=True)[1] if _is_gzip(path) else md5
        except (OSError, EOFError):
            return False, sha
        return content == spec.content_md5, sha
    if spec.sha256 is None and spec.md5 is None and not spec.alt_sha256:
        return spec.size is None or path.stat().st_size == spec.size, sha
    return False, sha


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def fetch(spec: FileSpec, folder: str | os.PathLike, *, retries: int = 3, backoff: float = 1.0,
          timeout: float = 60.0, verbose: bool = True) -> Path:
    """Return ``folder/spec.filename``, downloading and verifying it first if it is missing.

    Args:
        spec: the file (official URLs and checksums).
        folder: the cache folder for this dataset (created if needed).
        retries: attempts per URL for transient failures (connection lost, truncated, 5xx).
        backoff: seconds before the first retry; doubled after each one.
        timeout: socket timeout in seconds.
        verbose: print one line per download to stderr.

    Returns:
        The path of the verified file.

    Raises:
        ChecksumError: every URL served a file with the wrong checksum.
        DownloadError: the file could not be downloaded (``unreachable`` when offline);
            the message names the file, the URLs, and where to put a local copy.
    """
    folder = Path(folder)
    target = folder / spec.filename
    if target.is_file():
        return target
    with file_lock(folder / (spec.filename + ".lock"), verbose):
        if target.is_file():  # another process finished it while we waited
            return target
        for stale in folder.glob(f".{spec.filename}.*.part"):  # left by a killed download
            stale.unlink(missing_ok=True)
        attempts: list[str] = []
        unreachable = True
        checksum_failed = False
        for url in spec.urls:
            for attempt in range(max(1, retries)):
                try:
                    _download_once(url, spec, target, timeout, verbose)
                    return target
                except _Transient as err:
                    attempts.append(f"{url}: {err}")
                    cause = err.__cause__
                    no_server = isinstance(cause, urllib.error.URLError) and not isinstance(
                        cause, urllib.error.HTTPError)
                    unreachable = unreachable and no_server
                    if no_server and isinstance(cause.reason, socket.gaierror):
                        break  # the host name does not resolve: retrying will not help
                    if attempt + 1 < retries:
                        time.sleep(backoff * 2 ** attempt)
                except _Permanent as err:
                    attempts.append(f"{url}: {err}")
                    unreachable = False
                    checksum_failed = checksum_failed or isinstance(err.__cause__, ChecksumError)
                    break
        raise _failure(spec, folder, attempts, unreachable, checksum_failed)


def _failure(spec: FileSpec, folder: Path, attempts: list[str], unreachable: bool,
             checksum_failed: bool) -> DownloadError:
    tried = "\n".join(f"  - {line}" for line in attempts) or "  (no URL on record)"
    head = ("could not reach any server (offline?)" if unreachable
            else "every source failed")
    message = (f"Could not download '{spec.filename}': {head}.\nTried:\n{tried}\n"
               + where_to_put([spec], folder))
    cls = ChecksumError if checksum_failed and not unreachable else DownloadError
    return cls(message, unreachable=unreachable, tried=tuple(attempts))


def where_to_put(specs: list[FileSpec], folder: Path) -> str:
    """Advice naming each file, its official URLs and checksum, and the folder to put it in."""
    lines = [f"To use local copies, download these files by other means and put them in {folder}/"
             " (or pass data_dir=FOLDER, or set DEEPSCOPE_DATA=FOLDER; the dataset's own"
             " subfolder is searched first):"]
    for spec in specs:
        check = f"sha256 {spec.sha256}" if spec.sha256 else (
            f"size {spec.size} bytes (no published checksum)" if spec.size else "no checksum")
        lines.append(f"  {spec.filename}  ({check})")
        lines.extend(f"      {url}" for url in spec.urls)
    return "\n".join(lines)


def _download_once(url: str, spec: FileSpec, target: Path, timeout: float, verbose: bool) -> None:
    """One attempt: stream ``url`` into a temp file, verify, rename onto ``target``."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            got, sha, md5 = _stream(request, url, out, timeout, verbose, spec)
        _check(spec, url, got, sha, md5)
        os.replace(tmp, target)
        if verbose:
            print(f"deepscope: saved {target} ({got} bytes, verified)", file=sys.stderr)
    finally:
        tmp.unlink(missing_ok=True)


def _stream(request, url, out, timeout, verbose, spec) -> tuple[int, str, str]:
    sha, md5, got = hashlib.sha256(), hashlib.md5(), 0
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            expected = response.headers.get("Content-Length")
            expected = int(expected) if expected and expected.isdigit() else None
            ctype = (response.headers.get("Content-Type") or "").lower()
            if verbose:
                size = f" ({expected / 1e6:.1f} MB)" if expected else ""
                print(f"deepscope: downloading {spec.filename} from {url}{size} ...", file=sys.stderr)
            first = True
            while chunk := response.read(CHUNK):
                if first:
                    _reject_html(chunk, ctype, url, spec)
                    first = False
                out.write(chunk)
                sha.update(chunk)
                md5.update(chunk)
                got += len(chunk)
            if first:
                _reject_html(b"", ctype, url, spec)
    except urllib.error.HTTPError as err:
        kind = _Transient if err.code >= 500 or err.code == 429 else _Permanent
        raise kind(f"HTTP {err.code} {err.reason}") from err
    except urllib.error.URLError as err:
        raise _Transient(f"cannot connect ({err.reason})") from err
    except (socket.timeout, TimeoutError, ConnectionError, http.client.HTTPException) as err:
        raise _Transient(f"connection lost after {got} bytes ({type(err).__name__}: {err})") from err
    if expected is not None and got < expected:
        raise _Transient(f"truncated download: got {got} of {expected} bytes")
    return got, sha.hexdigest(), md5.hexdigest()


def _reject_html(first: bytes, ctype: str, url: str, spec: FileSpec) -> None:
    head = first[:512].lstrip().lower()
    if ctype.startswith("text/html") or head.startswith((b"<!doctype html", b"<html", b"<head")):
        raise _Permanent(
            f"the server sent an HTML page (Content-Type {ctype or 'unknown'!r}), not the data file "
            f"'{spec.filename}'; the URL may have moved or need a login") from None
    if not first:
        raise _Permanent("the server sent an empty file")


def _check(spec: FileSpec, url: str, got: int, sha: str, md5: str) -> None:
    """Raise ``_Permanent`` (caused by a ``ChecksumError``) if the bytes are not the file on record."""
    if spec.sha256 is not None:
        ok, what, expected, actual = sha == spec.sha256, "sha256", spec.sha256, sha
    elif spec.md5 is not None:
        ok, what, expected, actual = md5 == spec.md5, "md5", spec.md5, md5
    elif spec.size is not None:
        ok, what, expected, actual = got == spec.size, "size", f"{spec.size} bytes", f"{got} bytes"
    else:
        return
    if not ok:
        size = f" ({got} bytes; {spec.size} expected)" if spec.size and got != spec.size else ""
        error = ChecksumError(f"'{spec.filename}' from {url}: wrong {what}: expected {expected}, "
                              f"got {actual}{size}. The partial file was removed.")
        raise _Permanent(str(error)) from error
