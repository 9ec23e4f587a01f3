"""Live training progress: an updating HTML display in notebooks, a redrawn bar in terminals
(rich), plain lines in logs.

- Jupyter / JupyterLab / VS Code notebooks: one HTML display (a progress bar and the numbers)
  updated in place through its ``display_id`` at most every half second: no widget library needed,
  and the saved notebook keeps the final state.
- Terminals: rich's progress bar, redrawn during epochs (at most every 0.1 s), not only at their ends.
- Logs, CI, pipes: a TFlearn-style line at most every ``interval`` seconds and at the end.

The loss is read from the device only when something is shown.
"""
from __future__ import annotations

import html
import sys
import time

from .base import Callback, TrainingState

NOTEBOOK_INTERVAL = 0.5  # seconds between notebook updates
TERMINAL_INTERVAL = 0.1


BAR_WIDTH = 12  # the bar's characters in a terminal
FIXED_COLUMNS = len("training ") + BAR_WIDTH + len(" 0:00:00 ") + 1  # what the line holds besides the metrics


class ProgressCallback(Callback):
    """Shows step, loss, metric, validation, speed and ETA.

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
        self.live = None  # rich progress (terminal)
        self.display = None  # IPython display handle (notebook)

    def on_train_begin(self, state: TrainingState) -> None:
        self.start = self.last = time.perf_counter()
        self.first_step = state.step
        self.printed_step = None
        # steps this fit still runs (a resumed fit has finished some epochs already)
        self.total = max(1, (state.n_epoch - len(state.history)) * state.steps_per_epoch)
        if in_notebook():
            try:
                from IPython.display import display
                self.display = display(self._html(state, self.start), display_id=True)
            except Exception:  # no IPython display: fall back to plain lines
                self.display = None
        elif _interactive(self.stream):
            try:
                from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
                self.live = Progress(TextColumn("{task.description}"), BarColumn(bar_width=BAR_WIDTH),
                                     TimeRemainingColumn(), TextColumn("{task.fields[info]}"), transient=False)
                self.task = self.live.add_task("training", total=self.total, info="")
                self.live.start()
            except Exception:  # no rich or no usable console: fall back to plain lines
                self.live = None

    def on_batch_end(self, state: TrainingState, snapshot: bool = False) -> None:
        if self.display is None and self.live is None:
            return
        now = time.perf_counter()
        if now - self.last >= (NOTEBOOK_INTERVAL if self.display is not None else TERMINAL_INTERVAL):
            self._show(state, now)

    def on_epoch_end(self, state: TrainingState) -> None:
        now = time.perf_counter()
        if self.display is not None or self.live is not None:
            if now - self.last >= TERMINAL_INTERVAL or state.step - self.first_step == self.total:
                self._show(state, now)
        elif now - self.last >= self.interval:
            self._print(state, now)
            self.last = now
            self.printed_step = state.step

    def on_train_end(self, state: TrainingState) -> None:
        now = time.perf_counter()
        if self.display is not None:
            self.display.update(self._html(state, now, final=True))
        elif self.live is not None:
            self.live.update(self.task, completed=state.step - self.first_step, info=self._info(state, now))
            self.live.stop()
        elif self.printed_step != state.step:  # the last line, unless just printed
            self._print(state, now, final=True)

    def _show(self, state: TrainingState, now: float) -> None:
        if self.display is not None:
            self.display.update(self._html(state, now))
        else:
            self.live.update(self.task, completed=state.step - self.first_step, info=self._info(state, now))
        self.last = now

    def _parts(self, state: TrainingState, now: float, final: bool = False) -> list[str]:
        logs = state.epoch_logs
        parts = [f"step {state.step}", f"epoch {state.epoch}"]
        if "loss" in logs:
            parts.append(f"loss {logs['loss']:.5f}")
        elif state.batch_loss is not None and not final:
            parts.append(f"batch loss {state.loss_value:.5f}")
        if self.show_metric and self.metric_name in logs:
            parts.append(f"{self.metric_name} {logs[self.metric_name]:.4f}")
        for key, value in logs.items():
            if key.startswith("val_"):
                parts.append(f"{key} {value:.4f}")
        done = state.step - self.first_step
        elapsed = now - self.start
        if done and elapsed > 0:
            parts.append(f"{done * state.batch_size / elapsed:,.0f} samples/s")
        return parts

    def _info(self, state: TrainingState, now: float) -> str:
        """The metrics beside the bar, fitted to the terminal: the least important fields (speed, then the
        validation metric, ...) are left out rather than the line cut or the bar dropped."""
        parts = self._parts(state, now)
        width = getattr(getattr(self.live, "console", None), "width", 100) or 100
        budget = max(20, min(width, 100) - FIXED_COLUMNS)  # (within 100 columns even on wide terminals)
        for dropped in ("samples/s", "step ", "epoch "):  # the bar already shows where training is
            if len(" | ".join(parts)) <= budget:
                break
            parts = [p for p in parts if not (p.startswith(dropped) or p.endswith(dropped))]
        while len(" | ".join(parts)) > budget and len(parts) > 1:
            parts.pop()
        return " | ".join(parts)[:budget]

    def _html(self, state: TrainingState, now: float, final: bool = False) -> "ProgressView":
        done = min(state.step - self.first_step, self.total)
        elapsed = now - self.start
        timing = f"{elapsed:.1f} s"
        if not final and 0 < done < self.total:
            timing += f", about {elapsed / done * (self.total - done):.1f} s left"
        title = "Training finished" if final else "Training"
        parts = self._parts(state, now, final)
        text = " &middot; ".join(html.escape(p) for p in parts)
        return ProgressView(
            f'<div class="deepscope-progress" style="font-family: monospace"><b>{title}</b> '
            f'<progress value="{done}" max="{self.total}" style="width: 14em; vertical-align: middle"></progress> '
            f'{done}/{self.total} steps ({timing})<br>{text}</div>',
            f"{title}: {done}/{self.total} steps ({timing}) | " + " | ".join(parts))

    def _print(self, state: TrainingState, now: float, final: bool = False) -> None:
        done = state.step - self.first_step
        elapsed = now - self.start
        rest = " | ".join(self._parts(state, now)[1:])  # (the step once: TFlearn's "Training Step" says it)
        line = f"Training Step: {state.step} | {rest} | time: {elapsed:.3f}s"
        if not final and 0 < done < self.total:
            line += f" | ETA: {elapsed / done * (self.total - done):.1f}s"
        print(line, file=self.stream, flush=True)


class ProgressView:
    """What a notebook shows: HTML, with a plain-text line for frontends without HTML."""

    def __init__(self, html_text: str, plain: str):
        self.html_text, self.plain = html_text, plain

    def _repr_html_(self) -> str:
        return self.html_text

    def __repr__(self) -> str:
        return self.plain


def in_notebook() -> bool:
    """Inside a Jupyter kernel (notebook, JupyterLab, VS Code), where HTML displays render."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except Exception:
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def _interactive(stream) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())
