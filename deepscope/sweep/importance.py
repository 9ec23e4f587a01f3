"""Hyperparameter importance of a study: optuna's default importance evaluator on its finished trials."""
from __future__ import annotations

import warnings

import numpy as np

from .records import metric_value


def param_importances(rows: list[dict], params: list[str], metric: str) -> tuple[dict[str, float] | None, str]:
    """How much each parameter explains of ``metric`` over the finished trials (each value of a
    parameter as a category; seeds pooled).

    Args:
        rows: the study's results (``study.results()``).
        params: the parameters that vary.
        metric: the metric to explain.

    Returns:
        ``(importances or None, note)``: parameter -> importance (summing to 1, largest first) and a line
        saying what it was computed from, or None and why not.
    """
    try:
        import optuna
        from optuna.distributions import CategoricalDistribution
    except ImportError:
        return None, 'needs optuna (pip install "deepscope[sweep]")'
    if not params:
        return None, "no parameter varies"
    choices = {p: sorted({repr(r["params"].get(p)) for r in rows}) for p in params}
    trials = []
    for r in rows:
        value = metric_value(r, metric)
        if value is None or not np.isfinite(value):
            continue
        trials.append(optuna.trial.create_trial(
            params={p: repr(r["params"].get(p)) for p in params},
            distributions={p: CategoricalDistribution(choices[p]) for p in params}, value=value))
    if len(trials) < 2:
        return None, "too few finished trials with a finite metric"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    study.add_trials(trials)
    evaluator = _default_evaluator(optuna)
    try:
        with warnings.catch_warnings():  # (e.g. "importances will be equal" when every trial scored alike)
            warnings.simplefilter("ignore")
            importances = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (RuntimeError, ValueError) as error:
        return None, f"not computable: {error}"
    name = type(evaluator).__name__.replace("ImportanceEvaluator", "")
    return ({k: float(v) for k, v in importances.items()},
            f"optuna's {name} importance over {len(trials)} finished trials with a finite {metric}; "
            "each value of a parameter as a category, seeds pooled")


def _default_evaluator(optuna):
    """optuna's default importance evaluator (PED-ANOVA in optuna 5, fANOVA before)."""
    for name in ("PedAnovaImportanceEvaluator", "FanovaImportanceEvaluator"):
        if hasattr(optuna.importance, name):
            return getattr(optuna.importance, name)()
    return None
