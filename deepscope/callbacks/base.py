"""The callback API: TFlearn's events, fastai-style before/after hooks around the training loop."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class TrainingState:
    """What callbacks see. Device tensors are read (synchronised) only when asked for.

    Attributes:
        model: the ``DNN`` being trained.
        n_epoch: epochs requested by this ``fit``.
        steps_per_epoch: optimizer steps in one epoch.
        epoch: current epoch (1-based, counted over all fits of the model).
        step: optimizer steps taken so far (over all fits).
        batch_index: index of the batch within the epoch (0-based).
        batch_size: samples per batch.
        n_samples: training samples.
        batch_loss: the last batch's loss as a device tensor (no synchronisation).
        grad_norm: the last step's global gradient norm before clipping (device tensor; None
            when clipping is off).
        epoch_logs: after each epoch: ``loss``, the metric, ``val_loss``, ``val_<metric>``.
        history: one ``epoch_logs`` dict per finished epoch of this fit.
        run: the run folder (``deepscope.runs.Run``) or None.
        stop_training: set True to stop after the current batch.
    """

    model: Any
    n_epoch: int
    steps_per_epoch: int
    batch_size: int
    n_samples: int
    epoch: int = 0
    step: int = 0
    batch_index: int = 0
    batch_loss: torch.Tensor | None = None
    grad_norm: torch.Tensor | None = None
    epoch_logs: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    run: Any = None
    stop_training: bool = False

    @property
    def loss_value(self) -> float | None:
        """The last batch's loss as a float (TFlearn's name; synchronises the device)."""
        return None if self.batch_loss is None else float(self.batch_loss)

    @property
    def val_loss(self) -> float | None:
        return self.epoch_logs.get("val_loss")

    @property
    def global_loss(self) -> float | None:
        return self.epoch_logs.get("loss")


class Callback:
    """Base class: override the events you need (all default to doing nothing).

    Raise ``StopIteration`` or set ``state.stop_training = True`` to stop training.
    """

    def on_train_begin(self, state: TrainingState) -> None: ...

    def on_epoch_begin(self, state: TrainingState) -> None: ...

    def on_batch_begin(self, state: TrainingState) -> None: ...

    def on_batch_end(self, state: TrainingState, snapshot: bool = False) -> None: ...

    def on_epoch_end(self, state: TrainingState) -> None: ...

    def on_train_end(self, state: TrainingState) -> None: ...

    def on_checkpoint(self, state: TrainingState) -> None:
        """A training checkpoint was just written (``fit(checkpoint_every=...)``): what a resumed fit
        must find on disk should be written now."""


EVENTS = ("on_train_begin", "on_epoch_begin", "on_batch_begin", "on_batch_end", "on_epoch_end", "on_train_end",
          "on_checkpoint")


class CallbackList:
    """Calls each event on the callbacks that override it (per-batch events cost nothing otherwise)."""

    def __init__(self, callbacks):
        self.callbacks = list(callbacks)
        self._by_event = {
            event: [getattr(cb, event) for cb in self.callbacks if _overrides(cb, event)] for event in EVENTS
        }
        self.has_batch_events = bool(self._by_event["on_batch_begin"] or self._by_event["on_batch_end"])

    def fire(self, event: str, state: TrainingState, **kwargs) -> None:
        for method in self._by_event[event]:
            try:
                method(state, **kwargs)
            except StopIteration:
                state.stop_training = True


def _overrides(callback: Any, event: str) -> bool:
    method = getattr(type(callback), event, None)
    return method is not None and method is not getattr(Callback, event)
