"""Comparing runs: final metrics side by side with the settings that differ between them."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .._checks import Text, fail
from .catalog import read_config, read_metrics, final_metrics, resolve_run
from .render import plain_table, print_table
from .render import format_value

MISSING = None  # shown as "-" when a run lacks a setting or a metric


@dataclass
class RunTable:
    """A comparison table: one row per run.

    Attributes:
        columns: ``run``, then metric columns, then the config keys that differ.
        rows: one list of cells per run, in ``columns`` order.
        metrics: the metric columns.
        differing: the config keys whose values differ between the runs.
        paths: the run folders, in row order.
    """

    columns: list[str]
    rows: list[list[Any]]
    metrics: list[str] = field(default_factory=list)
    differing: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    def to_dicts(self) -> list[dict]:
        """The rows as ``{column: value}`` dicts."""
        return [dict(zip(self.columns, row)) for row in self.rows]

    def print(self, file=None, title: str | None = "Runs") -> None:
        """Print the table (rich on a terminal, plain text otherwise); when it would be wider than
        the terminal, the metrics as one table and the differing settings as a second one, one
        column per run, long values wrapped."""
        text = plain_table(self.columns, self.rows)
        if max(map(len, text.splitlines())) <= _width():
            print_table(self.columns, self.rows, title, file)
            return
        split = 1 + len(self.metrics)
        print_table(self.columns[:split], [row[:split] for row in self.rows], title, file)
        print("\nSettings that differ:\n" + settings_table(self), file=file)

    def __str__(self) -> str:
        text = plain_table(self.columns, self.rows)
        if max(map(len, text.splitlines())) <= _width():
            return text
        split = 1 + len(self.metrics)
        return (plain_table(self.columns[:split], [row[:split] for row in self.rows])
                + "\n\nSettings that differ:\n" + settings_table(self))


def _width() -> int:
    import shutil
    return min(shutil.get_terminal_size((100, 24)).columns, 100)


def settings_table(table: RunTable, width: int | None = None) -> str:
    """The differing settings, one row per setting and one column per run, cells wrapped to fit ``width``."""
    import textwrap

    width = width or _width()
    split = 1 + len(table.metrics)
    names = table.differing
    runs = [row[0] for row in table.rows]
    first = max([len("setting")] + [len(n) for n in names])
    cell = max(12, (width - first - 2 * len(runs)) // max(1, len(runs)))
    lines = ["  ".join([("setting").ljust(first)] + [str(r)[:cell].ljust(cell) for r in runs]).rstrip()]
    lines.append("  ".join(["-" * first] + ["-" * cell] * len(runs)))
    for i, name in enumerate(names):
        cells = [textwrap.wrap("-" if row[split + i] is None else format_value(row[split + i]), cell) or ["-"]
                 for row in table.rows]
        for k in range(max(len(c) for c in cells)):
            lines.append("  ".join([(name if k == 0 else "").ljust(first)]
                                   + [(c[k] if k < len(c) else "").ljust(cell) for c in cells]).rstrip())
    return "\n".join(lines)


def compare_runs(runs: Sequence[str | os.PathLike], metric: str | Sequence[str] | None = None,
                 root: str | os.PathLike | None = None, sort: bool = True, all_settings: bool = False) -> RunTable:
    """Final metrics of several runs, with the config keys that differ between them.

    Args:
        runs: run ids (or unique parts of them) or folder paths.
        metric: the metric column(s) to show (``'val_acc'``, ``['loss', 'val_loss']``);
            default all. With one metric the rows are sorted by it, best first (lowest
            for losses, highest otherwise).
        root: the runs folder.
        sort: sort by ``metric`` when one is given.
        all_settings: compare every recorded setting under its full dotted name
            (``net.FullyConnected.n_units``) instead of the user-facing hyperparameters with short
            names (layers, activations, optimizer, lr, batch, epochs, L1/L2, dropout, augmentation, clip).

    Returns:
        A :class:`RunTable` (``print(table)`` gives plain text; ``table.print()`` a rich table).
    """
    if isinstance(runs, (str, os.PathLike)):
        runs = [runs]
    if not isinstance(runs, (list, tuple)) or not all(isinstance(r, (str, os.PathLike)) for r in runs):
        fail("compare_runs runs", "run ids or run folders (a string, a path or a list of them)",
             Text(type(runs).__name__), error=TypeError)
    if not runs:
        fail("compare_runs runs", "at least one run id", list(runs))
    runs = [member for r in runs for member in _study_members(r)]
    paths = [resolve_run(r, root) for r in runs]
    finals = [final_metrics(read_metrics(p)) for p in paths]
    configs = [(flatten_config if all_settings else key_settings)(read_config(p)) for p in paths]
    available = _ordered_union(f.keys() for f in finals)
    if metric is None:
        metrics = available
    else:
        metrics = [metric] if isinstance(metric, str) else list(metric)
        unknown = [m for m in metrics if m not in available]
        if unknown:
            fail("compare_runs metric", f"one of {available}", unknown[0] if len(unknown) == 1 else unknown)
    differing = [key for key in _ordered_union(c.keys() for c in configs)
                 if len({repr(c.get(key, MISSING)) for c in configs}) > 1]
    order = list(range(len(paths)))
    if sort and metric is not None and len(metrics) == 1:
        key = metrics[0]
        lower = "loss" in key or "error" in key
        order.sort(key=lambda i: (finals[i].get(key) is None,
                                  (finals[i].get(key) or 0.0) * (1 if lower else -1)))
    rows = [[paths[i].name] + [finals[i].get(m, MISSING) for m in metrics]
            + [configs[i].get(k, MISSING) for k in differing] for i in order]
    return RunTable(["run", *metrics, *differing], rows, list(metrics), differing, [str(paths[i]) for i in order])


def _study_members(run) -> list:
    """A study's folder (run folders inside it, no config of its own) as its trials' run folders; else ``[run]``."""
    folder = Path(run)
    if folder.is_dir() and not (folder / "config.json").is_file():
        members = sorted(str(child) for child in folder.iterdir() if (child / "config.json").is_file())
        if members:
            return members
    return [run]


ABBREVIATIONS = {"fully_connected": "fc", "conv_2d": "conv", "conv_1d": "conv1d", "max_pool_2d": "maxpool",
                 "avg_pool_2d": "avgpool", "dropout": "drop", "batch_normalization": "bn", "lstm": "lstm",
                 "gru": "gru", "simple_rnn": "rnn", "embedding": "emb", "flatten": "flat",
                 "global_avg_pool": "gap", "merge": "merge", "conv_2d_transpose": "deconv"}
SIZE_ARGS = ("n_units", "nb_filter", "keep_prob", "output_dim")


def key_settings(config: dict) -> dict[str, Any]:
    """The settings a person compares runs by, with short names: ``layers`` (e.g.
    ``conv32 > maxpool > fc512 > drop0.5 > fc10``), ``activations``, ``optimizer``, ``lr``,
    ``batch``, ``epochs``, ``steps``, ``L1/L2`` (the factors per layer), ``augment``, ``clip``."""
    out: dict[str, Any] = {}
    trial = config.get("trial") or {}
    out.update(trial.get("params") or {})  # a study trial: its swept values and seed first
    if "seed" in trial:
        out["seed"] = trial["seed"]
    network = config.get("network")
    if isinstance(network, dict) and isinstance(network.get("nodes"), list):
        layers, activations, penalties, augment = [], [], [], False
        for node in network["nodes"]:
            fn, args = node.get("fn"), node.get("args") or {}
            if fn in ("input_data", "regression"):
                augment = augment or bool(args.get("data_augmentation"))
                continue
            size = next((args[k] for k in SIZE_ARGS if isinstance(args.get(k), (int, float))), "")
            layers.append(f"{ABBREVIATIONS.get(fn, fn)}{size:g}" if size != "" else ABBREVIATIONS.get(fn, str(fn)))
            if isinstance(args.get("activation"), str) and args["activation"] != "linear":
                activations.append(args["activation"])
            if args.get("regularizer"):
                penalties.append(f"{args['regularizer']} {args.get('weight_decay', 0):g}")
        out["layers"] = " > ".join(layers)
        out["activations"] = "/".join(dict.fromkeys(activations))
        out["L1/L2"] = ", ".join(penalties) or "-"
        out["augment"] = "yes" if augment else "no"
    elif network is not None:
        out["layers"] = str(network)[:60]
    training, fit = config.get("training") or {}, config.get("fit") or {}
    out.update({"optimizer": str(training.get("optimizer", "")).lower(), "lr": training.get("learning_rate"),
                "batch": fit.get("batch_size"), "epochs": fit.get("n_epoch"), "steps": fit.get("max_steps"),
                "clip": config.get("clip_gradients")})
    return out


def flatten_config(config: dict) -> dict[str, Any]:
    """A run config as flat ``{key: value}``: ``training.learning_rate``, ``fit.batch_size``, and
    each layer's arguments as ``net.<layer name>.<argument>``.

    Args:
        config: a run's ``config.json`` content.

    Returns:
        Flat mapping of dotted keys to JSON scalars (lists shown as text).
    """
    if not isinstance(config, dict):
        fail("flatten_config config", "a run's config.json content (a dict; read_config(run) gives it)",
             Text(type(config).__name__), error=TypeError)
    flat: dict[str, Any] = {}
    network = config.get("network")
    if isinstance(network, dict) and isinstance(network.get("nodes"), list):
        for node in network["nodes"]:
            name = node.get("name", node.get("id"))
            flat[f"net.{name}"] = node.get("fn")
            for arg, value in (node.get("args") or {}).items():
                if arg != "name":
                    _flatten(f"net.{name}.{arg}", value, flat)
    elif network is not None:
        flat["net"] = network if isinstance(network, str) else str(network)
    for key, value in config.items():
        if key != "network":
            _flatten(key, value, flat)
    return flat


def _flatten(prefix: str, value: Any, out: dict) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            _flatten(f"{prefix}.{key}", sub, out)
    elif isinstance(value, list):
        out[prefix] = str(value)
    else:
        out[prefix] = value


def _ordered_union(groups) -> list[str]:
    seen: dict[str, None] = {}
    for group in groups:
        for key in group:
            seen.setdefault(key, None)
    return list(seen)
