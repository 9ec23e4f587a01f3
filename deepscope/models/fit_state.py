"""The typed state of one ``DNN.fit``: its settings, the facts every checkpoint stores, a position
inside an epoch, and the context a study or ``deepscope resume`` sets for the fits it runs.

Reading order: ``FitSettings`` (what the caller asked for, checked) -> ``FitRecord`` (fixed facts of
this fit, written into every training checkpoint) -> ``EpochPosition`` (where a resumed epoch
continues) -> ``TrainingCheckpoint`` (one checkpoint file, read and verified).
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from .._checks import check_int

VALIDATION_BATCH_SIZE = 256  # the smallest default validation batch (fit uses max(batch_size, this))


@dataclass(frozen=True)
class FitSettings:
    """What one ``fit`` was asked to do, checked.

    Attributes:
        n_epoch: epochs to run (decided by ``max_steps`` when that is given).
        batch_size: samples per step, at most the number of samples.
        steps_per_epoch: optimizer steps in one epoch.
        shuffle: reshuffle the samples every epoch.
        show_metric: compute the training metric every epoch.
        snapshot_epoch: validate (and checkpoint) at every epoch's end.
        snapshot_step: validate (and checkpoint) every this many steps (None: never).
        drop_last: every epoch ends at its last full batch.
        max_steps: the fit's length in steps (None: ``n_epoch`` epochs).
        validation_batch_size: samples per validation batch.
        requested_batch_size: ``batch_size`` as given (recorded in the run's config).
    """

    n_epoch: int
    batch_size: int
    steps_per_epoch: int
    shuffle: bool = True
    show_metric: bool = False
    snapshot_epoch: bool = True
    snapshot_step: int | None = None
    drop_last: bool = False
    max_steps: int | None = None
    validation_batch_size: int = VALIDATION_BATCH_SIZE
    requested_batch_size: int = 0

    @property
    def total_steps(self) -> int:
        """Optimizer steps of the whole fit (what a learning-rate schedule spans)."""
        return self.max_steps or self.steps_per_epoch * self.n_epoch

    @classmethod
    def check(cls, n_samples: int, n_epoch, batch_size, shuffle, show_metric=False, snapshot_epoch=True,
              snapshot_step=None, drop_last=False, max_steps=None, validation_batch_size=None) -> "FitSettings":
        """Check ``fit``'s loop arguments (errors name the argument) for ``n_samples`` samples."""
        n_epoch = check_int(n_epoch, "fit n_epoch", minimum=1)
        requested = check_int(batch_size, "fit batch_size", minimum=1)
        if max_steps is not None:
            max_steps = check_int(max_steps, "fit max_steps", minimum=1)
        if snapshot_step is not None:
            snapshot_step = check_int(snapshot_step, "fit snapshot_step", minimum=1)
        validation_batch_size = check_int(validation_batch_size or max(requested, VALIDATION_BATCH_SIZE),
                                          "fit validation_batch_size")
        batch = min(requested, n_samples)
        epoch_steps = n_samples // batch if drop_last else math.ceil(n_samples / batch)
        if max_steps is not None:  # the fit's length in steps (the last epoch may end early)
            n_epoch = math.ceil(max_steps / epoch_steps)
        return cls(n_epoch, batch, epoch_steps, bool(shuffle), bool(show_metric), bool(snapshot_epoch), snapshot_step,
                   bool(drop_last), max_steps, validation_batch_size, requested)


@dataclass
class FitRecord:
    """Fixed facts of one fit, stored in every training checkpoint so a resumed fit continues it.

    Attributes:
        fit_start_epoch: the model's epoch count when this fit started.
        n_epoch: epochs this fit asked for.
        batch_size: samples per step as given to ``fit``.
        n_samples: training samples.
        data_seed: seeds every epoch's sample order (``data_seed + epoch``).
        prior_history: the epoch logs of earlier fits of the model.
    """

    fit_start_epoch: int
    n_epoch: int
    batch_size: int
    n_samples: int
    data_seed: int
    prior_history: list = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class EpochPosition:
    """Where a resumed epoch continues: its sample order, the batches done, the running loss sum."""

    order: torch.Tensor | None
    batches_done: int
    loss_sum: torch.Tensor | None


@dataclass
class TrainingCheckpoint:
    """One training checkpoint file, read and verified (see ``models/checkpoint.py``).

    Attributes:
        path: the file.
        tensors: every stored tensor (``model/...``, ``optim/...``, ``rng/...``, ``data/order``, ...).
        loop: the training position (``epoch``, ``step``, ``batches_done``, ``epoch_finished``,
            ``history``) and the fit's ``FitRecord`` fields.
        optimizer, scheduler, rng, metric: their JSON states.
    """

    path: str
    tensors: dict
    loop: dict
    optimizer: Any = None
    scheduler: Any = None
    rng: Any = None
    metric: dict = field(default_factory=dict)

    @property
    def step(self) -> int:
        return int(self.loop["step"])

    @property
    def epochs_done(self) -> int:
        """The last epoch this checkpoint had finished (its run's metrics rows up to there stand)."""
        return int(self.loop["epoch"]) - (0 if self.loop["epoch_finished"] else 1)


# -- the context a study or `deepscope resume` sets for the fits it runs ----------------------------
_RESUME_NAMED_RUNS: ContextVar[bool] = ContextVar("deepscope_resume_named_runs", default=False)


@contextmanager
def resume_named_runs(enabled: bool = True):
    """Inside this block every ``fit(run_id=...)`` (or ``checkpoint_dir=...``) behaves as if given
    ``resume=True``: it continues the newest run of that name from its last checkpoint.

    ``deepscope resume script.py`` runs the script inside this block; a study re-runs an
    interrupted trial inside it. Only this block is affected (a context variable, not the environment).
    """
    token = _RESUME_NAMED_RUNS.set(bool(enabled))
    try:
        yield
    finally:
        _RESUME_NAMED_RUNS.reset(token)


def resuming_named_runs() -> bool:
    """Whether the caller is inside :func:`resume_named_runs`."""
    return _RESUME_NAMED_RUNS.get()


_FIT_CALLBACKS: ContextVar[tuple] = ContextVar("deepscope_fit_callbacks", default=())


@contextmanager
def fit_callbacks(callbacks):
    """Inside this block every ``DNN.fit`` also runs ``callbacks`` (after its own ``callbacks=``): how a
    study hands a pruning callback to the fits of a trial whose code it does not write.

    Args:
        callbacks: a list of ``deepscope.callbacks.Callback``.
    """
    token = _FIT_CALLBACKS.set(_FIT_CALLBACKS.get() + tuple(callbacks))
    try:
        yield
    finally:
        _FIT_CALLBACKS.reset(token)


def context_fit_callbacks() -> tuple:
    """The callbacks of the enclosing :func:`fit_callbacks` blocks."""
    return _FIT_CALLBACKS.get()


_TRIAL: ContextVar = ContextVar("deepscope_trial", default=None)
_PROGRESS: ContextVar = ContextVar("deepscope_fit_progress", default=True)


@contextmanager
def study_trial(params: dict, seed: int, progress: bool = True):
    """Inside this block every ``DNN.fit`` records the study trial it belongs to (its swept parameters and
    seed) in its run folder's ``config.json`` and TensorBoard's HParams: how a study's trials are told apart.

    Args:
        params: the trial's point.
        seed: the trial's seed.
        progress: whether its fits show their progress (a ``Study(verbose=False)`` says no).
    """
    token, shown = _TRIAL.set({"params": dict(params), "seed": seed}), _PROGRESS.set(progress)
    try:
        yield
    finally:
        _PROGRESS.reset(shown)
        _TRIAL.reset(token)


def current_trial() -> dict | None:
    """``{'params', 'seed'}`` of the enclosing :func:`study_trial` block, or None."""
    return _TRIAL.get()


def fit_shows_progress() -> bool:
    """Whether a fit prints its progress and diagnosis (False inside a ``Study(verbose=False)``'s trial)."""
    return _PROGRESS.get()
