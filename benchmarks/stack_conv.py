"""Convolution and batch-normalization stacks: ``train_ensemble`` vs sequential ``DNN.fit`` calls.

Run ``python benchmarks/stack_conv.py [repeats] [threads]``. The workload: a small CNN (conv 8 -> [BN] -> pool ->
conv 16 -> [BN] -> pool -> 10, Adam) on 512 random 16x16x3 images, 2 epochs, batch 64, 16 seeds; with and without
batch normalization. Contenders: ``train_ensemble`` (on a CPU each model's forward and backward in turn, one
optimizer step for the stack), the same with vmap (``stacking.CPU_CONVOLUTIONS_ONE_AFTER_ANOTHER = False``), and
sequential fits, each followed by ``evaluate`` on the training set (``train_ensemble`` returns those numbers as
``result.final``). Each repeat times every contender (order rotated, after one warm-up), building the models
included, the fits without diagnostics. Medians (min-max) and the ratio of medians are printed.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import deepscope as tflearn  # noqa: E402
from benchmarks.common import interleave, quiet, timed  # noqa: E402
from deepscope.callbacks.run_folder import runs_dir  # noqa: E402
from deepscope.sweep import stacking  # noqa: E402
from deepscope.sweep.ensemble import train_ensemble  # noqa: E402

SEEDS = list(range(16))
rng = np.random.default_rng(0)
X = rng.random((512, 16, 16, 3), dtype=np.float32)
Y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 512)]


def cnn(batch_norm: bool):
    net = tflearn.input_data(shape=[None, 16, 16, 3])
    for filters in (8, 16):
        net = tflearn.conv_2d(net, filters, 3, activation="relu")
        if batch_norm:
            net = tflearn.batch_normalization(net)
        net = tflearn.max_pool_2d(net, 2)
    net = tflearn.fully_connected(net, 10, activation="softmax")
    return tflearn.regression(net, optimizer="adam", learning_rate=0.01, batch_size=64)


def contenders(batch_norm: bool) -> dict:
    def stack():
        with quiet():
            return timed(lambda: train_ensemble(lambda: cnn(batch_norm), X, Y, seeds=SEEDS, n_epoch=2))

    def stack_vmap():
        stacking.CPU_CONVOLUTIONS_ONE_AFTER_ANOTHER = False
        try:
            return stack()
        finally:
            stacking.CPU_CONVOLUTIONS_ONE_AFTER_ANOTHER = True

    def one_by_one():
        def fits():
            with runs_dir(tempfile.mkdtemp()):
                for seed in SEEDS:
                    tflearn.set_seed(seed)
                    model = tflearn.DNN(cnn(batch_norm))
                    model.fit(X, Y, n_epoch=2, diagnostics=False)
                    model.evaluate(X, Y)  # train_ensemble's result.final: each model's loss and accuracy
        with quiet():
            return timed(fits)
    return {"train_ensemble": stack, "train_ensemble, vmap": stack_vmap, "sequential fits": one_by_one}


def main(repeats: int = 3, threads: int = 2) -> None:
    torch.set_num_threads(threads)
    print(f"16 seeds, 2 epochs, 512 images 16x16x3; {threads} torch thread(s); medians of {repeats}")
    for batch_norm in (False, True):
        results = interleave(contenders(batch_norm), repeats)
        stack, vmapped, fits = results["train_ensemble"], results["train_ensemble, vmap"], results["sequential fits"]
        print(f"{'with' if batch_norm else 'without'} batch normalization: train_ensemble {stack.median:.2f} s "
              f"({min(stack.seconds):.2f}-{max(stack.seconds):.2f}), with vmap {vmapped.median:.2f} s "
              f"({min(vmapped.seconds):.2f}-{max(vmapped.seconds):.2f}), sequential {fits.median:.2f} s "
              f"({min(fits.seconds):.2f}-{max(fits.seconds):.2f}): {fits.median / stack.median:.2f}x "
              f"(vmap {fits.median / vmapped.median:.2f}x)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
