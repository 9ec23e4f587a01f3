"""The ``deepscope`` command: a thin argparse layer over the library.

    deepscope demo [--quick]
    deepscope tutorial list | run NAME [--quick]
    deepscope datasets list | info NAME | download NAME [--data-dir DIR]
    deepscope runs list | show ID | compare ID ID ... [--metric M] [--plot out.png]
    deepscope tensorboard [--logdir DIR] [--port N] [--dry-run]
    deepscope resume SCRIPT [ARGS ...]
    deepscope report RUN_OR_STUDY [-o report.html]

Also ``python -m deepscope ...``. Exit codes: 0 success, 1 failure, 2 bad usage.
"""
from __future__ import annotations

import argparse
import os
import sys

from . import commands

USAGE_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand (each has ``--help``)."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="deepscope", description="deepscope: TFlearn's few-line deep learning on PyTorch, for scientists.",
        epilog="Run 'deepscope COMMAND --help' for a command's options.")
    parser.add_argument("--version", action="version", version=f"deepscope {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="train a small network and show what deepscope records",
                       description="Run the built-in demo (deepscope.demo).")
    p.add_argument("--quick", action="store_true", help="a quick version (for CI)")
    p.add_argument("--out", help="folder for the demo's pictures (default: <runs folder>/demo)")
    p.set_defaults(handler=commands.demo)

    p = sub.add_parser("tutorial", help="list or run the tutorials",
                       description="The tutorials in examples/tutorials (NN_name.py).")
    tsub = p.add_subparsers(dest="action", metavar="ACTION")
    tsub.add_parser("list", help="list the tutorials", description="List the tutorials by number and name.")
    t = tsub.add_parser("run", help="run one tutorial", description="Run a tutorial in a new Python process.")
    t.add_argument("name", help="number (3), name (mlp) or file name (03_mlp) of the tutorial")
    t.add_argument("--quick", action="store_true", help="the tutorial's quick mode (for CI)")
    p.set_defaults(handler=commands.tutorial, parser=p)

    p = sub.add_parser("datasets", help="list, describe or download datasets; where they are",
                       description="Datasets of deepscope.datasets (cached in --data-dir, $DEEPSCOPE_DATA, the "
                                   "folder set-up recorded in this environment, or ~/.deepscope/datasets).")
    dsub = p.add_subparsers(dest="action", metavar="ACTION")
    dsub.add_parser("where", help="which datasets folder the loaders use, and why",
                    description="Which datasets folder the loaders use, and why.")
    d = dsub.add_parser("use", help="record a datasets folder in this environment (every shell finds it)",
                        description="Record FOLDER as this environment's datasets folder (what make does).")
    d.add_argument("folder", help="the folder holding the datasets (e.g. ../shared/datasets)")
    d = dsub.add_parser("list", help="list the datasets and whether they are cached",
                        description="List the downloadable datasets.")
    d.add_argument("--data-dir", help="cache folder to inspect")
    for action, text in (("info", "files, URLs, checksums and cache state of a dataset"),
                         ("download", "download (or find) and verify a dataset's files")):
        d = dsub.add_parser(action, help=text, description=text[0].upper() + text[1:] + ".")
        d.add_argument("name", help="dataset name (see 'deepscope datasets list')")
        d.add_argument("--data-dir", help="cache folder")
    p.set_defaults(handler=commands.datasets, parser=p)

    p = sub.add_parser("runs", help="list, show and compare training runs",
                       description="The run folders written by DNN.fit (in --root, $DEEPSCOPE_RUNS or ./runs).")
    rsub = p.add_subparsers(dest="action", metavar="ACTION")
    r = rsub.add_parser("list", help="list runs with their final metrics",
                        description="List runs, oldest first (the trials of studies in the folder too).")
    r.add_argument("folder", nargs="?", help="the runs folder or a study's folder (default: --root)")
    r.add_argument("--root", help="the runs folder")
    r = rsub.add_parser("show", help="config, final metrics and files of one run", description="Show one run.")
    r.add_argument("run", help="run id (or a unique part of it) or run folder")
    r.add_argument("--root", help="the runs folder")
    r = rsub.add_parser("compare", help="final metrics and differing settings of several runs",
                        description="Compare runs: final metrics and the config keys that differ.")
    r.add_argument("runs", nargs="+", help="run ids (or unique parts of them) or folders")
    r.add_argument("--metric", action="append", help="metric column to show (repeatable); one sorts the rows")
    r.add_argument("--all", action="store_true", dest="all_settings",
                   help="every differing setting by its full name, not only the hyperparameters")
    r.add_argument("--plot", metavar="FILE", help="also save learning curves to FILE (.png, .svg or .pdf)")
    r.add_argument("--layout", choices=("runs", "metrics"), default="metrics",
                   help="plot: one column per run (runs) or runs overlaid per metric (metrics)")
    r.add_argument("--root", help="the runs folder")
    p.set_defaults(handler=commands.runs, parser=p)

    p = sub.add_parser("tensorboard", help="start TensorBoard on the runs folder",
                       description="Start TensorBoard (python -m tensorboard.main) on the runs folder.")
    p.add_argument("--logdir", help="folder to show (default: $DEEPSCOPE_RUNS or ./runs)")
    p.add_argument("--port", type=int, help="port (TensorBoard's default: 6006)")
    p.add_argument("--dry-run", action="store_true", help="print the command instead of running it")
    p.set_defaults(handler=commands.tensorboard)

    p = sub.add_parser("resume", help="re-run a training script; its named runs continue where they stopped",
                       description="Run SCRIPT again inside deepscope.models.resume_named_runs(): every fit(..., run_id=...) that "
                                   "wrote checkpoints (checkpoint_every=N) continues from its newest good "
                                   "checkpoint instead of starting over.")
    p.add_argument("script", help="the Python script that trains (as killed)")
    p.add_argument("script_args", nargs=argparse.REMAINDER, help="its arguments")
    p.set_defaults(handler=commands.resume)

    p = sub.add_parser("report", help="a self-contained HTML report of a run or a study",
                       description="Write one HTML file (images embedded, no network access) for a run folder "
                                   "(curves, diagnosis, step diagnostics, settings) or a study folder (table, "
                                   "stability map, parallel coordinates, importance, what happened).")
    p.add_argument("target", help="a run id, a run folder or a study folder")
    p.add_argument("-o", "--output", help="the HTML file (default: report.html in the folder)")
    p.add_argument("--root", help="the runs folder (default $DEEPSCOPE_RUNS or ./runs)")
    p.set_defaults(handler=commands.report)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``).

    Args:
        argv: the arguments after ``deepscope``.

    Returns:
        The exit code: 0 success, 1 failure, 2 bad usage.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, argparse usage errors
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else USAGE_ERROR)
    if args.command is None:
        parser.print_help()
        return USAGE_ERROR
    try:
        result = args.handler(args)
    except commands.UsageError as err:
        print(f"deepscope {args.command}: error: {err}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, LookupError) as err:  # a bad file, folder or argument: one line, no traceback
        print(f"deepscope {args.command}: error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into `head` and closed early
        if sys.stdout is sys.__stdout__:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 1
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
