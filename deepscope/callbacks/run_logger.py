"""Writes each fit's run folder: config.json, metrics.csv and TensorBoard event files.

TensorBoard events follow Keras' layout: training values in ``<run>/train/`` and validation values in
``<run>/validation/`` under the same tags (``Loss``, ``Accuracy``), so TensorBoard draws the two on one
chart. With ``tensorboard_verbose >= 1`` the logger also drives a ``TensorBoardDetails`` (gradient,
weight and activation histograms) that shares the training event file. At the end of training it
writes the fit's hyperparameters and final metrics (``final/Loss``, ``final/Accuracy/Validation``, ...)
to ``<run>/hparams/`` for TensorBoard's HParams dashboard (see ``run_folder``).
"""
from __future__ import annotations

import time
import warnings

from .run_folder import HPARAMS_EVENTS, TRAIN_EVENTS, VALIDATION_EVENTS, Run
from .tb_writer import EventWriter
from .base import Callback, TrainingState
from .tensorboard import TensorBoardDetails, write_hparams

MODEL_FILE = "model.safetensors"
VALIDATION_DIR = VALIDATION_EVENTS  # (former name)


class RunLogger(Callback):
    """Creates the run folder and records every epoch's logs (CSV and TensorBoard scalars).

    Rows are buffered and written at most every ``flush_interval`` seconds and at the end, so
    short epochs cost no file I/O each. At verbose 0 no histogram code runs at all.

    Args:
        dnn: the model (``tensorboard_dir``, ``tensorboard_verbose``).
        run_id: the run's name (default: a timestamp and the model's output layer).
        config: JSON-able run description.
        flush_interval: seconds between writes.
        continue_epoch: a resumed run: continue the run's folder from this epoch.
    """

    def __init__(self, dnn, run_id, config, flush_interval=5.0, continue_epoch=None):
        self.dnn = dnn
        self.run = Run(dnn.tensorboard_dir, run_id, config, continue_epoch)
        self.run.flush_hooks.append(self.write_events)
        self.flush_interval = flush_interval
        self.pending: list[tuple[int, dict]] = []
        self.writer = None
        self.validation_writer = None
        self.details = None
        if getattr(dnn, "tensorboard_verbose", 0) >= 1:
            self.details = TensorBoardDetails(self.get_writer, dnn.tensorboard_verbose)
            self.details.attach(dnn)  # (before the trainer is built: see TensorBoardDetails)

    def on_train_begin(self, state: TrainingState) -> None:
        self.last_flush = time.perf_counter()
        if self.details is not None:
            self.details.on_train_begin(state)

    def on_epoch_end(self, state: TrainingState) -> None:
        self.run.log_epoch(state.epoch, state.step, state.epoch_logs)
        self.pending.append((state.step, state.epoch_logs))
        now = time.perf_counter()
        if now - self.last_flush >= self.flush_interval:
            self.flush()
            self.last_flush = now
        if self.details is not None:
            self.details.on_epoch_end(state)

    def on_train_end(self, state: TrainingState) -> None:
        self.flush()
        if self.details is not None:
            self.details.on_train_end(state)
        if state.history:
            final = {f"final/{_tag(k)}": v for k, v in state.history[-1].items() if _is_number(v)}
            hparams_writer = EventWriter(self.run.path / HPARAMS_EVENTS)
            write_hparams(hparams_writer, self.run.config, final, state.step, trial_id=self.run.run_id)
            hparams_writer.close()
        for writer in (self.writer, self.validation_writer):
            if writer is not None:
                writer.close()
        self.writer = self.validation_writer = None
        self.save_model()

    def save_model(self) -> None:
        """The trained model as ``model.safetensors`` in the run folder (``deepscope.load`` reads it).

        Written atomically (a kill never leaves half a file) but not fsynced: the fsync cost 10-40 ms
        per fit, a large share of a small fit and of every study trial. ``model.save()`` and training
        checkpoints are fsynced."""
        try:
            self.dnn.save(self.run.path / MODEL_FILE, durable=False)
        except ValueError as error:  # an argument that JSON cannot hold (a Python function, say)
            warnings.warn(f"the run's model file was not written: {error}", RuntimeWarning, stacklevel=2)

    def flush(self) -> None:
        self.run.flush()  # (calls write_events: a checkpoint's run.flush() writes the events too)

    def write_events(self) -> None:
        """The buffered epochs as TensorBoard scalars, flushed to the file."""
        if not self.pending:
            return
        writer = self.get_writer()
        for step, logs in self.pending:
            writer.add_scalars(step, {_tag(key): value for key, value in logs.items() if not key.startswith("val_")})
            validation = {_tag(key[4:]): value for key, value in logs.items() if key.startswith("val_")}
            if validation:  # a sibling run with the training tags: TensorBoard overlays the two curves
                if self.validation_writer is None:
                    self.validation_writer = EventWriter(self.run.path / VALIDATION_EVENTS)
                self.validation_writer.add_scalars(step, validation)
        self.pending.clear()
        writer.flush()
        if self.validation_writer is not None:
            self.validation_writer.flush()

    def get_writer(self) -> EventWriter:
        """The run's training ``EventWriter`` in ``<run>/train`` (created on first use, closed at train end)."""
        if self.writer is None:
            self.writer = EventWriter(self.run.path / TRAIN_EVENTS)
        return self.writer

    _writer = get_writer  # (former private name)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _tag(key: str) -> str:
    """TFlearn-like tags: ``Loss``, ``Accuracy``, ``Loss/Validation``, ``Accuracy/Validation``."""
    validation = key.startswith("val_")
    base = key[4:] if validation else key
    base = {"loss": "Loss", "acc": "Accuracy"}.get(base, base)
    return f"{base}/Validation" if validation else base
