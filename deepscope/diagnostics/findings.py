"""What a diagnosis says: typed findings, a report of them, and its JSON form (``diagnosis.json``)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

DIAGNOSIS_FILE = "diagnosis.json"
STEPS_FILE = "steps.csv"


@dataclass
class Finding:
    """One thing that went wrong in a fit, in plain words, with its evidence.

    Attributes:
        code: a stable identifier (``'constant_prediction'``, ``'dead_layer'``, ...).
        severity: ``'error'`` (training failed) or ``'warning'`` (worth a look).
        message: one or two sentences naming the step, the layer and the numbers.
        fixes: the likely fixes, most likely first.
        step: the step where it started (None when not tied to a step).
        layer: the layer concerned (None for the whole network).
        evidence: the numbers behind the message.
    """

    code: str
    severity: str
    message: str
    fixes: list = field(default_factory=list)
    step: int | None = None
    layer: str | None = None
    evidence: dict = field(default_factory=dict)

    def __str__(self) -> str:
        text = f"[{self.severity}] {self.message}"
        if self.fixes:
            text += "\n    try: " + "; ".join(self.fixes)
        return text


@dataclass
class Diagnosis:
    """The findings of one fit and the final state they were judged on (``model.diagnosis``).

    Attributes:
        findings: what went wrong (empty: nothing found).
        final: the final state: ``metrics`` (last epoch's logs), ``n_predicted_classes`` and
            ``majority_fraction`` on the probe, ``dead`` / ``saturated`` fraction per layer.
        notes: what the diagnostics could not look at (e.g. a layer whose output is not a tensor).
    """

    findings: list = field(default_factory=list)
    final: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.findings

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def __str__(self) -> str:
        if not self.findings:
            return "deepscope diagnosis: nothing wrong found."
        lines = [f"deepscope diagnosis: {len(self.findings)} finding(s)"]
        lines += [str(f) for f in self.findings]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Diagnosis(findings={self.codes}, final={self.final})"

    def to_json(self) -> dict:
        return {"findings": [asdict(f) for f in self.findings], "final": self.final, "notes": self.notes}

    @classmethod
    def from_json(cls, data: dict) -> "Diagnosis":
        findings = [Finding(**{k: f[k] for k in Finding.__dataclass_fields__ if k in f})
                    for f in data.get("findings", [])]
        return cls(findings, dict(data.get("final", {})), list(data.get("notes", [])))


def read_diagnosis(run_folder) -> Diagnosis | None:
    """The diagnosis stored in a run folder, or None when it has none (or it cannot be read)."""
    path = Path(run_folder) / DIAGNOSIS_FILE
    try:
        return Diagnosis.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError, AttributeError):
        return None
