"""A self-contained HTML report of a run: one file, images embedded, no scripts, no network access.

::

    run_report("runs/cifar", "report.html")     # or: deepscope report runs/cifar -o report.html
    deepscope.report(model)                    # the model's last run (inline in a notebook)

Sections (each a ``<section id=...>``): ``summary``, ``metrics`` (final values), ``curves``
(training and validation overlaid per metric), ``diagnosis`` (the fit's findings in plain words),
``steps`` (the step-level diagnostics: loss split, gradient norms, update ratios, dead or
saturated units over steps), ``hyperparameters``, ``network``. The study report
(:mod:`deepscope.sweep.report`) uses the same page helpers.
"""
from __future__ import annotations

import html
import inspect
import os
from pathlib import Path

import numpy as np

from .._checks import Text, fail
from .._html import figure_img, page, section, table_html
from .._io import atomic_write_text
from ..diagnostics import read_diagnosis, read_steps
from ..graph import LAYERS
from ..models.config_objects import allowed_classes
from .catalog import read_config, read_metrics, resolve_run
from .compare import key_settings
from .trajectory import FILE as TRAJECTORY_FILE, load_trajectory, trajectory_figure

def findings_html(diagnosis) -> str:
    if diagnosis is None:
        return '<p class="muted">No diagnosis stored (the fit ran with diagnostics=False or an older deepscope).</p>'
    if not diagnosis.alarms:
        return '<p class="ok">Nothing wrong found by the step diagnostics.</p>' + (
            '<p class="muted">Notes: ' + " ".join(html.escape(f.message) for f in diagnosis.findings) + "</p>"
            if diagnosis.findings else "")
    parts = [f'<p><b>{html.escape(diagnosis.summary)}</b></p>'] if diagnosis.summary else []
    for f in diagnosis.findings:
        fixes = "".join(f"<li>{html.escape(x)}</li>" for x in f.fixes)
        explains = f"; explains {html.escape(', '.join(f.explains))}" if f.explains else ""
        parts.append(f'<div class="finding {html.escape(f.severity)}"><b>{html.escape(f.code)}</b> '
                     f'({html.escape(f.role)}, {html.escape(f.severity)}{explains}): {html.escape(f.message)}'
                     + (f"<br>Likely fixes:<ul>{fixes}</ul>" if fixes else "") + "</div>")
    return "".join(parts)


def curves_figure(rows: list[dict]):
    """Training and validation curves overlaid, one panel per metric, labelled axes."""
    from matplotlib.figure import Figure

    metrics = [k for k in dict.fromkeys(k for r in rows for k in r)
               if k not in ("epoch", "step", "time") and not k.startswith("val_") and "/" not in k]
    if not metrics:
        return None
    fig = Figure(figsize=(4.6 * len(metrics), 3.3), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(metrics), squeeze=False)[0])
    epochs = [r.get("epoch") for r in rows]
    for ax, metric in zip(axes, metrics):
        for key, label, style in ((metric, "training", "-"), ("val_" + metric, "validation", "--")):
            points = [(e, r[key]) for e, r in zip(epochs, rows) if key in r]
            if points:
                ax.plot(*zip(*points), style, marker="o" if len(points) < 30 else None, markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(f"{metric}: training vs validation")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def steps_figure(records: list[dict]):
    """The step diagnostics over steps: loss split, gradient norms, update ratios, dead/saturated units."""
    from matplotlib.figure import Figure

    if not records:
        return None
    steps = np.array([r["step"] for r in records])
    layers = list(dict.fromkeys(k.rsplit("/", 1)[0] for r in records for k in r if "/" in k))
    fig = Figure(figsize=(11, 6.4), layout="constrained")
    axes = fig.subplots(2, 2)

    def series(key):
        return np.array([r.get(key, np.nan) for r in records], dtype=float)

    ax = axes[0, 0]
    for key, label in (("loss", "loss"), ("data_loss", "data loss"), ("penalty", "L1/L2 penalty")):
        if any(key in r for r in records):
            ax.plot(steps, series(key), label=label)
    ax.set_yscale("log")
    ax.set_title("loss and its parts")
    for (ax, suffix, title, log) in ((axes[0, 1], "grad_norm", "gradient norm (before clipping)", True),
                                     (axes[1, 0], "update_ratio", "update / weight norm per step", True),
                                     (axes[1, 1], None, "dead (ReLU) or saturated (sigmoid/tanh) units", False)):
        for layer in layers:
            keys = [f"{layer}/dead", f"{layer}/saturated"] if suffix is None else [f"{layer}/{suffix}"]
            for key in keys:
                if any(key in r for r in records):
                    ax.plot(steps, series(key), label=key if suffix is None else layer)
        if log:
            ax.set_yscale("log")
        else:
            ax.set_ylim(-0.02, 1.02)
        ax.set_title(title)
    for ax, ylabel in zip(axes.ravel(), ("loss", "L2 norm", "ratio", "fraction of the layer's units")):
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    return fig


class Report:
    """A written report: ``path``; in a notebook it shows itself inline (an iframe of the page)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def _repr_html_(self) -> str:
        page_html = self.path.read_text(encoding="utf-8")
        return (f'<iframe srcdoc="{html.escape(page_html, quote=True)}" style="width: 100%; height: 800px; '
                f'border: 1px solid #ddd"></iframe>')

    def __repr__(self) -> str:
        return f"Report({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)


def report(target, path: str | os.PathLike | None = None, sections=()) -> Report:
    """The HTML report of a trained model's last run, or of a run folder (id or path): curves,
    diagnosis, step diagnostics, settings. Written to ``path`` (default ``<run>/report.html``) and
    shown inline in a notebook. (A study's report: ``study.report()``.)

    Args:
        target: a fitted ``DNN``, a run id (under the runs folder) or a run folder path.
        path: where to write the page.
        sections: analyses to add as sections: objects with ``report_section()`` (``brain.compare``'s
            ``BrainComparison``, ``introspect.layer_atlas``'s ``LayerAtlas``, ...). They are kept in the run folder
            (``report_sections/``), so a later report of the run shows them too.

    Returns:
        A ``Report`` (its ``path``; displays itself in Jupyter).
    """
    if hasattr(target, "last_run") and hasattr(target, "net"):  # a DNN
        if target.last_run is None:
            fail("report", "a model that has been fitted (the report reads its run folder)", None,
                 "Call model.fit(...) first.")
        target = target.last_run.path
    elif not isinstance(target, (str, os.PathLike)):
        fail("report target", "a fitted DNN, a run id or a run folder", type(target).__name__, error=TypeError,
             fix="For a study use study.report().")
    keep_sections(resolve_run(target), sections)
    return Report(run_report(target, path))


SECTIONS_FOLDER = "report_sections"


def keep_sections(folder: Path, sections) -> None:
    """Write each analysis's section into ``<run>/report_sections/<id>.html`` (atomically), for every report."""
    for analysis in sections:
        if not callable(getattr(analysis, "report_section", None)):
            fail("report sections", "analyses with a report_section() method (BrainComparison, LayerAtlas, ...)",
                 Text(type(analysis).__name__), error=TypeError)
        section_id, title, body = analysis.report_section()
        atomic_write_text(folder / SECTIONS_FOLDER / f"{section_id}.html", section(section_id, title, body),
                          durable=False)


def kept_sections(folder: Path) -> list[str]:
    """The sections kept in a run folder, in name order."""
    kept = folder / SECTIONS_FOLDER
    return [p.read_text() for p in sorted(kept.glob("*.html"))] if kept.is_dir() else []


def argument_text(value) -> str:
    """A layer argument as a person reads it: ``ImagePreprocessing(featurewise_zero_center)``, ``SGD(learning_rate=
    0.1)``, not the JSON it is saved as."""
    if isinstance(value, dict) and "__class__" in value:
        config = value.get("__config__") or {}
        if isinstance(config.get("ops"), list):  # preprocessing / augmentation: its steps
            inner = ", ".join(str(op.get("op")) for op in config["ops"] if isinstance(op, dict))
        else:  # an optimizer, loss or metric: the arguments that differ from its class's defaults
            cls = allowed_classes().get(value["__class__"])
            defaults = {} if cls is None else {k: p.default for k, p in inspect.signature(cls).parameters.items()}
            inner = ", ".join(f"{k}={v}" for k, v in config.items()
                              if k not in ("name", "class") and v not in ({}, []) and (k not in defaults or defaults[k] != v))
        return f"{value['__class__']}({inner})"
    return str(value)


def layer_arguments(node: dict, fit: dict) -> str:
    """A layer's arguments that differ from the layer function's defaults (the batch size is the fit's, so a
    regression's default is left out when the fit gave its own)."""
    function = LAYERS.get(node.get("fn")) if node.get("fn") in LAYERS else None
    defaults = {}
    if function is not None:
        defaults = {name: p.default for name, p in inspect.signature(function).parameters.items()
                    if p.default is not inspect.Parameter.empty}
    shown = []
    for key, value in (node.get("args") or {}).items():
        if key == "name" or value is None or (key in defaults and defaults[key] == value):
            continue
        if key == "batch_size" and fit.get("batch_size"):
            continue
        shown.append(f"{key}={argument_text(value)}")
    return ", ".join(shown)


def run_report(run: str | os.PathLike, path: str | os.PathLike | None = None, root=None) -> Path:
    """Write the HTML report of a run folder (default ``<run>/report.html``); returns its path."""
    folder = resolve_run(run, root)
    config = read_config(folder)
    rows = read_metrics(folder)
    diagnosis = read_diagnosis(folder)
    records = read_steps(folder)
    final = rows[-1] if rows else {}
    sections = []
    facts = [["run", folder.name], ["folder", str(folder)], ["epochs", final.get("epoch", 0)],
             ["steps", final.get("step", 0)], ["seconds", final.get("time")], ["device", config.get("device")]]
    sections.append(section("summary", "Summary", table_html(None, facts)))
    metrics = [[k, v] for k, v in final.items() if k not in ("epoch", "step", "time")]
    sections.append(section("metrics", "Final metrics", table_html(["metric", "value"], metrics) if metrics else
                            '<p class="muted">No epoch finished.</p>'))
    fig = curves_figure(rows)
    sections.append(section("curves", "Learning curves", figure_img(fig, "learning curves") if fig is not None else
                            '<p class="muted">No metrics recorded.</p>'))
    sections.append(section("diagnosis", "Diagnosis", findings_html(diagnosis)))
    fig = steps_figure(records)
    sections.append(section("steps", "Step diagnostics", (figure_img(fig, "step diagnostics") + (
        f'<p class="muted">{len(records)} records from steps.csv.</p>')) if fig is not None else
        '<p class="muted">No step records (diagnostics off).</p>'))
    if (folder / TRAJECTORY_FILE).is_file():  # a RepresentationTracker's record of the layers over epochs
        trajectory = load_trajectory(folder)
        sections.append(section("representations", "Representations over training", figure_img(
            trajectory_figure(trajectory), "layer representations over epochs") + (
            f'<p class="muted">{len(trajectory.layers)} layers recorded at epochs '
            f'{", ".join(str(e) for e in trajectory.epochs)} (RepresentationTracker).</p>')))
    settings = [[k, v] for k, v in key_settings(config).items()]
    sections.append(section("hyperparameters", "Hyperparameters", table_html(["setting", "value"], settings, False)))
    network = config.get("network")
    layers = [[n.get("name"), n.get("fn"), layer_arguments(n, config.get("fit") or {})]
              for n in network.get("nodes", [])] if isinstance(network, dict) else [["(module)", str(network), ""]]
    sections.append(section("network", "Network", table_html(["layer", "function", "arguments"], layers, False)))
    sections.extend(kept_sections(folder))  # analyses given to report(..., sections=[...])
    target = Path(path) if path is not None else folder / "report.html"
    atomic_write_text(target, page(f"Run {folder.name}", sections, "deepscope run report"), durable=False)
    return target
