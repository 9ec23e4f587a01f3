"""A study with 2 worker processes vs 1 (issue 14: non-stackable trials on one machine).

    python benchmarks/study_workers.py [--seeds 4] [--epochs 10] [--repeats 3]

Seed 000's MLP (784-50-25-10) on 12,800 real MNIST images, a 2x2 L2 grid x seeds, --epochs per trial. Contenders
in one run, interleaved: one process with torch's default threads (what `Study.run()` did before), one
process with 1 thread, and `workers=2` (1 thread each). Prints median wall seconds and the ratios.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks._study_trials import train_fn  # noqa: E402
from deepscope.sweep import Study  # noqa: E402


def timed_study(name, root, space, seeds, **kwargs) -> float:
    start = time.perf_counter()
    Study(name, train_fn, space, seeds=seeds, root=root, verbose=False, **kwargs).run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4, help="seeds per cell of the 2x2 grid")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per trial")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats (medians are printed)")
    args = parser.parse_args()
    space = {"l2_first": [1e-4, 1e-3], "l2_second": [1e-4, 1e-3], "epochs": [args.epochs]}
    seeds = tuple(range(args.seeds))
    root = Path(tempfile.mkdtemp(prefix="study-workers-"))
    default_threads = torch.get_num_threads()
    times = {"default": [], "one": [], "workers": []}
    try:
        for r in range(args.repeats):  # interleaved, so a busy moment of the machine hits every contender
            times["workers"].append(timed_study(f"workers2_{r}", root, space, seeds, workers=2, threads=1))
            torch.set_num_threads(1)
            times["one"].append(timed_study(f"one_thread_{r}", root, space, seeds))
            torch.set_num_threads(default_threads)
            times["default"].append(timed_study(f"default_threads_{r}", root, space, seeds))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    t_default, t_one, t_workers = (sorted(v)[len(v) // 2] for v in (times["default"], times["one"], times["workers"]))
    n = len(seeds) * 4
    print(f"{n} trials; torch default threads = {default_threads}")
    print(f"  1 process, {default_threads} threads: {t_default:6.1f} s")
    print(f"  1 process, 1 thread:  {t_one:6.1f} s")
    print(f"  2 workers, 1 thread each: {t_workers:6.1f} s  ({t_default / t_workers:.2f}x vs default, "
          f"{t_one / t_workers:.2f}x vs 1 thread)")


if __name__ == "__main__":
    main()
