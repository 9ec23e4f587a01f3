"""Learning curves of several runs in one figure (PNG, SVG or PDF), drawn with matplotlib's Agg.

Training curves are solid and validation curves dashed, in the same colour per run.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from .._checks import check_choice, fail
from .._io import save_figure
from .catalog import read_metrics, resolve_run

FORMATS = ("png", "svg", "pdf")


def plot_runs(runs: Sequence[str | os.PathLike] | str, path: str | os.PathLike,
              metrics: Sequence[str] | str = ("loss", "acc"), validation: bool = True,
              root: str | os.PathLike | None = None, layout: str = "metrics", dpi: int = 120) -> Path:
    """Save one figure with the learning curves of several runs.

    Args:
        runs: run ids (or unique parts of them) or run folders.
        path: output file; its suffix (``.png``, ``.svg``, ``.pdf``) picks the format.
        metrics: training metric names as in metrics.csv (``'loss'``, ``'acc'``); metrics no
            run has are left out.
        validation: also draw ``val_<metric>`` (dashed).
        root: the runs folder.
        layout: ``'metrics'`` (default): one panel per metric, runs overlaid in colours (a run
            without that metric is simply absent from the panel); ``'runs'``: one column per run,
            one row per metric, shared y axis per row.
        dpi: resolution of PNG output.

    Returns:
        The path written (atomically).
    """
    from matplotlib.figure import Figure

    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    check_choice(fmt, "plot_runs path suffix", FORMATS)
    check_choice(layout, "plot_runs layout", ("metrics", "runs"))
    runs = [runs] if isinstance(runs, (str, os.PathLike)) else list(runs)
    if not runs:
        fail("plot_runs runs", "at least one run id", runs)
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    folders = [resolve_run(r, root) for r in runs]
    histories = [read_metrics(f) for f in folders]
    columns = {key for rows in histories for row in rows for key in row}
    shown = [m for m in metrics if m in columns or f"val_{m}" in columns]
    if not shown:
        available = sorted(c for c in columns if c not in ("epoch", "step", "time") and not c.startswith("val_"))
        fail("plot_runs metrics", f"names found in metrics.csv ({available or 'none: no epochs recorded'})",
             metrics)

    n_rows, n_cols = (1, len(shown)) if layout == "metrics" else (len(shown), len(folders))
    fig = Figure(figsize=(4.2 * n_cols, 3.2 * n_rows), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False, sharey="row" if layout == "runs" else False)
    colors = [f"C{i % 10}" for i in range(len(folders))]
    for r, (folder, rows) in enumerate(zip(folders, histories)):
        for m, metric in enumerate(shown):
            ax = axes[0][m] if layout == "metrics" else axes[m][r]
            _curve(ax, rows, metric, colors[r], "-")
            if validation:
                _curve(ax, rows, f"val_{metric}", colors[r], "--")
            ax.set_title(metric if layout == "metrics" else f"{folder.name}\n{metric}", fontsize=9)
            ax.set_xlabel("epoch")
            ax.set_ylabel(metric)
            ax.grid(True, alpha=0.3)
    _legend(axes[0][0], [f.name for f in folders] if layout == "metrics" else [], colors, validation)
    return save_figure(fig, path, dpi)


def _curve(ax, rows: list[dict], key: str, color: str, style: str) -> None:
    points = [(row["epoch"], row[key]) for row in rows if key in row and "epoch" in row]
    if points:
        xs, ys = zip(*points)
        ax.plot(xs, ys, linestyle=style, color=color, marker="." if len(xs) < 30 else None)


def _legend(ax, names: list[str], colors: list[str], validation: bool) -> None:
    """One legend: a colour per run, then the line styles (train solid, validation dashed)."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, label=n) for n, c in zip(names, colors)]
    handles.append(Line2D([], [], color="0.3", linestyle="-", label="train"))
    if validation:
        handles.append(Line2D([], [], color="0.3", linestyle="--", label="validation"))
    ax.legend(handles=handles, fontsize=7)
