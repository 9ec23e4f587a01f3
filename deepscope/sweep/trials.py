"""A study's trials as typed records: what to train (:class:`Trial`), a driver's claim on it in the journal
(:class:`Claim`) and what came back (:class:`Outcome`, with its :class:`TrialState`). They travel to worker
processes and Ray tasks as they are (plain dataclasses)."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .journal import trial_id


class TrialState(str, Enum):
    """A trial's state in the journal (the values are the journal's event names)."""

    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"
    PRUNED = "pruned"


@dataclass(frozen=True)
class Trial:
    """One (point, seed) of a study; ``label`` says where it stands in the study ("3/12")."""

    params: dict
    seed: int
    label: str = ""

    @property
    def id(self) -> str:
        """The trial's id in the journal (from its parameters and seed)."""
        return trial_id(self.params, self.seed)


@dataclass(frozen=True)
class Claim:
    """A trial this driver has journaled as started: its run folder (``run_id`` under the runs root),
    whether it resumes an interrupted attempt from its checkpoints, and the attempt number."""

    trial: Trial
    run_id: str
    resume: bool
    attempt: int


@dataclass
class Outcome:
    """What a trial gave: its final ``metrics``, or an ``error`` (with its ``traceback``).

    Attributes:
        seconds: the trial's training time.
        pruned: a pruner stopped it early (its metrics are those it reached).
        vectorized: the number of models in the stack it trained in (None: on its own).
        resumed: it continued from a checkpoint.
    """

    seconds: float
    metrics: dict | None = None
    error: str | None = None
    traceback: str = ""
    pruned: bool = False
    vectorized: int | None = None
    resumed: bool = False

    @property
    def state(self) -> TrialState:
        if self.error is not None:
            return TrialState.FAILED
        return TrialState.PRUNED if self.pruned else TrialState.FINISHED
