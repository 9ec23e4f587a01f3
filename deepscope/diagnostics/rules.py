"""The rules that turn step records into findings in plain words, causes before symptoms.

Each rule reads the records of :class:`~deepscope.diagnostics.recorder.StepRecorder` (one dict per
diagnostic step) and the :class:`~deepscope.diagnostics.facts.FitFacts`, and returns findings
(possibly none). A finding is a **cause** (something in the recipe or the data: a learning rate, an
initialization, a penalty, the labels) or a **symptom** (what the network did: a layer died, the
predictions collapsed); :mod:`.causes` links them and puts the root cause first. The thresholds and the
helpers that read records are in :mod:`.evidence`; the causes in the training settings and a regression's
targets are in :mod:`.settings_rules`. :func:`diagnose` runs them all.
"""
from __future__ import annotations

import bisect
import math

import numpy as np

from .causes import link
from .facts import FitFacts
from .findings import Finding
from .evidence import (BATCHNORM_MIN_BATCH, DEPTH_VANISHING, DOMINANT, DYING, EXPLODING_ABSOLUTE,
                       EXPLODING_FACTOR, FEW_STEPS, FEW_STEPS_PACE, HIGH_START, HUGE_UPDATE, INIT_TOO_LARGE,
                       LARGE_LR_ADAPTIVE, LARGE_LR_SGD, MOSTLY_DEAD, MOVING_GRADIENT, NO_UPDATE, ONE_CLASS, OVERFIT_GAP,
                       PENALTY_SHARE, RAW_INPUTS, SATURATED, SORTED_BATCHES, SPIKE_FACTOR, STEEP_PACE, STILL_FALLING,
                       STILL_PACE, TINY_BATCH, TINY_UPDATE, VANISHING_RATIO, behind_readout, dead_since, is_harmed,
                       is_stuck, layer_names, layer_order, lr_text, median, pct, series, update_ratios)
from .data_rules import constant_inputs, targets_not_one_hot, validation_inputs_differ, validation_mismatch
from .settings_rules import (dropout_too_strong, gradient_clipping_too_tight, learning_rate_decayed,  # noqa: F401
                             momentum_too_high, output_range_mismatch, targets_not_scaled)


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
    present = {f.code for f in findings}
    restated = {code for cause, codes in RESTATES.items() if cause in present for code in codes}
    findings = [f for f in findings if f.code not in restated]
    return link(findings)


#: causes named only when no other cause is found (a fit too short is the explanation of last resort)
LAST_RESORT = ("stopped_while_learning",)
#: a cause that, when found, makes another finding a restatement with the wrong advice (steps too small because of
#: the clipping or the schedule are not fixed by "a learning rate 10-100x larger")
RESTATES = {"gradient_clipping_too_tight": ("learning_rate_too_small",),
            "learning_rate_decayed": ("learning_rate_too_small",),
            "constant_inputs": ("uninformative_labels", "validation_inputs_differ"),  # (said once, by the cause)
            "validation_mismatch": ("overfitting",),  # (not memorization: its advice would be more data, dropout)
            "validation_inputs_differ": ("validation_mismatch", "overfitting")}  # (the specific cause is named)


# -- causes: the recipe and the data ------------------------------------------------------------------
def parameters_not_changing(records, facts: FitFacts) -> list[Finding]:
    ratios = update_ratios(records)
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
    harmed = is_stuck(facts) or (facts.n_predicted_classes == 1)
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
        f"for {pct(facts.knn_accuracy)} of the samples, no better than a guess that ignores the inputs "
        f"({pct(base)}). Labels that are shuffled, shifted against their inputs, or random give this; the "
        f"network cannot learn them (it ended at {pct(learned)}).",
        ["check that X and Y are in the same order (no separate shuffling, no off-by-one)",
         "look at a few inputs with their labels (deepscope.introspect / matplotlib)",
         "check the label encoding (one-hot columns in the class order)"],
        role="cause", summary=f"the labels are not predictable from the inputs (nearest-neighbour accuracy "
                              f"{pct(facts.knn_accuracy)}, {pct(base)} by chance)",
        evidence={"knn_accuracy": facts.knn_accuracy, "by_chance": base, "final_accuracy": learned})]


def inputs_not_normalized(records, facts: FitFacts) -> list[Finding]:
    scale = facts.input_scale
    if scale is None or scale <= RAW_INPUTS:
        return []
    harmed = (is_stuck(facts) or any(v >= SATURATED for v in facts.final_saturated.values()) or behind_readout(facts)
              or any(v >= DYING for v in facts.final_dead.values()) or _first_loss_ratio(records, facts) > HIGH_START)
    if not harmed:
        return []
    few = 0 < facts.large_inputs <= max(1, facts.n_inputs // 10)  # a few features on another scale than the rest
    where = (f" in {facts.large_inputs} of the {facts.n_inputs} input features" if few
             else " (pixels 0-255?)" if scale <= 300 else "")
    return [Finding(
        "inputs_not_normalized", "error" if is_stuck(facts) else "warning",
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
    steps, loss = series(records, "data_loss")
    if not len(loss):
        steps, loss = series(records, "loss")
    if not len(loss) or not facts.classifier or (facts.n_outputs or 0) < 2 or not np.isfinite(loss[0]):
        return 0.0
    return float(loss[0]) / math.log(facts.n_outputs)


def init_too_large(records, facts: FitFacts) -> list[Finding]:
    large = {k: v for k, v in facts.init_scale.items() if v > INIT_TOO_LARGE}
    ratio = _first_loss_ratio(records, facts)
    if not large:
        return []
    layer, scale = max(large.items(), key=lambda kv: kv[1])
    harmed = ratio > HIGH_START or is_harmed(records, facts) or behind_readout(facts)
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


def stopped_while_learning(records, facts: FitFacts) -> list[Finding]:
    steps, loss = series(records, "loss")
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
        f"Training stopped while the network was still learning: the loss fell by {pct(overall)} over the fit and "
        f"was still falling in its last quarter (by {pct(falling)}), so more training would still pay (training "
        f"accuracy {pct(facts.train_accuracy or 0)}).{short} The fit was too short for its learning rate "
        f"({lr_text(facts)}).",
        [f"more epochs (now {epochs})" if epochs else "more epochs",
         f"a larger learning rate (now {lr_text(facts)}); model.lr_find(X, Y) suggests one"]
        + (["a smaller batch_size (more steps an epoch)"] if few else []),
        step=n_steps, role="cause", summary=f"training stopped while the loss was still falling "
                                            f"({pct(falling)} over its last quarter{f', {n_steps} steps' if few else ''})",
        evidence={"fall": overall, "fall_last_quarter": falling, "last_quarter_share": pace, "epochs": epochs})]


def dead_at_init(records, facts: FitFacts) -> list[Finding]:
    findings = []
    for layer in layer_names(records, "dead"):
        steps, dead = series(records, f"{layer}/dead")
        if len(dead) >= 2 and dead[0] >= DYING and dead[-1] >= DYING:
            findings.append(Finding(
                "dead_at_init", "error",
                f"Layer {layer!r} was dead from the first step: {pct(dead[0])} of its units never fire on the first "
                f"batch and {pct(dead[-1])} at the end. It was initialized dead (biases too negative, or weights that "
                "turn every input off), so no gradient ever flows through it.",
                ["bias_init='zeros' (or a small positive constant for ReLU layers)",
                 "He initialization (weights_init='auto')", "activation='leaky_relu' (never fully dead)"],
                step=int(steps[0]), layer=layer, role="cause",
                summary=f"layer {layer!r} was dead from its initialization",
                evidence={"dead_first": float(dead[0]), "dead_last": float(dead[-1])}))
    return findings


def learning_rate_too_large(records, facts: FitFacts) -> list[Finding]:
    ratios = update_ratios(records)
    steps = np.asarray([r["step"] for r in records])
    early = np.isfinite(ratios) & (steps <= steps[0] + 20) if len(steps) else ratios
    if not np.any(early) or np.nanmax(ratios[early]) < HUGE_UPDATE:
        return []
    i = int(np.argmax(np.where(early, ratios, -np.inf)))
    _, loss = series(records, "loss")
    spiked = len(loss) > 1 and np.isfinite(loss[0]) and np.nanmax(np.where(early, loss, -np.inf)) > SPIKE_FACTOR * loss[0]
    harmed = (is_stuck(facts) or spiked or any(v >= MOSTLY_DEAD for v in facts.final_dead.values())
              or any(v >= SATURATED for v in facts.final_saturated.values()) or facts.n_predicted_classes == 1)
    if not harmed:
        return []
    how = "adaptive: every weight moves by about the learning rate" if facts.adaptive else "steps scale with it"
    failed = is_stuck(facts) or facts.n_predicted_classes == 1 or any(v >= DYING for v in facts.final_dead.values())
    return [Finding(
        "learning_rate_too_large", "error" if failed else "warning",
        f"The learning rate is too large: at step {int(steps[i])} one update changed a layer's weights by "
        f"{ratios[i]:.2g}x their norm (healthy steps change them by about 0.1-1%). With {facts.optimizer or 'this optimizer'} "
        f"at learning rate {lr_text(facts)} ({how}) such steps throw units into dead or saturated regions.",
        [f"a learning rate 10-100x smaller (now {lr_text(facts)})", "model.lr_find(X, Y) suggests one",
         "gradient clipping (DNN(clip_gradients=5.0))"],
        step=int(steps[i]), role="cause",
        summary=f"the learning rate ({lr_text(facts)}) changed the weights by {ratios[i]:.2g}x their norm in one step "
                f"at step {int(steps[i])}",
        evidence={"update_ratio": float(ratios[i]), "step": int(steps[i]), "learning_rate": facts.learning_rate})]


def learning_rate_too_small(records, facts: FitFacts) -> list[Finding]:
    ratios = update_ratios(records)
    ratios = ratios[np.isfinite(ratios)]
    if len(ratios) < 4 or ratios.max() <= NO_UPDATE:
        return []
    typical = float(median(ratios))
    _, loss = series(records, "loss")
    fell = (loss[0] - loss[-1]) / abs(loss[0]) if len(loss) > 1 and loss[0] else 0.0
    slow = fell < 0.25 or facts.near_chance or facts.underperforms
    if typical >= TINY_UPDATE or not slow or _relative_gradient(records) < MOVING_GRADIENT:
        return []  # (a vanishing gradient is not a small learning rate: another rule says it)
    return [Finding(
        "learning_rate_too_small", "error",
        f"The learning rate is too small: a typical step changes the weights by {typical:.2g} of their norm (healthy "
        f"training moves them by about 1e-3 to 1e-2 per step), and the loss fell by only {pct(max(fell, 0))} "
        f"over the fit ({facts.optimizer or 'optimizer'}, learning rate {lr_text(facts)}).",
        [f"a learning rate 10-100x larger (now {lr_text(facts)})", "model.lr_find(X, Y) suggests one",
         "optimizer='adam' (its steps do not shrink with small gradients)"],
        role="cause", summary=f"the learning rate ({lr_text(facts)}) is too small: steps change the weights by "
                              f"{typical:.1g} of their norm",
        evidence={"median_update_ratio": typical, "loss_fall": fell, "learning_rate": facts.learning_rate})]


def _relative_gradient(records) -> float:
    """The median over records of the global gradient norm over the global weight norm."""
    values = []
    for r in records:
        weights = [v for k, v in r.items() if k.endswith("/weight_norm")]
        if r.get("grad_norm") is not None and weights:
            values.append(r["grad_norm"] / max(math.sqrt(sum(w * w for w in weights)), 1e-12))
    return float(median(values)) if values else 0.0


def _first_death(records) -> int | None:
    """The earliest step from which some layer stayed dead (None: none died)."""
    deaths = []
    for layer in layer_names(records, "dead"):
        steps, dead = series(records, f"{layer}/dead")
        died = dead_since(steps, dead, DYING) if len(dead) else None
        if died is not None:
            deaths.append(died)
    return min(deaths) if deaths else None


def penalty_collapse(records, facts: FitFacts) -> list[Finding]:
    steps, loss = series(records, "loss")
    _, penalty = series(records, "penalty")
    if len(penalty) < 2 or len(penalty) != len(loss):
        return []
    share = np.where(loss > 0, penalty / np.maximum(loss, 1e-30), 0.0)
    over = np.nonzero(share > PENALTY_SHARE)[0]
    collapsed = (is_stuck(facts) or facts.n_predicted_classes == 1 or facts.underperforms
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
        f"The regularization overwhelmed the data: {where} was {pct(layer_share)} of the loss at step "
        f"{int(steps[i])} (the whole penalty up to {pct(share[peak])} at step {int(steps[peak])}). Minimizing it "
        "shrinks the weights toward 0, which silences the layer before the data can shape it.",
        [f"a smaller weight_decay for layer {layer!r} (10-100x)" if layer else "smaller weight_decay factors",
         "the same factor for every layer (a much larger factor on a small layer dominates)",
         "a lower learning rate"],
        step=int(steps[i]), layer=layer, role="cause",
        summary=f"{where} grew to {pct(layer_share)} of the loss at step {int(steps[i])}",
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
            f"and the best linear readout of the inputs is right on only {pct(linear)} of the training samples "
            f"(the network: {pct(facts.train_accuracy)}). No learning rate or number of epochs fixes that "
            "(XOR with one unit is the classic case).",
            ["a hidden layer (e.g. fully_connected(net, 4, activation='tanh') before the output)"],
            role="cause", summary=f"the data are not separable by one unit (a linear boundary gets {pct(linear)})",
            evidence={"linear_accuracy": linear, "train_accuracy": facts.train_accuracy, "hidden_units": []})]
    if narrow and linear is not None and facts.train_accuracy < linear - 0.1:
        width = min(narrow)
        return [Finding(
            "capacity_too_low", "error",
            f"The network is too narrow for its task: a hidden layer of {width} unit(s) must carry {classes} classes, "
            f"and training accuracy stays at {pct(facts.train_accuracy)} where even a linear readout of the raw "
            f"inputs reaches {pct(linear)}.",
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
    distinct = facts.distinct_inputs
    repeats = distinct is not None and distinct <= 0.5 * facts.data_samples
    copies = (f" The training set repeats itself: the {facts.data_samples} samples checked hold only {distinct} "
              "distinct inputs." if repeats else "")
    what = f"{facts.n_samples} training samples" + (f", only {distinct} distinct among {facts.data_samples} checked"
                                                     if repeats else "")
    return [Finding(
        "overfitting", "warning",
        f"The network memorizes its {facts.n_samples} training samples: training accuracy {pct(facts.train_accuracy)}, "
        f"validation accuracy {pct(facts.val_accuracy)} (a gap of {pct(gap)}).{copies}{stop}",
        (["more distinct training data (copies of the same samples add none)"] if repeats else [])
        + ["more training data (or data augmentation)", "dropout / a small L2 weight_decay",
           "a smaller network", "early stopping (fewer epochs, or the best validation epoch's checkpoint)"],
        role="cause", summary=f"the network memorized its {what} (train "
                              f"{pct(facts.train_accuracy)}, validation {pct(facts.val_accuracy)})",
        evidence={"train_accuracy": facts.train_accuracy, "val_accuracy": facts.val_accuracy, "gap": gap,
                  "best_val_epoch": epoch if rising else None, "distinct_inputs": distinct})]


def batchnorm_tiny_batches(records, facts: FitFacts) -> list[Finding]:
    batch = min(facts.batch_size, facts.n_samples)
    if not facts.batch_norm or batch >= BATCHNORM_MIN_BATCH:
        return []
    val = facts.val_accuracy
    harm = "" if val is None or facts.train_accuracy is None else (
        f" Training accuracy (evaluation mode) {pct(facts.train_accuracy)}, validation {pct(val)}.")
    return [Finding(
        "batchnorm_tiny_batches", "error" if is_stuck(facts) else "warning",
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
        f"One class dominates the training labels: class {top} is {pct(shares[top])} of them, and the network "
        f"predicts it for {pct(facts.majority_fraction)} of the probe. Always answering class {top} already gives "
        f"{pct(shares[top])} training accuracy, so that is what it learned first.",
        ["balance the classes (resample, or weight the loss by inverse class frequency)",
         "report balanced accuracy or per-class recall, not accuracy"],
        role="cause", summary=f"class {top} is {pct(shares[top])} of the training labels",
        evidence={"class_shares": shares, "majority_class": top})]


def data_not_shuffled(records, facts: FitFacts) -> list[Finding]:
    purity = facts.batch_purity
    if facts.shuffle or purity is None or facts.class_shares is None:
        return []
    by_chance = max(facts.class_shares)
    if purity < max(SORTED_BATCHES, by_chance + 0.5 * (1 - by_chance)):
        return []
    failed = is_stuck(facts) or facts.underperforms or (facts.majority_fraction or 0) >= ONE_CLASS
    return [Finding(
        "data_not_shuffled", "error" if failed else "warning",
        f"The training data are sorted by class and not shuffled (shuffle=False): on average {pct(purity)} of a "
        f"batch is one class ({pct(by_chance)} if mixed). Every epoch the network is pulled to one class after "
        "another and ends on the last classes it saw.",
        ["fit(..., shuffle=True) (TFlearn's default)", "shuffle X and Y together once before fitting "
         "(deepscope.data_utils.shuffle(X, Y))"],
        role="cause", summary=f"the data are sorted by class and not shuffled ({pct(purity)} of a batch is one class)",
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
        f"Training did not learn: training accuracy is {pct(facts.train_accuracy)} at the end, where always "
        f"guessing the most frequent class gives {pct(facts.chance)}.",
        ["see the cause above"], role="symptom",
        summary=f"training accuracy stayed at chance ({pct(facts.train_accuracy)}, chance {pct(facts.chance)})",
        evidence={"train_accuracy": facts.train_accuracy, "chance": facts.chance})]


def dead_layers(records, facts: FitFacts) -> list[Finding]:
    findings = []
    for layer in layer_names(records, "dead"):
        steps, dead = series(records, f"{layer}/dead")
        if not len(dead):
            continue
        died = dead_since(steps, dead, DYING)  # from here on (almost) every unit stayed dead
        if died is not None:
            after = dead[list(steps).index(died):]
            all_dead = dead_since(steps, dead, 1.0)
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
            harmed = is_harmed(records, facts) or behind_readout(facts)  # (else: units idle, the fit went well)
            findings.append(Finding(
                "mostly_dead_layer", "warning" if harmed else "note",
                f"{100 * dead[-1]:.0f}% of the units of layer {layer!r} are dead at the end (never active on the "
                f"probe; {100 * dead.max():.0f}% at worst, first above {100 * MOSTLY_DEAD:.0f}% at step {first})."
                + ("" if harmed else " The network learned anyway: capacity left unused, not a failure."),
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
    for layer in layer_names(records, "saturated"):
        steps, sat = series(records, f"{layer}/saturated")
        final = max(float(sat[-1]) if len(sat) else 0.0, facts.final_saturated.get(layer) or 0.0)
        if final >= SATURATED:
            above = np.nonzero(sat >= SATURATED)[0]
            first = int(steps[above[0]]) if len(above) else None
            findings.append(Finding(
                "saturated_layer", "warning",
                f"{pct(final)} of the units of layer {layer!r} are saturated at the end (their sigmoid/tanh "
                "output is pinned near its limits on most probe samples, so their gradient is ~0"
                + (f"; first at step {first})." if first is not None else ")."),
                ["a lower learning rate", "Glorot initialization (weights_init='auto')", "batch_normalization",
                 "activation='relu'"], step=first, layer=layer, role="symptom",
                summary=f"{pct(final)} of layer {layer!r}'s units saturated",
                evidence={"saturated_fraction": final}))
    return findings


def loss_spike(records, facts: FitFacts) -> list[Finding]:
    steps, loss = series(records, "loss")
    steps_d, data = series(records, "data_loss")
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
    steps, g = series(records, "grad_norm")
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
    layers = layer_order(records)
    depth = _depth_vanishing(records, layers, facts)
    if depth:
        return depth
    findings = []
    for layer in layers:
        steps, g = series(records, f"{layer}/grad_norm")
        _, w = series(records, f"{layer}/weight_norm")
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
        _, g = series(records, f"{layer}/grad_norm")
        _, w = series(records, f"{layer}/weight_norm")
        return float(median(g / np.maximum(w, 1e-12))) if len(g) and len(g) == len(w) else None

    first, last = relative(layers[0]), relative(layers[-2])
    if first is None or not last or first >= DEPTH_VANISHING * last:
        return []
    return [Finding(
        "vanishing_gradients", "error" if is_stuck(facts) else "warning",
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
    steps, loss = series(records, "loss")
    _, penalty = series(records, "penalty")
    _, data = series(records, "data_loss")
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


RULES = (parameters_not_changing, loss_output_mismatch, output_range_mismatch, targets_not_scaled, constant_inputs,
         targets_not_one_hot,
         uninformative_labels, validation_inputs_differ, validation_mismatch, inputs_not_normalized, init_too_large,
         dropout_too_strong, momentum_too_high, gradient_clipping_too_tight, learning_rate_decayed,
         dead_at_init, penalty_collapse, learning_rate_too_large, learning_rate_too_small, batchnorm_tiny_batches,
         dominant_class, data_not_shuffled, capacity_too_low, overfitting, tiny_last_batch, constant_prediction, stuck_at_chance,
         dead_layers, saturated_layers, loss_spike, exploding_gradients, vanishing_gradients, penalty_dominates,
         stopped_while_learning)
