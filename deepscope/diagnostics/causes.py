"""Causes before symptoms: which finding explains which, the root cause first, and the one
sentence a scientist can paste into a lab notebook.

A *cause* is in the recipe or the data (a learning rate, an initialization, a penalty, the labels);
a *symptom* is what the network did (a layer died, the predictions collapsed). ``EXPLAINS`` says which
findings can produce which; :func:`link` keeps only the links between findings present in a fit (a
cause's step not after its symptom's), orders the findings root cause first, each followed by what it
explains, and writes the chain into each finding's ``explains``.
"""
from __future__ import annotations

from .findings import Finding

_COLLAPSE = {"constant_prediction", "stuck_at_chance"}
_UNITS = {"dead_layer", "mostly_dead_layer", "saturated_layer", "vanishing_gradients"}
_STEPS = {"loss_spike", "exploding_gradients", "non_finite"}
EXPLAINS: dict[str, set] = {
    "parameters_not_changing": _COLLAPSE,
    "loss_output_mismatch": _COLLAPSE | _UNITS | {"loss_spike"},
    "uninformative_labels": _COLLAPSE | {"overfitting"},
    "constant_inputs": _COLLAPSE | _UNITS | {"overfitting", "dead_at_init", "capacity_too_low"},
    "validation_mismatch": {"overfitting"},
    "targets_not_one_hot": _COLLAPSE | {"dominant_class", "overfitting", "uninformative_labels"},
    "validation_inputs_differ": {"overfitting", "validation_mismatch"},
    "inputs_not_normalized": _COLLAPSE | _UNITS | _STEPS | {"init_too_large", "learning_rate_too_large"},
    "init_too_large": _COLLAPSE | _UNITS | _STEPS | {"learning_rate_too_large"},
    "output_range_mismatch": _COLLAPSE | _UNITS | {"stopped_while_learning", "learning_rate_too_small"},
    "targets_not_scaled": _COLLAPSE | _UNITS | _STEPS | {"gradient_clipping_too_tight", "learning_rate_too_large",
                                                         "learning_rate_too_small", "stopped_while_learning"},
    "dropout_too_strong": _COLLAPSE | _UNITS | {"loss_spike", "learning_rate_too_large"},
    "momentum_too_high": _COLLAPSE | _UNITS | _STEPS | {"learning_rate_too_large"},
    "gradient_clipping_too_tight": _COLLAPSE | {"learning_rate_too_small", "stopped_while_learning"},
    "learning_rate_decayed": _COLLAPSE | {"learning_rate_too_small", "stopped_while_learning"},
    "learning_rate_too_small": _COLLAPSE | {"stopped_while_learning"},
    "stopped_while_learning": _COLLAPSE,
    "dead_at_init": _COLLAPSE | {"dead_layer", "vanishing_gradients"},
    "penalty_collapse": _COLLAPSE | _UNITS | {"penalty_dominates"},
    "learning_rate_too_large": _COLLAPSE | _UNITS | _STEPS,
    "batchnorm_tiny_batches": _COLLAPSE | {"overfitting"},
    "dominant_class": _COLLAPSE | {"overfitting"},
    "data_not_shuffled": _COLLAPSE | {"loss_spike", "overfitting"},
    "capacity_too_low": _COLLAPSE | {"vanishing_gradients", "saturated_layer"},
    "vanishing_gradients": _COLLAPSE,
    "loss_spike": _COLLAPSE | _UNITS | {"exploding_gradients", "non_finite"},
    "exploding_gradients": _COLLAPSE | _UNITS | {"non_finite"},
    "dead_layer": _COLLAPSE | {"vanishing_gradients", "penalty_dominates", "mostly_dead_layer"},
    "mostly_dead_layer": _COLLAPSE,
    "saturated_layer": _COLLAPSE | {"vanishing_gradients"},
}
# among several root causes, the one most likely to be the first thing to fix
PRIORITY = ("parameters_not_changing", "loss_output_mismatch", "output_range_mismatch", "targets_not_scaled",
            "constant_inputs", "targets_not_one_hot", "uninformative_labels", "validation_inputs_differ",
            "validation_mismatch", "inputs_not_normalized",
            "init_too_large", "dropout_too_strong", "momentum_too_high", "gradient_clipping_too_tight",
            "learning_rate_decayed", "dead_at_init", "penalty_collapse", "learning_rate_too_large",
            "learning_rate_too_small", "batchnorm_tiny_batches", "dominant_class", "data_not_shuffled",
            "capacity_too_low", "vanishing_gradients", "overfitting", "stopped_while_learning",
            "tiny_last_batch", "non_finite", "loss_spike", "exploding_gradients", "dead_layer", "mostly_dead_layer",
            "saturated_layer", "penalty_dominates", "constant_prediction", "stuck_at_chance")
SEVERITY = {"error": 0, "warning": 1, "note": 2}
OUTCOMES = ("constant_prediction", "stuck_at_chance", "non_finite")  # what a user sees first, for the sentence


def _rank(f: Finding) -> tuple:
    return (SEVERITY.get(f.severity, 3) > 1, f.role != "cause",
            PRIORITY.index(f.code) if f.code in PRIORITY else len(PRIORITY), f.step if f.step is not None else 0)


def _can_explain(cause: Finding, effect: Finding) -> bool:
    if cause is effect or effect.code not in EXPLAINS.get(cause.code, ()):
        return False
    if cause.code == "dead_at_init" and effect.layer is not None and effect.layer != cause.layer:
        return effect.code not in ("dead_layer",)
    if cause.step is not None and effect.step is not None and cause.role == "symptom" and cause.step > effect.step:
        return False  # a symptom explains only what came after it
    return True


def link(findings: list[Finding]) -> list[Finding]:
    """Order the findings root cause first, each followed by what it explains; fill ``explains``.

    Args:
        findings: every rule's findings for one fit.

    Returns:
        The same findings (a dead layer that its initialization explains is dropped as a repeat),
        the root cause first.
    """
    starts = {f.layer for f in findings if f.code == "dead_at_init"}
    findings = [f for f in findings if not (f.code == "dead_layer" and f.layer in starts)]
    for f in findings:
        f.explains = sorted({e.code for e in findings if _can_explain(f, e)})
    explained = {id(e) for f in findings for e in findings  # (of two that explain each other, the higher rank)
                 if _can_explain(f, e) and (not _can_explain(e, f) or _rank(f) < _rank(e))}
    roots = sorted((f for f in findings if id(f) not in explained), key=_rank)
    ordered: list[Finding] = []
    seen: set = set()

    def visit(f: Finding) -> None:
        if id(f) in seen:
            return
        seen.add(id(f))
        ordered.append(f)
        for e in sorted((e for e in findings if id(e) not in seen and _can_explain(f, e)), key=_rank):
            visit(e)

    for root in roots:
        visit(root)
    for f in sorted(findings, key=_rank):
        visit(f)
    return ordered


def chain(findings: list[Finding]) -> list[Finding]:
    """The root cause and the line of findings it explains down to what the user sees (a constant
    prediction, training at chance, a NaN; else the longest line)."""
    alarms = [f for f in findings if f.severity != "note"]
    if not alarms:
        return []
    by_code: dict[str, list] = {}
    for f in alarms:
        by_code.setdefault(f.code, []).append(f)

    def score(line: list[Finding]) -> tuple:  # a line ending at what the user sees, then the longest
        leaf = line[-1].code
        return (OUTCOMES.index(leaf) if leaf in OUTCOMES else len(OUTCOMES), -len(line))

    def best_line(f: Finding, seen: frozenset) -> list[Finding]:
        lines = [[f]] + [[f] + best_line(e, seen | {id(e)}) for e in alarms if id(e) not in seen and _can_explain(f, e)]
        return min(lines, key=score)

    return best_line(alarms[0], frozenset({id(alarms[0])}))


def sentence(findings: list[Finding]) -> str:
    """One sentence: the last symptom, because of the one before, after the root cause.

    e.g. "The network predicts class 3 for every probe input, because layer 'FullyConnected_1'
    died at step 4, after the L1/L2 term of layer 'FullyConnected_1' grew to 98% of the loss at step 2."
    """
    line = [f for f in chain(findings) if f.summary]
    if not line:
        return "Nothing wrong found."
    line = line[:1] + [f for f in line[1:] if f.role != "cause"]  # (a cause the root explains is no reason)
    if len(line) == 1:
        text = line[0].summary
    else:
        leaf, *middle, root = line[::-1]  # leaf = last symptom, root = the cause
        text = leaf.summary
        if middle:
            text += ", because " + middle[0].summary + ", after " + root.summary
        else:
            text += ", because " + root.summary
    return text[0].upper() + text[1:] + "."
