"""The handlers of the ``deepscope`` subcommands: each takes the parsed arguments, returns an exit code."""
from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import textwrap
import sys
from pathlib import Path


class UsageError(Exception):
    """Bad usage (unknown name, missing argument): reported with exit code 2."""


# -- demo ---------------------------------------------------------------------------------------
def demo(args) -> int:
    """``deepscope demo [--quick] [--out DIR]``: run ``deepscope.demo.main``."""
    import importlib

    try:
        demo_module = importlib.import_module("deepscope.demo")
    except ModuleNotFoundError as err:
        if err.name != "deepscope.demo":
            raise
        print("deepscope demo: the demo (deepscope/demo.py) is not part of this installation. "
              "Try 'deepscope tutorial list' for runnable examples.", file=sys.stderr)
        return 1
    options = {"out": args.out} if getattr(args, "out", None) else {}
    result = demo_module.main(quick=args.quick, **options)
    return result if isinstance(result, int) else 0


# -- tutorials ----------------------------------------------------------------------------------
TUTORIAL_FILE = re.compile(r"^(\d+)_(\w+)\.py$")


def tutorials_dir() -> Path:
    """``$DEEPSCOPE_TUTORIALS``, else ``examples/tutorials`` next to the installed package."""
    import deepscope

    override = os.environ.get("DEEPSCOPE_TUTORIALS")
    return Path(override) if override else Path(deepscope.__file__).resolve().parents[1] / "examples" / "tutorials"


def find_tutorials() -> list[dict]:
    """The tutorials: ``[{'number', 'name', 'path', 'title'}]`` sorted by number.

    The title is the first line of the script's docstring (read without running it).
    """
    folder = tutorials_dir()
    found = []
    for path in sorted(folder.glob("*.py")) if folder.is_dir() else []:
        match = TUTORIAL_FILE.match(path.name)
        if match:
            found.append({"number": int(match.group(1)), "name": match.group(2), "path": path,
                          "title": _first_doc_line(path)})
    return sorted(found, key=lambda t: (t["number"], t["name"]))


def tutorial(args) -> int:
    """``deepscope tutorial list | run NAME [--quick]``."""
    if args.action is None:
        args.parser.print_help()
        return 2
    tutorials = find_tutorials()
    if not tutorials:
        print(f"deepscope tutorial: no tutorials found in {tutorials_dir()} (they ship with the source "
              "repository's examples/ folder; set DEEPSCOPE_TUTORIALS to their folder).", file=sys.stderr)
        return 1
    if args.action == "list":
        from ..runs.render import print_table

        room = 100 - 2 - 2 - 2 - max(len("name"), *(len(t["name"]) for t in tutorials))  # (a line <= 100 columns)
        print_table(["#", "name", "title"], [[f"{t['number']:02d}", t["name"], _shorten(t["title"], room)]
                                             for t in tutorials],
                    title="Tutorials (deepscope tutorial run NAME [--quick])")
        return 0
    chosen = _match_tutorial(args.name, tutorials)
    command = [sys.executable, str(chosen["path"])] + (["--quick"] if args.quick else [])
    print(f"running {chosen['path'].name}: {shlex.join(command)}", flush=True)
    return subprocess.call(command)


def _shorten(text: str, width: int) -> str:
    """``text`` cut at a word to fit ``width`` columns (with '...')."""
    width = max(width, 20)
    return text if len(text) <= width else textwrap.shorten(text, width, placeholder="...")


def _match_tutorial(name: str, tutorials: list[dict]) -> dict:
    key = name[:-3] if name.endswith(".py") else name
    for t in tutorials:
        if key in (f"{t['number']:02d}_{t['name']}", t["name"]) or (key.isdigit() and int(key) == t["number"]):
            return t
    partial = [t for t in tutorials if key.lower() in t["name"].lower()]
    if len(partial) == 1:
        return partial[0]
    names = ", ".join(f"{t['number']:02d}_{t['name']}" for t in tutorials)
    raise UsageError(f"no tutorial {name!r}{' (ambiguous)' if partial else ''}; the tutorials are: {names}")


def _first_doc_line(path: Path) -> str:
    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    except (SyntaxError, UnicodeDecodeError, OSError):
        return ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


# -- datasets -----------------------------------------------------------------------------------
def datasets(args) -> int:
    """``deepscope datasets list | info NAME | download NAME``."""
    if args.action is None:
        args.parser.print_help()
        return 2
    from .. import datasets as ds
    from ..datasets import _download
    from ..runs.render import print_mapping, print_table

    if args.action == "where":
        folder, why = _download.data_source()
        print(f"datasets folder: {folder}\n  because: {why}")
        print("  (in order: a loader's data_dir argument, $DEEPSCOPE_DATA, the folder recorded in this environment "
              "by set-up or 'deepscope datasets use FOLDER', ~/.deepscope/datasets)")
        return 0
    if args.action == "use":
        try:
            config = _download.record_data_dir(args.folder)
        except NotADirectoryError as err:
            raise UsageError(str(err)) from None
        print(f"datasets folder {_download.data_source()[0]} recorded in {config}")
        return 0
    if args.action == "list":
        rows = []
        for name in ds.list_datasets():
            about = ds.info(name, args.data_dir)
            state = "yes" if about["cached"] else ("local copy" if about["local_copy"] else "no")
            rows.append([name, about["title"], state, about["folder"]])
        neural = ds.kriegeskorte92.find_folder(args.data_dir)  # neural data: a local copy only, no download
        rows.append(["kriegeskorte92", "92 object images, human and monkey IT RDMs (local copy only)",
                     "yes" if neural is not None else "no",
                     str(neural or _download.data_root(args.data_dir) / ds.kriegeskorte92.SUBDIR)])
        print_table(["name", "title", "cached", "folder"], rows, title="Datasets")
        return 0
    if args.name not in ds.list_datasets():
        raise UsageError(f"no dataset {args.name!r}; the datasets are: {', '.join(ds.list_datasets())}")
    if args.action == "info":
        about = ds.info(args.name, args.data_dir)
        print_mapping(f"{about['title']} ({about['name']})",
                      {"folder": about["folder"], "cached": about["cached"]})
        for file in about["files"]:
            print_mapping(file["filename"], {k: v for k, v in file.items() if k != "filename"}, indent=1)
        return 0
    try:
        paths = ds.download(args.name, args.data_dir)
    except ds.DownloadError as err:
        print(f"deepscope datasets download: {err}", file=sys.stderr)
        return 1
    print(f"{args.name}: {len(paths)} file(s) ready")
    for path in paths:
        print(f"  {path}")
    return 0


# -- runs ---------------------------------------------------------------------------------------
def runs(args) -> int:
    """``deepscope runs list | show ID | compare ID ... [--metric M] [--plot FILE]``."""
    if args.action is None:
        args.parser.print_help()
        return 2
    from .. import runs as R
    from ..runs.render import print_mapping, print_table

    try:
        if args.action == "list":
            root = args.folder or args.root
            found = R.list_runs(root)
            if not found:
                print(f"no runs in {R.runs_root(root)}")
                return 0
            metrics = list(dict.fromkeys(k for r in found for k in r["final"]))
            # a study's trials: their swept values and seed (a column only where the folder names do not say them)
            trials = any(r.get("trial") for r in found) and not all("seed=" in r["id"] for r in found if r.get("trial"))
            print_table(["run", *(["trial"] if trials else []), "date", "epochs", *metrics],
                        [[r["id"], *([r.get("trial") or "-"] if trials else []), r["date"], r["epochs"],
                          *(r["final"].get(m) for m in metrics)] for r in found],
                        title=f"Runs in {R.runs_root(root)}")
            return 0
        if args.action == "show":
            about = R.show_run(args.run, args.root)
            print_mapping(f"run {about['id']}", {k: about[k] for k in ("date", "epochs", "steps", "seconds")})
            print_mapping("final metrics", about["final"] or {"(none)": "no epoch recorded"}, indent=0)
            print_mapping("files", _readable_files(about["files"]))
            config = {k: v for k, v in about["config"].items() if k != "network"}
            print_mapping("config", config, raw=True)
            layers = R.flatten_config({"network": about["config"].get("network")})
            layer_names = [k[len("net."):] + f" ({v})" for k, v in layers.items() if k.count(".") == 1]
            if layer_names:  # (wrapped at 100 columns)
                print(textwrap.fill(" -> ".join(layer_names), width=100, initial_indent="network: ",
                                    subsequent_indent="  ", break_on_hyphens=False))
            if about["diagnosis"] is not None:
                print(about["diagnosis"])
            return 0
        table = R.compare_runs(args.runs, metric=args.metric, root=args.root, all_settings=args.all_settings)
        table.print(title="Comparison")
        if args.plot:
            metrics = [m for m in (args.metric or ["loss", "acc"]) if not m.startswith("val_")] or ["loss"]
            path = R.plot_runs(args.runs, args.plot, metrics=metrics, root=args.root, layout=args.layout)
            print(f"learning curves: {path}")
        return 0
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(str(err)) from None


# -- tensorboard --------------------------------------------------------------------------------
def tensorboard_command(logdir=None, port=None) -> list[str]:
    """The command line that starts TensorBoard on ``logdir`` (default: the runs folder)."""
    from ..runs import runs_root

    command = [sys.executable, "-m", "tensorboard.main", "--logdir", str(runs_root(logdir))]
    if port is not None:
        command += ["--port", str(port)]
    return command


def tensorboard(args) -> int:
    """``deepscope tensorboard [--logdir DIR] [--port N] [--dry-run]``."""
    command = tensorboard_command(args.logdir, args.port)
    if args.dry_run:
        print(shlex.join(command))
        return 0
    logdir = Path(command[command.index("--logdir") + 1])
    if not logdir.is_dir():
        raise UsageError(f"--logdir {logdir} does not exist (train a model first, or give --logdir)")
    print(f"starting TensorBoard on {logdir} (Ctrl-C to stop): {shlex.join(command)}", flush=True)
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 0


def resume(args) -> int:
    """``deepscope resume SCRIPT [ARGS]``: the script again, its named runs resuming from checkpoints."""
    script = Path(args.script)
    if not script.is_file():
        raise UsageError(f"no script {str(script)!r}: give the training script that was killed")
    command = [sys.executable, "-m", "deepscope.cli.resume_script", str(script), *args.script_args]
    print(f"resuming (named runs continue from their checkpoints): {shlex.join(command)}", flush=True)
    return run_forwarding_signals(command, dict(os.environ))


def report(args) -> int:
    """``deepscope report RUN_OR_STUDY [-o report.html]``."""
    from ..callbacks.run_folder import runs_root  # (imported when used: `deepscope --help` stays fast)
    from ..runs.report import run_report
    from ..sweep.report import study_report

    target = Path(args.target)
    if not target.is_dir():
        target = runs_root(args.root) / args.target
    written = (study_report(target, args.output) if (target / "journal.jsonl").is_file()
               else run_report(args.target if not target.is_dir() else target, args.output, root=args.root))
    print(f"report: {written}")
    return 0


def run_forwarding_signals(command: list[str], env: dict) -> int:
    """Run ``command`` and pass SIGTERM, SIGHUP and SIGINT on to it (what ``kill`` and ``timeout`` send
    reach the training process, which is never left running on its own); return its exit code."""
    import signal

    child = subprocess.Popen(command, env=env)
    forwarded = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
    previous = {sig: signal.signal(sig, lambda number, frame: child.send_signal(number)) for sig in forwarded}
    try:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:  # (a Ctrl-C also reaches the child through the terminal)
                continue
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child.poll() is None:
            child.kill()


def _readable_files(files: dict) -> dict:
    """``show_run``'s files for a person: event files and checkpoints as counts per folder (the full paths of
    a run with three event folders and a dozen checkpoints ran far past 100 columns)."""
    from pathlib import Path

    shown = dict(files)
    folder = Path(files["folder"])
    counts: dict[str, int] = {}
    for path in files.get("events") or []:
        parent = Path(path).parent
        name = "." if parent == folder else str(parent.relative_to(folder)) if parent.is_relative_to(folder) else str(parent)
        counts[name] = counts.get(name, 0) + 1
    shown["events"] = ", ".join(f"{name}/ ({n} file{'s' if n > 1 else ''})" for name, n in counts.items()) or None
    checkpoints = files.get("checkpoints") or []
    shown["checkpoints"] = (f"{len(checkpoints)} in checkpoints/ (last: {Path(checkpoints[-1]).name})"
                            if checkpoints else None)
    return shown
