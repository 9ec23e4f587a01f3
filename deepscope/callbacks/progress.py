"""Live training progress: redraws in a terminal or notebook (rich), plain lines otherwise."""
from __future__ import annotations

import sys
import time

from .base import Callback, TrainingState


class ProgressCallback(Callback):
    """Shows step, loss, metric, validation, speed and ETA.

    On a terminal or in a notebook a rich progress bar redraws in place; when output is not a
    TTY (logs, CI), a plain TFlearn-style line is printed at most every ``interval`` seconds and
    at the end. The loss is read from the device only at those moments.

    Args:
        show_metric: include the training metric.
        metric: the model's metric object (for its name).
        interval: seconds between plain lines.
        stream: where to print (default ``sys.stdout``).
    """

    def __init__(self, show_metric=False, metric=None, interval=2.0, stream=None):
        self.show_metric = show_metric
        self.metric_name = getattr(metric, "name", None)
        self.interval = interval
        self.stream = stream or sys.stdout
        self.live = None

    def on_train_begin(self, state: TrainingState) -> None:
        self.start = self.last = time.perf_counter()
        self.first_step = state.step
        self.printed_step = None
        # steps this fit still runs (a resumed fit has finished some epochs already)
        self.total = max(1, (state.n_epoch - len(state.history)) * state.steps_per_epoch)
        if _interactive(self.stream):
            try:
                from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
                self.live = Progress(TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn(),
                                     TextColumn("{task.fields[info]}"), transient=False)
                self.task = self.live.add_task("training", total=self.total, info="")
                self.live.start()
            except Exception:  # no rich or no usable console: fall back to plain lines
                self.live = None

    def on_epoch_end(self, state: TrainingState) -> None:
        now = time.perf_counter()
        done = state.step - self.first_step
        if self.live is not None:
            if now - self.last >= 0.1 or done == self.total:
                self.live.update(self.task, completed=done, info=self._info(state, now))
                self.last = now
        elif now - self.last >= self.interval:
            self._print(state, now)
            self.last = now
            self.printed_step = state.step

    def on_train_end(self, state: TrainingState) -> None:
        now = time.perf_counter()
        if self.live is not None:
            self.live.update(self.task, completed=state.step - self.first_step, info=self._info(state, now))
            self.live.stop()
        elif self.printed_step != state.step:  # the last line, unless just printed
            self._print(state, now, final=True)

    def _info(self, state: TrainingState, now: float) -> str:
        logs = state.epoch_logs
        parts = [f"step {state.step}", f"epoch {state.epoch}"]
        if "loss" in logs:
            parts.append(f"loss {logs['loss']:.5f}")
        if self.show_metric and self.metric_name in logs:
            parts.append(f"{self.metric_name} {logs[self.metric_name]:.4f}")
        for key, value in logs.items():
            if key.startswith("val_"):
                parts.append(f"{key} {value:.4f}")
        done = state.step - self.first_step
        elapsed = now - self.start
        if done and elapsed > 0:
            parts.append(f"{done * state.batch_size / elapsed:,.0f} samples/s")
        return " | ".join(parts)

    def _print(self, state: TrainingState, now: float, final: bool = False) -> None:
        done = state.step - self.first_step
        elapsed = now - self.start
        line = f"Training Step: {state.step} | {self._info(state, now)} | time: {elapsed:.3f}s"
        if not final and 0 < done < self.total:
            line += f" | ETA: {elapsed / done * (self.total - done):.1f}s"
        print(line, file=self.stream, flush=True)


def _interactive(stream) -> bool:
    if "ipykernel" in sys.modules:
        return True
    return bool(getattr(stream, "isatty", lambda: False)())
