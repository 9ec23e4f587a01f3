"""What the step diagnostics (on by default in ``DNN.fit``) cost: fits with and without them, side by
side in one process, and the time spent inside the diagnostics themselves.

    python benchmarks/diagnostics_cost.py                # MLP epoch (MNIST, b=128) and seed 004's CIFAR CNN
    python benchmarks/diagnostics_cost.py --repeats 15 --threads 1

Two figures per workload: the ratio of median fit times (on / off, interleaved repeats), and the
**self time** of the diagnostics (their callbacks and forward hooks, timed inside the fit with
``time.perf_counter``) as a fraction of the fit: on a shared machine the second is the steadier one.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks import cifar_cnn, mlp_epoch  # noqa: E402
from benchmarks.common import mnist, quiet  # noqa: E402


class SelfTime:
    """Wraps the diagnostics' callbacks and hooks to add up the time spent in them."""

    def __init__(self):
        from deepscope.diagnostics import recorder

        self.seconds = 0.0
        self.patched = []
        for cls, name in ((recorder.FitDiagnostics, "on_batch_begin"), (recorder.FitDiagnostics, "on_batch_end"),
                          (recorder.FitDiagnostics, "on_train_end"), (recorder._UnitStats, "__call__")):
            original = getattr(cls, name)
            self.patched.append((cls, name, original))
            setattr(cls, name, self._timed(original))

    def _timed(self, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
        return wrapper

    def restore(self):
        for cls, name, original in self.patched:
            setattr(cls, name, original)


def measure(build, X, Y, repeats: int) -> dict:
    times = {True: [], False: []}
    self_times = []
    for r in range(repeats + 1):  # the first round warms up
        for on in ((True, False) if r % 2 else (False, True)):
            model = build()
            timer = SelfTime() if on else None
            try:
                with quiet():
                    start = time.perf_counter()
                    model.fit(X, Y, n_epoch=1, batch_size=128, shuffle=True, snapshot_epoch=False, diagnostics=on)
                    seconds = time.perf_counter() - start
            finally:
                if timer is not None:
                    timer.restore()
            if r:
                times[on].append(seconds)
                if on:
                    self_times.append(timer.seconds / seconds)
    on, off = statistics.median(times[True]), statistics.median(times[False])
    return {"on": on, "off": off, "ratio": on / off, "self": statistics.median(self_times),
            "records": None}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    X, Y, _, _ = mnist()
    rng = np.random.default_rng(0)
    Xc = rng.random((128 * 20, 32, 32, 3), dtype=np.float32)
    Yc = np.eye(10, dtype=np.float32)[rng.integers(0, 10, len(Xc))]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.repeats} interleaved repeats, medians")
    print(f"{'workload':44s} {'off s':>7s} {'on s':>7s} {'on/off':>7s} {'self time':>9s}")
    for name, build, x, y in (("MLP 784-50-25-10 epoch, 60,000 MNIST, b=128", mlp_epoch.deepscope_model, X, Y),
                              ("seed 004 CIFAR CNN, 2,560 samples, b=128", cifar_cnn.deepscope_model, Xc, Yc)):
        m = measure(build, x, y, args.repeats)
        print(f"{name:44s} {m['off']:7.3f} {m['on']:7.3f} {m['ratio']:6.3f}x {100 * m['self']:8.1f}%", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
