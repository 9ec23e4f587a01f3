"""The run folder: one per ``fit``, holding config.json, metrics.csv, TensorBoard events, checkpoints.

```
<runs root>/<run_id>/
    config.json        the network, training settings and hyperparameters
    model.safetensors  the trained model at the end of the fit (``deepscope.load`` rebuilds it)
    metrics.csv        one row per epoch: epoch, step, loss, metric, val_loss, val_metric, time
    train/             TensorBoard events of training: Loss, Accuracy, the step diagnostics, histograms
    validation/        TensorBoard events of validation, under the training tags (TensorBoard overlays them)
    hparams/           TensorBoard's HParams session: the run's hyperparameters and final metrics
    checkpoints/       model checkpoints (safetensors)
```

The ``train/`` and ``validation/`` layout is the one Keras writes. The HParams session has a folder of its
own because TensorBoard takes every scalar under a session's folder as one of its metrics: kept beside
``train/``, the step diagnostics' tags would crowd the HParams metric list.
"""
from __future__ import annotations

import csv
import json
import os
import time
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path

from .._io import atomic_write_json, atomic_write_text, csv_text

DEFAULT_ROOT = "runs"
TRAIN_EVENTS = "train"  # <run>/train: TensorBoard events of training
VALIDATION_EVENTS = "validation"  # <run>/validation: validation curves under the training tags
HPARAMS_EVENTS = "hparams"  # <run>/hparams: the HParams session (hyperparameters, final metrics)
_RUNS_DIR: ContextVar[str | None] = ContextVar("deepscope_runs_dir", default=None)


def runs_root(root: str | os.PathLike | None = None) -> Path:
    """The folder holding all runs: ``root``, else the one set by :func:`runs_dir`, else the user's
    ``$DEEPSCOPE_RUNS``, else ``./runs``."""
    return Path(root or _RUNS_DIR.get() or os.environ.get("DEEPSCOPE_RUNS") or DEFAULT_ROOT)


@contextmanager
def runs_dir(root: str | os.PathLike):
    """Inside this block, fits without ``tensorboard_dir`` write their run folders under ``root``
    (a study puts its trials' runs in its own folder this way; nothing global is changed, and
    each thread or task keeps its own setting)."""
    token = _RUNS_DIR.set(str(root))
    try:
        yield Path(root)
    finally:
        _RUNS_DIR.reset(token)


IDENTITY_FIT_KEYS = ("batch_size", "shuffle", "n_samples", "max_steps", "drop_last")


def run_identity(config: dict) -> dict:
    """What makes two fits the same experiment (for resuming): the network, the training settings,
    the data size and batching. Not the number of epochs (a resume may ask for more), the device or
    the library versions."""
    fit = config.get("fit") or {}
    return {"network": _canonical_network(config.get("network")), "training": config.get("training"),
            "clip_gradients": config.get("clip_gradients"), "mixed_precision": config.get("mixed_precision"),
            "fit": {k: fit.get(k) for k in IDENTITY_FIT_KEYS}}


def _canonical_network(network):
    """A network description with its node ids (creation counters, which differ between processes
    that built other networks first) replaced by positions."""
    if not isinstance(network, dict) or not isinstance(network.get("nodes"), list):
        return network
    ids = {node.get("id"): i for i, node in enumerate(network["nodes"]) if isinstance(node, dict)}
    renumber = lambda v: ids.get(v, v) if isinstance(v, int) else v  # noqa: E731
    nodes = []
    for node in network["nodes"]:
        if isinstance(node, dict):
            node = {**node, "id": renumber(node.get("id"))}
            for key in ("inputs", "parents", "incoming"):
                if isinstance(node.get(key), list):
                    node[key] = [renumber(v) for v in node[key]]
        nodes.append(node)
    return {**network, "nodes": nodes, "output": renumber(network.get("output"))}


def identity_differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    """The dotted keys where two identities differ, with both values (at most a few)."""
    out = []
    for key in sorted(set(a) | set(b), key=str):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, list) and isinstance(vb, list) and len(va) == len(vb):
            va, vb = dict(enumerate(va)), dict(enumerate(vb))
        if isinstance(va, dict) and isinstance(vb, dict):
            out += identity_differences(va, vb, f"{prefix}{key}.")
        elif va != vb:
            out.append(f"{prefix}{key}: {_short(va)} there, {_short(vb)} now")
    return out


def _short(value) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def run_folders_of(root: Path, run_id: str) -> list[Path]:
    """``root/run_id`` and its numbered siblings ``run_id_1``, ``run_id_2`` ... that exist, oldest first."""
    found = []
    base = root / run_id
    if base.is_dir():
        found.append((0, base))
    for path in base.parent.glob(base.name + "_*") if base.parent.is_dir() else []:
        suffix = path.name[len(base.name) + 1:]
        if suffix.isdigit() and path.is_dir():
            found.append((int(suffix), path))
    return [p for _, p in sorted(found)]


def find_run_to_resume(root, run_id: str, config: dict) -> Path | None:
    """The folder a resumed fit continues: the newest run named ``run_id`` (or ``run_id_N``) that was
    started with the same experiment (:func:`run_identity`); None when no run of that name exists.

    Raises:
        ValueError: runs of that name exist, but all with another configuration (resuming one of
            them would silently continue a different experiment).
    """
    identity = run_identity(config)
    folders = run_folders_of(runs_root(root), str(run_id))
    others = []
    for folder in reversed(folders):
        try:
            theirs = json.loads((folder / "config.json").read_text())
        except (OSError, ValueError):
            continue  # killed before its config was written, or not a run folder: not this experiment
        if not isinstance(theirs, dict):
            continue
        if run_identity(theirs) == identity:
            return folder
        others.append((folder, run_identity(theirs)))
    if not others:
        return None
    folder, theirs = others[0]
    differences = "; ".join(identity_differences(theirs, identity)[:4])
    raise ValueError(f"fit resume: run {str(run_id)!r} exists ({folder}) but was started with another "
                     f"configuration ({differences}); resuming it would continue a different experiment. "
                     f"Give another run_id, or resume=False to start this one as a new run.")


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
        named = run_id is not None  # a name the user chose (a generated one taken in the same second: no note)
        run_id = run_id or new_run_id()
        path = root / run_id
        self.rows: list[tuple] = []  # (epoch, step, logs, seconds since start)
        self.flush_hooks: list = []  # called after each flush (the run logger's TensorBoard writer)
        if continue_epoch is not None and path.is_dir():  # a resumed run goes on in its own folder
            self.rows = [row for row in read_rows(path / "metrics.csv") if row[0] <= continue_epoch]
        else:
            n = 1
            while path.exists():
                path = root / f"{run_id}_{n}"
                n += 1
            path.mkdir(parents=True)
            if n > 1 and named:  # say so: the name given is taken, the run goes to a numbered sibling
                print(f"run {run_id!r} exists in {root}: this run is {path.name!r} (fit(..., resume=True) would "
                      "continue the existing one)", flush=True)
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
        """Rewrite metrics.csv atomically with every row so far, then run the flush hooks (the
        TensorBoard writer's), so a checkpoint never gets ahead of the logs."""
        self._write_metrics()
        for hook in self.flush_hooks:
            hook()

    def _write_metrics(self) -> None:
        if not self.rows:
            return
        rows = [{"epoch": e, "step": s, **logs, "time": round(t, 4)} for e, s, logs, t in self.rows]
        atomic_write_text(self.path / "metrics.csv", csv_text(rows), durable=False)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"


def read_metrics_file(path: str | os.PathLike) -> list[dict]:
    """The rows of a ``metrics.csv``: numbers as floats (``epoch``/``step`` as ints), empty cells left
    out; [] when there is no file. (The one reader: ``runs.read_metrics`` and resuming runs use it.)

    Raises:
        ValueError: the file is not a readable table.
    """
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            for raw in csv.DictReader(f):
                rows.append({key: _number(value, integer=key in ("epoch", "step"))
                             for key, value in raw.items() if key is not None and value not in (None, "")})
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path}: not a readable metrics table ({type(exc).__name__}: {str(exc)[:120]}).") from None
    return rows


def read_rows(path: Path) -> list[tuple]:
    """The rows of a ``metrics.csv`` as ``(epoch, step, logs, seconds)`` (what ``Run`` keeps); [] if none."""
    return [(int(row["epoch"]), int(row["step"]),
             {k: v for k, v in row.items() if k not in ("epoch", "step", "time") and isinstance(v, float)},
             float(row.get("time", 0.0))) for row in read_metrics_file(path)]


def _number(text: str, integer: bool = False):
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if integer and value.is_integer() else value
