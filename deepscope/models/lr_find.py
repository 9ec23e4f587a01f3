"""The learning-rate range test (Smith 2017; fastai's and Lightning's ``lr_find``): train for a few
steps while the learning rate grows exponentially, watch the smoothed loss, suggest a rate.

The model is left exactly as it was: weights (and buffers such as batch-norm statistics), the
optimizer's state (or no optimizer, if it had none), the scheduler and the random generators are
restored afterwards, so the next ``fit`` is the same as without the test (tested). fastai's and
Lightning's versions have had bugs where the weights were not restored.
"""
from __future__ import annotations

import copy
import math
import random
from dataclasses import dataclass

import numpy as np
import torch

from .._checks import check_float, check_int, checks_keywords, fail
from ..callbacks.base import Callback, CallbackList
from .fit_state import FitSettings
from .trainer import trainer_type
from .._io import save_figure


@dataclass
class LRFinderResult:
    """``lrs`` and ``losses`` (raw and ``smoothed``) per step; ``suggestion``: the learning rate at
    the steepest descent of the smoothed loss; ``stopped_early``: the loss diverged before the end."""
    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestion: float | None
    stopped_early: bool

    def plot(self, path):
        """Smoothed loss against the learning rate (log axis), the suggestion marked."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6, 3.6), layout="constrained")
        ax = fig.subplots()
        ax.plot(self.lrs, self.losses, color="0.75", label="loss per step")
        ax.plot(self.lrs, self.smoothed, label="smoothed loss")
        if self.suggestion is not None:
            ax.axvline(self.suggestion, color="red", linestyle="--", label=f"suggested {self.suggestion:.2g}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss")
        ax.set_title("learning-rate range test")
        ax.legend(fontsize=8)
        return save_figure(fig, path, where="LRFinderResult.plot path")


@checks_keywords(where="lr_find")
def lr_find(dnn, X, Y, start_lr: float = 1e-7, end_lr: float = 10.0, num_steps: int = 100, batch_size=None,
            smoothing: float = 0.98, diverge: float = 4.0, seed: int | None = None, trainer=None) -> LRFinderResult:
    """Run the range test on ``dnn`` and restore it afterwards.

    Each step is the fit's own step (``Trainer.train_step``: the same loss, gradient clipping,
    ``regression(trainable_vars=...)`` and optimizer), at the ramp's learning rate.

    Args:
        dnn: the ``DNN``.
        X, Y: training data (as for ``fit``).
        start_lr, end_lr: the learning-rate range (exponential ramp).
        num_steps: steps over the range (shuffled batches, epoch after epoch, as ``fit`` draws them).
        batch_size: samples per step (default: the model's).
        smoothing: exponential smoothing of the loss (0: none).
        diverge: stop once the smoothed loss exceeds this multiple of its best value.
        seed: seed of the batch draw (None: from torch's generator, which is restored afterwards).
        trainer: the ``Trainer`` subclass whose ``train_step`` runs each step (as ``fit(trainer=...)``).

    Returns:
        :class:`LRFinderResult`.
    """
    start_lr = check_float(start_lr, "lr_find start_lr", 0.0, min_inclusive=False)
    end_lr = check_float(end_lr, "lr_find end_lr", start_lr, min_inclusive=False)
    num_steps = check_int(num_steps, "lr_find num_steps", minimum=2)
    smoothing = check_float(smoothing, "lr_find smoothing", 0.0, 1.0, max_inclusive=False)
    diverge = check_float(diverge, "lr_find diverge", 1.0, min_inclusive=False)
    xs, y = dnn.prepare_data(X, Y, "lr_find X", "lr_find Y")
    dnn.fit_preprocessing(xs)
    batch_size = check_int(batch_size if batch_size is not None else dnn.config.batch_size, "lr_find batch_size")
    had_optimizer = dnn.optimizer is not None
    saved = {"weights": copy.deepcopy(dnn.net.state_dict()), "training": dnn.net.training,
             "optimizer": copy.deepcopy(dnn.optimizer.state_dict()) if had_optimizer else None,
             "scheduler": copy.deepcopy(dnn.scheduler.state_dict()) if dnn.scheduler is not None else None,
             "rng": (torch.get_rng_state(), np.random.get_state(), random.getstate())}
    dnn.ensure_optimizer(num_steps)
    n = y.shape[0]
    settings = FitSettings.check(n, 1, batch_size, True, snapshot_epoch=False)
    ramp = _RangeTest(dnn, start_lr, (end_lr / start_lr) ** (1.0 / (num_steps - 1)), smoothing, diverge)
    data_seed = seed if seed is not None else int(torch.randint(0, 2 ** 31 - 1, (1,)))
    runner = trainer_type(trainer, "lr_find trainer")(dnn, xs, y, settings, CallbackList([ramp]),
                                                        data_seed=data_seed, stop_at_step=num_steps)
    try:  # a short run of fit's loop: epochs of shuffled batches until num_steps steps or divergence
        runner.run(math.ceil(num_steps / settings.steps_per_epoch))
    finally:
        dnn.net.load_state_dict(saved["weights"])
        dnn.net.train(saved["training"])
        if had_optimizer:
            dnn.optimizer.load_state_dict(saved["optimizer"])
            if saved["scheduler"] is not None:
                dnn.scheduler.load_state_dict(saved["scheduler"])
        else:
            dnn.optimizer = dnn.scheduler = dnn.optimizer_spec = None  # the next fit builds a fresh one
        torch.set_rng_state(saved["rng"][0])
        np.random.set_state(saved["rng"][1])
        random.setstate(saved["rng"][2])
    lrs, smoothed = ramp.lrs, ramp.smoothed
    if len(lrs) < 2:
        fail("lr_find", "a loss that stays finite for at least 2 steps", f"divergence at {lrs[0]:.3g}",
             "Lower start_lr.")
    return LRFinderResult(np.asarray(lrs), np.asarray(ramp.losses), np.asarray(smoothed), _suggest(lrs, smoothed),
                          ramp.stopped)


class _RangeTest(Callback):
    """Sets each step's learning rate (an exponential ramp) and follows the smoothed loss; stops the run
    once it diverges."""

    def __init__(self, dnn, start_lr: float, factor: float, smoothing: float, diverge: float):
        self.dnn, self.start_lr, self.factor = dnn, start_lr, factor
        self.smoothing, self.diverge = smoothing, diverge
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.average, self.best, self.stopped = 0.0, math.inf, False

    def on_batch_begin(self, state) -> None:
        lr = self.start_lr * self.factor ** len(self.lrs)
        for group in self.dnn.optimizer.param_groups:
            group["lr"] = lr
        self.lrs.append(lr)

    def on_batch_end(self, state, snapshot: bool = False) -> None:
        value = float(state.batch_loss)
        self.average = self.smoothing * self.average + (1 - self.smoothing) * value
        current = self.average / (1 - self.smoothing ** len(self.lrs)) if self.smoothing else value
        self.losses.append(value)
        self.smoothed.append(current)
        self.best = min(self.best, current)
        if not math.isfinite(current) or current > self.diverge * self.best:
            self.stopped = state.stop_training = True


def _suggest(lrs: list[float], smoothed: list[float]) -> float | None:
    """The rate where the smoothed loss falls fastest (against log lr), ignoring the diverged tail and the
    first tenth of the steps (as fastai's ``skip_start``: the smoothing has seen too few steps there)."""
    loss = np.asarray(smoothed, dtype=float)
    finite = np.isfinite(loss)
    if finite.sum() < 3:
        return None
    log_lr = np.log10(np.asarray(lrs, dtype=float))[finite]
    loss = loss[finite]
    skip = len(loss) // 10
    stop = int(np.argmin(loss)) + 1  # up to the lowest loss
    if stop - skip < 3:
        return None
    slope = np.gradient(loss[skip:stop], log_lr[skip:stop])
    return float(10 ** log_lr[skip + int(np.argmin(slope))])
