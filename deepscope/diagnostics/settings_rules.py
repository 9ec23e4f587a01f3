"""Causes in the training settings and the targets: dropout that keeps too little, a momentum near 1, gradient
clipping that shrinks every step, a schedule that decays the learning rate early, and for regressions targets never
standardized or out of the output activation's reach. Each rule is ``(records, FitFacts) -> [Finding]``, as in
:mod:`.rules` (which runs them with the others).
"""
from __future__ import annotations

import math

import numpy as np

from .evidence import (CLIPPED_FACTOR, KEEP_TOO_LOW, LR_DECAYED, LR_DECAYED_BY, MOMENTUM_TOO_HIGH, MOSTLY_DEAD, POOR_FIT,
                       TARGETS_LARGE, is_harmed, is_slow, is_stuck, lr_text, median, pct, series)
from .facts import FitFacts
from .findings import Finding


#: the values each output activation can produce (closed: a sigmoid approaches 0 and 1)
OUTPUT_RANGE = {"sigmoid": (0.0, 1.0), "softmax": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, math.inf),
                "relu6": (0.0, 6.0), "softplus": (0.0, math.inf), "hard_sigmoid": (0.0, 1.0), "elu": (-1.0, math.inf),
                "selu": (-1.7581, math.inf)}


def output_range_mismatch(records, facts: FitFacts) -> list[Finding]:
    bounds = OUTPUT_RANGE.get(facts.output_activation or "")
    if bounds is None or facts.target_min is None or facts.classifier or facts.binary:
        return []
    low, high = bounds
    below, above = facts.target_min < low - 1e-6, facts.target_max > high + 1e-6
    if not (below or above):
        return []
    where = (f"as low as {facts.target_min:.3g}" if below else "") + (" and " if below and above else "") + (
        f"as high as {facts.target_max:.3g}" if above else "")
    return [Finding(
        "output_range_mismatch", "error",
        f"The output layer cannot produce the targets: its {facts.output_activation} gives values in "
        f"[{low:g}, {high:g}], but the targets go {where}. Those targets are out of reach whatever the training"
        + (f" (the fit explains {pct(max(facts.train_r2, 0))} of their variance)." if facts.train_r2 is not None else "."),
        ["activation='linear' on the output layer of a regression",
         "or rescale the targets into the output's range (and back after predict)"],
        role="cause", summary=f"the {facts.output_activation} output cannot reach targets {where}",
        evidence={"output_activation": facts.output_activation, "range": [low, high],
                  "targets": [facts.target_min, facts.target_max], "train_r2": facts.train_r2})]


def targets_not_scaled(records, facts: FitFacts) -> list[Finding]:
    if facts.target_mean is None or facts.classifier or facts.binary:
        return []
    scale = max(abs(facts.target_mean), facts.target_std or 0.0)
    if scale <= TARGETS_LARGE or (facts.train_r2 is not None and facts.train_r2 >= POOR_FIT):
        return []
    fit = f" The fit explains {pct(max(facts.train_r2, 0))} of their variance." if facts.train_r2 is not None else ""
    return [Finding(
        "targets_not_scaled", "error",
        f"The targets are not scaled: their mean is {facts.target_mean:.4g} and their standard deviation "
        f"{facts.target_std:.4g}, while the network starts with outputs near 0. The loss and its gradients are "
        f"{scale:.0f}x those of standardized targets, so the steps are clipped or far too large, and the network "
        f"first spends its training on the offset.{fit}",
        ["standardize Y: (Y - Y.mean(0)) / Y.std(0), and undo it on predict's output",
         "or a linear output layer with bias_init set to the targets' mean"],
        role="cause", summary=f"the targets are not scaled (mean {facts.target_mean:.3g}, std {facts.target_std:.3g})",
        evidence={"target_mean": facts.target_mean, "target_std": facts.target_std, "train_r2": facts.train_r2})]


def dropout_too_strong(records, facts: FitFacts) -> list[Finding]:
    low = {k: v for k, v in facts.dropout_keep.items() if v < KEEP_TOO_LOW}
    if not low or not is_harmed(records, facts):
        return []
    layer, keep = min(low.items(), key=lambda kv: kv[1])
    return [Finding(
        "dropout_too_strong", "error" if is_stuck(facts) else "warning",
        f"Dropout is far too strong: dropout layer {layer!r} keeps only {pct(keep)} of its inputs in each training step "
        f"(keep_prob={keep:g}; TFlearn's keep_prob is the share KEPT) and scales them up {1 / max(keep, 1e-9):.0f}x. "
        f"Each step sees a different sliver of the network with inflated activations, so training is mostly noise "
        f"(training accuracy {pct(facts.train_accuracy or 0)}).",
        [f"keep_prob=0.5-0.9 (now {keep:g})", "dropout(net, 0.8) keeps 80% of the units"],
        layer=layer, role="cause", summary=f"dropout layer {layer!r} keeps only {pct(keep)} of its inputs",
        evidence={"keep_prob": keep, "layers": low})]


def momentum_too_high(records, facts: FitFacts) -> list[Finding]:
    momentum = facts.momentum or 0.0
    harmed = is_harmed(records, facts) or any(v >= MOSTLY_DEAD for v in facts.final_dead.values())
    if momentum < MOMENTUM_TOO_HIGH or not harmed:
        return []
    gain = 1 / max(1 - momentum, 1e-12)
    return [Finding(
        "momentum_too_high", "error" if is_stuck(facts) else "warning",
        f"The momentum is too high: {momentum:g} keeps {pct(momentum)} of every past step, so steps in a steady "
        f"direction grow to {gain:,.0f}x the learning rate's size and overshoot (usual values: 0.9-0.95).",
        [f"momentum=0.9 (now {momentum:g})", f"or a learning rate {gain:,.0f}x smaller (now {lr_text(facts)})"],
        role="cause", summary=f"the momentum ({momentum:g}) multiplies steady steps {gain:,.0f}x",
        evidence={"momentum": momentum, "step_gain": gain})]


def gradient_clipping_too_tight(records, facts: FitFacts) -> list[Finding]:
    clip = facts.clip_gradients or 0.0
    _, norms = series(records, "grad_norm")
    norms = norms[np.isfinite(norms)]
    if clip <= 0 or len(norms) < 4:
        return []
    factor = float(median(norms)) / clip
    slow, fell = is_slow(records, facts)
    if factor < CLIPPED_FACTOR or not slow:
        return []
    return [Finding(
        "gradient_clipping_too_tight", "error",
        f"Gradient clipping is too tight: clip_gradients={clip:g} cuts a typical step's gradient (norm "
        f"{median(norms):.3g}) to 1/{factor:,.0f} of its size, so the weights barely move whatever the learning "
        f"rate; the loss fell by only {pct(max(fell, 0))}.",
        ([f"DNN(clip_gradients=5.0) (now {clip:g}; TFlearn's default)"] if clip < 5.0 else
         [f"a larger clip_gradients (now {clip:g}), or first what makes the gradients this large"])
        + ["clip_gradients=0 turns clipping off"],
        role="cause", summary=f"clip_gradients={clip:g} shrinks every step {factor:,.0f}x",
        evidence={"clip_gradients": clip, "median_grad_norm": float(median(norms)), "shrink": factor})]


def learning_rate_decayed(records, facts: FitFacts) -> list[Finding]:
    trace = facts.learning_rates
    start = facts.learning_rate
    if len(trace) < 2 or not start or not records:
        return []
    first, last = int(records[0]["step"]), int(records[-1]["step"])
    low = [(step, lr) for step, lr in trace if lr < LR_DECAYED * start]
    if not low or low[0][0] > first + LR_DECAYED_BY * (last - first):
        return []
    slow, fell = is_slow(records, facts)
    if not slow:
        return []
    step, lr = low[0]
    end = trace[-1][1]
    return [Finding(
        "learning_rate_decayed", "error",
        f"The learning rate decayed too fast: it started at {start:g} and was down to {lr:.2g} by step {step} of "
        f"{last} ({end:.2g} at the end), so most of the fit took steps too small to learn; the loss fell by only "
        f"{pct(max(fell, 0))}.",
        ["a gentler schedule: lr_decay closer to 1 or a larger decay_step", "no decay (lr_decay=0)",
         "a schedule that ends low, not starts low (schedule='cosine' or 'one_cycle')"],
        step=step, role="cause", summary=f"the learning rate decayed from {start:g} to {lr:.2g} by step {step}",
        evidence={"start": start, "at_step": step, "learning_rate_then": lr, "end": end})]
