"""MNIST to 99% test accuracy, fast, on a small CPU: a recipe (and an example of deepscope).

    python benchmarks/mnist_99.py [--epochs 4] [--batch-size 128] [--threads N]

The recipe: a small CNN (two 3x3 convolutions with 16 and 32 filters, each followed by 2x2 max
pooling, a 128-unit ReLU layer, softmax), Adam with a one-cycle learning-rate schedule peaking at
0.003, batch 128, 4 epochs, no augmentation. Cheap layers (about 7 MFLOP per training sample) let
a 2-core CPU run an epoch in a few seconds, and the one-cycle schedule converges in few epochs.
The test accuracy is measured after every epoch; the time to 99% counts training only.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
import sys
import time


# the real datasets: $DEEPSCOPE_DATA, else ../shared/datasets beside the repository
DATA_DIR = os.environ.get("DEEPSCOPE_DATA") or str(Path(__file__).resolve().parents[2] / "shared" / "datasets")


def build_model(steps_hint=None, peak_lr=0.003):
    import deepscope as tflearn

    net = tflearn.input_data(shape=[None, 28, 28, 1])
    net = tflearn.conv_2d(net, 16, 3, activation="relu")
    net = tflearn.max_pool_2d(net, 2)
    net = tflearn.conv_2d(net, 32, 3, activation="relu")
    net = tflearn.max_pool_2d(net, 2)
    net = tflearn.fully_connected(net, 128, activation="relu")
    net = tflearn.fully_connected(net, 10, activation="softmax")
    adam = tflearn.optimizers.Adam(learning_rate=peak_lr, schedule="one_cycle")
    net = tflearn.regression(net, optimizer=adam, loss="categorical_crossentropy")
    return tflearn.DNN(net)


def train_to_99(epochs=4, batch_size=128, seed=0, target=0.99, verbose=True):
    """Train the recipe; returns ``[(epoch, training seconds so far, test accuracy), ...]``."""
    import deepscope as tflearn
    from deepscope.datasets import mnist

    X, Y, testX, testY = mnist.load_data(one_hot=True, data_dir=DATA_DIR, verbose=False)
    X, testX = X.reshape(-1, 28, 28, 1), testX.reshape(-1, 28, 28, 1)
    tflearn.init_graph(seed=seed)
    model = build_model()
    history = []

    class TimeToAccuracy(tflearn.callbacks.Callback):
        """Test accuracy after each epoch; the evaluation time is excluded from the training time."""

        def on_train_begin(self, state):
            self.train_seconds, self.start = 0.0, time.perf_counter()

        def on_epoch_end(self, state):
            self.train_seconds += time.perf_counter() - self.start
            accuracy = model.evaluate(testX, testY, batch_size=1000)[0]
            history.append((state.epoch, self.train_seconds, accuracy))
            if verbose:
                print(f"epoch {state.epoch}: {self.train_seconds:.1f} s of training, test accuracy {accuracy:.4f}",
                      file=sys.stderr)
            model.net.train()
            self.start = time.perf_counter()

    model.fit(X, Y, n_epoch=epochs, batch_size=batch_size, shuffle=True, snapshot_epoch=False,
              callbacks=TimeToAccuracy(), seed=seed)
    return history


def time_to(history, target=0.99):
    """Training seconds until the test accuracy first reached ``target`` (None if never)."""
    return next((seconds for _, seconds, acc in history if acc >= target), None)


def main(argv=None):
    parser = argparse.ArgumentParser(description="MNIST to 99% test accuracy, fast")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    history = train_to_99(args.epochs, args.batch_size, args.seed)
    reached = time_to(history)
    final = history[-1][2]
    print(f"final test accuracy {final:.4f}; " + (f"99.0% reached after {reached:.1f} s of training"
                                                    if reached is not None else "99.0% not reached"))
    return 0 if reached is not None else 1


if __name__ == "__main__":
    sys.exit(main())
