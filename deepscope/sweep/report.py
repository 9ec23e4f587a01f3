"""A self-contained HTML report of a parameter study (one file, images embedded, no scripts).

Sections: ``summary``, ``table`` (per point over seeds: mean, median, std, min, max, n, NaN,
failed), ``stability`` (the stability map of the first two parameters: mean/median, every seed,
collapses and their dominant diagnosis), ``parallel`` (parallel coordinates of every trial),
``importance`` (hyperparameter importance from Optuna's evaluator), ``diagnoses`` (which cells
collapsed, for which seeds, and why).
"""
from __future__ import annotations

import base64
import html
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .._checks import fail
from .._io import atomic_write_text
from .._html import figure_img, page, section, table_html
from .stability import stability_map, study_summary
from .importance import param_importances
from .records import aggregate, journal_rows, metric_value
from .journal import Journal


class _Rows:
    """The results of a study folder, read from its journal (a Study needs its train_fn to run, not to read)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.name = folder.name
        try:
            self.meta = json.loads((folder / "study.json").read_text())
        except (OSError, ValueError):
            self.meta = {}
        self.journal = Journal(folder / "journal.jsonl")

    def results(self) -> list[dict]:
        return journal_rows(self.journal)


def study_report(study, path: str | os.PathLike | None = None, metric: str | None = None,
                 collapse: float | None = 0.11) -> Path:
    """Write the HTML report of a study (a ``Study`` or its folder); default ``<folder>/report.html``."""
    if isinstance(study, (str, os.PathLike)):
        folder = Path(study)
        if not (folder / "journal.jsonl").is_file():
            fail("study_report study", "a Study or a study folder (with journal.jsonl)", str(folder))
        study = _Rows(folder)
    folder = Path(study.folder)
    rows = study.results()
    meta = getattr(study, "meta", None) or {"metric": getattr(study, "metric", "val_acc"),
                                            "mode": getattr(study, "mode", "max")}
    metric = metric or meta.get("metric", "val_acc")
    params = list(dict.fromkeys(k for r in rows for k in r.get("params", {})))
    sections = []
    finished = sum(r["status"] == "finished" for r in rows)
    failed = sum(r["status"] == "failed" for r in rows)
    sections.append(section("summary", "Summary", table_html(None, [
        ["study", study.name], ["folder", str(folder)], ["trials", len(rows)], ["finished", finished],
        ["failed", failed], ["metric", metric], ["parameters", ", ".join(params)]])))
    table = aggregate(rows, metric)
    body = table_html([*params, "mean", "median", "std", "min", "max", "n", "NaN", "failed", "root cause"],
                      [[t["params"].get(p) for p in params] + [t["mean"], t["median"], t["std"], t["min"], t["max"],
                                                               t["n"], t["n_nonfinite"], t["n_failed"], t["root_cause"]]
                       for t in table])
    sections.append(section("table", f"{metric} per point, over seeds", body))
    varying = [p for p in params if len({repr(r["params"].get(p)) for r in rows}) > 1]
    if len(varying) >= 2 and rows:
        with tempfile.TemporaryDirectory() as tmp:
            png = Path(tmp) / "map.png"
            stability_map(rows, varying[0], varying[1], metric=metric, path=png, collapse=collapse,
                          title=f"{study.name}: {varying[0]} (rows) vs {varying[1]} (columns)")
            data = base64.b64encode(png.read_bytes()).decode("ascii")
        sections.append(section("stability", "Stability map", f'<img alt="stability map" src="data:image/png;base64,{data}">'))
        sections.append(section("diagnoses", "What happened",
                                f"<pre>{html.escape(study_summary(rows, varying[0], varying[1], metric, collapse))}</pre>"))
    else:
        sections.append(section("stability", "Stability map",
                                '<p class="muted">Needs two parameters that vary; this study varies '
                                f'{len(varying)}.</p>'))
    fig = parallel_coordinates(rows, params, metric, collapse)
    sections.append(section("parallel", "Parallel coordinates", figure_img(fig, "parallel coordinates")
                            if fig is not None else '<p class="muted">No finished trial.</p>'))
    sections.append(section("importance", "Hyperparameter importance", importance_html(rows, varying, metric)))
    target = Path(path) if path is not None else folder / "report.html"
    atomic_write_text(target, page(f"Study {study.name}", sections, "deepscope study report"), durable=False)
    return target


def parallel_coordinates(rows: list[dict], params: list[str], metric: str, collapse: float | None):
    """One line per finished trial across its parameters (log axes for positive values spanning a
    decade or more) and the metric, coloured by the metric; collapsed or non-finite trials in red."""
    from matplotlib.figure import Figure

    done = [r for r in rows if metric_value(r, metric) is not None]
    if not done or not params:
        return None
    axes_names = [*params, metric]
    columns = []
    for name in params:
        values = [r["params"].get(name) for r in done]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            v = np.asarray(values, dtype=float)
            if (v > 0).all() and v.max() / v.min() >= 10:
                v = np.log10(v)
                name = f"log10 {name}"
            columns.append((name, v, None))
        else:
            labels = list(dict.fromkeys(map(str, values)))
            columns.append((name, np.asarray([labels.index(str(x)) for x in values], dtype=float), labels))
    scores = np.asarray([metric_value(r, metric) for r in done], dtype=float)
    columns.append((metric, scores, None))
    fig = Figure(figsize=(max(9.0, 2.4 * len(axes_names)), 4.6), layout="constrained")
    ax = fig.subplots()
    finite = np.isfinite(scores)
    low, high = (scores[finite].min(), scores[finite].max()) if finite.any() else (0.0, 1.0)
    cmap = fig.colormaps["viridis"] if hasattr(fig, "colormaps") else __import__("matplotlib").colormaps["viridis"]

    def scaled(v):
        v = np.asarray(v, dtype=float)
        ok = np.isfinite(v)
        lo, hi = (v[ok].min(), v[ok].max()) if ok.any() else (0.0, 1.0)
        return np.where(ok, (v - lo) / (hi - lo) if hi > lo else 0.5, 0.0)

    matrix = np.stack([scaled(c[1]) for c in columns], axis=1)  # (trials, axes)
    for i in range(len(done)):
        bad = not finite[i] or (collapse is not None and scores[i] <= collapse)
        colour = "red" if bad else cmap((scores[i] - low) / (high - low) if high > low else 0.5)
        ax.plot(range(len(columns)), matrix[i], color=colour, alpha=0.7, linestyle="--" if bad else "-", linewidth=1)
    ax.set_xticks(range(len(columns)), [c[0] for c in columns])
    for j, (name, values, labels) in enumerate(columns):
        ok = np.isfinite(values)
        lo, hi = (values[ok].min(), values[ok].max()) if ok.any() else (0, 0)
        text = f"{labels[0]}..{labels[-1]}" if labels else f"{lo:.3g}..{hi:.3g}"
        ax.text(j, -0.08, text, ha="center", va="top", fontsize=7, transform=ax.get_xaxis_transform())
    ax.set_ylabel("position in the axis' range\n(0 = lowest, 1 = highest)")
    ax.set_title(f"Every finished trial (colour: {metric}; red dashed: collapsed or non-finite)", fontsize=10)
    return fig


def importance_html(rows: list[dict], params: list[str], metric: str) -> str:
    """Hyperparameter importance with Optuna's default evaluator, from the finished trials."""
    importances, note = param_importances(rows, params, metric)
    if importances is None:
        return f'<p class="muted">{html.escape(note[0].upper() + note[1:])}.</p>'
    body = table_html(["parameter", "importance"], [[k, v] for k, v in importances.items()])
    return body + f'<p class="muted">{html.escape(note[0].upper() + note[1:])}.</p>'
