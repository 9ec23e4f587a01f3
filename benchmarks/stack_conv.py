"""Convolution and batch-normalization stacks: ``train_ensemble`` vs sequential ``DNN.fit`` calls.

Run ``python benchmarks/stack_conv.py [repeats] [threads]``, or ``... --seed004 [repeats] [threads]`` for seed
004's CIFAR CNN (its dropout too: each model's own masks) x 16 seeds on 1,280 real CIFAR-10 images, one epoch,
``train_ensemble`` vs sequential fits each followed by ``evaluate``; ``... --recurrent [repeats] [threads]``: LSTM, GRU
and simple RNN stacks (16 seeds, 32 units, 20 steps) the same way. The workload: a small CNN (conv 8 -> [BN] -> pool ->
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


def sequential(build, x, y, **fit) -> float:
    """Seconds of one ``DNN.fit`` per seed, each followed by ``evaluate`` on the training set (what
    ``train_ensemble`` returns as ``result.final``); the fits without diagnostics."""
    def fits():
        with runs_dir(tempfile.mkdtemp()):
            for seed in SEEDS:
                tflearn.set_seed(seed)
                model = tflearn.DNN(build())
                model.fit(x, y, diagnostics=False, **fit)
                model.evaluate(x, y)
    with quiet():
        return timed(fits)


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
        return sequential(lambda: cnn(batch_norm), X, Y, n_epoch=2)
    return {"train_ensemble": stack, "train_ensemble, vmap": stack_vmap, "sequential fits": one_by_one}


def seed004(repeats: int, threads: int, n_images: int = 1280) -> None:
    """Seed 004's CIFAR CNN (with its dropout) x 16 seeds, one epoch of real CIFAR-10 images, batch 128."""
    from benchmarks.cifar_cnn import BATCH, seed004_network
    from deepscope.datasets import cifar10

    torch.set_num_threads(threads)
    (x, y), _ = cifar10.load_data(one_hot=True)
    x, y = np.asarray(x[:n_images], dtype=np.float32), np.asarray(y[:n_images], dtype=np.float32)

    def stack():
        with quiet():
            return timed(lambda: train_ensemble(seed004_network, x, y, seeds=SEEDS, n_epoch=1, batch_size=BATCH))

    def one_by_one():
        return sequential(seed004_network, x, y, n_epoch=1, batch_size=BATCH)
    results = interleave({"train_ensemble": stack, "sequential fits": one_by_one}, repeats)
    stacked, fits = results["train_ensemble"], results["sequential fits"]
    print(f"seed 004's CIFAR CNN x {len(SEEDS)} seeds, 1 epoch of {n_images} CIFAR-10 images, {threads} thread(s), "
          f"medians of {repeats}: train_ensemble {stacked.median:.2f} s ({min(stacked.seconds):.2f}-"
          f"{max(stacked.seconds):.2f}), sequential {fits.median:.2f} s ({min(fits.seconds):.2f}-"
          f"{max(fits.seconds):.2f}): {fits.median / stacked.median:.2f}x")


def recurrent(repeats: int, threads: int) -> None:
    """LSTM, GRU and simple RNN (32 units, 20 steps of 8 features, Adam) x 16 seeds on 512 random sequences."""
    torch.set_num_threads(threads)
    x = rng.random((512, 20, 8), dtype=np.float32)

    def net(kind):
        n = tflearn.input_data(shape=[None, 20, 8])
        n = tflearn.fully_connected(getattr(tflearn, kind)(n, 32), 10, activation="softmax")
        return tflearn.regression(n, optimizer="adam", learning_rate=0.01, batch_size=64)

    for kind in ("lstm", "gru", "simple_rnn"):
        def stack():
            with quiet():
                return timed(lambda: train_ensemble(lambda: net(kind), x, Y, seeds=SEEDS, n_epoch=2))

        def one_by_one():
            return sequential(lambda: net(kind), x, Y, n_epoch=2)
        results = interleave({"train_ensemble": stack, "sequential fits": one_by_one}, repeats)
        stacked, fits = results["train_ensemble"], results["sequential fits"]
        print(f"{kind} x 16 seeds, 2 epochs, {threads} thread(s), medians of {repeats}: train_ensemble "
              f"{stacked.median:.2f} s, sequential {fits.median:.2f} s: {fits.median / stacked.median:.2f}x")


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
    if "--seed004" in sys.argv:
        seed004(*(int(a) for a in sys.argv[1:] if a != "--seed004"))
    elif "--recurrent" in sys.argv:
        recurrent(*(int(a) for a in sys.argv[1:] if a != "--recurrent"))
    else:
        main(*(int(a) for a in sys.argv[1:3]))
