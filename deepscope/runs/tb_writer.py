"""A synchronous TensorBoard event-file writer built on tensorboard's own protos and record writer.

``SummaryWriter.add_scalar`` costs about 70 us per call here (a thread hand-off per event);
writing buffered rows synchronously with one reused Event costs a few microseconds each, so
logging every epoch of a 2000-epoch run stays cheap. The files are ordinary TensorBoard event
files (``events.out.tfevents.*``).
"""
from __future__ import annotations

import socket
import time
from pathlib import Path

from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.summary.writer.record_writer import RecordWriter


class EventWriter:
    """Appends events to one TensorBoard event file in ``logdir``.

    Args:
        logdir: the run folder.
    """

    def __init__(self, logdir: str | Path):
        logdir = Path(logdir)
        logdir.mkdir(parents=True, exist_ok=True)
        name = f"events.out.tfevents.{time.time():.6f}.{socket.gethostname()}.deepscope"
        self.path = logdir / name
        self._file = open(self.path, "ab")
        self._records = RecordWriter(self._file)
        self._write(Event(wall_time=time.time(), file_version="brain.Event:2"))

    def _write(self, event: Event) -> None:
        self._records.write(event.SerializeToString())

    def add_scalars(self, step: int, values: dict[str, float], wall_time: float | None = None) -> None:
        """One event holding several scalars (``{tag: value}``) at ``step``."""
        summary = Summary(value=[Summary.Value(tag=tag, simple_value=float(v)) for tag, v in values.items()])
        self.add_summary(summary, step, wall_time)

    def add_summary(self, summary: Summary, step: int, wall_time: float | None = None) -> None:
        """Write a ``Summary`` proto (scalars, histograms, images, hparams) at ``step``."""
        self._write(Event(wall_time=wall_time or time.time(), step=int(step), summary=summary))

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            self._file.close()
