"""The Ray backend's overhead per trial on a local 2-CPU Ray instance, beside worker processes (issue 14).

    python benchmarks/study_ray.py [--trials 40] [--repeats 3]

Trials that do almost nothing (a 6-16-2 network, 2 epochs on 96 samples, run folder and diagnosis
included), so the wall time per trial is the backend's cost plus a small fit. Contenders, interleaved:
``workers=2`` processes, ``backend='ray'`` (2 tasks at once, 1 thread each) and one by one in the driver
(1 thread). Ray's start (``ray.init``) and the worker pool's start are timed separately.
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

from deepscope.sweep import Study  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import os

    import ray
    tests = str(Path(__file__).resolve().parents[1] / "tests")
    sys.path.insert(0, tests)
    os.environ["PYTHONPATH"] = os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")])  # Ray's workers too
    from _sweep_trials import train_fn  # importable by worker processes

    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - start
    space = {"units": list(range(2, 2 + args.trials // 2)), "lr": [0.1, 0.5]}
    root = Path(tempfile.mkdtemp(prefix="study-ray-"))
    times = {"one by one (1 thread)": [], "workers=2 processes": [], "backend='ray' (2 CPUs)": []}
    torch.set_num_threads(1)
    try:
        for r in range(args.repeats + 1):  # the first round warms Ray's and the pool's workers up
            for name, kwargs in (("one by one (1 thread)", {}), ("workers=2 processes", {"workers": 2, "threads": 1}),
                                 ("backend='ray' (2 CPUs)", {"backend": "ray"})):
                start = time.perf_counter()
                rows = Study(f"{name.split()[0]}{r}", train_fn, space, root=root, verbose=False, **kwargs).run()
                elapsed = time.perf_counter() - start
                bad = [x["error"] for x in rows if x["status"] != "finished"]
                assert len(rows) == len(space["units"]) * 2 and not bad, (name, bad[:1])
                if r:
                    times[name].append(elapsed)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        ray.shutdown()
    n = len(space["units"]) * 2
    print(f"ray.init (local, 2 CPUs): {ray_start:.1f} s; {n} trials per study")
    for name, values in times.items():
        median = sorted(values)[len(values) // 2]
        print(f"  {name:<26} {median:6.2f} s  {1000 * median / n:6.1f} ms per trial")


if __name__ == "__main__":
    main()
