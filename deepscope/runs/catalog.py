"""Finding and reading run folders: ``list_runs``, ``show_run``, ``read_metrics``, ``read_config``.

A run folder is any folder holding a ``config.json`` or ``metrics.csv`` (see ``callbacks.run_folder``).
Runs are named by their folder name (the run id) inside the runs root, or by a path.
"""
from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from .._checks import Text, fail
from ..diagnostics import DIAGNOSIS_FILE, STEPS_FILE, read_diagnosis
from ..callbacks.run_folder import read_metrics_file, runs_root


def is_run_folder(path: str | os.PathLike) -> bool:
    """True when ``path`` is a folder holding ``config.json`` or ``metrics.csv``."""
    path = Path(path)
    return path.is_dir() and ((path / "config.json").is_file() or (path / "metrics.csv").is_file())


def run_folders(root: str | os.PathLike | None = None) -> list[Path]:
    """The run folders inside the runs root, and those of the studies in it (``<study>/<trial>``: a folder
    with a ``journal.jsonl``), oldest first. The root may itself be a study's folder.

    Args:
        root: the runs folder (default ``$DEEPSCOPE_RUNS`` or ``./runs``).

    Returns:
        Paths sorted by creation time (then name); empty if the root does not exist.
    """
    root = runs_root(root)
    if not root.is_dir():
        return []
    folders = []
    for p in root.iterdir():
        if is_run_folder(p):
            folders.append(p)
        elif p.is_dir() and (p / "journal.jsonl").is_file():  # a study: its trials' run folders
            folders.extend(q for q in p.iterdir() if is_run_folder(q))
    return sorted(folders, key=lambda p: (_created(p), p.name))


def resolve_run(run: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """The folder of a run given by id, path, or a unique part of an id (start, end, then any part).

    Args:
        run: a run id (folder name in the root), part of one, or a folder path.
        root: the runs folder.

    Returns:
        The run folder.

    Raises:
        FileNotFoundError: no such run (the message lists the known runs).
        ValueError: ``run`` matches several runs.
    """
    path = Path(run)
    if is_run_folder(path):
        return path
    base = runs_root(root)
    if is_run_folder(base / str(run)):
        return base / str(run)
    folders = run_folders(root)
    for matches in ([p for p in folders if p.name.startswith(str(run))],
                    [p for p in folders if p.name.endswith(str(run))],
                    [p for p in folders if str(run) in p.name]):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            names = ", ".join(p.name for p in matches[:10])
            fail("run", "an id matching one run", Text(f"{str(run)!r}, which matches {len(matches)}: {names}"),
                 "Give more of the id.", error=ValueError)
    known = ", ".join(p.name for p in folders[-10:]) or "none"
    raise FileNotFoundError(f"run {str(run)!r}: no such run folder in {base} (runs there: {known}). "
                            "Give a run id from `deepscope runs list` or the path of a run folder.")


def read_config(run: str | os.PathLike, root=None) -> dict:
    """The run's ``config.json`` as a dict (empty if missing)."""
    path = resolve_run(run, root) / "config.json"
    if not path.is_file():
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"{path}: not a readable config.json ({type(exc).__name__}: {str(exc)[:120]}). "
                         "The run's other files may still be fine; restore or delete this one.") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path}: expected a JSON object, found {type(config).__name__}.")
    return config


def read_metrics(run: str | os.PathLike, root=None) -> list[dict]:
    """The run's ``metrics.csv`` rows, numbers as floats (``epoch``/``step`` as ints).

    Args:
        run: run id or folder.
        root: the runs folder.

    Returns:
        One dict per epoch (``epoch``, ``step``, ``loss``, ``acc``, ``val_loss``, ...);
        empty cells are left out.
    """
    return read_metrics_file(resolve_run(run, root) / "metrics.csv")


def final_metrics(rows: list[dict]) -> dict[str, float]:
    """The last value of each metric column (``loss``, ``acc``, ``val_*``; not epoch/step/time)."""
    final: dict[str, float] = {}
    for row in rows:
        for key, value in row.items():
            if key not in ("epoch", "step", "time"):
                final[key] = value
    return final


def run_summary(run: str | os.PathLike, root=None) -> dict:
    """One run's id, path, date, epochs, steps, duration and final metrics.

    Returns:
        ``{'id', 'path', 'date', 'epochs', 'steps', 'seconds', 'final': {metric: value}}``.
    """
    path = resolve_run(run, root)
    rows = read_metrics(path)
    last = rows[-1] if rows else {}
    try:
        trial = read_config(path).get("trial")
    except ValueError:
        trial = None
    base = runs_root(root)
    ident = path.relative_to(base).as_posix() if path.is_relative_to(base) else path.name
    return {"id": ident, "path": str(path), "trial": trial_label(trial),
            "date": datetime.fromtimestamp(_created(path)).strftime("%Y-%m-%d %H:%M:%S"),
            "epochs": last.get("epoch", 0), "steps": last.get("step", 0), "seconds": last.get("time"),
            "final": final_metrics(rows)}


def trial_label(trial: dict | None) -> str | None:
    """A study trial's swept values and seed in one short text (``'lr=0.01 seed=0'``), or None."""
    if not isinstance(trial, dict):
        return None
    shown = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in (trial.get("params") or {}).items()]
    return " ".join(shown + ([f"seed={trial['seed']}"] if "seed" in trial else []))


def list_runs(root: str | os.PathLike | None = None) -> list[dict]:
    """Every run in the runs folder, oldest first.

    Args:
        root: the runs folder (default ``$DEEPSCOPE_RUNS`` or ``./runs``).

    Returns:
        One :func:`run_summary` dict per run.
    """
    summaries = []
    for folder in run_folders(root):
        try:
            summaries.append(run_summary(folder, root))
        except ValueError as exc:  # one damaged run does not hide the others
            summaries.append({"id": folder.name, "path": str(folder), "date": "-", "epochs": "-", "steps": "-",
                              "seconds": None, "final": {}, "error": str(exc), "trial": None})
    return summaries


def show_run(run: str | os.PathLike, root: str | os.PathLike | None = None) -> dict:
    """Everything about one run: summary, config, and where its files are.

    Args:
        run: run id (or a unique part of it) or folder path.
        root: the runs folder.

    Returns:
        :func:`run_summary` plus ``'config'`` (config.json), ``'diagnosis'`` (the fit's
        ``deepscope.diagnostics.Diagnosis`` or None) and ``'files'``: ``config``, ``metrics``,
        ``steps``, ``diagnosis`` (paths or None), ``events`` (TensorBoard files), ``checkpoints``.
    """
    path = resolve_run(run, root)
    info = run_summary(path)
    info["config"] = read_config(path)
    info["diagnosis"] = read_diagnosis(path)
    checkpoints = path / "checkpoints"
    info["files"] = {
        "folder": str(path),
        "config": str(path / "config.json") if (path / "config.json").is_file() else None,
        "metrics": str(path / "metrics.csv") if (path / "metrics.csv").is_file() else None,
        "steps": str(path / STEPS_FILE) if (path / STEPS_FILE).is_file() else None,
        "diagnosis": str(path / DIAGNOSIS_FILE) if (path / DIAGNOSIS_FILE).is_file() else None,
        "events": sorted(str(p) for p in path.glob("**/events.out.tfevents.*")),
        "checkpoints": sorted(str(p) for p in checkpoints.iterdir()) if checkpoints.is_dir() else [],
    }
    return info


def _created(path: Path) -> float:
    config = path / "config.json"
    return (config if config.is_file() else path).stat().st_mtime if path.exists() else 0.0
