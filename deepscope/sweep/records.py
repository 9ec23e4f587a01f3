"""A study's records, below everything that reads them: the rows of its journal, a trial's record
read from its run folder, a row's metric, and the aggregate per point over seeds. The study
(:mod:`.study`), its report, stability map and importance all read them from here.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from .._checks import Text, fail
from ..diagnostics import read_diagnosis
from .journal import TERMINAL


def _key(params: dict) -> str:
    return json.dumps(params, sort_keys=True)


def journal_rows(journal) -> list[dict]:
    """One row per trial in ``journal``: ``trial, run_id, params, seed, status, metrics, error, attempts,
    record`` (status ``'finished'``, ``'failed'``, ``'pruned'`` or ``'interrupted'``)."""
    rows = []
    for tid, s in journal.states().items():
        status = s["event"] if s["event"] in TERMINAL else "interrupted"
        rows.append({"trial": tid, "run_id": s.get("run_id"), "params": s.get("params", {}),
                     "seed": s.get("seed"), "status": status, "metrics": s.get("metrics", {}),
                     "error": s.get("error"), "attempts": s["attempts"], "record": s.get("record") or {}})
    return rows


def metric_value(row: dict, metric: str) -> float | None:
    """A finished trial's ``metric`` as a float (NaN/Inf kept: the journal stores them as text);
    None when the trial did not finish or did not report it."""
    if row.get("status") != "finished":
        return None
    value = row.get("metrics", {}).get(metric)
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("nan", "inf", "-inf", "infinity", "-infinity"):
        return float(value)
    return None


def check_rows(rows, where: str) -> list[dict]:
    """``rows`` (``study.results()``: one dict per trial with its ``params``) as a list, or a clear error."""
    if isinstance(rows, (list, tuple)) and all(isinstance(r, dict) and isinstance(r.get("params"), dict)
                                               for r in rows):
        return list(rows)
    fail(where, "study.results(): a list of trial rows (dicts with 'params', 'status', 'metrics')",
         Text(type(rows).__name__ if not isinstance(rows, (list, tuple)) else
              f"a list holding {type(next(r for r in rows if not isinstance(r, dict) or 'params' not in r)).__name__}"),
         error=TypeError)


def aggregate(rows: list[dict], metric: str) -> list[dict]:
    """Per point (params), over its seeds: ``mean, median, std, min, max`` of the finite values of
    ``metric`` (``std`` with ddof=0; NaN where none), ``n`` (finished seeds that reported it, finite
    or not), ``n_nonfinite`` (of those, NaN/Inf: a diverged seed is counted, never dropped) and
    ``n_failed`` (trials that raised), ``root_cause`` (the most frequent root cause of the
    point's trials' diagnoses, e.g. ``'penalty_collapse (3/5)'``; ``''`` when none was found).
    Points in first-seen order."""
    groups: dict[str, dict] = {}
    for row in check_rows(rows, "aggregate rows"):
        g = groups.setdefault(_key(row["params"]), {"params": row["params"], "values": [], "n_failed": 0,
                                                    "causes": Counter(), "n": 0})
        g["n"] += 1
        cause = (row.get("record") or {}).get("root_cause")
        if cause:
            g["causes"][cause] += 1
        value = metric_value(row, metric)
        if value is not None:
            g["values"].append(value)
        elif row["status"] == "failed":
            g["n_failed"] += 1
    table = []
    for g in groups.values():
        v = np.asarray(g["values"], dtype=float)
        finite = v[np.isfinite(v)]
        stats = ((finite.mean(), np.median(finite), finite.std(), finite.min(), finite.max()) if finite.size
                 else (float("nan"),) * 5)
        table.append({"params": g["params"], **dict(zip(("mean", "median", "std", "min", "max"), map(float, stats))),
                      "n": int(v.size), "n_nonfinite": int(v.size - finite.size), "n_failed": g["n_failed"],
                      "root_cause": ", ".join(f"{c} ({k}/{g['n']})" for c, k in g["causes"].most_common(2))})
    return table


def trial_record(root: Path, run_id: str) -> dict | None:
    """What happened in a trial, read from its run folder (the newest fit under ``run_id``): final
    metrics, distinct predicted classes, dead/saturated fraction per layer, and the diagnoses."""
    base = root / run_id
    folders = [base] + sorted(base.parent.glob(base.name + "_*")) if base.parent.is_dir() else []
    found = [(f, d) for f in folders if (d := read_diagnosis(f)) is not None]
    if not found:
        return None
    folder, diagnosis = max(found, key=lambda fd: (fd[0] / "diagnosis.json").stat().st_mtime)
    final = diagnosis.final
    return {"run_folder": folder.name, "final_metrics": final.get("metrics", {}),
            "n_predicted_classes": final.get("n_predicted_classes"), "majority_fraction": final.get("majority_fraction"),
            "dead": final.get("dead", {}), "saturated": final.get("saturated", {}),
            "root_cause": diagnosis.root_cause.code if diagnosis.root_cause is not None else None,
            "summary": diagnosis.summary,
            "diagnoses": [{"code": f.code, "severity": f.severity, "step": f.step, "layer": f.layer, "role": f.role,
                           "message": f.message} for f in diagnosis.findings]}
