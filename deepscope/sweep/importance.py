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
    noise = within_seed_noise(rows, params, metric)
    if noise is not None:
        return None, noise
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


def within_seed_noise(rows: list[dict], params: list[str], metric: str) -> str | None:
    """Whether the points differ no more than their seeds do (a one-way ANOVA of ``metric`` over the
    points, seeds as the repeats): a sentence saying so, or None when the points differ (p < 0.05) or
    there are no repeats to tell."""
    groups: dict[tuple, list] = {}
    for r in rows:
        value = metric_value(r, metric)
        if value is not None and np.isfinite(value):
            groups.setdefault(tuple(repr(r["params"].get(p)) for p in params), []).append(float(value))
    groups = {k: v for k, v in groups.items() if v}
    n, k = sum(len(v) for v in groups.values()), len(groups)
    if k < 2 or n - k < 1:
        return None  # (one seed per point: no seed noise to compare with)
    grand = np.mean([x for v in groups.values() for x in v])
    between = sum(len(v) * (np.mean(v) - grand) ** 2 for v in groups.values()) / (k - 1)
    within = sum(((np.asarray(v) - np.mean(v)) ** 2).sum() for v in groups.values()) / (n - k)
    if within <= 0:
        return None
    f = between / within
    try:
        from scipy.stats import f as f_distribution
        p = float(f_distribution.sf(f, k - 1, n - k))
    except ImportError:  # (scipy is optional: an F below 2 counts as noise)
        p = 1.0 if f < 2 else 0.0
    if p < 0.05:
        return None
    spread = np.ptp([np.mean(v) for v in groups.values()])
    sd = float(np.sqrt(within))
    return (f"no parameter explains {metric} beyond seed noise: the {k} points' means span {spread:.3g}, seeds "
            f"differ by {sd:.3g} (sd) within a point (one-way ANOVA over points F = {f:.2f}, p = {p:.2f})")


def _default_evaluator(optuna):
    """optuna's default importance evaluator (PED-ANOVA in optuna 5, fANOVA before)."""
    for name in ("PedAnovaImportanceEvaluator", "FanovaImportanceEvaluator"):
        if hasattr(optuna.importance, name):
            return getattr(optuna.importance, name)()
    return None
