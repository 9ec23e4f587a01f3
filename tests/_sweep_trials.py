"""A train_fn importable by a study's worker processes (tests/test_sweep.py)."""
import numpy as np

import deepscope as tflearn

RNG = np.random.default_rng(0)
X = RNG.random((96, 6)).astype("float32")
Y = np.eye(2, dtype="float32")[(X[:, 0] + X[:, 1] > 1).astype(int)]


def train_fn(params, seed, run_id):
    net = tflearn.input_data(shape=[None, 6])
    net = tflearn.fully_connected(net, params["units"], activation="tanh")
    net = tflearn.fully_connected(net, 2, activation="softmax")
    model = tflearn.DNN(tflearn.regression(net, optimizer="sgd", learning_rate=params["lr"], batch_size=16))
    model.fit(X, Y, n_epoch=3, validation_set=(X, Y), run_id=run_id)
    return {**model.history[-1], "first_weight": float(model.get_weights(model.net.layers["FullyConnected"].weight)[0, 0])}


def build(units, lr):
    """The network of train_fn, for a Fit (a stacked study)."""
    net = tflearn.input_data(shape=[None, 6])
    net = tflearn.fully_connected(net, units, activation="tanh")
    net = tflearn.fully_connected(net, 2, activation="softmax")
    return tflearn.regression(net, optimizer="sgd", learning_rate=lr, batch_size=16)


def failing_fn(params, seed, run_id):
    if seed == 1:
        raise RuntimeError("this seed fails")
    return train_fn(params, seed, run_id)


def slow_fn(params, seed, run_id):
    """A trial that leaves its worker's pid in $PID_DIR and takes a while (for the kill test)."""
    import os
    import time
    from pathlib import Path
    Path(os.environ["PID_DIR"], str(os.getpid())).touch()
    time.sleep(0.5)
    return train_fn(params, seed, run_id)


if __name__ == "__main__":  # a driver: python _sweep_trials.py ROOT [NAME WORKERS [bayes]]
    import sys

    from deepscope.sweep import IntRange, Study, Uniform
    name, workers = (sys.argv[2], int(sys.argv[3])) if len(sys.argv) > 3 else ("killed", 2)
    if sys.argv[4:] == ["bayes"]:  # a Bayesian study on the shared optuna journal
        Study(name, slow_fn, {"units": IntRange(2, 6), "lr": Uniform(0.05, 0.5)}, method="bayes", n_trials=6,
              seeds=(0,), root=sys.argv[1], verbose=False, metric="val_loss", mode="min").run()
    else:
        Study(name, slow_fn, {"units": [3, 4, 5], "lr": [0.1, 0.5]}, seeds=(0,), root=sys.argv[1], verbose=False,
              workers=workers, threads=1).run()
    print("DONE")


def build_dropout(units, lr):
    """A stacked study's network with dropout (each model's masks from its own generator)."""
    net = tflearn.input_data(shape=[None, 6])
    net = tflearn.fully_connected(net, units, activation="relu")
    net = tflearn.dropout(net, 0.7)
    net = tflearn.fully_connected(net, 2, activation="softmax")
    return tflearn.regression(net, optimizer="sgd", learning_rate=lr, batch_size=16)
