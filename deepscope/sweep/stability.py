"""Stability of a study over two parameters: mean ± std over seeds, and how often training collapsed.

Seed 000 saw 10% accuracy (chance for ten classes) at some L2 factors, "depending also on the
initialization". ``stability_map(study, 'l2_first', 'l2_second', collapse=0.11, path='map.png')``
draws two panels: the mean metric over seeds (each cell annotated with mean ± std), and the
fraction of seeds whose metric is at or below ``collapse``.
``stability_table`` prints the seed's table: rows = ``x`` values, columns = ``y`` values.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

import numpy as np

from .._checks import fail
from .._io import save_figure
from .importance import param_importances
from .records import check_rows, metric_value


@dataclass
class StabilityGrid:
    """Arrays of shape ``(len(x_values), len(y_values))`` over the seeds of each cell (NaN where no
    seed finished with a finite value).

    Attributes:
        mean, median, std: of the finite values of ``metric`` over seeds.
        collapsed: fraction of finished seeds at or below the threshold, a non-finite metric counting
            as collapsed (a diverged seed is the instability the map is about).
        n: finished seeds (finite or not); n_failed: trials that raised; n_nonfinite: NaN/Inf metrics.
        seeds: the seeds, in order; per_seed: ``(len(seeds), len(x_values), len(y_values))`` values
            (NaN: missing, failed or non-finite; see ``status``).
        status: same shape as ``per_seed``: ``'ok'``, ``'collapsed'``, ``'nonfinite'``, ``'failed'`` or ``''``.
        diagnosis: the most frequent root cause of the cell's collapsed or failed trials (``''``
            when none; among equally frequent ones the cause, e.g. ``dead_layer``, before the symptom,
            ``constant_prediction``), from the trials' diagnoses; diagnosis_count: in how many of them.
    """
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
    median: np.ndarray = None
    n_nonfinite: np.ndarray = None
    seeds: list = None
    per_seed: np.ndarray = None
    status: np.ndarray = None
    diagnosis: np.ndarray = None
    diagnosis_count: np.ndarray = None


def _rows(study_or_rows) -> list[dict]:
    if hasattr(study_or_rows, "results"):
        return study_or_rows.results()
    if isinstance(study_or_rows, (list, tuple)):
        return check_rows(study_or_rows, "stability_map study_or_rows")
    fail("stability_map study_or_rows", "a Study or the list of study.results()", type(study_or_rows).__name__,
         error=TypeError)


def _sorted(values: list) -> list:
    try:
        return sorted(values)
    except TypeError:
        return values


CAUSES = ("non_finite", "dead_layer", "exploding_gradients", "saturated_layer", "loss_spike", "vanishing_gradients",
          "constant_prediction")  # for the dominant diagnosis: causes before symptoms


def _cause_rank(code: str) -> int:
    return CAUSES.index(code) if code in CAUSES else len(CAUSES)


def _is_bad(row: dict, metric: str, collapse: float | None) -> bool:
    """A trial that failed, or whose metric is non-finite or at/below the collapse threshold."""
    if row.get("status") == "failed":
        return True
    v = metric_value(row, metric)
    return v is not None and (not np.isfinite(v) or (collapse is not None and v <= collapse))


def error_codes(row: dict) -> list[str]:
    """The error findings of a trial's diagnosis (``row['record']['diagnoses']``), in order."""
    record = row.get("record") or {}
    return [d.get("code") for d in record.get("diagnoses", []) if d.get("severity") == "error" and d.get("code")]


def root_cause(row: dict) -> str | None:
    """The finding a trial's diagnosis leads with (its root cause when one was found), or None."""
    record = row.get("record") or {}
    if "root_cause" in record:
        return record["root_cause"]
    codes = error_codes(row)  # a journal written before root causes were recorded
    return min(codes, key=_cause_rank) if codes else None


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
    seeds = _sorted(list(dict.fromkeys(r.get("seed") for r in rows if x in r.get("params", {}))))
    shape = (len(xs), len(ys))
    values = [[[] for _ in ys] for _ in xs]
    codes = [[Counter() for _ in ys] for _ in xs]
    failed = np.zeros(shape, dtype=int)
    per_seed = np.full((len(seeds), *shape), np.nan)
    status = np.full((len(seeds), *shape), "", dtype=object)
    for r in rows:
        p = r.get("params", {})
        if x not in p or y not in p:
            continue
        i, j, k = xs.index(p[x]), ys.index(p[y]), seeds.index(r.get("seed"))
        v = metric_value(r, metric)
        if _is_bad(r, metric, collapse) and root_cause(r):  # why the collapsed / failed seeds went wrong
            codes[i][j][root_cause(r)] += 1
        if v is not None:
            values[i][j].append(v)
            finite = bool(np.isfinite(v))
            per_seed[k, i, j] = v if finite else np.nan
            status[k, i, j] = ("nonfinite" if not finite else
                               "collapsed" if collapse is not None and v <= collapse else "ok")
        elif r.get("status") == "failed":
            failed[i, j] += 1
            status[k, i, j] = "failed"
    mean, median, std, coll = (np.full(shape, np.nan) for _ in range(4))
    n, nonfinite = np.zeros(shape, dtype=int), np.zeros(shape, dtype=int)
    diagnosis = np.full(shape, "", dtype=object)
    diagnosis_count = np.zeros(shape, dtype=int)
    for i in range(len(xs)):
        for j in range(len(ys)):
            v = np.asarray(values[i][j], dtype=float)
            ok = v[np.isfinite(v)]
            n[i, j], nonfinite[i, j] = v.size, v.size - ok.size
            if ok.size:
                mean[i, j], median[i, j], std[i, j] = ok.mean(), np.median(ok), ok.std()
            if collapse is not None and v.size:
                coll[i, j] = float(np.mean(~np.isfinite(v) | (v <= collapse)))
            if codes[i][j]:  # the most frequent; among equals, the cause before the symptom
                best = max(codes[i][j].items(), key=lambda kv: (kv[1], -_cause_rank(kv[0])))
                diagnosis[i, j], diagnosis_count[i, j] = best
    return StabilityGrid(x, y, metric, xs, ys, mean, std, coll, n, failed, median, nonfinite, seeds, per_seed,
                         status, diagnosis, diagnosis_count)


def _label(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _fmt(value: float, percent: bool, digits: int = 1) -> str:
    if not np.isfinite(value):
        return "-"
    return f"{100 * value:.{digits}f}%" if percent else f"{value:.3g}"


STATUS_MARKS = {"collapsed": "C", "nonfinite": "NaN", "failed": "F", "": "-"}


def stability_map(study_or_rows, x: str, y: str, metric: str = "val_acc", path: str | os.PathLike | None = None,
                  collapse: float | None = 0.11, percent: bool | None = None, title: str | None = None
                  ) -> StabilityGrid:
    """Heat maps of a study over an ``x`` by ``y`` grid: the mean (and median) ``metric`` over seeds,
    every seed on its own (seed x cell), and how often training collapsed, with each cell's most
    frequent diagnosis.

    Args:
        study_or_rows: a :class:`~deepscope.sweep.Study` or the rows of ``study.results()``.
        x: the parameter along the rows (e.g. the first layer's L2 factor).
        y: the parameter along the columns.
        metric: the metric to show.
        path: where to write the figure (``.png``, ``.svg`` or ``.pdf``, written atomically); None: no figure.
        collapse: a seed "collapsed" when its metric is at or below this value (0.11: chance for
            ten classes plus 1%) or not finite; None: no collapse panel.
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
    panels = 3 if collapse is not None else 2
    nx, ny = len(g.x_values), len(g.y_values)
    # one column of panels, at most 9 inches wide: shown at a report's width (about 1,100 px at 120 dpi) the
    # cell text keeps its size (three panels side by side were 26 inches: text a few pixels high)
    width = 9.0
    heights = [max(2.6, 0.75 * nx + 1.4), max(2.2, 0.4 * len(g.seeds) + 1.8), max(2.6, 0.75 * nx + 1.4)][:panels]
    fig = Figure(figsize=(width, sum(heights) + 0.4 * bool(title)), layout="constrained")
    axes = fig.subplots(panels, 1, squeeze=False, height_ratios=heights)[:, 0]
    # the colour scale spans the values shown (every seed's), so differences between cells are visible
    # (collapsed seeds, marked C, are left below the scale so they do not flatten the others' differences)
    shown = g.per_seed[np.isfinite(g.per_seed)] if g.per_seed.size else np.zeros(0)
    healthy = shown[shown > collapse] if collapse is not None else shown
    scale = healthy if healthy.size >= 2 else shown
    vmin, vmax = (float(scale.min()), float(scale.max())) if scale.size else (None, None)
    if vmin is not None and vmin == vmax:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    extend = "min" if scale is healthy and healthy.size < shown.size else "neither"
    image = axes[0].imshow(g.mean, cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
    fig.colorbar(image, ax=axes[0], label=f"mean {metric} over seeds", extend=extend)
    for i in range(nx):
        for j in range(ny):
            text = _fmt(g.mean[i, j], percent)
            if g.n[i, j] > 1:
                text += f"\n± {_fmt(g.std[i, j], percent)}\nmed {_fmt(g.median[i, j], percent)}"
            if g.n_failed[i, j] or g.n_nonfinite[i, j]:
                text += f"\n{g.n_failed[i, j]} failed, {g.n_nonfinite[i, j]} NaN"
            axes[0].text(j, i, text, ha="center", va="center", fontsize=9, color=_text_colour(image, g.mean[i, j]))
    axes[0].set_title(f"mean ± std, median {metric} (n = {int(g.n.max()) if g.n.size else 0} seeds)")
    # every seed on its own: rows = seeds, columns = cells (x, y)
    cells = [(i, j) for i in range(nx) for j in range(ny)]
    seed_values = np.stack([g.per_seed[:, i, j] for i, j in cells], axis=1) if cells else np.zeros((len(g.seeds), 0))
    image = axes[1].imshow(seed_values, cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
    fig.colorbar(image, ax=axes[1], label=f"{metric} of the seed", extend=extend)
    for k in range(len(g.seeds)):
        for c, (i, j) in enumerate(cells):
            state = g.status[k, i, j]
            if state != "ok":
                axes[1].text(c, k, STATUS_MARKS.get(state, state), ha="center", va="center", fontsize=9,
                             color="red" if state in ("failed", "nonfinite") else _text_colour(image, seed_values[k, c]),
                             fontweight="bold")
    axes[1].set_xticks(range(len(cells)), [f"{_label(g.x_values[i])}\n{_label(g.y_values[j])}" for i, j in cells],
                       fontsize=8 if len(cells) <= 16 else 6)
    axes[1].set_yticks(range(len(g.seeds)), [str(s) for s in g.seeds])
    axes[1].set_xlabel(f"cell ({x} over {y})")
    axes[1].set_ylabel("seed")
    marks = "C = collapsed" if collapse is not None else ""
    axes[1].set_title(f"every seed: {marks}{', ' if marks else ''}NaN = non-finite, F = failed (red), - = missing")
    if collapse is not None:
        image = axes[2].imshow(g.collapsed, cmap="Reds", vmin=0.0, vmax=1.0, aspect="auto")
        fig.colorbar(image, ax=axes[2], label="fraction of seeds collapsed")
        for i in range(nx):
            for j in range(ny):
                k = int(round((g.collapsed[i, j] if np.isfinite(g.collapsed[i, j]) else 0) * g.n[i, j]))
                text = f"{k}/{g.n[i, j]}"
                if g.diagnosis[i, j]:
                    text += f"\n{g.diagnosis[i, j]} ({g.diagnosis_count[i, j]}/{k})"
                axes[2].text(j, i, text, ha="center", va="center", fontsize=9,
                             color="white" if g.collapsed[i, j] > 0.5 else "black")
        axes[2].set_title(f"collapsed ({metric} <= {collapse:g} or NaN), most frequent diagnosis")
    for ax in (axes[0], *axes[2:]):
        ax.set_xticks(range(ny), [_label(v) for v in g.y_values])
        ax.set_yticks(range(nx), [_label(v) for v in g.x_values])
        ax.set_xlabel(y)
        ax.set_ylabel(x)
    if title:
        fig.suptitle(title)
    save_figure(fig, path, dpi=120, where="stability_map path")
    return g


def _text_colour(image, value: float) -> str:
    """White on dark cells, black on light ones (from the cell's luminance)."""
    if not np.isfinite(value):
        return "black"
    red, green, blue, _ = image.cmap(image.norm(value))
    return "white" if 0.299 * red + 0.587 * green + 0.114 * blue < 0.5 else "black"


def _labels(row: dict) -> dict:
    """A trial's findings as ``{'code in layer': (step, severity)}`` (and ``'failed: ...'`` for a failed trial)."""
    labels = {}
    for d in (row.get("record") or {}).get("diagnoses", []):
        labels[d["code"] + (f" in {d['layer']}" if d.get("layer") else "")] = (d.get("step"), d.get("severity"))
    if row.get("status") == "failed":
        labels[f"failed: {str(row.get('error'))[:60]}"] = (None, "error")
    return labels


def _values(rows: list[dict], param: str) -> set:
    return {repr(r.get("params", {}).get(param)) for r in rows}


def study_summary(study_or_rows, x: str, y: str, metric: str = "val_acc", collapse: float | None = 0.11) -> str:
    """Which cells collapsed, for which seeds, and why (the trials' diagnoses), and how much each of
    ``x`` and ``y`` explains of ``metric`` (optuna's importance evaluator), in plain text."""
    rows = _rows(study_or_rows)
    g = stability_grid(rows, x, y, metric, collapse)
    lines = [f"{int(g.n.sum())} finished trials, {int(g.n_failed.sum())} failed, {int(g.n_nonfinite.sum())} with a "
             f"non-finite {metric}, over {len(g.x_values)} x {len(g.y_values)} cells and seeds {g.seeds}."]
    varying = [p for p in (x, y) if len(_values(rows, p)) > 1]
    importances, note = param_importances(rows, varying, metric) if len(varying) == 2 else (None, "")
    if importances is not None:
        lines.append(f"What explains {metric}: " + ", ".join(f"{k} {v:.0%}" for k, v in importances.items())
                     + f" ({note}).")
    elif note.startswith("no parameter explains"):
        lines.append(note[0].upper() + note[1:] + ".")
    bad = [(i, j) for i in range(len(g.x_values)) for j in range(len(g.y_values))
           if np.nan_to_num(g.collapsed[i, j]) > 0 or g.n_failed[i, j]]
    if not bad:
        lines.append(f"No cell collapsed ({metric} <= {collapse:g}) and no trial failed." if collapse is not None
                     else "No trial failed.")
        return "\n".join(lines)
    lines.append(f"Cells where some seed collapsed ({metric} <= {collapse:g} or non-finite) or failed:")
    for i, j in bad:
        xv, yv = g.x_values[i], g.y_values[j]
        seeds = [g.seeds[k] for k in range(len(g.seeds)) if g.status[k, i, j] in ("collapsed", "nonfinite", "failed")]
        why, steps, errors, roots = Counter(), {}, set(), Counter()
        for r in rows:
            if r.get("params", {}).get(x) == xv and r.get("params", {}).get(y) == yv and r.get("seed") in seeds:
                if root_cause(r):
                    roots[root_cause(r)] += 1
                for label, (step, severity) in _labels(r).items():
                    why[label] += 1
                    if severity == "error":
                        errors.add(label)
                    if step is not None:
                        steps.setdefault(label, []).append(step)
        ranked = sorted(why, key=lambda label: (label not in errors, -why[label]))[:5]  # errors first
        reasons = ", ".join(f"{label} ({why[label]}/{len(seeds)}" + (f", step {min(steps[label])}-{max(steps[label])}"
                                                                      if steps.get(label) else "") + ")"
                            for label in ranked) or "no diagnosis recorded"
        root = ("root cause: " + ", ".join(f"{code} ({n}/{len(seeds)})" for code, n in roots.most_common(2))
                + "; ") if roots else ""
        lines.append(f"  {x}={_label(xv)}, {y}={_label(yv)}: seeds {seeds} "
                     f"(mean {_fmt(g.mean[i, j], True)}); {root}why: {reasons}")
    return "\n".join(lines)


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
