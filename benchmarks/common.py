"""Shared helpers of the benchmark suite: interleaved timing, GEMM peak, FLOP counts, data.

Every workload compares deepscope with references *in one process, interleaved*: repeat ``r``
runs each contender once (in an order rotated every repeat), so machine noise (other processes on
a shared CPU) hits all of them alike. We report medians with min-max and ratios of medians.
"""
from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

# the real datasets: $DEEPSCOPE_DATA, else ../shared/datasets beside the repository
DATA_DIR = os.environ.get("DEEPSCOPE_DATA") or str(Path(__file__).resolve().parents[2] / "shared" / "datasets")
os.environ.setdefault("DEEPSCOPE_RUNS", tempfile.mkdtemp(prefix="deepscope_bench_runs_"))


@dataclass
class Result:
    """One contender of one workload: seconds per repeat (and what a repeat does)."""

    name: str
    seconds: list[float] = field(default_factory=list)
    flops: float | None = None  # per repeat
    samples: int | None = None  # per repeat
    extra: dict = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def as_dict(self, peak: float | None) -> dict:
        out = {"name": self.name, "seconds": self.seconds, "median_s": self.median,
               "min_s": min(self.seconds), "max_s": max(self.seconds), **self.extra}
        if self.samples:
            out["samples_per_s"] = self.samples / self.median
        if self.flops:
            out["gflops"] = self.flops / self.median / 1e9
            if peak:
                out["fraction_of_peak"] = self.flops / self.median / peak
        return out


def interleave(contenders: dict[str, Callable[[], float]], repeats: int, warmup: int = 1) -> dict[str, Result]:
    """Run each contender ``warmup + repeats`` times, interleaved; each call returns its own timed seconds."""
    names = list(contenders)
    results = {name: Result(name) for name in names}
    for r in range(warmup + repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            seconds = contenders[name]()
            if r >= warmup:
                results[name].seconds.append(seconds)
    return results


def gemm_peak(size: int = 1024, repeats: int = 10) -> float:
    """Best fp32 GEMM rate (FLOP/s) of ``size x size`` matrices with torch's current thread count."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    out = torch.empty(size, size)
    torch.mm(a, b, out=out)
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        best = max(best, 2 * size ** 3 / (time.perf_counter() - start))
    return best


def count_flops(step: Callable[[], None]) -> float:
    """FLOPs of one call of ``step`` (forward + backward matmuls and convolutions), by torch's counter."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return float(counter.get_total_flops())


@contextlib.contextmanager
def quiet():
    """Silence stdout (deepscope's progress lines) inside a timed region."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


_MNIST = None


def mnist():
    """Real MNIST ``(X, Y, testX, testY)`` as float32 numpy arrays, one-hot labels (cached)."""
    global _MNIST
    if _MNIST is None:
        from deepscope.datasets import mnist as mnist_module

        X, Y, testX, testY = mnist_module.load_data(one_hot=True, data_dir=DATA_DIR)
        _MNIST = tuple(np.asarray(a, dtype=np.float32) for a in (X, Y, testX, testY))
    return _MNIST


def keras_available() -> bool:
    """Keras 3 importable (optional reference, run on its torch backend)."""
    import importlib.util

    if importlib.util.find_spec("keras") is None:
        return False
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return os.environ["KERAS_BACKEND"] == "torch"


@contextlib.contextmanager
def fast_paths_off():
    """Disable the training loop's fast paths (small-model path, clip folded into the fused step),
    to measure what each gains in the same run."""
    from deepscope.models import trainer

    saved = trainer.DenseChain.build, trainer.folds_grad_scale
    trainer.DenseChain.build = classmethod(lambda cls, dnn: None)
    trainer.folds_grad_scale = lambda optimizer: False
    try:
        yield
    finally:
        trainer.DenseChain.build, trainer.folds_grad_scale = saved


def mnist_cnn():
    """A small MNIST CNN (conv 16 - pool - conv 32 - pool - dense 64 - dense 10 softmax), Adam 0.002."""
    import deepscope as tflearn

    net = tflearn.input_data(shape=[None, 28, 28, 1])
    net = tflearn.conv_2d(net, 16, 3, activation="relu")
    net = tflearn.max_pool_2d(net, 2)
    net = tflearn.conv_2d(net, 32, 3, activation="relu")
    net = tflearn.max_pool_2d(net, 2)
    net = tflearn.fully_connected(net, 64, activation="relu")
    net = tflearn.fully_connected(net, 10, activation="softmax")
    return tflearn.DNN(tflearn.regression(net, optimizer="adam", learning_rate=0.002))
