"""Early stopping: stop when a monitored value stops improving, optionally restoring the best weights."""
from __future__ import annotations

import math

from .._checks import check_choice, check_float, check_int
from .base import Callback, TrainingState


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs.

    Args:
        monitor: a key of the epoch logs: ``'val_loss'`` (default), ``'val_acc'``, ``'loss'``, ...
        patience: epochs without improvement before stopping.
        min_delta: the smallest change that counts as an improvement.
        mode: ``'min'``, ``'max'`` or ``'auto'`` (max for accuracy-like names, min otherwise).
        restore_best_weights: put back the weights of the best epoch when stopping.
    """

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, mode="auto", restore_best_weights=True):
        self.monitor = monitor
        self.patience = check_int(patience, "EarlyStopping patience", minimum=0)
        self.min_delta = check_float(min_delta, "EarlyStopping min_delta", minimum=0.0)
        mode = check_choice(mode, "EarlyStopping mode", ["auto", "min", "max"])
        if mode == "auto":
            mode = "min" if "loss" in monitor else "max"
        self.mode = mode
        self.restore_best_weights = restore_best_weights
        self.stopped_epoch = None

    def on_train_begin(self, state: TrainingState) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None
        self.best_state = None
        self.wait = 0

    def on_epoch_end(self, state: TrainingState) -> None:
        value = state.epoch_logs.get(self.monitor)
        if value is None:
            available = ", ".join(sorted(state.epoch_logs)) or "none"
            raise ValueError(
                f"EarlyStopping monitor: expected one of the epoch logs ({available}), got {self.monitor!r}. "
                f"Validation values exist only when fit() gets validation_set=...")
        improved = value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta
        if improved:
            self.best, self.best_epoch, self.wait = value, state.epoch, 0
            if self.restore_best_weights:
                self.best_state = {k: v.detach().clone() for k, v in state.model.net.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            state.stop_training = True
            self.stopped_epoch = state.epoch

    def on_train_end(self, state: TrainingState) -> None:
        if self.stopped_epoch is not None and self.best_state is not None:
            state.model.net.load_state_dict(self.best_state)
