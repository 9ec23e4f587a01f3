"""A thousand trials of seed 000's study on this machine (issue 27): the 80-trial study and a 1,008-trial study
(the same 4x4 grid of L2 factors x 63 seeds), vectorized in memory-bounded stacks, each trial with its run folder
and journal entry; time, the ratio to 1008/80 times the 80-trial study, and the process's peak memory.

    python benchmarks/study_thousand.py [--samples 20000] [--seeds 63]

The network and data are ``benchmarks/study_vectorized.py``'s (784-50-25-10, SGD 0.1, batch 128, one epoch of
``--samples`` real MNIST images, validated on the 10,000 test images).
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import mnist  # noqa: E402
from benchmarks.study_vectorized import FACTORS, build  # noqa: E402
from deepscope.sweep import Fit, Study  # noqa: E402


def run_study(name: str, root: str, seeds: int, X, Y, tX, tY) -> tuple[float, int]:
    start = time.perf_counter()
    study = Study(name, Fit(build, X, Y, n_epoch=1, validation_set=(tX, tY)),
                  {"l2_first": FACTORS, "l2_second": FACTORS}, seeds=tuple(range(seeds)), root=root, verbose=False)
    study.run()
    elapsed = time.perf_counter() - start
    finished = sum(r["status"] == "finished" for r in study.results())
    return elapsed, finished


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--seeds", type=int, default=63)
    args = parser.parse_args()
    X, Y, tX, tY = mnist()
    X, Y = X[:args.samples], Y[:args.samples]
    with tempfile.TemporaryDirectory() as root:
        small, n_small = run_study("eighty", root, 5, X, Y, tX, tY)
        big, n_big = run_study("thousand", root, args.seeds, X, Y, tX, tY)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    scaled = small * n_big / n_small
    print(f"{n_small} trials: {small:.1f} s; {n_big} trials: {big:.1f} s = {big / scaled:.2f}x of {n_big}/{n_small} "
          f"times the {n_small}-trial study ({scaled:.1f} s); peak memory of the process {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
