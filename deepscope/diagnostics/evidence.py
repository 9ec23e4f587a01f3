"""What the diagnosis rules read: their thresholds, and the small helpers that turn step records and fit facts
into evidence (a series, a median, whether a fit is stuck, slow or harmed).

Thresholds are named constants, so what counts as "dead" or "too small" is written down in one place.
"""
from __future__ import annotations

import math

import numpy as np

from .facts import FitFacts

SPIKE_FACTOR = 1.5  # a loss above 1.5x the first step's loss during the first steps is a spike
HIGH_START = 10.0  # a first loss above 10x chance (ln C) means the initial outputs are far too large
EXPLODING_FACTOR = 100.0  # a gradient norm above 100x the run's median
EXPLODING_ABSOLUTE = 1e4
VANISHING_RATIO = 1e-7  # gradient norm / weight norm below this for the last quarter of records
DEPTH_VANISHING = 1e-4  # first layer's gradient-to-weight ratio below 1e-4 of the last hidden layer's
PENALTY_SHARE = 0.5  # the penalty is more than half of the loss
TINY_BATCH = 0.25  # a last batch smaller than a quarter of batch_size
LARGE_LR_SGD, LARGE_LR_ADAPTIVE = 0.5, 1e-2  # where a noisy last batch can move the result
MOSTLY_DEAD = 0.5
ONE_CLASS = 0.9  # a classifier (3+ classes) predicting one class for 90% of the probe has collapsed
DYING = 0.9  # a layer with 90% of its units dead and never recovering has died
SATURATED = 0.5  # half of a layer's units pinned at their limits
HUGE_UPDATE = 0.3  # one step changing a layer's weights by 30% of their norm
TINY_UPDATE = 1e-4  # updates below 1e-4 of the weights' norm (median over the fit)
NO_UPDATE = 1e-12
MOVING_GRADIENT = 1e-3  # a gradient norm above 1e-3 of the weights' norm still asks for a step
INIT_TOO_LARGE = 4.0  # weights' std over 4x He/Glorot
RAW_INPUTS = 20.0  # inputs larger than this in absolute value were not scaled
OVERFIT_GAP = 0.15  # training accuracy above validation accuracy by 15 points
DOMINANT = 0.5  # one class is half of the training labels or more
BATCHNORM_MIN_BATCH = 8
SORTED_BATCHES = 0.6  # without shuffling, batches 60% one class: the data are sorted
KEEP_TOO_LOW = 0.2  # dropout keeping fewer than 1 unit in 5
MOMENTUM_TOO_HIGH = 0.99  # momentum multiplies steady steps by 1 / (1 - momentum): 100x and more
CLIPPED_FACTOR = 100.0  # gradients clipped to 1/100 of their size or less at a typical step
LR_DECAYED = 1e-2  # a schedule that took the learning rate below 1% of its start...
LR_DECAYED_BY = 0.5  # ...within the first half of the fit
STILL_FALLING = 0.1  # a fit whose loss fell by 10% or more...
# ...and whose last quarter still gained this share of what a loss falling in a straight line would (1.0: the
# same pace as the whole fit) had not levelled off: 0.6 where the network is well below a linear readout, 0.5 in
# a fit of a few steps, else 0.9 (healthy 300-step fits of the corpus: at most 0.55)
STILL_PACE, FEW_STEPS_PACE, STEEP_PACE = 0.6, 0.5, 0.9
FEW_STEPS = 50  # a fit of 50 steps or fewer
TARGETS_LARGE = 20.0  # regression targets whose mean or spread exceeds this were not standardized
POOR_FIT = 0.5  # a regression explaining under half of its training targets' variance


def median(values) -> float:
    """The median (numpy's first ``np.median`` call imports numpy.ma: 12 ms a process)."""
    v = np.sort(np.asarray(values, dtype=float).ravel())
    n = len(v)
    return float("nan") if not n else float(v[n // 2]) if n % 2 else 0.5 * float(v[n // 2 - 1] + v[n // 2])


def series(records: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    steps = [r["step"] for r in records if key in r and r[key] is not None]
    values = [r[key] for r in records if key in r and r[key] is not None]
    return np.asarray(steps, dtype=int), np.asarray(values, dtype=float)


def layer_names(records: list[dict], suffix: str) -> list[str]:
    seen: dict[str, None] = {}
    for r in records:
        for k in r:
            if k.endswith("/" + suffix):
                seen[k[: -len(suffix) - 1]] = None
    return list(seen)


def dead_since(steps: np.ndarray, values: np.ndarray, level: float = 1.0) -> int | None:
    """The first step from which ``values`` stayed at or above ``level`` until the end."""
    if not len(values) or values[-1] < level:
        return None
    below = np.nonzero(values < level)[0]
    return int(steps[below[-1] + 1]) if len(below) else int(steps[0])


def layer_order(records: list[dict]) -> list[str]:
    """The layers with a gradient norm, in the network's order (the recorder writes them so)."""
    return layer_names(records, "grad_norm")


def pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def lr_text(facts: FitFacts) -> str:
    return f"{facts.learning_rate:g}" if facts.learning_rate else "its value"


def update_ratios(records: list[dict]) -> np.ndarray:
    """Per record, the largest update-to-weight ratio over the layers (NaN where none)."""
    return np.asarray([max([v for k, v in r.items() if k.endswith("/update_ratio") and math.isfinite(v)],
                           default=np.nan) for r in records], dtype=float)


def is_stuck(facts: FitFacts) -> bool:
    """Training ended near chance, or a NaN/Inf stopped it."""
    return facts.near_chance or facts.nonfinite_step is not None


def is_slow(records, facts: FitFacts) -> tuple[bool, float]:
    """Whether the fit learned too little (the loss fell by under a quarter, it ended near chance, or it ends
    10 points below a linear readout of the inputs), and by how much the loss fell."""
    _, loss = series(records, "loss")
    fell = (loss[0] - loss[-1]) / abs(loss[0]) if len(loss) > 1 and loss[0] and np.isfinite(loss[0]) else 0.0
    return bool(fell < 0.25 or facts.near_chance or facts.underperforms), float(fell)


def is_harmed(records, facts: FitFacts) -> bool:
    """The fit failed in a way a bad step size or start explains: stuck, collapsed, dead or saturated
    layers, or well below a linear readout of its inputs."""
    return (is_stuck(facts) or facts.n_predicted_classes == 1 or facts.underperforms
            or any(v >= DYING for v in facts.final_dead.values())
            or any(v >= SATURATED for v in facts.final_saturated.values()))


def suspect_recipe(facts: FitFacts) -> bool:
    """A setting far from the usual range (an initialization, dropout or momentum): worth the end-of-fit
    linear readout that tells a broken run from a hard task."""
    return (any(v > INIT_TOO_LARGE for v in facts.init_scale.values())
            or any(k < KEEP_TOO_LOW for k in facts.dropout_keep.values())
            or (facts.momentum or 0.0) >= MOMENTUM_TOO_HIGH or (facts.input_scale or 0.0) > RAW_INPUTS)


def behind_readout(facts: FitFacts) -> bool:
    """Training or validation accuracy 10 points below a linear readout of the inputs (held-out samples)."""
    validation = facts.val_accuracy
    return facts.underperforms or (validation is not None and facts.linear_heldout is not None
                                   and validation < facts.linear_heldout - 0.1)
