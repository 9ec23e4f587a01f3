"""Bayesian search for :class:`~deepscope.sweep.study.Study`: optuna's TPE sampler on an optuna storage.

The points live in an optuna storage: by default a journal file beside the study's journal
(``<study>/optuna.journal``, optuna's ``JournalStorage``), or the ``storage`` given to ``Study`` (an
RDB URL such as ``sqlite:///study.db`` or ``postgresql://...``). Several drivers (terminals, machines on a
shared folder or one database) therefore search one study together: each asks optuna for the next point
under the study's claim lock, so they never propose the same point twice, and the study stops at
``n_trials`` points in all. The trials of a point (its seeds) are claimed in the study's journal as
usual, so each runs once.

A point whose driver died (its optuna trial still RUNNING, its owner gone) is given back: marked
abandoned and enqueued, so the next driver completes it with its own parameters (the seeds that had
finished are not re-run). A study journal from before the optuna storage is replayed into it once.

Pruning (``Study(pruner=optuna.pruners.MedianPruner())``): the first seed of every point reports its
per-epoch ``metric`` to optuna (through a callback every ``DNN.fit`` inside the trial receives); when
the pruner stops it, the point's remaining seeds are not run and the point is recorded as pruned.
"""
from __future__ import annotations

import json
import math

from ..callbacks.base import Callback
from .claims import OWNER, journal_lock, owner_alive
from .journal import TERMINAL, trial_id
from .trials import Trial


def _mean(states: list[dict], metric: str) -> float | None:
    values = [s.get("metrics", {}).get(metric) for s in states if s["event"] == "finished"]
    values = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    values = [v for v in values if math.isfinite(v)]
    return sum(values) / len(values) if values else None


def optuna_storage(study):
    """The optuna storage of ``study``: its ``storage`` argument, or the journal file in its folder."""
    if study.storage is not None:
        return study.storage
    from optuna.storages import JournalStorage
    try:
        from optuna.storages.journal import JournalFileBackend
    except ImportError:  # pragma: no cover - optuna < 4
        from optuna.storages import JournalFileStorage as JournalFileBackend
    return JournalStorage(JournalFileBackend(str(study.folder / "optuna.journal")))


def run_bayes(study):
    """Try ``study.n_trials`` points chosen by TPE, each with every seed (see the module doc).

    Returns:
        The ``optuna.Study`` (its ``trials`` are the points tried, by this and every other driver).
    """
    try:
        import optuna
    except ImportError as error:  # pragma: no cover - optuna is a dependency of the sweep extra
        raise ImportError("method='bayes' needs optuna: pip install optuna") from error

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {name: dist.optuna() for name, dist in study.space.items()}
    direction = "maximize" if study.mode == "max" else "minimize"
    with journal_lock(study.folder):
        storage = optuna.storages.get_storage(optuna_storage(study))  # (a URL becomes its storage object)
        opt = optuna.create_study(study_name=study.name, storage=storage, direction=direction,
                                  load_if_exists=True, pruner=study.pruner)
        if not opt.trials:
            _replay_journal(study, opt, distributions)
    study_id = storage.get_study_id_from_name(study.name)
    states = optuna.trial.TrialState
    while True:
        with journal_lock(study.folder):  # one driver at a time asks: never the same point twice
            trials = opt.get_trials(deepcopy=False)
            for t in trials:  # a point whose driver died: give it back
                if t.state == states.RUNNING and not owner_alive(t.user_attrs.get("owner")):
                    storage.set_trial_user_attr(storage.get_trial_id_from_study_id_trial_number(study_id, t.number),
                                                "abandoned", True)
                    opt.tell(t.number, state=states.FAIL)
                    opt.enqueue_trial(t.params, skip_if_exists=False)
            trials = opt.get_trials(deepcopy=False)
            counted = [t for t in trials if t.state != states.WAITING and not t.user_attrs.get("abandoned")]
            if len(counted) >= study.n_trials:
                break
            # seeded by the number of points so far: reproducible, and different for each point and driver
            opt.sampler = optuna.samplers.TPESampler(seed=study.search_seed + len(trials), constant_liar=True)
            trial = opt.ask(distributions)
            trial.set_user_attr("owner", OWNER)
        number = len(counted) + 1
        params = dict(trial.params)
        labels = [f"{number}/{study.n_trials} (seed {j + 1}/{len(study.seeds)})" for j in range(len(study.seeds))]
        if study.pruner is None:
            results = study.run_trials([Trial(params, seed, label) for seed, label in zip(study.seeds, labels)])
        else:
            results = _run_pruned(study, trial, params, labels)
            if results is None:
                opt.tell(trial, state=states.PRUNED)
                continue
        value = _mean(results, study.metric)
        if value is None:
            opt.tell(trial, state=states.FAIL)
        else:
            opt.tell(trial, value)
    return opt


def _run_pruned(study, trial, params: dict, labels: list[str]) -> list[dict] | None:
    """Run a point's seeds, the first reporting to the pruner; None when it was pruned. A vectorized study
    trains them as one stack (the pruner's verdict on the first seed stops the point's other seeds at
    the same epoch, and every seed is recorded as pruned); otherwise one by one, the others not run."""
    reporter = PruningReporter(trial, study.metric)
    if study.stacks_in_process(params, study.seeds[0]):
        follower = FollowPruning(reporter)
        results = study.run_trials([Trial(params, seed, label) for seed, label in zip(study.seeds, labels)],
                                   callbacks=lambda p, seed: [reporter] if seed == study.seeds[0] else [follower])
        return None if reporter.pruned else results
    first = study.run_point_seed(params, study.seeds[0], labels[0], callbacks=[reporter])
    if reporter.pruned:
        for seed, label in zip(study.seeds[1:], labels[1:]):
            study.skip_pruned(params, seed, label, reporter.epoch)
        return None
    return [first] + [study.run_point_seed(params, seed, label) for seed, label in zip(study.seeds[1:], labels[1:])]


class PruningReporter(Callback):
    """Reports a fit's per-epoch ``metric`` to an optuna trial and stops the fit when the pruner says so.

    Args:
        trial: the optuna trial (of the point).
        metric: the epoch log to report (``'val_acc'``, ``'val_loss'``, ...).
    """

    def __init__(self, trial, metric: str):
        self.trial, self.metric = trial, metric
        self.pruned = False
        self.epoch = 0

    def on_epoch_end(self, state) -> None:
        value = state.epoch_logs.get(self.metric)
        if value is None or not math.isfinite(float(value)):
            return
        self.epoch += 1
        self.trial.report(float(value), self.epoch)
        if self.trial.should_prune():
            self.pruned = True
            state.stop_training = True


class FollowPruning(Callback):
    """Stops a point's other seeds when its first seed's ``PruningReporter`` was told to prune (and
    marks them ``pruned`` so the study records them so)."""

    def __init__(self, reporter: PruningReporter):
        self.reporter = reporter
        self.pruned = False

    def on_epoch_end(self, state) -> None:
        if self.reporter.pruned:
            self.pruned = True
            state.stop_training = True

    @property
    def epoch(self) -> int:
        return self.reporter.epoch


def _replay_journal(study, opt, distributions) -> None:
    """A study journal written before the optuna storage existed: its points, into the storage."""
    import optuna
    points: dict[str, dict] = {}
    for event in study.journal.read():
        if event["event"] == "started":
            points.setdefault(json.dumps(event["params"], sort_keys=True), event["params"])
    states = study.journal.states()
    for params in list(points.values())[:study.n_trials]:
        seeds = [states.get(trial_id(params, s)) for s in study.seeds]
        if all(s is not None and s["event"] in TERMINAL for s in seeds):
            value = _mean(seeds, study.metric)
            state = optuna.trial.TrialState.COMPLETE if value is not None else optuna.trial.TrialState.FAIL
            opt.add_trial(optuna.trial.create_trial(params=params, distributions=distributions, value=value,
                                                    state=state))
        else:
            opt.enqueue_trial(params)  # interrupted: finish this point first
