"""Stability of a study over two parameters: mean ± std over seeds, and how often training collapsed.

Seed 000 saw 10% accuracy (chance for ten classes) at some L2 factors, "depending also on the
initialization". ``stability_map(study, 'l2_first', 'l2_second', collapse=0.11, path='map.png')``
draws two panels: the mean metric over seeds (each cell annotated with mean ± std), and the
fraction of seeds whose metric is at or below ``collapse``.
``stability_table`` prints the seed's table: rows = ``x`` values, columns = ``y`` values.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .._checks import fail
from .._io import save_figure


@dataclass
class StabilityGrid:
    """Arrays of shape ``(len(x_values), len(y_values))``; NaN (``mean``, ``std``, ``collapsed``)
    where no seed finished. ``collapsed`` is the fraction of finished seeds at or below the threshold."""
    x: str
    y: str
    metric: str
    x_values: list
    y_values: list
    mean: np.ndarray
    std: np.ndarray
    collapsed: np.ndarray
    n: np.ndarray
    n_failed: np.ndarray


def _rows(study_or_rows) -> list[dict]:
    if hasattr(study_or_rows, "results"):
        return study_or_rows.results()
    if isinstance(study_or_rows, (list, tuple)):
        return list(study_or_rows)
    fail("stability_map study_or_rows", "a Study or the list of study.results()", type(study_or_rows).__name__,
         error=TypeError)


def _sorted(values: list) -> list:
    try:
        return sorted(values)
    except TypeError:
        return values


def stability_grid(study_or_rows, x: str, y: str, metric: str = "val_acc", collapse: float | None = 0.11
                   ) -> StabilityGrid:
    """The numbers behind :func:`stability_map` (no plotting). Other parameters, if any, are pooled."""
    rows = _rows(study_or_rows)
    for name in (x, y):
        if not any(name in r.get("params", {}) for r in rows):
            names = sorted({k for r in rows for k in r.get("params", {})})
            fail(f"stability_map {'x' if name == x else 'y'}", f"a parameter of the study, one of {names}", name)
    xs = _sorted(list(dict.fromkeys(r["params"][x] for r in rows if x in r["params"])))
    ys = _sorted(list(dict.fromkeys(r["params"][y] for r in rows if y in r["params"])))
    values = [[[] for _ in ys] for _ in xs]
    failed = np.zeros((len(xs), len(ys)), dtype=int)
    for r in rows:
        p = r.get("params", {})
        if x not in p or y not in p:
            continue
        i, j = xs.index(p[x]), ys.index(p[y])
        v = r.get("metrics", {}).get(metric) if r.get("status") == "finished" else None
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            values[i][j].append(float(v))
        elif r.get("status") == "failed":
            failed[i, j] += 1
    shape = (len(xs), len(ys))
    mean, std, coll = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    n = np.zeros(shape, dtype=int)
    for i in range(len(xs)):
        for j in range(len(ys)):
            v = np.asarray(values[i][j])
            n[i, j] = v.size
            if v.size:
                mean[i, j], std[i, j] = v.mean(), v.std()
                if collapse is not None:
                    coll[i, j] = float(np.mean(v <= collapse))
    return StabilityGrid(x, y, metric, xs, ys, mean, std, coll, n, failed)


def _label(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _fmt(value: float, percent: bool, digits: int = 1) -> str:
    if not np.isfinite(value):
        return "-"
    return f"{100 * value:.{digits}f}%" if percent else f"{value:.3g}"


def stability_map(study_or_rows, x: str, y: str, metric: str = "val_acc", path: str | os.PathLike | None = None,
                  collapse: float | None = 0.11, percent: bool | None = None, title: str | None = None
                  ) -> StabilityGrid:
    """Heat map of the mean ``metric`` over seeds on an ``x`` by ``y`` grid, and the collapse fraction.

    Args:
        study_or_rows: a :class:`~deepscope.sweep.Study` or the rows of ``study.results()``.
        x: the parameter along the rows (e.g. the first layer's L2 factor).
        y: the parameter along the columns.
        metric: the metric to show.
        path: where to write the figure (``.png``, ``.svg`` or ``.pdf``, written atomically); None: no figure.
        collapse: a seed "collapsed" when its metric is at or below this value (0.11: chance for
            ten classes plus 1%); None: no second panel.
        percent: show values as percentages (default: when every mean lies in [0, 1]).
        title: the figure's title.

    Returns:
        A :class:`StabilityGrid` (the arrays drawn).
    """
    g = stability_grid(study_or_rows, x, y, metric, collapse)
    if path is None:
        return g
    from matplotlib.figure import Figure
    finite = g.mean[np.isfinite(g.mean)]
    if percent is None:
        percent = bool(finite.size) and bool(np.all((finite >= 0) & (finite <= 1)))
    panels = 2 if collapse is not None else 1
    w, h = max(4.0, 1.1 * len(g.y_values) + 2.5), max(3.0, 0.8 * len(g.x_values) + 1.8)
    fig = Figure(figsize=(w * panels, h), layout="constrained")
    axes = fig.subplots(1, panels, squeeze=False)[0]
    vmin, vmax = (0.0, 1.0) if percent else (None, None)
    image = axes[0].imshow(g.mean, cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
    fig.colorbar(image, ax=axes[0], label=f"mean {metric}")
    for i in range(len(g.x_values)):
        for j in range(len(g.y_values)):
            text = _fmt(g.mean[i, j], percent)
            if g.n[i, j] > 1:
                text += f"\n± {_fmt(g.std[i, j], percent)}"
            red, green, blue, _ = image.cmap(image.norm(g.mean[i, j]))  # the cell's colour
            dark = not np.isfinite(g.mean[i, j]) or 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
            axes[0].text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
    axes[0].set_title(f"mean {metric} over seeds (n = {int(g.n.max()) if g.n.size else 0})")
    if collapse is not None:
        image = axes[1].imshow(g.collapsed, cmap="Reds", vmin=0.0, vmax=1.0, aspect="auto")
        fig.colorbar(image, ax=axes[1], label="fraction of seeds collapsed")
        for i in range(len(g.x_values)):
            for j in range(len(g.y_values)):
                k = int(round((g.collapsed[i, j] if np.isfinite(g.collapsed[i, j]) else 0) * g.n[i, j]))
                axes[1].text(j, i, f"{k}/{g.n[i, j]}", ha="center", va="center", fontsize=8,
                             color="white" if g.collapsed[i, j] > 0.5 else "black")
        axes[1].set_title(f"collapsed: {metric} <= {collapse:g}")
    for ax in axes:
        ax.set_xticks(range(len(g.y_values)), [_label(v) for v in g.y_values])
        ax.set_yticks(range(len(g.x_values)), [_label(v) for v in g.x_values])
        ax.set_xlabel(y)
        ax.set_ylabel(x)
    if title:
        fig.suptitle(title)
    save_figure(fig, path, dpi=120, where="stability_map path")
    return g


def stability_table(study_or_rows, x: str, y: str, metric: str = "val_acc", percent: bool | None = None,
                    show_std: bool = False, collapse: float | None = None, corner: str | None = None) -> str:
    """The seed's plain-text table: rows = ``x`` values, columns = ``y`` values, cells = mean over seeds.

    Args:
        show_std: add ``±std`` to each cell.
        collapse: mark cells where some seed collapsed (metric <= collapse) with ``*``.
        corner: the top-left label (default ``'x\\y'``; the seed wrote ``'L1\\L2'``).
    """
    g = stability_grid(study_or_rows, x, y, metric, collapse)
    finite = g.mean[np.isfinite(g.mean)]
    if percent is None:
        percent = bool(finite.size) and bool(np.all((finite >= 0) & (finite <= 1)))
    cells = [[_fmt(g.mean[i, j], percent) + (f"±{_fmt(g.std[i, j], percent)}" if show_std and g.n[i, j] > 1 else "")
              + ("*" if collapse is not None and np.nan_to_num(g.collapsed[i, j]) > 0 else "")
              for j in range(len(g.y_values))] for i in range(len(g.x_values))]
    corner = corner or f"{x}\\{y}"
    first = max([len(corner)] + [len(_label(v)) for v in g.x_values])
    width = max([len(_label(v)) for v in g.y_values] + [len(c) for row in cells for c in row]) + 2
    lines = [corner.ljust(first) + "".join(_label(v).rjust(width) for v in g.y_values)]
    lines += [_label(xv).ljust(first) + "".join(c.rjust(width) for c in row) for xv, row in zip(g.x_values, cells)]
    if collapse is not None and np.nan_to_num(g.collapsed).any():
        lines.append(f"* some seeds collapsed ({metric} <= {collapse:g})")
    return "\n".join(lines)
