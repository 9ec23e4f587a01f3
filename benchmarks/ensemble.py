"""Many seeds at once: ``train_ensemble`` (one vectorized run) vs sequential ``DNN.fit`` calls.

Run ``OMP_NUM_THREADS=1 python benchmarks/ensemble.py [repeats]``. Two workloads:
- the seed's OR net (Linear(2, 1) + sigmoid, SGD lr=2, mean square), 2000 full-batch epochs, 32 seeds;
- a 784-50-25-10 MLP (ReLU, softmax cross-entropy, Adam) on 10,000 random samples, 2 epochs,
  batch 128, 8 seeds.
Each repeat times both contenders (order rotated, after one warm-up), building the models included;
Both run with ``clip_gradients=None`` and ``DNN.fit`` with ``snapshot_epoch=False``.
Medians (min-max) and the ratio of medians are printed.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import deepscope as tflearn  # noqa: E402
from benchmarks.common import interleave, quiet, timed  # noqa: E402
from deepscope.sweep.ensemble import train_ensemble  # noqa: E402

X_OR = [[0., 0.], [0., 1.], [1., 0.], [1., 1.]]
Y_OR = [[0.], [1.], [1.], [1.]]


def or_net():
    net = tflearn.input_data(shape=[None, 2])
    net = tflearn.fully_connected(net, 1, activation="sigmoid")
    return tflearn.regression(net, optimizer="sgd", learning_rate=2, loss="mean_square")


def mlp():
    net = tflearn.input_data(shape=[None, 784])
    net = tflearn.fully_connected(net, 50, activation="relu")
    net = tflearn.fully_connected(net, 25, activation="relu")
    net = tflearn.fully_connected(net, 10, activation="softmax")
    return tflearn.regression(net, optimizer="adam", learning_rate=0.001, loss="categorical_crossentropy")


def sequential(build, X, Y, seeds, n_epoch, batch_size, out):
    def train():
        for seed in seeds:
            tflearn.set_seed(seed)
            model = tflearn.DNN(build(), clip_gradients=None)
            with quiet():
                model.fit(X, Y, n_epoch=n_epoch, batch_size=batch_size, snapshot_epoch=False, seed=seed)
            out.append(model)
    return timed(train)


def ensemble(build, X, Y, seeds, n_epoch, batch_size, out):
    return timed(lambda: out.append(train_ensemble(build, X, Y, seeds, n_epoch=n_epoch, batch_size=batch_size, clip_gradients=None)))


def workload(title, build, X, Y, seeds, n_epoch, batch_size, repeats):
    fits, ens = [], []
    results = interleave({
        "train_ensemble": lambda: ensemble(build, X, Y, seeds, n_epoch, batch_size, ens),
        "sequential DNN.fit": lambda: sequential(build, X, Y, seeds, n_epoch, batch_size, fits),
    }, repeats)
    print(f"\n{title}")
    for r in results.values():
        print(f"  {r.name:<20} median {r.median:8.3f} s  (min {min(r.seconds):.3f}, max {max(r.seconds):.3f}, "
              f"{r.median / len(seeds) * 1000:.1f} ms per model)")
    ratio = results["sequential DNN.fit"].median / results["train_ensemble"].median
    print(f"  speed-up (sequential / ensemble): {ratio:.1f}x")
    acc_e = ens[-1].final.get("acc")
    acc_f = [m.evaluate(X, Y)[0] for m in fits[-len(seeds):]]
    print(f"  training accuracy: ensemble mean {np.mean(acc_e):.3f}, sequential mean {np.mean(acc_f):.3f}")
    return results


def main(repeats: int = 3):
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    workload("OR net, 2000 full-batch epochs, 32 seeds", or_net, X_OR, Y_OR, list(range(32)), 2000, None, repeats)
    rng = np.random.default_rng(0)
    X = rng.random((10_000, 784), dtype=np.float32)
    Y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 10_000)]
    workload("784-50-25-10 MLP, 10,000 random samples, 2 epochs, batch 128, 8 seeds", mlp, X, Y,
             list(range(8)), 2, 128, repeats)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
