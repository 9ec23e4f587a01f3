"""The run folder: one per ``fit``, holding config.json, metrics.csv, TensorBoard events, checkpoints.

```
<runs root>/<run_id>/
    config.json        the network, training settings and hyperparameters
    model.safetensors  the trained model at the end of the fit (``deepscope.load`` rebuilds it)
    metrics.csv        one row per epoch: epoch, step, loss, metric, val_loss, val_metric, time
    events.out.tfevents.*   TensorBoard (scalars; histograms by verbose level)
    checkpoints/       model checkpoints (safetensors)
```
"""
from __future__ import annotations

import csv
import io
import os
import time
from datetime import datetime
from pathlib import Path

from .._io import atomic_write_json, atomic_write_text

DEFAULT_ROOT = "runs"


def runs_root(root: str | os.PathLike | None = None) -> Path:
    """The folder holding all runs: ``root``, else ``$DEEPSCOPE_RUNS``, else ``./runs``."""
    return Path(root or os.environ.get("DEEPSCOPE_RUNS") or DEFAULT_ROOT)


def new_run_id(prefix: str = "run") -> str:
    """A readable, sortable, unique run id: ``2026-11-22_15-45-10_run``."""
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    return f"{stamp}_{prefix}"


class Run:
    """One run folder. Metrics rows are buffered and written atomically at each flush.

    Args:
        root: the runs folder (see :func:`runs_root`).
        run_id: the run's name; made unique by a numeric suffix if it exists.
        config: JSON-able description written to ``config.json``.
        continue_epoch: resuming a killed run: reuse its folder and keep its metrics rows up to
            this epoch (the checkpoint's), so ``metrics.csv`` continues without duplicates.
    """

    def __init__(self, root=None, run_id: str | None = None, config: dict | None = None,
                 continue_epoch: int | None = None):
        root = runs_root(root)
        run_id = run_id or new_run_id()
        path = root / run_id
        self.rows: list[tuple] = []  # (epoch, step, logs, seconds since start)
        if continue_epoch is not None and path.is_dir():  # a resumed run goes on in its own folder
            self.rows = [row for row in read_rows(path / "metrics.csv") if row[0] <= continue_epoch]
        else:
            n = 1
            while path.exists():
                path = root / f"{run_id}_{n}"
                n += 1
            path.mkdir(parents=True)
        self.path = path
        self.run_id = path.name
        self.config = dict(config or {})
        self.started = time.time() - (self.rows[-1][3] if self.rows else 0.0)
        self.write_config()

    @property
    def checkpoint_dir(self) -> Path:
        folder = self.path / "checkpoints"
        folder.mkdir(exist_ok=True)
        return folder

    def write_config(self) -> None:
        atomic_write_json(self.path / "config.json", self.config, durable=False)

    def log_epoch(self, epoch: int, step: int, logs: dict) -> None:
        """Record one epoch's metrics (a dict of floats, not copied); written at the next :meth:`flush`."""
        self.rows.append((epoch, step, logs, time.time() - self.started))

    def flush(self) -> None:
        """Rewrite metrics.csv atomically with every row so far."""
        if not self.rows:
            return
        rows = [{"epoch": e, "step": s, **logs, "time": round(t, 4)} for e, s, logs, t in self.rows]
        columns: list[str] = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.path / "metrics.csv", buffer.getvalue(), durable=False)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"


def read_rows(path: Path) -> list[tuple]:
    """The rows of a ``metrics.csv`` as ``(epoch, step, logs, seconds)``; [] if there is none."""
    if not path.is_file():
        return []
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            logs = {k: float(v) for k, v in row.items() if k not in ("epoch", "step", "time") and v not in ("", None)}
            rows.append((int(row["epoch"]), int(row["step"]), logs, float(row.get("time") or 0.0)))
    return rows
