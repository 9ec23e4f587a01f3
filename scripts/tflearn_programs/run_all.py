"""Run every program of TFlearn's examples/ with deepscope (capped), one line per program.

    git clone https://github.com/tflearn/tflearn /tmp/tflearn      # (outside this repository)
    python scripts/tflearn_programs/run_all.py /tmp/tflearn [--timeout 300] [--only images/dnn.py]

Each program runs in its own empty folder under --work with DEEPSCOPE_DATA pointing at the shared
datasets; prints OK / FAIL and the last error line, then the count.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tflearn", type=Path, help="a checkout of github.com/tflearn/tflearn")
    parser.add_argument("--timeout", type=int, default=300)
    parser.add_argument("--work", type=Path, default=Path("/tmp/tflearn_programs"))
    parser.add_argument("--only", action="append", help="a program under examples/ (repeatable)")
    args = parser.parse_args(argv)
    programs = sorted((args.tflearn / "examples").glob("*/*.py"))
    if args.only:
        programs = [p for p in programs if any(str(p).endswith(o) for o in args.only)]
    env = {**os.environ, "STANDIN": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg",
           "DEEPSCOPE_DATA": os.environ.get("DEEPSCOPE_DATA", str(REPO.parent / "shared" / "datasets"))}
    ok = 0
    for program in programs:
        name = str(program.relative_to(args.tflearn / "examples"))
        folder = args.work / name.replace("/", "_")
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        try:
            done = subprocess.run([sys.executable, str(HERE / "run_program.py"), str(program)], cwd=folder,
                                  env={**env, "DEEPSCOPE_RUNS": str(folder / "runs")}, capture_output=True,
                                  text=True, timeout=args.timeout)
            code, log = done.returncode, done.stdout + done.stderr
        except subprocess.TimeoutExpired:
            code, log = "timeout", ""
        (folder / "log.txt").write_text(log)
        errors = [line for line in log.splitlines() if "Error" in line and not line.lstrip().startswith("File")]
        ok += code == 0
        print(("OK  " if code == 0 else "FAIL") + f" {name}" + ("" if code == 0 else f" ({code}): "
              + (errors[-1][:160] if errors else "")), flush=True)
    print(f"{ok} of {len(programs)} programs ran")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
