"""The study's journal: one JSON line per event, appended, flushed and fsynced line by line.

``<runs>/<study>/journal.jsonl``::

    {"event": "started",  "trial": "3f2a...", "params": {...}, "seed": 0, "attempt": 1, "time": ...}
    {"event": "finished", "trial": "3f2a...", "params": {...}, "seed": 0, "metrics": {...}, ...}
    {"event": "failed",   "trial": "3f2a...", "params": {...}, "seed": 0, "error": "ValueError: ...", ...}
    {"event": "pruned",   "trial": "3f2a...", ...}   (Bayesian search with a pruner: stopped early or not run)

An append of one short line either lands whole or leaves a torn last line (a kill during the
write); reading skips a line that is not valid JSON, and the next append first ends the torn
line with a newline so that it never glues onto the next event.
"""
from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import re
import time
import warnings
from pathlib import Path
from typing import Any

from .._io import fsync_dir

TERMINAL = ("finished", "failed", "pruned")


def trial_id(params: dict, seed: int) -> str:
    """A deterministic id for (point, seed): 12 hex digits of a SHA-1 of the sorted JSON."""
    text = json.dumps({"params": params, "seed": seed}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def _short(value: Any) -> str:
    """A swept value as a few characters of a folder name (``0.001``, ``relu``, ``64``)."""
    if isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, (list, tuple)):
        text = "-".join(_short(v) for v in value)
    else:
        text = str(value)
    return re.sub(r"[^A-Za-z0-9.+-]+", "", text)[:24] or "x"


def trial_folder_name(params: dict, seed: int) -> str:
    """A trial's run folder name a person can read: its swept values and seed, then the start of its id (so two
    points that shorten to the same text stay apart): ``l2_first=0.001_units=64_seed=2-352ba227``."""
    parts = [f"{re.sub(r'[^A-Za-z0-9_]+', '', str(k))[:20]}={_short(v)}" for k, v in sorted(params.items())]
    readable = "_".join([*parts, f"seed={seed}"])
    if len(readable) > 100:
        readable = readable[:100].rstrip("_=")
    return f"{readable}-{trial_id(params, seed)[:8]}"


def plain_metrics(metrics: Any, metric: str) -> dict:
    """What ``train_fn`` returned, as a dict of JSON-able values (a bare number becomes ``{metric: x}``)."""
    if isinstance(metrics, numbers.Real) or hasattr(metrics, "item"):
        metrics = {metric: metrics}
    if not isinstance(metrics, dict):
        raise TypeError(f"train_fn must return a dict of final metrics (e.g. model.history[-1]) or a number, "
                        f"got {type(metrics).__name__}.")
    out = {}
    for key, value in metrics.items():
        if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
            value = value.item()  # numpy / torch scalars
        if isinstance(value, bool) or value is None or isinstance(value, str):
            out[str(key)] = value
        elif isinstance(value, numbers.Real):
            value = float(value)
            out[str(key)] = value if math.isfinite(value) else str(value)  # JSON has no NaN
        else:
            out[str(key)] = str(value)
    return out


class Journal:
    """Append-only event log of a study (see the module doc)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def read(self) -> list[dict]:
        """Every complete event, in order; torn or corrupt lines are skipped (with a warning
        unless it is the last line, the expected trace of a kill)."""
        if not self.path.is_file():
            return []
        lines = self.path.read_bytes().split(b"\n")
        events, bad = [], 0
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                event = json.loads(line.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                if i < len(lines) - 1 and any(x.strip() for x in lines[i + 1:]):
                    bad += 1
                continue
            if isinstance(event, dict) and "event" in event and "trial" in event:
                events.append(event)
        if bad:
            warnings.warn(f"{self.path}: skipped {bad} damaged line(s) (torn by an earlier kill).", stacklevel=2)
        return events

    def append(self, event: str, **fields: Any) -> dict:
        """Write one event line, flushed and fsynced before returning."""
        return self.append_many([(event, fields)])[0]

    def append_many(self, events: list[tuple[str, dict]]) -> list[dict]:
        """Write ``(event, fields)`` lines in one write, flushed and fsynced once (a kill may keep a prefix
        of them: every line is whole or torn, as for single appends)."""
        now = round(time.time(), 3)
        records = [{"event": event, **fields, "time": now} for event, fields in events]
        data = "".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in records).encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        with open(self.path, "ab") as f:
            if not new and f.tell() > 0 and not self._ends_with_newline():
                data = b"\n" + data  # end a torn last line first
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if new:
            fsync_dir(self.path.parent)
        return records

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"

    def states(self) -> dict[str, dict]:
        """The state of each trial: its last terminal event if any, else its last ``started``
        event (an interrupted trial), with ``attempts`` = how many times it started."""
        states: dict[str, dict] = {}
        for event in self.read():
            tid = event["trial"]
            previous = states.get(tid)
            attempts = (previous or {}).get("attempts", 0) + (event["event"] == "started")
            if previous is not None and previous["event"] in TERMINAL and event["event"] == "started":
                attempts = previous["attempts"]  # a later start of a done trial (should not happen): keep result
                states[tid] = {**previous, "attempts": attempts}
                continue
            states[tid] = {**event, "attempts": attempts}
        return states

