"""The rules that turn step records into findings in plain words, causes before symptoms.

Each rule reads the records of :class:`~deepscope.diagnostics.recorder.StepRecorder` (one dict per
diagnostic step) and the :class:`~deepscope.diagnostics.facts.FitFacts`, and returns findings
(possibly none). A finding is a **cause** (something in the recipe or the data: a learning rate, an
initialization, a penalty, the labels) or a **symptom** (what the network did: a layer died, the
predictions collapsed); :mod:`.causes` links them and puts the root cause first. Thresholds are named
constants, so what counts as "dead" or "too small" is written down in one place.
"""
from __future__ import annotations

import bisect
import math

import numpy as np

from .causes import link
from .facts import FitFacts
from .findings import Finding

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


def diagnose(records: list[dict], facts: FitFacts) -> list[Finding]:
    """All findings for one fit, the root cause first (see :func:`.causes.link`)."""
    findings: list[Finding] = []
    for rule in RULES:
        try:
            findings.extend(rule(records, facts))
        except Exception as error:  # noqa: BLE001 - a rule's failure never breaks the fit it judges
            findings.append(Finding("rule_failed", "note", f"The diagnosis rule {rule.__name__} could not judge this "
                                    f"fit ({type(error).__name__}: {error}); the other rules did.",
                                    ["report it with the run folder's steps.csv"], role="symptom"))
    if any(f.role == "cause" and f.code not in LAST_RESORT and f.severity != "note" for f in findings):
        findings = [f for f in findings if f.code not in LAST_RESORT]  # (another cause explains the shortfall)
    return link(findings)


#: causes named only when no other cause is found (a fit too short is the explanation of last resort)
LAST_RESORT = ("stopped_while_learning",)


def _median(values) -> float:
    """The median (numpy's first ``np.median`` call imports numpy.ma: 12 ms a process)."""
    v = np.sort(np.asarray(values, dtype=float).ravel())
    n = len(v)
    return float("nan") if not n else float(v[n // 2]) if n % 2 else 0.5 * float(v[n // 2 - 1] + v[n // 2])


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


def _layer_order(records: list[dict]) -> list[str]:
    """The layers with a gradient norm, in the network's order (the recorder writes them so)."""
    return _layers(records, "grad_norm")


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _lr(facts: FitFacts) -> str:
    return f"{facts.learning_rate:g}" if facts.learning_rate else "its value"


def _update_ratios(records: list[dict]) -> np.ndarray:
    """Per record, the largest update-to-weight ratio over the layers (NaN where none)."""
    return np.asarray([max([v for k, v in r.items() if k.endswith("/update_ratio") and math.isfinite(v)],
                           default=np.nan) for r in records], dtype=float)


def _stuck(facts: FitFacts) -> bool:
    """Training ended near chance, or a NaN/Inf stopped it."""
    return facts.near_chance or facts.nonfinite_step is not None


def _slow(records, facts: FitFacts) -> tuple[bool, float]:
    """Whether the fit learned too little (the loss fell by under a quarter, it ended near chance, or it ends
    10 points below a linear readout of the inputs), and by how much the loss fell."""
    _, loss = _series(records, "loss")
    fell = (loss[0] - loss[-1]) / abs(loss[0]) if len(loss) > 1 and loss[0] and np.isfinite(loss[0]) else 0.0
    return bool(fell < 0.25 or facts.near_chance or facts.underperforms), float(fell)


def _harmed(records, facts: FitFacts) -> bool:
    """The fit failed in a way a bad step size or start explains: stuck, collapsed, dead or saturated
    layers, or well below a linear readout of its inputs."""
    return (_stuck(facts) or facts.n_predicted_classes == 1 or facts.underperforms
            or any(v >= DYING for v in facts.final_dead.values())
            or any(v >= SATURATED for v in facts.final_saturated.values()))


def suspect_recipe(facts: FitFacts) -> bool:
    """A setting far from the usual range (an initialization, dropout or momentum): worth the end-of-fit
    linear readout that tells a broken run from a hard task."""
    return (any(v > INIT_TOO_LARGE for v in facts.init_scale.values())
            or any(k < KEEP_TOO_LOW for k in facts.dropout_keep.values())
            or (facts.momentum or 0.0) >= MOMENTUM_TOO_HIGH or (facts.input_scale or 0.0) > RAW_INPUTS)


def _behind_readout(facts: FitFacts) -> bool:
    """Training or validation accuracy 10 points below a linear readout of the inputs (held-out samples)."""
    validation = facts.val_accuracy
    return facts.underperforms or (validation is not None and facts.linear_heldout is not None
                                   and validation < facts.linear_heldout - 0.1)


# -- causes: the recipe and the data ------------------------------------------------------------------
def parameters_not_changing(records, facts: FitFacts) -> list[Finding]:
    ratios = _update_ratios(records)
    ratios = ratios[np.isfinite(ratios)]
    if len(ratios) < 2 or ratios.max() > NO_UPDATE:
        return []
    return [Finding(
        "parameters_not_changing", "error",
        f"No parameter changed during the fit: the update-to-weight ratio of every layer is 0 at all "
        f"{len(ratios)} recorded steps, while the gradients are not 0. The optimizer step never reached the weights.",
        ["a custom trainer's train_step must end with self.apply_gradients(loss) after loss.backward()",
         "check trainable_vars / trainable=False on the layers", "check that the learning rate is not 0"],
        step=int(records[0]["step"]), role="cause", summary="no parameter changed at any step",
        evidence={"max_update_ratio": float(ratios.max()), "records": len(ratios)})]


def loss_output_mismatch(records, facts: FitFacts) -> list[Finding]:
    loss, out, n = facts.loss_name or "", facts.output_activation or "linear", facts.n_outputs or 0
    problem = None
    if out == "softmax" and n == 1:
        problem = ("the output layer is a softmax over 1 unit: its output is always 1.0, whatever the input",
                   ["activation='sigmoid' for one output unit", "2 output units with softmax and one-hot labels"])
    elif "categorical_crossentropy" in loss and "softmax_" not in loss and out != "softmax" and n > 1:
        problem = (f"loss='categorical_crossentropy' expects a softmax output (probabilities summing to 1), but the "
                   f"output layer's activation is {out!r}",
                   ["activation='softmax' on the output layer",
                    "loss='softmax_categorical_crossentropy' on a linear output" if out != "linear" else
                    "loss='softmax_categorical_crossentropy' (it applies the softmax itself)"])
    elif loss in ("mean_square", "mean_absolute", "huber_loss") and out == "softmax" and n > 1:
        problem = (f"loss={loss!r} on a softmax output: the gradient through the softmax vanishes when the network "
                   "is confidently wrong, so a classifier learns slowly or stalls",
                   ["loss='categorical_crossentropy' for a softmax classifier"])
    elif loss == "binary_crossentropy" and out not in ("sigmoid", "linear") and n >= 1:
        problem = (f"loss='binary_crossentropy' expects sigmoid outputs, but the output layer's activation is {out!r}",
                   ["activation='sigmoid' on the output layer"])
    if problem is None:
        return []
    text, fixes = problem
    harmed = _stuck(facts) or (facts.n_predicted_classes == 1)
    return [Finding("loss_output_mismatch", "error" if harmed or out == "softmax" and n == 1 else "warning",
                    f"The loss does not fit the output: {text}.", fixes, role="cause",
                    summary=f"the loss ({loss}) does not fit the {out} output",
                    evidence={"loss": loss, "output_activation": out, "n_outputs": n})]


def uninformative_labels(records, facts: FitFacts) -> list[Finding]:
    if facts.knn_accuracy is None or facts.knn_by_chance is None:
        return []
    base = facts.knn_by_chance
    margin = max(0.03, 3 * math.sqrt(base * (1 - base) / max(facts.data_samples, 1)))
    learned = facts.val_accuracy if facts.val_accuracy is not None else facts.train_accuracy
    n_classes = max(facts.n_outputs or 0, 2)
    if facts.knn_accuracy > base + margin or learned is None or learned > max(facts.chance, 1 / n_classes) + 0.1:
        return []
    return [Finding(
        "uninformative_labels", "error",
        f"The labels cannot be predicted from the inputs: a nearest-neighbour guess on the training data is right "
        f"for {_pct(facts.knn_accuracy)} of the samples, no better than a guess that ignores the inputs "
        f"({_pct(base)}). Labels that are shuffled, shifted against their inputs, or random give this; the "
        f"network cannot learn them (it ended at {_pct(learned)}).",
        ["check that X and Y are in the same order (no separate shuffling, no off-by-one)",
         "look at a few inputs with their labels (deepscope.introspect / matplotlib)",
         "check the label encoding (one-hot columns in the class order)"],
        role="cause", summary=f"the labels are not predictable from the inputs (nearest-neighbour accuracy "
                              f"{_pct(facts.knn_accuracy)}, {_pct(base)} by chance)",
        evidence={"knn_accuracy": facts.knn_accuracy, "by_chance": base, "final_accuracy": learned})]


def inputs_not_normalized(records, facts: FitFacts) -> list[Finding]:
    scale = facts.input_scale
    if scale is None or scale <= RAW_INPUTS:
        return []
    harmed = (_stuck(facts) or any(v >= SATURATED for v in facts.final_saturated.values()) or _behind_readout(facts)
              or any(v >= DYING for v in facts.final_dead.values()) or _first_loss_ratio(records, facts) > HIGH_START)
    if not harmed:
        return []
    few = 0 < facts.large_inputs <= max(1, facts.n_inputs // 10)  # a few features on another scale than the rest
    where = (f" in {facts.large_inputs} of the {facts.n_inputs} input features" if few
             else " (pixels 0-255?)" if scale <= 300 else "")
    return [Finding(
        "inputs_not_normalized", "error" if _stuck(facts) else "warning",
        f"The inputs are not scaled: values reach {scale:.4g}{where}. Each first-layer unit sums "
        f"{'such values' if few else 'hundreds of such values'}, so sigmoid/tanh units saturate and ReLU layers take "
        "huge steps.",
        ([f"standardize each input feature: (X - X.mean(0)) / X.std(0) ({facts.large_inputs} of them are large)"]
         if few else ["scale the inputs (X / 255 for 8-bit images)"])
        + ["ImagePreprocessing().add_featurewise_zero_center() and add_featurewise_stdnorm()",
           "a batch_normalization layer after the input"],
        role="cause", summary=f"the inputs are not scaled (values up to {scale:.4g})",
        evidence={"max_abs_input": scale, "large_features": facts.large_inputs, "features": facts.n_inputs})]


def _first_loss_ratio(records, facts: FitFacts) -> float:
    steps, loss = _series(records, "data_loss")
    if not len(loss):
        steps, loss = _series(records, "loss")
    if not len(loss) or not facts.classifier or (facts.n_outputs or 0) < 2 or not np.isfinite(loss[0]):
        return 0.0
    return float(loss[0]) / math.log(facts.n_outputs)


def init_too_large(records, facts: FitFacts) -> list[Finding]:
    large = {k: v for k, v in facts.init_scale.items() if v > INIT_TOO_LARGE}
    ratio = _first_loss_ratio(records, facts)
    if not large:
        return []
    layer, scale = max(large.items(), key=lambda kv: kv[1])
    harmed = ratio > HIGH_START or _harmed(records, facts) or _behind_readout(facts)
    if not harmed:
        return []
    start = (f" The first step's loss was {ratio:.0f}x that of a uniform guess." if ratio > HIGH_START else "")
    return [Finding(
        "init_too_large", "error",
        f"The initial weights are far too large: layer {layer!r} starts with a standard deviation {scale:.0f}x "
        f"the He/Glorot scale for its size ({len(large)} layer(s) above {INIT_TOO_LARGE:g}x).{start} Outputs this large "
        "saturate sigmoid/tanh units and make the first steps huge, which kills ReLU units.",
        ["weights_init='auto' (He for ReLU, Glorot otherwise)", "a smaller stddev: about sqrt(2 / fan_in)",
         "gradient clipping (DNN(clip_gradients=5.0))"],
        step=int(records[0]["step"]) if records else None, layer=layer, role="cause",
        summary=f"the initial weights of layer {layer!r} were {scale:.0f}x too large",
        evidence={"init_scale": large, "first_loss_over_chance": ratio})]


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
        + (f" (the fit explains {_pct(max(facts.train_r2, 0))} of their variance)." if facts.train_r2 is not None else "."),
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
    fit = f" The fit explains {_pct(max(facts.train_r2, 0))} of their variance." if facts.train_r2 is not None else ""
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
    if not low or not _harmed(records, facts):
        return []
    layer, keep = min(low.items(), key=lambda kv: kv[1])
    return [Finding(
        "dropout_too_strong", "error" if _stuck(facts) else "warning",
        f"Dropout is far too strong: dropout layer {layer!r} keeps only {_pct(keep)} of its inputs in each training step "
        f"(keep_prob={keep:g}; TFlearn's keep_prob is the share KEPT) and scales them up {1 / max(keep, 1e-9):.0f}x. "
        f"Each step sees a different sliver of the network with inflated activations, so training is mostly noise "
        f"(training accuracy {_pct(facts.train_accuracy or 0)}).",
        [f"keep_prob=0.5-0.9 (now {keep:g})", "dropout(net, 0.8) keeps 80% of the units"],
        layer=layer, role="cause", summary=f"dropout layer {layer!r} keeps only {_pct(keep)} of its inputs",
        evidence={"keep_prob": keep, "layers": low})]


def momentum_too_high(records, facts: FitFacts) -> list[Finding]:
    momentum = facts.momentum or 0.0
    harmed = _harmed(records, facts) or any(v >= MOSTLY_DEAD for v in facts.final_dead.values())
    if momentum < MOMENTUM_TOO_HIGH or not harmed:
        return []
    gain = 1 / max(1 - momentum, 1e-12)
    return [Finding(
        "momentum_too_high", "error" if _stuck(facts) else "warning",
        f"The momentum is too high: {momentum:g} keeps {_pct(momentum)} of every past step, so steps in a steady "
        f"direction grow to {gain:,.0f}x the learning rate's size and overshoot (usual values: 0.9-0.95).",
        [f"momentum=0.9 (now {momentum:g})", f"or a learning rate {gain:,.0f}x smaller (now {_lr(facts)})"],
        role="cause", summary=f"the momentum ({momentum:g}) multiplies steady steps {gain:,.0f}x",
        evidence={"momentum": momentum, "step_gain": gain})]


def gradient_clipping_too_tight(records, facts: FitFacts) -> list[Finding]:
    clip = facts.clip_gradients or 0.0
    _, norms = _series(records, "grad_norm")
    norms = norms[np.isfinite(norms)]
    if clip <= 0 or len(norms) < 4:
        return []
    factor = float(_median(norms)) / clip
    slow, fell = _slow(records, facts)
    if factor < CLIPPED_FACTOR or not slow:
        return []
    return [Finding(
        "gradient_clipping_too_tight", "error",
        f"Gradient clipping is too tight: clip_gradients={clip:g} cuts a typical step's gradient (norm "
        f"{_median(norms):.3g}) to 1/{factor:,.0f} of its size, so the weights barely move whatever the learning "
        f"rate; the loss fell by only {_pct(max(fell, 0))}.",
        ([f"DNN(clip_gradients=5.0) (now {clip:g}; TFlearn's default)"] if clip < 5.0 else
         [f"a larger clip_gradients (now {clip:g}), or first what makes the gradients this large"])
        + ["clip_gradients=0 turns clipping off"],
        role="cause", summary=f"clip_gradients={clip:g} shrinks every step {factor:,.0f}x",
        evidence={"clip_gradients": clip, "median_grad_norm": float(_median(norms)), "shrink": factor})]


def learning_rate_decayed(records, facts: FitFacts) -> list[Finding]:
    trace = facts.learning_rates
    start = facts.learning_rate
    if len(trace) < 2 or not start or not records:
        return []
    first, last = int(records[0]["step"]), int(records[-1]["step"])
    low = [(step, lr) for step, lr in trace if lr < LR_DECAYED * start]
    if not low or low[0][0] > first + LR_DECAYED_BY * (last - first):
        return []
    slow, fell = _slow(records, facts)
    if not slow:
        return []
    step, lr = low[0]
    end = trace[-1][1]
    return [Finding(
        "learning_rate_decayed", "error",
        f"The learning rate decayed too fast: it started at {start:g} and was down to {lr:.2g} by step {step} of "
        f"{last} ({end:.2g} at the end), so most of the fit took steps too small to learn; the loss fell by only "
        f"{_pct(max(fell, 0))}.",
        ["a gentler schedule: lr_decay closer to 1 or a larger decay_step", "no decay (lr_decay=0)",
         "a schedule that ends low, not starts low (schedule='cosine' or 'one_cycle')"],
        step=step, role="cause", summary=f"the learning rate decayed from {start:g} to {lr:.2g} by step {step}",
        evidence={"start": start, "at_step": step, "learning_rate_then": lr, "end": end})]


def stopped_while_learning(records, facts: FitFacts) -> list[Finding]:
    steps, loss = _series(records, "loss")
    if len(loss) < 8 or not np.all(np.isfinite(loss)) or capacity_too_low(records, facts):
        return []  # (a network too narrow for its task does not catch up with more epochs)
    if facts.train_accuracy is not None and facts.train_accuracy >= 0.95:
        return []  # (it fits its training data: a longer fit would only grow its confidence)
    n, quarter = len(loss), max(2, len(loss) // 4)
    first, before, after = (float(np.mean(part)) for part in (loss[:quarter], loss[-2 * quarter:-quarter],
                                                                loss[-quarter:]))
    overall = (first - after) / abs(first) if first else 0.0
    falling = (before - after) / abs(before) if before else 0.0
    # the last quarter's share of the fit's gain, over the share a loss falling in a straight line would have
    pace = (before - after) / (first - after) * (n - quarter) / quarter if first > after else 0.0
    behind = facts.underperforms or facts.near_chance
    n_steps = int(steps[-1])
    few = n_steps <= FEW_STEPS
    if overall < STILL_FALLING or pace < (STILL_PACE if behind else FEW_STEPS_PACE if few else STEEP_PACE):
        return []  # (levelled off: the last quarter gained little of what the fit gained)
    epochs = len(facts.history)
    short = (f" It took only {n_steps} steps (batch_size={facts.batch_size} of {facts.n_samples} samples: "
             f"{-(-facts.n_samples // max(facts.batch_size, 1))} step(s) an epoch)." if few else "")
    return [Finding(
        "stopped_while_learning", "warning",
        f"Training stopped while the network was still learning: the loss fell by {_pct(overall)} over the fit and "
        f"was still falling in its last quarter (by {_pct(falling)}), so more training would still pay (training "
        f"accuracy {_pct(facts.train_accuracy or 0)}).{short} The fit was too short for its learning rate "
        f"({_lr(facts)}).",
        [f"more epochs (now {epochs})" if epochs else "more epochs",
         f"a larger learning rate (now {_lr(facts)}); model.lr_find(X, Y) suggests one"]
        + (["a smaller batch_size (more steps an epoch)"] if few else []),
        step=n_steps, role="cause", summary=f"training stopped while the loss was still falling "
                                            f"({_pct(falling)} over its last quarter{f', {n_steps} steps' if few else ''})",
        evidence={"fall": overall, "fall_last_quarter": falling, "last_quarter_share": pace, "epochs": epochs})]


def dead_at_init(records, facts: FitFacts) -> list[Finding]:
    findings = []
    for layer in _layers(records, "dead"):
        steps, dead = _series(records, f"{layer}/dead")
        if len(dead) >= 2 and dead[0] >= DYING and dead[-1] >= DYING:
            findings.append(Finding(
                "dead_at_init", "error",
                f"Layer {layer!r} was dead from the first step: {_pct(dead[0])} of its units never fire on the first "
                f"batch and {_pct(dead[-1])} at the end. It was initialized dead (biases too negative, or weights that "
                "turn every input off), so no gradient ever flows through it.",
                ["bias_init='zeros' (or a small positive constant for ReLU layers)",
                 "He initialization (weights_init='auto')", "activation='leaky_relu' (never fully dead)"],
                step=int(steps[0]), layer=layer, role="cause",
                summary=f"layer {layer!r} was dead from its initialization",
                evidence={"dead_first": float(dead[0]), "dead_last": float(dead[-1])}))
    return findings


def learning_rate_too_large(records, facts: FitFacts) -> list[Finding]:
    ratios = _update_ratios(records)
    steps = np.asarray([r["step"] for r in records])
    early = np.isfinite(ratios) & (steps <= steps[0] + 20) if len(steps) else ratios
    if not np.any(early) or np.nanmax(ratios[early]) < HUGE_UPDATE:
        return []
    i = int(np.argmax(np.where(early, ratios, -np.inf)))
    _, loss = _series(records, "loss")
    spiked = len(loss) > 1 and np.isfinite(loss[0]) and np.nanmax(np.where(early, loss, -np.inf)) > SPIKE_FACTOR * loss[0]
    harmed = (_stuck(facts) or spiked or any(v >= MOSTLY_DEAD for v in facts.final_dead.values())
              or any(v >= SATURATED for v in facts.final_saturated.values()) or facts.n_predicted_classes == 1)
    if not harmed:
        return []
    how = "adaptive: every weight moves by about the learning rate" if facts.adaptive else "steps scale with it"
    failed = _stuck(facts) or facts.n_predicted_classes == 1 or any(v >= DYING for v in facts.final_dead.values())
    return [Finding(
        "learning_rate_too_large", "error" if failed else "warning",
        f"The learning rate is too large: at step {int(steps[i])} one update changed a layer's weights by "
        f"{ratios[i]:.2g}x their norm (healthy steps change them by about 0.1-1%). With {facts.optimizer or 'this optimizer'} "
        f"at learning rate {_lr(facts)} ({how}) such steps throw units into dead or saturated regions.",
        [f"a learning rate 10-100x smaller (now {_lr(facts)})", "model.lr_find(X, Y) suggests one",
         "gradient clipping (DNN(clip_gradients=5.0))"],
        step=int(steps[i]), role="cause",
        summary=f"the learning rate ({_lr(facts)}) changed the weights by {ratios[i]:.2g}x their norm in one step "
                f"at step {int(steps[i])}",
        evidence={"update_ratio": float(ratios[i]), "step": int(steps[i]), "learning_rate": facts.learning_rate})]


def learning_rate_too_small(records, facts: FitFacts) -> list[Finding]:
    ratios = _update_ratios(records)
    ratios = ratios[np.isfinite(ratios)]
    if len(ratios) < 4 or ratios.max() <= NO_UPDATE:
        return []
    typical = float(_median(ratios))
    _, loss = _series(records, "loss")
    fell = (loss[0] - loss[-1]) / abs(loss[0]) if len(loss) > 1 and loss[0] else 0.0
    slow = fell < 0.25 or facts.near_chance or facts.underperforms
    if typical >= TINY_UPDATE or not slow or _relative_gradient(records) < MOVING_GRADIENT:
        return []  # (a vanishing gradient is not a small learning rate: another rule says it)
    return [Finding(
        "learning_rate_too_small", "error",
        f"The learning rate is too small: a typical step changes the weights by {typical:.2g} of their norm (healthy "
        f"training moves them by about 1e-3 to 1e-2 per step), and the loss fell by only {_pct(max(fell, 0))} "
        f"over the fit ({facts.optimizer or 'optimizer'}, learning rate {_lr(facts)}).",
        [f"a learning rate 10-100x larger (now {_lr(facts)})", "model.lr_find(X, Y) suggests one",
         "optimizer='adam' (its steps do not shrink with small gradients)"],
        role="cause", summary=f"the learning rate ({_lr(facts)}) is too small: steps change the weights by "
                              f"{typical:.1g} of their norm",
        evidence={"median_update_ratio": typical, "loss_fall": fell, "learning_rate": facts.learning_rate})]


def _relative_gradient(records) -> float:
    """The median over records of the global gradient norm over the global weight norm."""
    values = []
    for r in records:
        weights = [v for k, v in r.items() if k.endswith("/weight_norm")]
        if r.get("grad_norm") is not None and weights:
            values.append(r["grad_norm"] / max(math.sqrt(sum(w * w for w in weights)), 1e-12))
    return float(_median(values)) if values else 0.0


def _first_death(records) -> int | None:
    """The earliest step from which some layer stayed dead (None: none died)."""
    deaths = []
    for layer in _layers(records, "dead"):
        steps, dead = _series(records, f"{layer}/dead")
        died = _dead_since(steps, dead, DYING) if len(dead) else None
        if died is not None:
            deaths.append(died)
    return min(deaths) if deaths else None


def penalty_collapse(records, facts: FitFacts) -> list[Finding]:
    steps, loss = _series(records, "loss")
    _, penalty = _series(records, "penalty")
    if len(penalty) < 2 or len(penalty) != len(loss):
        return []
    share = np.where(loss > 0, penalty / np.maximum(loss, 1e-30), 0.0)
    over = np.nonzero(share > PENALTY_SHARE)[0]
    collapsed = (_stuck(facts) or facts.n_predicted_classes == 1 or facts.underperforms
                 or any(v >= DYING for v in facts.final_dead.values()))
    died = _first_death(records)
    if not len(over) or not collapsed or (died is not None and steps[over[0]] > died):
        return []  # (a penalty that took over after a layer died is its consequence: penalty_dominates)
    i = int(over[0])
    per_layer = {k[:-len("/penalty")]: v for k, v in records[i].items() if k.endswith("/penalty")}
    layer = max(per_layer, key=per_layer.get) if per_layer else None
    layer_share = per_layer.get(layer, 0.0) / loss[i] if layer and loss[i] > 0 else float(share[i])
    peak = int(np.argmax(share))
    where = f"the L1/L2 term of layer {layer!r}" if layer else "the L1/L2 penalty"
    return [Finding(
        "penalty_collapse", "error",
        f"The regularization overwhelmed the data: {where} was {_pct(layer_share)} of the loss at step "
        f"{int(steps[i])} (the whole penalty up to {_pct(share[peak])} at step {int(steps[peak])}). Minimizing it "
        "shrinks the weights toward 0, which silences the layer before the data can shape it.",
        [f"a smaller weight_decay for layer {layer!r} (10-100x)" if layer else "smaller weight_decay factors",
         "the same factor for every layer (a much larger factor on a small layer dominates)",
         "a lower learning rate"],
        step=int(steps[i]), layer=layer, role="cause",
        summary=f"{where} grew to {_pct(layer_share)} of the loss at step {int(steps[i])}",
        evidence={"penalty_share": float(share[i]), "layer_share": float(layer_share), "step": int(steps[i]),
                  "penalty_by_layer": per_layer})]


def capacity_too_low(records, facts: FitFacts) -> list[Finding]:
    if not facts.labels_known or facts.train_accuracy >= 0.95:
        return []
    classes = facts.n_outputs if (facts.n_outputs or 0) > 1 else 2
    narrow = [u for u in facts.hidden_units if u < classes] if facts.hidden_units else []
    linear = facts.linear_accuracy
    if not facts.hidden_layers and linear is not None and linear < 0.95 and facts.train_accuracy <= linear + 0.02:
        return [Finding(
            "capacity_too_low", "error",
            f"The data are not separable by this network: it has no hidden layer, so it draws one linear boundary, "
            f"and the best linear readout of the inputs is right on only {_pct(linear)} of the training samples "
            f"(the network: {_pct(facts.train_accuracy)}). No learning rate or number of epochs fixes that "
            "(XOR with one unit is the classic case).",
            ["a hidden layer (e.g. fully_connected(net, 4, activation='tanh') before the output)"],
            role="cause", summary=f"the data are not separable by one unit (a linear boundary gets {_pct(linear)})",
            evidence={"linear_accuracy": linear, "train_accuracy": facts.train_accuracy, "hidden_units": []})]
    if narrow and linear is not None and facts.train_accuracy < linear - 0.1:
        width = min(narrow)
        return [Finding(
            "capacity_too_low", "error",
            f"The network is too narrow for its task: a hidden layer of {width} unit(s) must carry {classes} classes, "
            f"and training accuracy stays at {_pct(facts.train_accuracy)} where even a linear readout of the raw "
            f"inputs reaches {_pct(linear)}.",
            [f"wider hidden layers (at least {classes} units; 32-128 is usual)"],
            role="cause", summary=f"a hidden layer of {width} unit(s) is too narrow for {classes} classes",
            evidence={"hidden_units": facts.hidden_units, "linear_accuracy": linear,
                      "train_accuracy": facts.train_accuracy})]
    return []


def overfitting(records, facts: FitFacts) -> list[Finding]:
    val = [(i, h["val_loss"]) for i, h in enumerate(facts.history) if isinstance(h.get("val_loss"), (int, float))]
    if facts.train_accuracy is None or facts.val_accuracy is None or len(val) < 3:
        return []
    gap = facts.train_accuracy - facts.val_accuracy
    if gap < OVERFIT_GAP or facts.train_accuracy < 0.9:
        return []
    best_i, best = min(val, key=lambda iv: iv[1])
    last = val[-1][1]
    rising = last > best * 1.1 and best_i < val[-1][0]
    epoch = best_i + 1
    stop = (f" Validation loss was lowest at epoch {epoch} ({best:.3g}; {last:.3g} at the end): early stopping "
            f"would have stopped there." if rising else "")
    return [Finding(
        "overfitting", "warning",
        f"The network memorizes its {facts.n_samples} training samples: training accuracy {_pct(facts.train_accuracy)}, "
        f"validation accuracy {_pct(facts.val_accuracy)} (a gap of {_pct(gap)}).{stop}",
        ["more training data (or data augmentation)", "dropout / a small L2 weight_decay",
         "a smaller network", "early stopping (fewer epochs, or the best validation epoch's checkpoint)"],
        role="cause", summary=f"the network memorized its {facts.n_samples} training samples (train "
                              f"{_pct(facts.train_accuracy)}, validation {_pct(facts.val_accuracy)})",
        evidence={"train_accuracy": facts.train_accuracy, "val_accuracy": facts.val_accuracy, "gap": gap,
                  "best_val_epoch": epoch if rising else None})]


def batchnorm_tiny_batches(records, facts: FitFacts) -> list[Finding]:
    batch = min(facts.batch_size, facts.n_samples)
    if not facts.batch_norm or batch >= BATCHNORM_MIN_BATCH:
        return []
    val = facts.val_accuracy
    harm = "" if val is None or facts.train_accuracy is None else (
        f" Training accuracy (evaluation mode) {_pct(facts.train_accuracy)}, validation {_pct(val)}.")
    return [Finding(
        "batchnorm_tiny_batches", "error" if _stuck(facts) else "warning",
        f"Batch normalization with batches of {batch}: each step normalizes by the mean and variance of {batch} "
        f"samples, which are mostly noise, and the running statistics used at prediction time drift from what "
        f"training saw.{harm}",
        ["a batch_size of 32 or more", "remove batch_normalization for tiny batches (or use layer normalization)"],
        role="cause", summary=f"batch normalization ran on batches of {batch}",
        evidence={"batch_size": batch, "train_accuracy": facts.train_accuracy, "val_accuracy": val})]


def dominant_class(records, facts: FitFacts) -> list[Finding]:
    shares = facts.class_shares
    if not shares or len(shares) < 2:
        return []
    top = int(np.argmax(shares))
    if shares[top] < DOMINANT or shares[top] < 3 * sorted(shares)[-2]:
        return []
    predicts_it = facts.majority_class == top and (facts.majority_fraction or 0) >= 0.8
    if not predicts_it:
        return []
    return [Finding(
        "dominant_class", "error" if facts.majority_fraction >= ONE_CLASS else "warning",
        f"One class dominates the training labels: class {top} is {_pct(shares[top])} of them, and the network "
        f"predicts it for {_pct(facts.majority_fraction)} of the probe. Always answering class {top} already gives "
        f"{_pct(shares[top])} training accuracy, so that is what it learned first.",
        ["balance the classes (resample, or weight the loss by inverse class frequency)",
         "report balanced accuracy or per-class recall, not accuracy"],
        role="cause", summary=f"class {top} is {_pct(shares[top])} of the training labels",
        evidence={"class_shares": shares, "majority_class": top})]


def data_not_shuffled(records, facts: FitFacts) -> list[Finding]:
    purity = facts.batch_purity
    if facts.shuffle or purity is None or facts.class_shares is None:
        return []
    by_chance = max(facts.class_shares)
    if purity < max(SORTED_BATCHES, by_chance + 0.5 * (1 - by_chance)):
        return []
    failed = _stuck(facts) or facts.underperforms or (facts.majority_fraction or 0) >= ONE_CLASS
    return [Finding(
        "data_not_shuffled", "error" if failed else "warning",
        f"The training data are sorted by class and not shuffled (shuffle=False): on average {_pct(purity)} of a "
        f"batch is one class ({_pct(by_chance)} if mixed). Every epoch the network is pulled to one class after "
        "another and ends on the last classes it saw.",
        ["fit(..., shuffle=True) (TFlearn's default)", "shuffle X and Y together once before fitting "
         "(deepscope.data_utils.shuffle(X, Y))"],
        role="cause", summary=f"the data are sorted by class and not shuffled ({_pct(purity)} of a batch is one class)",
        evidence={"batch_purity": purity, "largest_class_share": by_chance})]


def tiny_last_batch(records, facts: FitFacts) -> list[Finding]:
    rest = facts.n_samples % facts.batch_size if facts.batch_size < facts.n_samples else 0
    if facts.drop_last or rest == 0 or rest >= TINY_BATCH * facts.batch_size:
        return []
    lr = facts.learning_rate or 0.0
    large = lr >= (LARGE_LR_ADAPTIVE if facts.adaptive else LARGE_LR_SGD)
    return [Finding("tiny_last_batch", "warning" if large else "note",
                    f"Every epoch ends with a batch of {rest} samples ({facts.n_samples} samples, batch_size "
                    f"{facts.batch_size}): that step's gradient comes from {rest} samples only, so it is much noisier"
                    + (f", and at learning rate {lr:g} it alone can move the final accuracy." if large else
                       f"; at learning rate {lr:g} ({facts.optimizer or 'this optimizer'}) its effect is small."),
                    ["fit(..., drop_last=True)", f"a batch_size that divides {facts.n_samples}",
                     "shuffle so the small batch changes every epoch"], role="cause",
                    summary=f"every epoch ends with a batch of {rest} samples",
                    evidence={"last_batch": rest, "batch_size": facts.batch_size, "n_samples": facts.n_samples})]


# -- symptoms: what the network did -------------------------------------------------------------------
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
            ["see the cause above", "a lower learning rate", "a smaller initialization (weights_init='auto': He/Glorot)"],
            role="symptom", summary=f"the network predicts class {facts.majority_class} for {what}",
            evidence={"predicted_class": facts.majority_class, "n_predicted_classes": facts.n_predicted_classes,
                      "majority_fraction": share, "output_spread": facts.output_spread})]
    if facts.output_spread is not None and facts.output_spread < 1e-6 and not facts.classifier:
        return [Finding("constant_prediction", "error",
                        f"The network's output is the same for every input (spread {facts.output_spread:.2g} "
                        "over the probe samples).", ["a lower learning rate", "check for dead layers"],
                        role="symptom", summary="the output is the same for every input",
                        evidence={"output_spread": facts.output_spread})]
    return []


def stuck_at_chance(records, facts: FitFacts) -> list[Finding]:
    if not facts.near_chance or facts.n_predicted_classes == 1:
        return []  # (a constant prediction says it already)
    return [Finding(
        "stuck_at_chance", "error",
        f"Training did not learn: training accuracy is {_pct(facts.train_accuracy)} at the end, where always "
        f"guessing the most frequent class gives {_pct(facts.chance)}.",
        ["see the cause above"], role="symptom",
        summary=f"training accuracy stayed at chance ({_pct(facts.train_accuracy)}, chance {_pct(facts.chance)})",
        evidence={"train_accuracy": facts.train_accuracy, "chance": facts.chance})]


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
                _dead_fixes(facts), step=died, layer=layer, role="symptom",
                summary=f"layer {layer!r} died at step {died}",
                evidence={"dead_fraction": float(dead[-1]), "died_at_step": died, "all_dead_since_step": all_dead,
                          "dead_at_records": dict(zip(map(int, steps[:25]), map(float, dead[:25])))}))
        elif dead[-1] >= MOSTLY_DEAD:
            first = int(steps[np.argmax(dead >= MOSTLY_DEAD)])
            findings.append(Finding(
                "mostly_dead_layer", "warning",
                f"{100 * dead[-1]:.0f}% of the units of layer {layer!r} are dead at the end (never active on the "
                f"probe; {100 * dead.max():.0f}% at worst, first above {100 * MOSTLY_DEAD:.0f}% at step {first}).",
                _dead_fixes(facts), step=first, layer=layer, role="symptom",
                summary=f"{100 * dead[-1]:.0f}% of layer {layer!r}'s units died",
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
        final = max(float(sat[-1]) if len(sat) else 0.0, facts.final_saturated.get(layer) or 0.0)
        if final >= SATURATED:
            above = np.nonzero(sat >= SATURATED)[0]
            first = int(steps[above[0]]) if len(above) else None
            findings.append(Finding(
                "saturated_layer", "warning",
                f"{_pct(final)} of the units of layer {layer!r} are saturated at the end (their sigmoid/tanh "
                "output is pinned near its limits on most probe samples, so their gradient is ~0"
                + (f"; first at step {first})." if first is not None else ")."),
                ["a lower learning rate", "Glorot initialization (weights_init='auto')", "batch_normalization",
                 "activation='relu'"], step=first, layer=layer, role="symptom",
                summary=f"{_pct(final)} of layer {layer!r}'s units saturated",
                evidence={"saturated_fraction": final}))
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
                    step=int(steps[peak_i] if spiked else steps[0]), role="symptom",
                    summary=(f"the loss rose to {loss[peak_i]:.3g} at step {int(steps[peak_i])}" if spiked else
                             f"the first loss was {loss[0] / chance:.0f}x that of a uniform guess"),
                    evidence={"first_loss": float(loss[0]), "peak_loss": float(loss[peak_i]),
                              "peak_step": int(steps[peak_i]), "chance_loss": chance})]


def exploding_gradients(records, facts: FitFacts) -> list[Finding]:
    steps, g = _series(records, "grad_norm")
    if len(g) < 4:
        return []
    before = sorted(float(v) for v in g[:3])  # the records before i, sorted: a running median
    for i in range(3, len(g)):  # the first record far above the median of the records before it
        m = len(before)
        base = before[m // 2] if m % 2 else 0.5 * (before[m // 2 - 1] + before[m // 2])
        if g[i] > EXPLODING_FACTOR * max(base, 1e-12) or g[i] > EXPLODING_ABSOLUTE > 100 * base:
            break
        bisect.insort(before, float(g[i]))
    else:
        return []
    worst = int(np.argmax(g))
    clipped = f" (clipped to {facts.clip_gradients:g})" if facts.clip_gradients else " (no clipping)"
    return [Finding("exploding_gradients", "warning",
                    f"The gradient norm jumped to {g[i]:.3g} at step {int(steps[i])}, {g[i] / max(base, 1e-12):.0f}x its "
                    f"median before ({base:.3g}){clipped}; its largest value was {g[worst]:.3g} at step {int(steps[worst])}.",
                    ["gradient clipping (DNN(clip_gradients=5.0))", "a lower learning rate", "batch_normalization"],
                    step=int(steps[i]), role="symptom",
                    summary=f"the gradient norm jumped {g[i] / max(base, 1e-12):.0f}x at step {int(steps[i])}",
                    evidence={"grad_norm": float(g[i]), "median_before": base,
                              "max_grad_norm": float(g[worst]), "max_step": int(steps[worst])})]


def vanishing_gradients(records, facts: FitFacts) -> list[Finding]:
    if any((v or 0) >= 1.0 for v in facts.final_dead.values()):
        return []  # a dead layer explains the missing gradient (dead_layer says so)
    layers = _layer_order(records)
    depth = _depth_vanishing(records, layers, facts)
    if depth:
        return depth
    findings = []
    for layer in layers:
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
                step=int(steps[tail][0]), layer=layer, role="symptom",
                summary=f"the gradient of layer {layer!r} vanished", evidence={"grad_to_weight": float(ratio.max())}))
    return findings


def _depth_vanishing(records, layers: list, facts: FitFacts) -> list[Finding]:
    """A deep stack of sigmoid/tanh layers: the first layer's relative gradient is a tiny fraction of
    the last hidden layer's (each saturating layer multiplies the gradient by at most 1/4 or 1)."""
    if facts.saturating_layers < 4 or len(layers) < 3:
        return []

    def relative(layer):
        _, g = _series(records, f"{layer}/grad_norm")
        _, w = _series(records, f"{layer}/weight_norm")
        return float(_median(g / np.maximum(w, 1e-12))) if len(g) and len(g) == len(w) else None

    first, last = relative(layers[0]), relative(layers[-2])
    if first is None or not last or first >= DEPTH_VANISHING * last:
        return []
    return [Finding(
        "vanishing_gradients", "error" if _stuck(facts) else "warning",
        f"The gradient vanishes with depth: through {facts.saturating_layers} sigmoid/tanh layers, layer "
        f"{layers[0]!r} gets a relative gradient {first / last:.1g} times that of layer {layers[-2]!r}, so the first "
        "layers hardly learn.",
        ["activation='relu' (its gradient does not shrink layer by layer)", "batch_normalization between layers",
         "fewer layers, or residual connections", "He/Glorot initialization (weights_init='auto')"],
        layer=layers[0], role="cause",
        summary=f"the gradient vanished through {facts.saturating_layers} sigmoid/tanh layers ({first / last:.0e} "
                f"at layer {layers[0]!r})",
        evidence={"first_layer_relative_grad": first, "last_layer_relative_grad": last})]


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
                    step=int(steps[-1]), role="symptom",
                    summary="the loss falls only because the penalty decays" if falls_by_penalty else
                    f"the penalty is {100 * share:.0f}% of the final loss",
                    evidence={"loss": [float(loss[0]), float(loss[-1])], "penalty": [float(penalty[0]), float(penalty[-1])],
                              "data_loss": [float(data[0]), float(data[-1])], "final_penalty_by_layer": per_layer})]


RULES = (parameters_not_changing, loss_output_mismatch, output_range_mismatch, targets_not_scaled, uninformative_labels,
         inputs_not_normalized, init_too_large,
         dropout_too_strong, momentum_too_high, gradient_clipping_too_tight, learning_rate_decayed,
         dead_at_init, penalty_collapse, learning_rate_too_large, learning_rate_too_small, batchnorm_tiny_batches,
         dominant_class, data_not_shuffled, capacity_too_low, overfitting, tiny_last_batch, constant_prediction, stuck_at_chance,
         dead_layers, saturated_layers, loss_spike, exploding_gradients, vanishing_gradients, penalty_dominates,
         stopped_while_learning)
