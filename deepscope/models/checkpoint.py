"""Training checkpoints: everything needed to continue a killed run bit for bit.

One checkpoint is one safetensors file (no pickle) written atomically (temporary file in the same
folder, flush, fsync, rename):

- tensors: ``model/<name>`` (the state dict), ``optim/<param index>/<key>`` (optimizer state),
  ``rng/torch``, ``rng/cuda/<i>``, ``rng/numpy`` (MT19937 keys), ``data/order`` (this epoch's
  sample permutation), ``loop/loss_sum`` (the epoch's running loss), ``metric/<attr>``;
- metadata (JSON strings): ``optimizer`` (param groups and scalar state), ``scheduler``,
  ``rng`` (Python's ``random`` state as ints, numpy's scalars), ``loop`` (epoch, step, position in
  the epoch, data seed, history), and ``sha256``: a digest of every tensor's bytes and every other
  metadata entry, so one flipped byte anywhere is detected (safetensors itself has no checksum).

Files are ``<folder>/ckpt-<step>.safetensors``. A new checkpoint is complete on disk before the
older ones beyond ``keep`` are removed, so a kill at any moment leaves at least one good file;
:func:`latest_good_checkpoint` skips corrupt or truncated files and returns the newest good one.
"""
from __future__ import annotations

import json
import os
import random
import tempfile
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from .._checks import check_int, fail
from .._io import atomic_write_bytes
from .guard import MODES
from .fit_state import EpochPosition, FitRecord, TrainingCheckpoint
from .serialization import ModelFileError, read_file, safetensors_bytes, tensor_digest

MAX_ROLLBACKS = 3  # nan_guard='rollback' goes back at most this many times in one fit
FORMAT = "deepscope-checkpoint"
VERSION = "1"
PREFIX = "ckpt-"
SUFFIX = ".safetensors"


# -- writing -------------------------------------------------------------------------------------
def checkpoint_file(folder, step: int) -> Path:
    return Path(folder) / f"{PREFIX}{step:09d}{SUFFIX}"


def list_checkpoints(folder) -> list[Path]:
    """Checkpoint files in ``folder``, oldest (lowest step) first; temporary files are ignored."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob(f"{PREFIX}*{SUFFIX}"):
        try:
            found.append((int(path.name[len(PREFIX):-len(SUFFIX)]), path))
        except ValueError:
            continue
    return [p for _, p in sorted(found)]


def save_checkpoint(dnn, folder, loop: dict, order: torch.Tensor | None = None,
                    loss_sum: torch.Tensor | None = None, keep: int = 2) -> Path:
    """Write a training checkpoint of ``dnn`` into ``folder`` and prune old ones.

    Args:
        dnn: the ``DNN`` (network, optimizer, scheduler, metric).
        folder: the checkpoint folder (created if needed).
        loop: JSON-able position: ``epoch``, ``step``, ``batches_done``, ``epoch_finished``,
            ``data_seed``, ``fit_start_epoch``, ``steps_in_epoch``, ``history``.
        order: the current epoch's permutation of the samples (None when not shuffling).
        loss_sum: the epoch's running (device) loss sum.
        keep: how many checkpoints to keep (>= 1); older ones are removed after the new one is on disk.

    Returns:
        The path written.
    """
    tensors: dict[str, torch.Tensor] = {}
    for name, value in dnn.net.state_dict().items():
        tensors["model/" + name] = value
    optimizer_meta = None
    if dnn.optimizer is not None:
        optimizer_meta = optimizer_state(dnn.optimizer, tensors)
    scheduler_meta = None
    if dnn.scheduler is not None:
        scheduler_meta = {"class": type(dnn.scheduler).__name__, "state": jsonable(dnn.scheduler.state_dict())}
    tensors["rng/torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = s
    np_state = np.random.get_state()
    tensors["rng/numpy"] = torch.from_numpy(np.asarray(np_state[1], dtype=np.int64))
    py_version, py_internal, py_gauss = random.getstate()
    rng_meta = {"python": [py_version, list(py_internal), py_gauss],
                "numpy": [np_state[0], int(np_state[2]), int(np_state[3]), float(np_state[4])]}
    if order is not None:
        tensors["data/order"] = order
    if loss_sum is not None:
        tensors["loop/loss_sum"] = loss_sum.detach().reshape(())
    metric_meta = {}
    if dnn.metric is not None:
        for key, value in vars(dnn.metric).items():
            if isinstance(value, torch.Tensor):
                tensors["metric/" + key] = value.detach()
            elif key.startswith("_") and (value is None or isinstance(value, (int, float))):
                metric_meta[key] = value
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta = {"format": FORMAT, "version": VERSION,
            "optimizer": json.dumps(optimizer_meta), "scheduler": json.dumps(scheduler_meta),
            "rng": json.dumps(rng_meta), "loop": json.dumps(jsonable(loop)), "metric": json.dumps(metric_meta)}
    meta["sha256"] = tensor_digest(tensors, meta)
    path = checkpoint_file(folder, int(loop["step"]))
    atomic_write_bytes(path, safetensors_bytes(tensors, meta))
    keep = max(1, int(keep))
    for stale in list_checkpoints(folder)[:-keep]:
        stale.unlink(missing_ok=True)
    return path


def optimizer_state(optimizer: torch.optim.Optimizer, tensors: dict, prefix: str = "optim/") -> dict:
    """An optimizer's state for a checkpoint: its tensors into ``tensors`` (``<prefix><index>/<name>``),
    the rest returned as JSON-able metadata (``class``, ``param_groups``, ``scalars``)."""
    sd = optimizer.state_dict()
    scalars: dict[str, dict] = {}
    for index, entries in sd["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}{index}/{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    return {"param_groups": jsonable(sd["param_groups"]), "scalars": jsonable(scalars),
            "class": type(optimizer).__name__}


def load_optimizer_state(optimizer: torch.optim.Optimizer, tensors: dict, meta: dict, prefix: str = "optim/") -> None:
    """Put back what :func:`optimizer_state` wrote (torch checks the groups before it changes anything).

    Raises:
        ValueError / KeyError / RuntimeError: the state does not fit this optimizer.
    """
    if meta.get("class") != type(optimizer).__name__:
        raise ValueError(f"written with optimizer {meta.get('class')}, this one is {type(optimizer).__name__}")
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith(prefix):
            index, name = key[len(prefix):].split("/", 1)
            state.setdefault(int(index), {})[name] = value
    for index, entries in meta["scalars"].items():
        state.setdefault(int(index), {}).update(entries)
    groups = [{k: (tuple(v) if isinstance(v, list) and k != "params" else v) for k, v in g.items()}
              for g in meta["param_groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def jsonable(value):
    """JSON-safe copy: tuples become lists; values JSON cannot hold (functions) become None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return None


# -- reading -------------------------------------------------------------------------------------
def load_checkpoint(path) -> TrainingCheckpoint:
    """Read and verify a checkpoint file.

    Returns:
        The ``TrainingCheckpoint`` (tensors, training position, optimizer/scheduler/RNG/metric states).

    Raises:
        ModelFileError: missing, truncated, corrupt (checksum), or not a deepscope checkpoint.
    """
    tensors, meta = read_file(path, expected_format=FORMAT)
    if "sha256" not in meta:
        raise ModelFileError(f"checkpoint {str(path)!r} has no checksum: it was not written by deepscope "
                             "or its header was changed.")
    try:
        parsed = {key: json.loads(meta[key]) for key in ("optimizer", "scheduler", "rng", "loop", "metric")}
    except (KeyError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"checkpoint {str(path)!r} has damaged metadata ({type(exc).__name__}: "
                             f"{str(exc)[:200]}).") from None
    loop = parsed["loop"]
    if not isinstance(loop, dict) or not all(k in loop for k in ("epoch", "step", "batches_done")):
        raise ModelFileError(f"checkpoint {str(path)!r} has no training position (epoch, step, batches_done).")
    return TrainingCheckpoint(str(path), tensors, **parsed)


def latest_good_checkpoint(folder, verbose: bool = True) -> TrainingCheckpoint | None:
    """The newest checkpoint in ``folder`` that reads and verifies; corrupt ones are skipped with a warning.

    Returns:
        The loaded checkpoint (see :func:`load_checkpoint`), or None when there is no good one.
    """
    for path in reversed(list_checkpoints(folder)):
        try:
            return load_checkpoint(path)
        except ModelFileError as exc:
            if verbose:
                warnings.warn(f"skipping a bad checkpoint: {exc}", RuntimeWarning, stacklevel=2)
    return None


def resolve(resume, folder) -> TrainingCheckpoint | None:
    """The checkpoint ``fit(resume=...)`` continues from: ``resume`` may be True (the newest good
    checkpoint of ``folder``), a checkpoint folder or a checkpoint file."""
    if resume is True:
        return latest_good_checkpoint(folder)
    path = Path(resume)
    if path.is_dir():
        return latest_good_checkpoint(path)
    if path.is_file():
        return load_checkpoint(path)
    raise ModelFileError(f"fit resume: {str(path)!r} is neither a checkpoint file nor a folder.")


# -- restoring -----------------------------------------------------------------------------------
def restore(dnn, ckpt: TrainingCheckpoint) -> None:
    """Put the model, optimizer, scheduler, metric and RNG states of ``ckpt`` back into ``dnn``.

    The optimizer must exist already (``dnn.ensure_optimizer``), built the same way.
    """
    where = f"checkpoint {ckpt.path!r}"
    tensors = ckpt.tensors
    model = {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
    own = dnn.net.state_dict()
    if set(model) != set(own):
        raise ModelFileError(f"{where} does not match this network: missing {sorted(set(own) - set(model))[:5]}, "
                             f"unexpected {sorted(set(model) - set(own))[:5]}.")
    try:
        dnn.net.load_state_dict({k: v.to(dnn.device) for k, v in model.items()})
    except RuntimeError as exc:
        raise ModelFileError(f"{where} does not fit this network: {exc}") from None
    opt_meta = ckpt.optimizer
    if opt_meta is not None and dnn.optimizer is not None:
        if opt_meta.get("class") != type(dnn.optimizer).__name__:
            raise ModelFileError(f"{where} was written with optimizer {opt_meta.get('class')}, "
                                 f"this model uses {type(dnn.optimizer).__name__}.")
        try:
            load_optimizer_state(dnn.optimizer, tensors, opt_meta)
        except (ValueError, KeyError, RuntimeError) as exc:
            raise ModelFileError(f"{where}: the optimizer state does not fit ({exc}).") from None
    if ckpt.scheduler is not None and dnn.scheduler is not None:
        dnn.scheduler.load_state_dict(ckpt.scheduler["state"])
    if dnn.metric is not None:
        for key, value in ckpt.metric.items():
            setattr(dnn.metric, key, value)
        for key, value in tensors.items():
            if key.startswith("metric/"):
                setattr(dnn.metric, key[len("metric/"):], value.to(dnn.device))
    restore_rng(ckpt)


def restore_rng(ckpt: TrainingCheckpoint) -> None:
    """Set Python's, numpy's and torch's (CPU and CUDA) random generators to the saved states."""
    tensors, rng = ckpt.tensors, ckpt.rng
    torch.set_rng_state(tensors["rng/torch"])
    cuda = sorted((int(k.rsplit("/", 1)[1]), v) for k, v in tensors.items() if k.startswith("rng/cuda/"))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([v for _, v in cuda][:torch.cuda.device_count()])
    name, pos, has_gauss, cached = rng["numpy"]
    np.random.set_state((name, tensors["rng/numpy"].numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = rng["python"]
    random.setstate((version, tuple(internal), gauss))


def scale_learning_rate(dnn, factor: float) -> None:
    """Multiply the learning rate (optimizer groups and the scheduler's base rates) by ``factor``."""
    for group in dnn.optimizer.param_groups:
        group["lr"] = group["lr"] * factor
        if "initial_lr" in group:
            group["initial_lr"] = group["initial_lr"] * factor
    if dnn.scheduler is not None and hasattr(dnn.scheduler, "base_lrs"):
        dnn.scheduler.base_lrs = [lr * factor for lr in dnn.scheduler.base_lrs]
        if hasattr(dnn.scheduler, "_last_lr"):
            dnn.scheduler._last_lr = [g["lr"] for g in dnn.optimizer.param_groups]


@dataclass
class CheckpointSettings:
    """How one ``fit`` guards against NaN/Inf and writes (or resumes from) training checkpoints.

    Attributes:
        nan_guard: ``'stop'``, ``'rollback'`` or None (off).
        every: steps between checkpoints (None: only at the end, when checkpoints are written at all).
        folder: the checkpoint folder (None: the run folder's ``checkpoints/`` once known).
        keep: checkpoints kept.
        resume: False, True, or a checkpoint folder or file.
    """

    nan_guard: str | None
    every: int | None
    folder: Path | None
    keep: int
    resume: bool | str | os.PathLike = False
    _temporary: tempfile.TemporaryDirectory | None = None

    @classmethod
    def check(cls, nan_guard, every, folder, keep, resume, run_id) -> "CheckpointSettings":
        """Check ``fit``'s ``nan_guard``, ``checkpoint_every``, ``checkpoint_dir``, ``keep_checkpoints``
        and ``resume`` arguments (errors name the argument and the fix)."""
        if nan_guard not in (False, None, True) and nan_guard not in MODES:
            fail("fit nan_guard", "'stop', 'rollback' or False", nan_guard)
        nan_guard = "stop" if nan_guard is True else (nan_guard or None)
        if every is not None:
            every = check_int(every, "fit checkpoint_every", minimum=1)
        keep = check_int(keep, "fit keep_checkpoints", minimum=1)
        if resume is not None and not isinstance(resume, (bool, str, os.PathLike)):
            fail("fit resume", "True, False, or a checkpoint folder or file", resume, error=TypeError)
        if resume is True and folder is None and run_id is None:
            fail("fit resume=True", "a place to find checkpoints", None,
                 "Give run_id='...' (the killed run's) or checkpoint_dir='...', or resume='path/to/checkpoints'.")
        return cls(nan_guard, every, None if folder is None else Path(folder), keep, resume or False)

    def in_run(self, run, resumed: bool, steps_per_epoch: int) -> "CheckpointSettings":
        """The settings once the run folder exists: a run's checkpoints live in its own folder; a
        rollback guard without a folder gets a temporary one (checkpoints every epoch)."""
        folder, every, temporary = self.folder, self.every, None
        if folder is None and (every is not None or resumed) and run is not None:
            folder = Path(run.checkpoint_dir)
        if self.nan_guard == "rollback" and folder is None:  # rollback needs somewhere to go back to
            temporary = tempfile.TemporaryDirectory(prefix="deepscope-rollback-")
            folder, every = Path(temporary.name), every or steps_per_epoch
        return replace(self, folder=folder, every=every, _temporary=temporary)

    @property
    def writes(self) -> bool:
        """Whether this fit writes training checkpoints."""
        return self.every is not None or (bool(self.resume) and self.folder is not None)

    def cleanup(self) -> None:
        """Remove the temporary rollback folder, if any."""
        if self._temporary is not None:
            self._temporary.cleanup()


class Checkpointer:
    """Writes training checkpoints every ``every`` steps (and at the end) during one ``fit``.

    Args:
        dnn: the model.
        folder: where the ``ckpt-<step>.safetensors`` files go.
        every: steps between checkpoints (None: only at the end of training).
        keep: checkpoints kept (older ones are removed once the new one is on disk).
        record: the fit's fixed facts (``FitRecord``), stored in every checkpoint.
        guard: the ``NaNGuard`` (its device flag is read before writing), or None.
    """

    def __init__(self, dnn, folder, every: int | None, keep: int, record: FitRecord, guard=None):
        self.dnn = dnn
        self.folder = Path(folder)
        self.every = every
        self.keep = keep
        self.record = record
        self.guard = guard
        self.last_step = None
        for stale in self.folder.glob(f".{PREFIX}*.tmp"):  # left by a write that was killed
            stale.unlink(missing_ok=True)

    def due(self, step: int) -> bool:
        """Whether to write one after this step (every ``every`` steps)."""
        return bool(self.every) and step % self.every == 0

    def due_after_epoch(self, state) -> bool:
        """Whether to write one at an epoch's end (never: ``every`` counts steps)."""
        return False

    def finish(self, state) -> bool:
        """At the end of training: write the last state unless the last step's checkpoint holds it."""
        if self.last_step == state.step:
            return False
        self.save(state, None, state.steps_per_epoch, None, epoch_finished=True)
        return True

    def save(self, state, order, batches_done: int, loss_sum, epoch_finished: bool = False) -> Path:
        if self.guard is not None:
            self.guard.check_now(state.step)  # never write weights that saw a NaN
        loop = {**self.record.to_json(), "epoch": state.epoch, "step": state.step, "batches_done": batches_done,
                "epoch_finished": epoch_finished, "history": list(state.history)}
        self.last_step = state.step
        if state.run is not None:  # the metrics so far reach the disk with the checkpoint
            state.run.flush()
        return save_checkpoint(self.dnn, self.folder, loop, order, loss_sum, self.keep)


def restore_training(dnn, ckpt: TrainingCheckpoint, state, record: FitRecord,
                     n_epoch: int) -> tuple[int, EpochPosition | None, FitRecord]:
    """Load a training checkpoint into ``dnn`` and the training ``state`` (``fit(resume=...)``, rollbacks).

    Returns:
        ``(epochs_left, position, record)``: epochs still to run, the position inside the epoch the
        checkpoint was written in (None when it was written at an epoch's end), and the fit's record
        with the killed fit's start epoch, data seed and earlier history.
    """
    loop = ckpt.loop
    where = f"fit resume (checkpoint {ckpt.path!r})"
    if loop.get("batch_size") != record.batch_size or loop.get("n_samples") != record.n_samples:
        fail(where, f"the killed run's batch_size={loop.get('batch_size')} and "
                    f"{loop.get('n_samples')} training samples",
             f"batch_size={record.batch_size} with {record.n_samples} samples",
             "Resume with the same data and batch_size, or train afresh (resume=False).")
    if loop.get("n_epoch") != n_epoch:
        warnings.warn(f"{where}: the killed run asked for n_epoch={loop.get('n_epoch')}, this fit for "
                      f"{n_epoch}; a learning-rate schedule will differ from an uninterrupted run.",
                      RuntimeWarning, stacklevel=3)
    restore(dnn, ckpt)
    record = replace(record, fit_start_epoch=int(loop["fit_start_epoch"]), data_seed=int(loop["data_seed"]),
                     prior_history=list(loop["prior_history"]))
    state.epoch, state.step = int(loop["epoch"]), int(loop["step"])
    state.history = list(loop.get("history", []))
    state.stop_training = False
    done = state.epoch - loop["fit_start_epoch"] - (0 if loop["epoch_finished"] else 1)
    epochs_left = max(0, n_epoch - done)
    if loop["epoch_finished"]:
        return epochs_left, None, record
    order = ckpt.tensors.get("data/order")
    loss_sum = ckpt.tensors.get("loop/loss_sum")
    position = EpochPosition(None if order is None else order.to(dnn.device), int(loop["batches_done"]),
                             None if loss_sum is None else loss_sum.to(dnn.device))
    return epochs_left, position, record
