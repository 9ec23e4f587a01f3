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
        num_steps: steps over the range (batches are drawn at random from the data).
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
    generator = torch.Generator().manual_seed(seed if seed is not None else int(torch.randint(0, 2 ** 31 - 1, (1,))))
    factor = (end_lr / start_lr) ** (1.0 / (num_steps - 1))
    lrs, losses, smoothed = [], [], []
    average, best, stopped = 0.0, math.inf, False
    n = y.shape[0]
    settings = FitSettings.check(n, 1, batch_size, True)
    step_runner = trainer_type(trainer, "lr_find trainer")(dnn, xs, y, settings)
    try:
        dnn.net.train()
        for step in range(num_steps):
            lr = start_lr * factor ** step
            for group in dnn.optimizer.param_groups:
                group["lr"] = lr
            index = torch.randint(0, n, (min(batch_size, n),), generator=generator).to(y.device)
            loss, _ = step_runner.train_step([x.index_select(0, index) for x in xs], y.index_select(0, index))
            value = float(loss.detach())
            average = smoothing * average + (1 - smoothing) * value
            current = average / (1 - smoothing ** (step + 1)) if smoothing else value
            lrs.append(lr)
            losses.append(value)
            smoothed.append(current)
            best = min(best, current)
            if not math.isfinite(current) or current > diverge * best:
                stopped = True
                break
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
    if len(lrs) < 2:
        fail("lr_find", "a loss that stays finite for at least 2 steps", f"divergence at {lrs[0]:.3g}",
             "Lower start_lr.")
    return LRFinderResult(np.asarray(lrs), np.asarray(losses), np.asarray(smoothed), _suggest(lrs, smoothed), stopped)


def _suggest(lrs: list[float], smoothed: list[float]) -> float | None:
    """The rate where the smoothed loss falls fastest (against log lr), ignoring the diverged tail."""
    loss = np.asarray(smoothed, dtype=float)
    finite = np.isfinite(loss)
    if finite.sum() < 3:
        return None
    log_lr = np.log10(np.asarray(lrs, dtype=float))[finite]
    loss = loss[finite]
    stop = int(np.argmin(loss)) + 1  # up to the lowest loss
    if stop < 3:
        return None
    slope = np.gradient(loss[:stop], log_lr[:stop])
    return float(10 ** log_lr[int(np.argmin(slope))])
