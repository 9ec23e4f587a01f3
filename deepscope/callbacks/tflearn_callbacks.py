"""TFlearn's ``tflearn.callbacks`` classes besides ``Callback``: ``ChainCallback`` (several as one),
``TermLogger`` (the terminal progress line: deepscope's :class:`ProgressCallback`) and ``ModelSaver``."""
from __future__ import annotations

from .._checks import Text, fail
from .base import Callback, TrainingState
from .progress import ProgressCallback

_EVENTS = ("on_train_begin", "on_epoch_begin", "on_batch_begin", "on_batch_end", "on_epoch_end", "on_train_end",
           "on_checkpoint")


class ChainCallback(Callback):
    """Several callbacks called in order, as one.

    Args:
        callbacks: a list of callbacks.
    """

    def __init__(self, callbacks=None):
        self.callbacks = []
        for callback in callbacks or []:
            self.add(callback)

    def add(self, callback) -> None:
        """Append a callback (a clear error for anything else)."""
        if not isinstance(callback, Callback):
            fail("ChainCallback callback", "a deepscope.callbacks.Callback", Text(type(callback).__name__),
                 error=TypeError)
        self.callbacks.append(callback)


def _chained(event: str):
    def call(self, state: TrainingState, *args, **kwargs):
        for callback in self.callbacks:
            getattr(callback, event)(state, *args, **kwargs)
    call.__name__ = event
    return call


for _event in _EVENTS:
    setattr(ChainCallback, _event, _chained(_event))


class TermLogger(ProgressCallback):
    """TFlearn's terminal logger: deepscope's progress line (live in notebooks and terminals)."""

    def __init__(self, show_metric=False, metric=None, interval=2.0, stream=None):
        super().__init__(show_metric=show_metric, metric=metric, interval=interval, stream=stream)


class ModelSaver(Callback):
    """Save the model at each epoch's end and/or at snapshot steps, and the best one by validation accuracy.

    Args:
        save_func: ``save_func(path)`` (a ``DNN.save``), called with ``'<snapshot_path>-<step>'``.
        snapshot_path: the file name prefix of the snapshots (None: no snapshots).
        best_snapshot_path: prefix for the best models (``'<prefix><10000 x val_acc>'``; None: none).
        best_val_accuracy: save a best model only above this validation accuracy.
        snapshot_step: save at the steps where the fit validates (its ``snapshot_step``).
        snapshot_epoch: save at each epoch's end.
    """

    def __init__(self, save_func, snapshot_path, best_snapshot_path=None, best_val_accuracy=0.0, snapshot_step=None,
                 snapshot_epoch=True):
        if not callable(save_func):
            fail("ModelSaver save_func", "a function of a path, such as model.save", save_func, error=TypeError)
        self.save_func, self.snapshot_path, self.best_snapshot_path = save_func, snapshot_path, best_snapshot_path
        self.best_val_accuracy = float(best_val_accuracy or 0.0)
        self.snapshot_step, self.snapshot_epoch = snapshot_step, bool(snapshot_epoch)

    def save(self, step: int) -> None:
        if self.snapshot_path:
            self.save_func(f"{self.snapshot_path}-{step}")

    def on_epoch_end(self, state: TrainingState) -> None:
        if self.snapshot_epoch:
            self.save(state.step)
        accuracy = next((v for k, v in state.epoch_logs.items() if k.startswith("val_") and k != "val_loss"), None)
        if self.best_snapshot_path and accuracy is not None and accuracy > self.best_val_accuracy:
            self.best_val_accuracy = float(accuracy)
            self.save_func(f"{self.best_snapshot_path}{int(10000 * round(accuracy, 4))}")

    def on_batch_end(self, state: TrainingState, snapshot: bool = False) -> None:
        if snapshot and self.snapshot_step is not None:
            self.save(state.step)
