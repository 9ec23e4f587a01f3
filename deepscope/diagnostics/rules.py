"""The rules that turn step records into findings in plain words.

Each rule reads the records of :class:`~deepscope.diagnostics.recorder.StepRecorder` (one dict per
diagnostic step) and a :class:`FitFacts`, and returns findings (possibly none). Thresholds are
named constants, so what counts as "dead" or "exploding" is written down in one place.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .findings import Finding

SPIKE_FACTOR = 1.5  # a loss above 1.5x the first step's loss during the first steps is a spike
HIGH_START = 10.0  # a first loss above 10x chance (ln C) means the initial outputs are far too large
EXPLODING_FACTOR = 100.0  # a gradient norm above 100x the run's median
EXPLODING_ABSOLUTE = 1e4
VANISHING_RATIO = 1e-7  # gradient norm / weight norm below this for the last quarter of records
PENALTY_SHARE = 0.5  # the penalty is more than half of the final loss
TINY_BATCH = 0.25  # a last batch smaller than a quarter of batch_size
MOSTLY_DEAD = 0.5
ONE_CLASS = 0.9  # a classifier (3+ classes) predicting one class for 90% of the probe has collapsed
DYING = 0.9  # a layer with 90% of its units dead and never recovering has died
SATURATED = 0.9


@dataclass
class FitFacts:
    """What the rules need to know about the fit besides the step records."""
    n_samples: int
    batch_size: int
    drop_last: bool
    learning_rate: float | None
    clip_gradients: float
    n_outputs: int | None  # units of the output layer (classes for a classifier)
    classifier: bool
    n_predicted_classes: int | None
    majority_class: int | None
    majority_fraction: float | None
    output_spread: float | None  # std of the outputs over probe samples, averaged over units
    final_dead: dict  # layer -> fraction at the last record
    final_saturated: dict


def diagnose(records: list[dict], facts: FitFacts) -> list[Finding]:
    """All findings for one fit, most serious first."""
    findings: list[Finding] = []
    for rule in (constant_prediction, dead_layers, saturated_layers, loss_spike, exploding_gradients,
                 vanishing_gradients, penalty_dominates, tiny_last_batch):
        findings.extend(rule(records, facts))
    return sorted(findings, key=lambda f: f.severity != "error")


def _series(records: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    steps = [r["step"] for r in records if key in r and r[key] is not None]
    values = [r[key] for r in records if key in r and r[key] is not None]
    return np.asarray(steps, dtype=int), np.asarray(values, dtype=float)


def _layers(records: list[dict], suffix: str) -> list[str]:
    seen: dict[str, None] = {}
    for r in records:
        for k in r:
            if k.endswith("/" + suffix):
                seen[k[: -len(suffix) - 1]] = None
    return list(seen)


def _dead_since(steps: np.ndarray, values: np.ndarray, level: float = 1.0) -> int | None:
    """The first step from which ``values`` stayed at or above ``level`` until the end."""
    if not len(values) or values[-1] < level:
        return None
    below = np.nonzero(values < level)[0]
    return int(steps[below[-1] + 1]) if len(below) else int(steps[0])


def constant_prediction(records, facts: FitFacts) -> list[Finding]:
    share = facts.majority_fraction
    many = (facts.n_outputs or 0) >= 3  # (a binary task may well be 90% one class)
    if facts.classifier and (facts.n_outputs or 0) > 1 and share is not None and (
            facts.n_predicted_classes == 1 or (many and share >= ONE_CLASS)):
        chance = 1.0 / facts.n_outputs
        what = ("every probe input" if facts.n_predicted_classes == 1 else
                f"{100 * share:.0f}% of the probe inputs ({facts.n_predicted_classes} classes predicted in all)")
        return [Finding(
            "constant_prediction", "error",
            f"The network predicts class {facts.majority_class} for {what}: it has collapsed to a (nearly) constant "
            f"output, so its accuracy is about the share of that class (chance is {100 * chance:.0f}% for "
            f"{facts.n_outputs} classes).",
            ["look at the dead_layer / loss_spike findings for the cause", "a lower learning rate",
             "a smaller initialization (weights_init='auto': He/Glorot)"],
            evidence={"predicted_class": facts.majority_class, "n_predicted_classes": facts.n_predicted_classes,
                      "majority_fraction": share, "output_spread": facts.output_spread})]
    if facts.output_spread is not None and facts.output_spread < 1e-6 and not facts.classifier:
        return [Finding("constant_prediction", "error",
                        f"The network's output is the same for every input (spread {facts.output_spread:.2g} "
                        "over the probe samples).", ["a lower learning rate", "check for dead layers"],
                        evidence={"output_spread": facts.output_spread})]
    return []


def dead_layers(records, facts: FitFacts) -> list[Finding]:
    findings = []
    for layer in _layers(records, "dead"):
        steps, dead = _series(records, f"{layer}/dead")
        if not len(dead):
            continue
        died = _dead_since(steps, dead, DYING)  # from here on (almost) every unit stayed dead
        if died is not None:
            after = dead[list(steps).index(died):]
            all_dead = _dead_since(steps, dead, 1.0)
            state = ("100%" if all_dead == died else
                     f"at least {100 * after.min():.0f}%" + (f", 100% since step {all_dead}" if all_dead else
                                                             f", {100 * dead[-1]:.0f}% at the end"))
            findings.append(Finding(
                "dead_layer", "error",
                f"Layer {layer!r} died at step {died}: from then on {state} of its units are dead (never active on "
                "any probe sample). Almost no gradient from the data reaches it or the layers before it; only the "
                "L1/L2 penalties still move their weights.",
                _dead_fixes(facts), step=died, layer=layer,
                evidence={"dead_fraction": float(dead[-1]), "died_at_step": died, "all_dead_since_step": all_dead,
                          "dead_at_records": dict(zip(map(int, steps[:25]), map(float, dead[:25])))}))
        elif dead[-1] >= MOSTLY_DEAD:
            first = int(steps[np.argmax(dead >= MOSTLY_DEAD)])
            findings.append(Finding(
                "mostly_dead_layer", "warning",
                f"{100 * dead[-1]:.0f}% of the units of layer {layer!r} are dead at the end (never active on the "
                f"probe; {100 * dead.max():.0f}% at worst, first above {100 * MOSTLY_DEAD:.0f}% at step {first}).",
                _dead_fixes(facts), step=first, layer=layer,
                evidence={"dead_fraction": float(dead[-1]), "max_dead_fraction": float(dead.max())}))
    return findings


def _dead_fixes(facts: FitFacts) -> list[str]:
    fixes = [f"a lower learning rate (now {facts.learning_rate:g})" if facts.learning_rate else "a lower learning rate",
             "He initialization (weights_init='auto')", "activation='leaky_relu'"]
    if not facts.clip_gradients:
        fixes.append("gradient clipping (DNN(clip_gradients=5.0), TFlearn's default)")
    return fixes


def saturated_layers(records, facts: FitFacts) -> list[Finding]:
    findings = []
    for layer in _layers(records, "saturated"):
        steps, sat = _series(records, f"{layer}/saturated")
        if len(sat) and sat[-1] >= SATURATED:
            first = int(steps[np.argmax(sat >= SATURATED)])
            findings.append(Finding(
                "saturated_layer", "warning",
                f"{100 * sat[-1]:.0f}% of the units of layer {layer!r} are saturated at the end (their sigmoid/tanh "
                f"output is pinned near its limits on most probe samples, so their gradient is ~0; first at "
                f"step {first}).",
                ["a lower learning rate", "Glorot initialization (weights_init='auto')", "batch_normalization",
                 "activation='relu'"], step=first, layer=layer, evidence={"saturated_fraction": float(sat[-1])}))
    return findings


def loss_spike(records, facts: FitFacts) -> list[Finding]:
    steps, loss = _series(records, "loss")
    steps_d, data = _series(records, "data_loss")
    if len(data) == len(loss):
        loss = data  # the data part, when penalties exist
    if len(loss) < 2 or not np.isfinite(loss[0]):
        return []
    early = steps <= steps[0] + 20
    peak_i = int(np.argmax(np.where(early, loss, -np.inf)))
    chance = math.log(facts.n_outputs) if facts.classifier and (facts.n_outputs or 0) > 1 else None
    high_start = chance is not None and loss[0] > HIGH_START * chance
    spiked = loss[peak_i] > SPIKE_FACTOR * loss[0] and peak_i > 0
    if not (spiked or high_start):
        return []
    what = []
    if high_start:
        what.append(f"the first step's loss is {loss[0]:.4g}, {loss[0] / chance:.0f}x the loss of a uniform guess "
                    f"(ln {facts.n_outputs} = {chance:.2f}): the initial outputs are far too large")
    if spiked:
        what.append(f"the loss then rose to {loss[peak_i]:.4g} at step {int(steps[peak_i])} "
                    f"({loss[peak_i] / loss[0]:.3g}x the first step's)")
    return [Finding("loss_spike", "error" if spiked else "warning",
                    "At the start of training " + "; ".join(what) + ". Steps this large can kill ReLU units "
                    "or saturate others within a few steps.",
                    ["a smaller initialization (weights_init='auto': He/Glorot, or a smaller stddev)",
                     "a lower learning rate", "gradient clipping (DNN(clip_gradients=5.0))"],
                    step=int(steps[peak_i] if spiked else steps[0]),
                    evidence={"first_loss": float(loss[0]), "peak_loss": float(loss[peak_i]),
                              "peak_step": int(steps[peak_i]), "chance_loss": chance})]


def exploding_gradients(records, facts: FitFacts) -> list[Finding]:
    steps, g = _series(records, "grad_norm")
    if len(g) < 4:
        return []
    for i in range(3, len(g)):  # the first record far above the median of the records before it
        base = float(np.median(g[:i]))
        if g[i] > EXPLODING_FACTOR * max(base, 1e-12) or g[i] > EXPLODING_ABSOLUTE > 100 * base:
            break
    else:
        return []
    worst = int(np.argmax(g))
    clipped = f" (clipped to {facts.clip_gradients:g})" if facts.clip_gradients else " (no clipping)"
    return [Finding("exploding_gradients", "warning",
                    f"The gradient norm jumped to {g[i]:.3g} at step {int(steps[i])}, {g[i] / max(base, 1e-12):.0f}x its "
                    f"median before ({base:.3g}){clipped}; its largest value was {g[worst]:.3g} at step {int(steps[worst])}.",
                    ["gradient clipping (DNN(clip_gradients=5.0))", "a lower learning rate", "batch_normalization"],
                    step=int(steps[i]), evidence={"grad_norm": float(g[i]), "median_before": base,
                                                  "max_grad_norm": float(g[worst]), "max_step": int(steps[worst])})]


def vanishing_gradients(records, facts: FitFacts) -> list[Finding]:
    findings = []
    dead = {f for f in _layers(records, "dead") if (facts.final_dead.get(f) or 0) >= 1.0}
    if dead:
        return []  # a dead layer explains the missing gradient (dead_layer says so)
    for layer in _layers(records, "grad_norm"):
        steps, g = _series(records, f"{layer}/grad_norm")
        _, w = _series(records, f"{layer}/weight_norm")
        if len(g) < 4 or len(w) != len(g):
            continue
        tail = slice(len(g) * 3 // 4, None)
        ratio = g[tail] / np.maximum(w[tail], 1e-12)
        if np.all(ratio < VANISHING_RATIO):
            findings.append(Finding(
                "vanishing_gradients", "warning",
                f"The gradient of layer {layer!r} is vanishing: its norm is below {VANISHING_RATIO:g} of its weights' "
                f"norm over the last quarter of the fit (from step {int(steps[tail][0])}), so it no longer learns.",
                ["activation='relu' instead of sigmoid/tanh", "He/Glorot initialization (weights_init='auto')",
                 "batch_normalization", "fewer layers or residual connections"],
                step=int(steps[tail][0]), layer=layer, evidence={"grad_to_weight": float(ratio.max())}))
    return findings


def penalty_dominates(records, facts: FitFacts) -> list[Finding]:
    steps, loss = _series(records, "loss")
    _, penalty = _series(records, "penalty")
    _, data = _series(records, "data_loss")
    if len(penalty) < 3 or len(penalty) != len(loss):
        return []
    later = steps > steps[0] + 20  # after the first steps (a spike there would hide the rest)
    if later.sum() >= 3:
        steps, loss, penalty, data = steps[later], loss[later], penalty[later], data[later]
    fall = loss[0] - loss[-1]
    penalty_fall = penalty[0] - penalty[-1]
    data_fall = data[0] - data[-1]
    share = penalty[-1] / loss[-1] if loss[-1] > 0 else 0.0
    falls_by_penalty = fall > 0 and penalty_fall >= 0.5 * fall and data_fall <= 0.1 * abs(data[0])
    if not (falls_by_penalty or share > PENALTY_SHARE):
        return []
    if falls_by_penalty:
        message = (f"The loss falls only because the L1/L2 term decays: from step {int(steps[0])} to {int(steps[-1])} "
                   f"the loss went {loss[0]:.4g} -> {loss[-1]:.4g}, the penalty {penalty[0]:.4g} -> {penalty[-1]:.4g}, "
                   f"but the data loss {data[0]:.4g} -> {data[-1]:.4g}. A falling loss curve here is not learning.")
    else:
        message = (f"The L1/L2 penalty is {100 * share:.0f}% of the final loss ({penalty[-1]:.4g} of {loss[-1]:.4g}): "
                   "the regularization outweighs the data.")
    per_layer = {k[:-len('/penalty')]: r for k, r in records[-1].items() if k.endswith("/penalty")}
    return [Finding("penalty_dominates", "warning", message,
                    ["smaller weight_decay (the L2 factor) in the layers with the largest penalty",
                     "look for a dead layer: without data gradient only the penalty moves the weights"],
                    step=int(steps[-1]),
                    evidence={"loss": [float(loss[0]), float(loss[-1])], "penalty": [float(penalty[0]), float(penalty[-1])],
                              "data_loss": [float(data[0]), float(data[-1])], "final_penalty_by_layer": per_layer})]


def tiny_last_batch(records, facts: FitFacts) -> list[Finding]:
    rest = facts.n_samples % facts.batch_size if facts.batch_size < facts.n_samples else 0
    if facts.drop_last or rest == 0 or rest >= TINY_BATCH * facts.batch_size:
        return []
    return [Finding("tiny_last_batch", "warning",
                    f"Every epoch ends with a batch of {rest} samples ({facts.n_samples} samples, batch_size "
                    f"{facts.batch_size}): that step's gradient comes from {rest} samples only, so it is much noisier, "
                    "and with a large learning rate it alone can move the final accuracy.",
                    ["fit(..., drop_last=True)", f"a batch_size that divides {facts.n_samples}",
                     "shuffle so the small batch changes every epoch"],
                    evidence={"last_batch": rest, "batch_size": facts.batch_size, "n_samples": facts.n_samples})]
