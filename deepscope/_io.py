"""Atomic file writes: a temporary file in the same folder, flushed and fsynced, then renamed.

A crash or kill during a write leaves the previous file intact, never a truncated one.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any
from ._checks import fail


def atomic_write_bytes(path: str | os.PathLike, data: bytes, durable: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically.

    Args:
        path: destination file; its folder is created if needed.
        data: the bytes to write.
        durable: fsync the file and its folder (survives a power loss, not just a killed
            process); logs rewritten every few seconds skip it (about 4 ms per write).

    Returns:
        The destination path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.parent not in _SCANNED:  # (once per folder and process: a study writes thousands of small files)
        remove_orphans(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if durable:
        fsync_dir(path.parent)
    return path


#: folders this process has cleared of orphaned temporaries (one scan each is enough: a later orphan would be
#: a concurrent writer's, killed since; the next process's first write clears it)
_SCANNED: set[Path] = set()


def remove_orphans(path: Path) -> None:
    """Delete the temporary files in ``path``'s folder left by writers that were killed (their process is gone).

    Temporaries are named ``.<name>.<pid>.<random>.tmp``; one whose process still runs (a
    concurrent writer) is left alone.
    """
    folder = path.parent
    try:
        names = [entry.name for entry in os.scandir(folder) if entry.name.startswith(".") and entry.name.endswith(".tmp")]
    except OSError:
        return
    for name in names:
        parts = name[1:].rsplit(".", 3)  # <file name>, <pid>, <random>, tmp
        if len(parts) == 4 and parts[1].isdigit() and not _alive(int(parts[1])):
            try:
                os.unlink(folder / name)
            except OSError:
                pass
    if len(_SCANNED) < 100_000:
        _SCANNED.add(folder)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # (a temporary of this process here is from an earlier, interrupted write)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def csv_text(rows: list[dict]) -> str:
    """Rows of dicts as CSV text; the columns are the union of their keys, in first-seen order."""
    import csv

    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([[row.get(column, "") for column in columns] for row in rows])
    return buffer.getvalue()


def atomic_write_text(path: str | os.PathLike, text: str, durable: bool = True) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), durable)


def atomic_write_json(path: str | os.PathLike, obj: Any, durable: bool = True) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", durable)


FIGURE_FORMATS = ("png", "svg", "pdf")


def save_figure(fig, path: str | os.PathLike, dpi: int = 100, where: str = "path") -> Path:
    """Write a matplotlib ``Figure`` atomically, in the format its suffix names (png, svg, pdf).

    Args:
        fig: the figure (``matplotlib.figure.Figure``; no pyplot state involved).
        path: the destination file.
        dpi: resolution of raster formats.
        where: the argument, for the error message.

    Returns:
        The destination path.
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    if fmt not in FIGURE_FORMATS:
        fail(where, "a .png, .svg or .pdf file name", str(path))
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=dpi)
    return atomic_write_bytes(path, buffer.getvalue())


def _umask() -> int:
    """The process's umask, read once (reading it means setting it: twice per write raced other threads)."""
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0)
        os.umask(_UMASK)
    return _UMASK


_UMASK: int | None = None


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable (best effort: some file systems refuse)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
