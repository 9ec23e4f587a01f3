"""Bayesian search for :class:`~deepscope.sweep.study.Study` with optuna's TPE sampler.

The optuna study lives in memory only; the journal is the record. On a restart the points
already tried are replayed into optuna (``add_trial`` with the mean metric over seeds), and a
point whose seeds did not all finish is enqueued so that it is completed first, with its own
parameters, before TPE proposes new ones.
"""
from __future__ import annotations

import json
import math

from .journal import TERMINAL, trial_id


def _mean(states: list[dict], metric: str) -> float | None:
    values = [s.get("metrics", {}).get(metric) for s in states if s["event"] == "finished"]
    values = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    values = [v for v in values if math.isfinite(v)]
    return sum(values) / len(values) if values else None


def run_bayes(study) -> None:
    """Try ``study.n_trials`` points chosen by TPE, each with every seed (see the module doc)."""
    try:
        import optuna
    except ImportError as error:  # pragma: no cover - optuna is a dependency of the sweep extra
        raise ImportError("method='bayes' needs optuna: pip install optuna") from error
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {name: dist.optuna() for name, dist in study.space.items()}
    # replay the journal: points in the order they were first started
    points: dict[str, dict] = {}
    for event in study.journal.read():
        if event["event"] == "started":
            points.setdefault(json.dumps(event["params"], sort_keys=True), event["params"])
    # a fresh sampler with the same seed would propose the replayed points again: offset its seed
    sampler = optuna.samplers.TPESampler(seed=study.search_seed + len(points))
    opt = optuna.create_study(direction="maximize" if study.mode == "max" else "minimize", sampler=sampler)
    states = study.journal.states()
    n_points = 0
    for params in points.values():
        if n_points >= study.n_trials:
            break
        n_points += 1
        seeds = [states.get(_tid(params, s)) for s in study.seeds]
        if all(s is not None and s["event"] in TERMINAL for s in seeds):
            value = _mean(seeds, study.metric)
            state = optuna.trial.TrialState.COMPLETE if value is not None else optuna.trial.TrialState.FAIL
            opt.add_trial(optuna.trial.create_trial(params=params, distributions=distributions, value=value,
                                                    state=state))
        else:
            opt.enqueue_trial(params)  # interrupted: finish this point first
            n_points -= 1

    while n_points < study.n_trials:
        trial = opt.ask(distributions)
        params = dict(trial.params)
        n_points += 1
        results = study.run_trials([(params, seed, f"{n_points}/{study.n_trials} (seed {j + 1}/{len(study.seeds)})")
                                    for j, seed in enumerate(study.seeds)])  # the seeds of a point: stacked
        value = _mean(results, study.metric)
        if value is None:
            opt.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            opt.tell(trial, value)
    study.optuna_study = opt


def _tid(params: dict, seed: int) -> str:
    return trial_id(params, seed)
