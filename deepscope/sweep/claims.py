"""Claims of a study's trials by their drivers: who owns a trial (``host:pid:start time``), whether that
driver still runs, and the lock under which a driver claims trials in the journal."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path


def _process_owner() -> str:
    """``host:pid:start`` of this process (the start time tells a reused pid from the original)."""
    import socket
    return f"{socket.gethostname()}:{os.getpid()}:{_start_time(os.getpid())}"


def _start_time(pid: int) -> str:
    try:  # Linux: field 22 of /proc/<pid>/stat, in clock ticks since boot
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


OWNER = _process_owner()


def owner_alive(owner) -> bool:
    """Whether the driver that started a trial still runs. A driver on another machine is taken to be
    alive (its host cannot be asked); on this machine, its pid must exist with the same start time."""
    import socket
    if not isinstance(owner, str) or owner.count(":") < 2:
        return False  # a journal from before owners were recorded: its driver is gone
    host, pid, start = owner.rsplit(":", 2)
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return start == "?" or _start_time(int(pid)) == start


@contextmanager
def journal_lock(folder: Path):
    """An exclusive ``flock`` on ``<folder>/journal.lock`` for claiming a trial (held for milliseconds;
    the kernel drops it when its process dies)."""
    import fcntl
    with open(folder / "journal.lock", "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield
