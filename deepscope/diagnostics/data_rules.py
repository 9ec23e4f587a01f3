"""Causes in the data given to ``fit``: inputs that are the same for every sample, one-hot targets with no class
or several, validation inputs prepared another way than the training inputs, and a validation set that does not
belong to the training data. Each rule is
``(records, FitFacts) -> [Finding]``, as in :mod:`.rules` (which runs them with the others).
"""
from __future__ import annotations

import math

from .evidence import pct
from .facts import FitFacts
from .findings import Finding

#: training accuracy at least this share of the way from chance to perfect: the network learned the training data
LEARNED = 0.5
#: validation inputs whose mean is this many training standard deviations away, or whose spread is this many times
#: larger or smaller (all features pooled), were prepared another way (MNIST x 255: spread 255x; inverted: 2.4 sd)
SHIFTED, RESCALED = 1.0, 3.0


def constant_inputs(records, facts: FitFacts) -> list[Finding]:
    if facts.varying_inputs is None or facts.varying_inputs > 0 or facts.data_samples < 2:
        return []
    return [Finding(
        "constant_inputs", "error",
        f"The inputs are the same for every sample: none of the {facts.n_inputs} input features varies over "
        f"{facts.data_samples} training samples, so nothing in them can tell the classes (or targets) apart. An "
        "array of zeros, a preprocessing step that subtracted each sample from itself, or the wrong array passed "
        "as X gives this.",
        ["look at X: X.std(0).max() is 0", "check the preprocessing that built X (and that X is not the labels' "
                                           "array or a placeholder)"],
        role="cause", summary=f"the inputs are identical for all {facts.data_samples} samples checked",
        evidence={"varying_features": facts.varying_inputs, "features": facts.n_inputs,
                  "samples": facts.data_samples})]


def targets_not_one_hot(records, facts: FitFacts) -> list[Finding]:
    empty, multi = facts.empty_label_rows or 0, facts.multi_label_rows or 0
    if facts.empty_label_rows is None or (empty + multi) <= max(1, 0.01 * facts.n_samples):
        return []
    parts = ([f"{empty} are all zeros (no class: argmax reads them as class 0)"] if empty else []) + (
        [f"{multi} hold more than one class"] if multi else [])
    return [Finding(
        "targets_not_one_hot", "error",
        f"The targets are not one class per sample: of the {facts.n_samples} one-hot rows of Y, "
        f"{' and '.join(parts)}. A softmax with categorical cross-entropy learns one class per sample; rows "
        "without a class pull every output down, rows with several split the probability between them.",
        (["drop the unlabeled samples (or label them) before fit: Y.sum(1) == 0 finds them"] if empty else [])
        + (["several labels per sample: activation='sigmoid' on the output with loss='binary_crossentropy'"]
           if multi else []),
        role="cause", summary=f"{empty + multi} of the {facts.n_samples} target rows are not one-hot ("
                              + ", ".join(([f"{empty} without a class"] if empty else [])
                                          + ([f"{multi} with several"] if multi else [])) + ")",
        evidence={"empty_rows": empty, "multi_class_rows": multi, "rows": facts.n_samples})]


def validation_inputs_differ(records, facts: FitFacts) -> list[Finding]:
    shift, scale = facts.validation_shift, facts.validation_scale
    if shift is None or scale is None or facts.validation_samples < 10:
        return []
    rescaled = scale > RESCALED or scale < 1 / RESCALED
    if not rescaled and abs(shift) <= SHIFTED:
        return []
    how = (f"their spread is {scale:.3g}x the training inputs'" if rescaled else
           f"their mean lies {abs(shift):.2g} training standard deviations {'above' if shift > 0 else 'below'} the "
           "training inputs' mean")
    val = facts.val_accuracy
    harmed = val is not None and facts.train_accuracy is not None and facts.train_accuracy - val > 0.1
    return [Finding(
        "validation_inputs_differ", "error" if harmed else "warning",
        f"The validation inputs were prepared another way than the training inputs: {how} (over "
        f"{facts.validation_samples} validation and {facts.data_samples} training samples). The validation numbers "
        "then measure the network on other data than it trained on"
        + (f" (validation accuracy {pct(val)}, training {pct(facts.train_accuracy)})." if val is not None and
           facts.train_accuracy is not None else "."),
        ["apply the same preprocessing to both (the same scaling, e.g. X / 255, the same normalization)",
         "or put it in the network (ImagePreprocessing / DataPreprocessing): it then applies to every input"],
        role="cause", summary=f"the validation inputs were prepared another way ({how})",
        evidence={"shift_in_sd": shift, "scale_ratio": scale, "validation_samples": facts.validation_samples})]


def validation_mismatch(records, facts: FitFacts) -> list[Finding]:
    """The network learned its training data, the training labels follow from the inputs, yet validation
    accuracy never rose above chance (or stayed far below it): the validation set is not the same task."""
    val = [float(h[k]) for h in facts.history for k in ("val_acc", "val_accuracy")
           if isinstance(h.get(k), (int, float)) and math.isfinite(h[k])]
    if not val or facts.train_accuracy is None or facts.chance is None or not facts.classifier:
        return []
    n_classes = max(facts.n_outputs or 0, 2)
    chance = 1 / n_classes  # (the validation set's own class shares are not measured: a uniform guess)
    if facts.train_accuracy < facts.chance + LEARNED * (1 - facts.chance):
        return []
    informative = facts.knn_accuracy is None or facts.knn_by_chance is None or (
        facts.knn_accuracy > facts.knn_by_chance + max(0.05, 0.25 * (facts.knn_accuracy - facts.knn_by_chance)))
    at_chance = max(val) <= chance + 0.05
    below = max(val) < 0.5 / n_classes  # systematically wrong: another label order, inverted inputs
    if not informative or not (at_chance or below):
        return []
    where = "far below chance" if below else "at chance"
    return [Finding(
        "validation_mismatch", "error",
        f"The validation set does not look like the training data: validation accuracy stayed {where} "
        f"({pct(max(val))} at best over {len(val)} epoch{'s' if len(val) > 1 else ''}; guessing gives about "
        f"{pct(1 / n_classes)}) while the network reached {pct(facts.train_accuracy)} on its training samples. A "
        "network that merely memorized would still do better than chance on data of the same task. Validation "
        "labels in another order than their inputs, or validation inputs prepared another way (scaling, "
        "normalization, channel order, inverted images) give this.",
        ["check that the validation X and Y are in the same order (a separate shuffle, an off-by-one, another "
         "label encoding)",
         "prepare the validation inputs exactly as the training inputs (the same scaling and normalization)",
         "fit with validation_set=0.1 (held out from the training data): if that validates well, the given "
         "validation set is the problem"],
        role="cause", summary=f"the validation set does not match the training data (validation {pct(max(val))} at "
                              f"best, training {pct(facts.train_accuracy)})",
        evidence={"best_val_accuracy": max(val), "train_accuracy": facts.train_accuracy, "chance": chance,
                  "knn_accuracy": facts.knn_accuracy})]
