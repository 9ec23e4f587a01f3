"""Run folders: writing them (``Run``), listing, showing, comparing and plotting them.

``list_runs()``, ``show_run(id)``, ``compare_runs([ids])`` and ``plot_runs([ids], 'curves.png')``
read the folders that every ``DNN.fit`` writes (config.json, metrics.csv, TensorBoard events).
"""
from .catalog import list_runs, read_config, read_metrics, resolve_run, run_folders, show_run
from .compare import RunTable, compare_runs, flatten_config
from .plots import plot_runs
from ..callbacks.run_folder import Run, runs_root

__all__ = ["Run", "RunTable", "compare_runs", "flatten_config", "list_runs", "plot_runs", "read_config",
           "read_metrics", "resolve_run", "run_folders", "runs_root", "show_run"]
