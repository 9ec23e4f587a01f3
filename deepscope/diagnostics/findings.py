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
        severity: ``'error'`` (training failed), ``'warning'`` (worth a look) or ``'note'`` (true, but
            unlikely to matter here).
        message: one or two sentences naming the step, the layer and the numbers.
        fixes: the likely fixes, most likely first.
        step: the step where it started (None when not tied to a step).
        layer: the layer concerned (None for the whole network).
        evidence: the numbers behind the message.
        role: ``'cause'`` (in the recipe or the data: a learning rate, the labels, a penalty) or
            ``'symptom'`` (what the network did: a layer died, the predictions collapsed).
        explains: the codes of the other findings of this fit that this one explains.
        summary: a short clause for the diagnosis' one-sentence summary.
    """

    code: str
    severity: str
    message: str
    fixes: list = field(default_factory=list)
    step: int | None = None
    layer: str | None = None
    evidence: dict = field(default_factory=dict)
    role: str = "symptom"
    explains: list = field(default_factory=list)
    summary: str = ""

    def __str__(self) -> str:
        text = f"[{self.severity}, {self.role}] {self.message}"
        if self.explains:
            text += f"\n    explains: {', '.join(self.explains)}"
        if self.fixes:
            text += "\n    try: " + "; ".join(self.fixes)
        return text


@dataclass
class Diagnosis:
    """The findings of one fit and the final state they were judged on (``model.diagnosis``).

    Attributes:
        findings: what went wrong (empty: nothing found), the root cause first, each cause followed
            by the symptoms it explains.
        final: the final state: ``metrics`` (last epoch's logs), ``n_predicted_classes`` and
            ``majority_fraction`` on the probe, ``dead`` / ``saturated`` fraction per layer.
        notes: what the diagnostics could not look at (e.g. a layer whose output is not a tensor).
        summary: one sentence, the last symptom traced back to the root cause ("The network predicts
            class 3 for every probe input, because layer 'FullyConnected_1' died at step 4, after the
            L1/L2 term of layer 'FullyConnected_1' grew to 98% of the loss at step 2.").
    """

    findings: list = field(default_factory=list)
    final: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    summary: str = ""

    @property
    def alarms(self) -> list[Finding]:
        """The findings at warning or error (notes left out)."""
        return [f for f in self.findings if f.severity in ("error", "warning")]

    @property
    def healthy(self) -> bool:
        """No warning or error (notes may remain)."""
        return not self.alarms

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    @property
    def root_cause(self) -> Finding | None:
        """The finding the diagnosis leads with (a cause when one was found), or None when healthy."""
        alarms = self.alarms
        return alarms[0] if alarms else None

    def __str__(self) -> str:
        if not self.findings:
            return "deepscope diagnosis: nothing wrong found."
        if not self.alarms:
            return "deepscope diagnosis: nothing wrong found. Notes:\n" + "\n".join(str(f) for f in self.findings)
        lines = [f"deepscope diagnosis: {self.summary}" if self.summary else "deepscope diagnosis:",
                 f"  {len(self.findings)} finding(s), the root cause first:"]
        lines += [str(f) for f in self.findings]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Diagnosis(findings={self.codes}, final={self.final})"

    def to_json(self) -> dict:
        return {"summary": self.summary, "findings": [asdict(f) for f in self.findings], "final": self.final,
                "notes": self.notes}

    @classmethod
    def from_json(cls, data: dict) -> "Diagnosis":
        findings = [Finding(**{k: f[k] for k in Finding.__dataclass_fields__ if k in f})
                    for f in data.get("findings", [])]
        return cls(findings, dict(data.get("final", {})), list(data.get("notes", [])), str(data.get("summary", "")))


def read_diagnosis(run_folder) -> Diagnosis | None:
    """The diagnosis stored in a run folder, or None when it has none (or it cannot be read)."""
    path = Path(run_folder) / DIAGNOSIS_FILE
    try:
        return Diagnosis.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError, AttributeError):
        return None
