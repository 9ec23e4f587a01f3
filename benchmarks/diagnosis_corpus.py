"""A corpus of broken and healthy training runs, and how well the diagnosis names what broke them.

Each broken case injects one known cause (random labels, a learning rate far too small, a loss that
does not fit the output, ...) into a small real-data recipe (MNIST, Fashion-MNIST, notMNIST; MLPs and
CNNs; SGD, Momentum, Adam) or into seed 004's logic gates. The ground truth is the injected cause, and
its harm is **measured independently of the rules**: every broken case names a healthy *twin* (the
same recipe without the cause) and counts as broken only when its outcome is measurably worse (the
case's ``harmed`` test: validation accuracy below the twin's by a margin, training accuracy stuck,
or a train-validation gap). Cases whose harm is not confirmed are shown and left out of the scores.

For every run it records the diagnosis' findings (warnings and errors), the root cause it leads with,
and whether the true cause is named, named first, or (healthy runs) whether anything is raised.

    python benchmarks/diagnosis_corpus.py                 # the whole corpus (~3 min on 2 cores)
    python benchmarks/diagnosis_corpus.py --only labels   # the cases whose name contains 'labels'
    python benchmarks/diagnosis_corpus.py --json results_diagnosis_corpus.json

Needs the real datasets (``../shared/datasets`` or ``DEEPSCOPE_DATA``).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
shared = HERE.parent.parent / "shared" / "datasets"
if shared.is_dir():
    os.environ.setdefault("DEEPSCOPE_DATA", str(shared))

import deepscope as tflearn  # noqa: E402
from deepscope.datasets import fashion_mnist, mnist, notmnist  # noqa: E402
from deepscope.models import Trainer  # noqa: E402

N_TRAIN, N_VAL = 3000, 1000
_DATA: dict = {}


def data(name: str, image: bool = False):
    """``(X, Y, valX, valY)`` of a dataset: 3,000 training and 1,000 validation images in [0, 1]."""
    if name not in _DATA:
        loader = {"mnist": mnist, "fashion": fashion_mnist, "notmnist": notmnist}[name]
        X, Y, tX, tY = loader.load_data(one_hot=True, limit=None if name == "notmnist" else N_TRAIN + N_VAL,
                                        verbose=False)
        rng = np.random.default_rng(0)
        order = rng.permutation(len(X))[:N_TRAIN]
        val = rng.permutation(len(tX))[:N_VAL]
        _DATA[name] = (X[order], Y[order], tX[val], tY[val])
    X, Y, vX, vY = _DATA[name]
    if image:
        X, vX = X.reshape(-1, 28, 28, 1), vX.reshape(-1, 28, 28, 1)
    return X, Y, vX, vY


def mlp(hidden=(64,), activation="relu", optimizer="adam", learning_rate=1e-3, loss="categorical_crossentropy",
        output="softmax", weights_init="auto", bias_init="zeros", weight_decay=None, batch_norm=False,
        n_in=784, n_out=10, batch_size=64, regularizer="L2", keep_prob=None):
    """A multi-layer perceptron with TFlearn's API (one knob per cause)."""
    net = tflearn.input_data(shape=[None, n_in])
    for i, units in enumerate(hidden):
        wd = weight_decay[i] if isinstance(weight_decay, (list, tuple)) else weight_decay
        net = tflearn.fully_connected(net, units, activation="linear" if batch_norm else activation,
                                      weights_init=weights_init, bias_init=bias_init,
                                      regularizer=regularizer if wd else None, weight_decay=wd or 0.0)
        if batch_norm:
            net = tflearn.batch_normalization(net)
            net = tflearn.activation(net, activation)
        if keep_prob is not None:
            net = tflearn.dropout(net, keep_prob)
    net = tflearn.fully_connected(net, n_out, activation=output, weights_init=weights_init)
    return tflearn.regression(net, optimizer=optimizer, learning_rate=learning_rate, loss=loss,
                              batch_size=batch_size)


def cnn(optimizer="adam", learning_rate=1e-3, weights_init="auto", batch_size=64, filters=8, activation="relu",
        bias_init="zeros"):
    """conv 3x3 -> pool -> conv 3x3 -> pool -> dense 32 -> softmax."""
    net = tflearn.input_data(shape=[None, 28, 28, 1])
    net = tflearn.conv_2d(net, filters, 3, activation=activation, weights_init=weights_init, bias_init=bias_init)
    net = tflearn.max_pool_2d(net, 2)
    net = tflearn.conv_2d(net, 2 * filters, 3, activation=activation, weights_init=weights_init)
    net = tflearn.max_pool_2d(net, 2)
    net = tflearn.fully_connected(net, 32, activation=activation, weights_init=weights_init)
    net = tflearn.fully_connected(net, 10, activation="softmax", weights_init=weights_init)
    return tflearn.regression(net, optimizer=optimizer, learning_rate=learning_rate, batch_size=batch_size)


class NoStep(Trainer):
    """A custom step that computes the gradients but never calls the optimizer (a classic bug)."""

    def train_step(self, xs, y):
        output, loss = self.dnn.compute_loss(xs, y)
        self.zero_grad()
        loss.backward()
        return loss.detach(), output


class GradientsDropped(Trainer):
    """A custom step that clears the gradients between ``backward`` and the optimizer step."""

    def train_step(self, xs, y):
        output, loss = self.dnn.compute_loss(xs, y)
        loss.backward()
        self.zero_grad()
        self.apply_gradients(loss)
        return loss.detach(), output


@dataclass
class Case:
    """One run of the corpus.

    Attributes:
        name: unique, ``<cause>/<variant>`` for broken runs, ``healthy/<recipe>`` for healthy ones.
        cause: the injected cause (a finding code), None for a healthy run.
        make: returns ``(network, X, Y, fit keyword arguments)``.
        twin: the healthy run this one is compared with (broken runs).
        harm: how the harm is measured: ``'val'`` (validation accuracy below the twin's by 0.05),
            ``'gap'`` (train - validation accuracy above 0.15), ``'train'`` (training accuracy below
            the twin's by 0.1).
    """

    name: str
    cause: str | None
    make: object
    twin: str | None = None
    harm: str = "val"
    dnn: dict = field(default_factory=dict)
    heldout: bool = False


def fit_args(dataset, steps=300, image=False, **extra):
    X, Y, vX, vY = data(dataset, image)
    return X, Y, {"max_steps": steps, "validation_set": (vX, vY), **extra}


def scaled(dataset, model, factor=255.0):
    """A recipe on unscaled pixels (0-255), training and validation alike."""
    X, Y, kw = fit_args(dataset)
    vX, vY = kw["validation_set"]
    return model, X * factor, Y, {**kw, "validation_set": (vX * factor, vY)}


def shuffled_labels(Y, seed=1):
    return Y[np.random.default_rng(seed).permutation(len(Y))]


def imbalanced(dataset, share, image=False):
    """The training set resampled so that class 1 is ``share`` of it (validation stays balanced)."""
    X, Y, vX, vY = data(dataset, image)
    labels = Y.argmax(1)
    rng = np.random.default_rng(2)
    ones = np.nonzero(labels == 1)[0]
    others = np.nonzero(labels != 1)[0]
    n_other = int(round(len(ones) * (1 - share) / share))
    keep = np.concatenate([ones, rng.choice(others, n_other, replace=False)])
    keep = rng.permutation(keep)
    return X[keep], Y[keep], {"max_steps": 300, "validation_set": (vX, vY)}


def logic(gate):
    X = [[0., 0.], [0., 1.], [1., 0.], [1., 1.]]
    Y = {"or": [[0.], [1.], [1.], [1.]], "xor": [[0.], [1.], [1.], [0.]]}[gate]
    return X, Y


def gate_net(hidden, activation="sigmoid", learning_rate=2.0):
    net = tflearn.input_data(shape=[None, 2])
    for units in hidden:
        net = tflearn.fully_connected(net, units, activation=activation)
    net = tflearn.fully_connected(net, 1, activation="sigmoid")
    return tflearn.regression(net, optimizer="sgd", learning_rate=learning_rate, loss="mean_square")


def _cases() -> list[Case]:
    c = []
    add = c.append
    # -- healthy runs -------------------------------------------------------------------------------
    add(Case("healthy/mnist-mlp-adam", None, lambda: (mlp(), *fit_args("mnist"))))
    add(Case("healthy/mnist-mlp-sgd", None, lambda: (mlp(optimizer="sgd", learning_rate=0.1), *fit_args("mnist"))))
    add(Case("healthy/mnist-mlp-momentum", None,
             lambda: (mlp(optimizer="momentum", learning_rate=0.05), *fit_args("mnist"))))
    add(Case("healthy/mnist-mlp-tanh", None, lambda: (mlp(activation="tanh"), *fit_args("mnist"))))
    add(Case("healthy/mnist-mlp-sigmoid", None,
             lambda: (mlp(activation="sigmoid", learning_rate=3e-3), *fit_args("mnist"))))
    add(Case("healthy/mnist-deep-mlp", None, lambda: (mlp(hidden=(128, 64, 32)), *fit_args("mnist"))))
    add(Case("healthy/mnist-mlp-l2", None, lambda: (mlp(hidden=(50, 25), weight_decay=1e-4), *fit_args("mnist"))))
    add(Case("healthy/mnist-mlp-batchnorm", None, lambda: (mlp(batch_norm=True), *fit_args("mnist"))))
    add(Case("healthy/mnist-cnn", None, lambda: (cnn(), *fit_args("mnist", image=True, steps=200))))
    add(Case("healthy/mnist-mlp-small-last-batch", None,  # 3,000 = 46 x 64 + 56 ... and 3000 % 128 = 56
             lambda: (mlp(batch_size=124), *fit_args("mnist"))))  # last batch 24 of 124 samples, Adam 1e-3
    add(Case("healthy/fashion-mlp-adam", None, lambda: (mlp(), *fit_args("fashion"))))
    add(Case("healthy/fashion-mlp-sgd", None,
             lambda: (mlp(optimizer="sgd", learning_rate=0.1), *fit_args("fashion"))))
    add(Case("healthy/fashion-mlp-tanh-momentum", None,
             lambda: (mlp(activation="tanh", optimizer="momentum", learning_rate=0.05), *fit_args("fashion"))))
    add(Case("healthy/fashion-cnn", None, lambda: (cnn(), *fit_args("fashion", image=True, steps=200))))
    add(Case("healthy/fashion-mlp-8-sample-batch", None,  # 3,000 % 124 = 24; 3,000 % 136 = 8
             lambda: (mlp(batch_size=136), *fit_args("fashion"))))
    add(Case("healthy/notmnist-mlp-adam", None, lambda: (mlp(), *fit_args("notmnist"))))
    add(Case("healthy/notmnist-mlp-sgd", None,
             lambda: (mlp(optimizer="sgd", learning_rate=0.1), *fit_args("notmnist"))))
    add(Case("healthy/notmnist-cnn-sgd", None,
             lambda: (cnn(optimizer="momentum", learning_rate=0.02), *fit_args("notmnist", image=True, steps=200))))
    add(Case("healthy/notmnist-mlp-dropout-l2", None,
             lambda: (mlp(hidden=(128, 64), weight_decay=5e-4), *fit_args("notmnist"))))
    add(Case("healthy/or-one-unit", None,
             lambda: (gate_net(()), *logic("or"), {"n_epoch": 2000, "snapshot_epoch": False})))
    add(Case("healthy/xor-hidden-layer", None,
             lambda: (gate_net((4,), activation="tanh", learning_rate=1.0), *logic("xor"),
                      {"n_epoch": 2000, "snapshot_epoch": False})))
    add(Case("healthy/fashion-mlp-batchnorm-sgd", None,
             lambda: (mlp(batch_norm=True, optimizer="sgd", learning_rate=0.1), *fit_args("fashion"))))

    # -- broken runs: one injected cause each ---------------------------------------------------------
    def labels(dataset, how, model=mlp, image=False):
        X, Y, kw = fit_args(dataset, image=image, steps=300)
        if how == "random":
            Y = np.eye(10, dtype=np.float32)[np.random.default_rng(3).integers(0, 10, len(Y))]
        elif how == "shifted":  # labels of the next sample: misaligned by one row
            Y = np.roll(Y, 1, axis=0)
        else:
            Y = shuffled_labels(Y)
        return model(), X, Y, kw

    add(Case("uninformative_labels/mnist-random", "uninformative_labels", lambda: labels("mnist", "random"),
             "healthy/mnist-mlp-adam"))
    add(Case("uninformative_labels/fashion-shifted", "uninformative_labels", lambda: labels("fashion", "shifted"),
             "healthy/fashion-mlp-adam"))
    add(Case("uninformative_labels/notmnist-cnn-shuffled", "uninformative_labels",
             lambda: labels("notmnist", "shuffled", model=cnn, image=True), "healthy/notmnist-mlp-adam"))

    add(Case("learning_rate_too_small/mnist-sgd", "learning_rate_too_small",
             lambda: (mlp(optimizer="sgd", learning_rate=1e-4), *fit_args("mnist")), "healthy/mnist-mlp-sgd"))
    add(Case("learning_rate_too_small/fashion-adam", "learning_rate_too_small",
             lambda: (mlp(learning_rate=1e-6), *fit_args("fashion")), "healthy/fashion-mlp-adam"))
    add(Case("learning_rate_too_small/notmnist-momentum", "learning_rate_too_small",
             lambda: (mlp(optimizer="momentum", learning_rate=1e-5), *fit_args("notmnist")),
             "healthy/notmnist-mlp-sgd"))

    add(Case("parameters_not_changing/mnist-no-optimizer-step", "parameters_not_changing",
             lambda: (mlp(), *fit_args("mnist", trainer=NoStep)), "healthy/mnist-mlp-adam"))
    add(Case("parameters_not_changing/fashion-gradients-cleared", "parameters_not_changing",
             lambda: (mlp(optimizer="sgd", learning_rate=0.1), *fit_args("fashion", trainer=GradientsDropped)),
             "healthy/fashion-mlp-sgd"))

    def few(dataset, n, model=mlp, image=False, steps=600):
        X, Y, kw = fit_args(dataset, image=image, steps=steps)
        return model(), X[:n], Y[:n], kw

    add(Case("overfitting/mnist-100-samples", "overfitting",
             lambda: few("mnist", 100, lambda: mlp(hidden=(256, 256))), None, harm="gap"))
    add(Case("overfitting/fashion-60-samples", "overfitting",
             lambda: few("fashion", 60, lambda: mlp(hidden=(512,))), None, harm="gap"))
    add(Case("overfitting/notmnist-cnn-100", "overfitting",
             lambda: few("notmnist", 100, cnn, image=True, steps=400), None, harm="gap"))

    add(Case("loss_output_mismatch/mnist-softmax-mean-square", "loss_output_mismatch",
             lambda: (mlp(optimizer="sgd", learning_rate=0.1, loss="mean_square"), *fit_args("mnist")),
             "healthy/mnist-mlp-sgd"))
    add(Case("loss_output_mismatch/fashion-sigmoid-crossentropy", "loss_output_mismatch",
             lambda: (mlp(output="sigmoid", optimizer="sgd", learning_rate=0.1), *fit_args("fashion")),
             "healthy/fashion-mlp-sgd"))
    add(Case("loss_output_mismatch/notmnist-linear-crossentropy", "loss_output_mismatch",
             lambda: (mlp(output="linear", optimizer="sgd", learning_rate=0.1), *fit_args("notmnist")),
             "healthy/notmnist-mlp-sgd"))

    add(Case("capacity_too_low/xor-one-unit", "capacity_too_low",
             lambda: (gate_net(()), *logic("xor"), {"n_epoch": 2000, "snapshot_epoch": False}),
             "healthy/xor-hidden-layer", harm="train"))
    add(Case("capacity_too_low/mnist-one-unit-bottleneck", "capacity_too_low",
             lambda: (mlp(hidden=(1,)), *fit_args("mnist")), "healthy/mnist-mlp-adam"))
    add(Case("capacity_too_low/fashion-linear-2-unit", "capacity_too_low",
             lambda: (mlp(hidden=(2,), activation="linear"), *fit_args("fashion")), "healthy/fashion-mlp-adam"))

    add(Case("penalty_collapse/mnist-l2-second-layer", "penalty_collapse",  # seed 000: L2 >> on the second layer
             lambda: (mlp(hidden=(50, 25), optimizer="sgd", learning_rate=0.5, weight_decay=[1e-4, 5.0]),
                      *fit_args("mnist")), "healthy/mnist-mlp-sgd"))
    add(Case("penalty_collapse/notmnist-l1-first-layer", "penalty_collapse",
             lambda: (mlp(hidden=(50, 25), optimizer="sgd", learning_rate=0.5, weight_decay=[1.0, 1e-4],
                          regularizer="L1"), *fit_args("notmnist")), "healthy/notmnist-mlp-sgd"))
    add(Case("penalty_collapse/fashion-l2-both-adam", "penalty_collapse",
             lambda: (mlp(hidden=(64, 32), learning_rate=1e-2, weight_decay=[3.0, 3.0]), *fit_args("fashion")),
             "healthy/fashion-mlp-adam"))

    big = lambda s: tflearn.initializations.truncated_normal(stddev=s)  # noqa: E731
    add(Case("init_too_large/mnist-course-init", "init_too_large",  # seed 000's course: stddev 1.0, SGD 0.5
             lambda: (mlp(hidden=(50, 25), optimizer="sgd", learning_rate=0.5, weights_init=big(1.0)),
                      *fit_args("mnist")), "healthy/mnist-mlp-sgd", dnn={"clip_gradients": None}))
    add(Case("init_too_large/fashion-sigmoid-stddev-5", "init_too_large",
             lambda: (mlp(activation="sigmoid", weights_init=big(5.0), learning_rate=3e-3), *fit_args("fashion")),
             "healthy/fashion-mlp-adam"))
    add(Case("init_too_large/notmnist-cnn-stddev-2", "init_too_large",
             lambda: (cnn(optimizer="sgd", learning_rate=0.1, weights_init=big(2.0)),
                      *fit_args("notmnist", image=True, steps=200)), "healthy/notmnist-cnn-sgd",
             dnn={"clip_gradients": None}))

    add(Case("learning_rate_too_large/mnist-adam-0.5", "learning_rate_too_large",
             lambda: (mlp(learning_rate=0.5), *fit_args("mnist")), "healthy/mnist-mlp-adam"))
    add(Case("learning_rate_too_large/fashion-sgd-20", "learning_rate_too_large",
             lambda: (mlp(optimizer="sgd", learning_rate=20.0), *fit_args("fashion")), "healthy/fashion-mlp-sgd",
             dnn={"clip_gradients": None}))
    add(Case("learning_rate_too_large/notmnist-cnn-adam-0.3", "learning_rate_too_large",
             lambda: (cnn(learning_rate=0.3), *fit_args("notmnist", image=True, steps=200)),
             "healthy/notmnist-cnn-sgd"))

    add(Case("inputs_not_normalized/mnist-0-255-sigmoid", "inputs_not_normalized",
             lambda: scaled("mnist", mlp(activation="sigmoid", optimizer="sgd", learning_rate=0.1)),
             "healthy/mnist-mlp-sgd"))
    add(Case("inputs_not_normalized/fashion-0-255-sgd", "inputs_not_normalized",
             lambda: scaled("fashion", mlp(optimizer="sgd", learning_rate=0.1)),
             "healthy/fashion-mlp-sgd", dnn={"clip_gradients": None}))

    add(Case("dead_at_init/mnist-negative-bias", "dead_at_init",
             lambda: (mlp(bias_init=tflearn.initializations.constant(-3.0)), *fit_args("mnist")),
             "healthy/mnist-mlp-adam"))
    add(Case("dead_at_init/fashion-negative-bias-deep", "dead_at_init",
             lambda: (mlp(hidden=(64, 32), optimizer="sgd", learning_rate=0.1,
                          bias_init=tflearn.initializations.constant(-2.0)), *fit_args("fashion")),
             "healthy/fashion-mlp-sgd"))

    add(Case("vanishing_gradients/mnist-deep-sigmoid", "vanishing_gradients",
             lambda: (mlp(hidden=(32,) * 10, activation="sigmoid", optimizer="sgd", learning_rate=0.1),
                      *fit_args("mnist")), "healthy/mnist-mlp-sgd"))
    add(Case("vanishing_gradients/fashion-deep-sigmoid-momentum", "vanishing_gradients",
             lambda: (mlp(hidden=(32,) * 12, activation="sigmoid", optimizer="momentum", learning_rate=0.05),
                      *fit_args("fashion")), "healthy/fashion-mlp-tanh-momentum"))

    add(Case("batchnorm_tiny_batches/mnist-batch-2", "batchnorm_tiny_batches",
             lambda: (mlp(batch_norm=True, batch_size=2), *fit_args("mnist")), "healthy/mnist-mlp-batchnorm"))
    add(Case("batchnorm_tiny_batches/fashion-batch-2", "batchnorm_tiny_batches",
             lambda: (mlp(batch_norm=True, batch_size=3, optimizer="sgd", learning_rate=0.1), *fit_args("fashion")),
             "healthy/fashion-mlp-batchnorm-sgd"))

    add(Case("dominant_class/mnist-95-percent", "dominant_class",
             lambda: (mlp(optimizer="sgd", learning_rate=0.1), *imbalanced("mnist", 0.95)), "healthy/mnist-mlp-sgd"))
    add(Case("dominant_class/fashion-90-percent", "dominant_class",
             lambda: (mlp(optimizer="sgd", learning_rate=0.05), *imbalanced("fashion", 0.9)),
             "healthy/fashion-mlp-sgd"))
    def sorted_by_class(dataset):
        X, Y, kw = fit_args(dataset)
        order = np.argsort(Y.argmax(1), kind="stable")
        return X[order], Y[order], {**kw, "shuffle": False}

    add(Case("data_not_shuffled/mnist-sorted-sgd", "data_not_shuffled",
             lambda: (mlp(optimizer="sgd", learning_rate=0.1), *sorted_by_class("mnist")), "healthy/mnist-mlp-sgd"))
    add(Case("data_not_shuffled/fashion-sorted-adam", "data_not_shuffled",
             lambda: (mlp(), *sorted_by_class("fashion")), "healthy/fashion-mlp-adam"))
    add(Case("data_not_shuffled/notmnist-sorted-momentum", "data_not_shuffled",
             lambda: (mlp(optimizer="momentum", learning_rate=0.05), *sorted_by_class("notmnist")),
             "healthy/notmnist-mlp-sgd"))
    add(Case("healthy/mnist-mlp-unshuffled-mixed", None,  # shuffle=False on data already in random order
             lambda: (mlp(), *(lambda X, Y, kw: (X, Y, {**kw, "shuffle": False}))(*fit_args("mnist")))))
    c += _heldout_cases(labels, few, big)
    c += _recipe_cases(big)
    return c


def _heldout_cases(labels, few, big) -> list[Case]:
    """Written after the rules were tuned on the cases above; kept apart in the scores."""
    c = []

    def add(case):
        case.heldout = True
        c.append(case)

    add(Case("healthy/mnist-cnn-momentum", None,
             lambda: (cnn(optimizer="momentum", learning_rate=0.02), *fit_args("mnist", image=True, steps=200))))
    add(Case("healthy/fashion-deep-mlp-sgd", None,
             lambda: (mlp(hidden=(128, 64, 32), optimizer="sgd", learning_rate=0.1), *fit_args("fashion"))))
    add(Case("healthy/notmnist-mlp-tanh-adam", None, lambda: (mlp(activation="tanh"), *fit_args("notmnist"))))
    add(Case("healthy/mnist-mlp-rmsprop", None,
             lambda: (mlp(optimizer="rmsprop", learning_rate=1e-3), *fit_args("mnist"))))
    add(Case("healthy/fashion-mlp-l2-momentum", None,
             lambda: (mlp(hidden=(64, 32), optimizer="momentum", learning_rate=0.05, weight_decay=5e-4),
                      *fit_args("fashion"))))
    add(Case("healthy/notmnist-mlp-batchnorm-16", None,
             lambda: (mlp(batch_norm=True, batch_size=16), *fit_args("notmnist"))))
    add(Case("uninformative_labels/mnist-cnn-random", "uninformative_labels",
             lambda: labels("mnist", "random", model=cnn, image=True), "healthy/mnist-cnn-momentum"))
    add(Case("learning_rate_too_small/fashion-cnn-sgd", "learning_rate_too_small",
             lambda: (cnn(optimizer="sgd", learning_rate=1e-4), *fit_args("fashion", image=True, steps=200)),
             "healthy/fashion-cnn"))
    add(Case("learning_rate_too_large/notmnist-tanh-sgd-10", "learning_rate_too_large",
             lambda: (mlp(activation="tanh", optimizer="sgd", learning_rate=10.0), *fit_args("notmnist")),
             "healthy/notmnist-mlp-sgd", dnn={"clip_gradients": None}))
    add(Case("init_too_large/mnist-tanh-stddev-3", "init_too_large",
             lambda: (mlp(activation="tanh", weights_init=big(3.0)), *fit_args("mnist")), "healthy/mnist-mlp-tanh"))
    add(Case("penalty_collapse/mnist-l2-both-sgd", "penalty_collapse",
             lambda: (mlp(hidden=(64, 32), optimizer="sgd", learning_rate=0.1, weight_decay=[2.0, 2.0]),
                      *fit_args("mnist")), "healthy/mnist-mlp-sgd"))
    add(Case("capacity_too_low/notmnist-3-unit", "capacity_too_low",
             lambda: (mlp(hidden=(3,)), *fit_args("notmnist")), "healthy/notmnist-mlp-adam"))
    add(Case("dominant_class/notmnist-85-percent", "dominant_class",
             lambda: (mlp(optimizer="sgd", learning_rate=0.05), *imbalanced("notmnist", 0.85)),
             "healthy/notmnist-mlp-sgd"))
    add(Case("overfitting/mnist-cnn-50", "overfitting",
             lambda: few("mnist", 50, cnn, image=True, steps=400), None, harm="gap"))
    add(Case("loss_output_mismatch/fashion-softmax-mean-absolute", "loss_output_mismatch",
             lambda: (mlp(optimizer="sgd", learning_rate=0.1, loss="mean_absolute"), *fit_args("fashion")),
             "healthy/fashion-mlp-sgd"))
    add(Case("inputs_not_normalized/notmnist-0-255-tanh", "inputs_not_normalized",
             lambda: scaled("notmnist", mlp(activation="tanh", optimizer="sgd", learning_rate=0.1)),
             "healthy/notmnist-mlp-sgd"))
    add(Case("dead_at_init/notmnist-cnn-negative-bias", "dead_at_init",
             lambda: (cnn(bias_init=tflearn.initializations.constant(-4.0)),
                      *fit_args("notmnist", image=True, steps=200)), "healthy/notmnist-cnn-sgd"))
    add(Case("vanishing_gradients/notmnist-deep-sigmoid-sgd", "vanishing_gradients",
             lambda: (mlp(hidden=(32,) * 9, activation="sigmoid", optimizer="sgd", learning_rate=0.1),
                      *fit_args("notmnist")), "healthy/notmnist-mlp-sgd"))
    add(Case("batchnorm_tiny_batches/notmnist-batch-2", "batchnorm_tiny_batches",
             lambda: (mlp(batch_norm=True, batch_size=2), *fit_args("notmnist")), "healthy/notmnist-mlp-batchnorm-16"))
    add(Case("parameters_not_changing/notmnist-cnn-no-step", "parameters_not_changing",
             lambda: (cnn(), *fit_args("notmnist", image=True, steps=100, trainer=NoStep)), "healthy/notmnist-cnn-sgd"))
    return c


def _recipe_cases(big) -> list[Case]:
    """Causes in the training settings (round 3: dropout, momentum, clipping, a schedule, too short a fit). The
    first six were the runs the rules for them were written from; the next 14 were written before those rules were
    first run on them, then used to revise them; the last 10 were written before the revised rules ran (held out)."""
    c = []
    sgd = dict(optimizer="sgd", learning_rate=0.1)
    c.append(Case("dropout_too_strong/mnist-keep-0.05-sgd", "dropout_too_strong",
                  lambda: (mlp(hidden=(64, 64), keep_prob=0.05, **sgd), *fit_args("mnist")), "healthy/mnist-mlp-sgd"))
    c.append(Case("gradient_clipping_too_tight/mnist-sgd-1e-4", "gradient_clipping_too_tight",
                  lambda: (mlp(**sgd), *fit_args("mnist")), "healthy/mnist-mlp-sgd", dnn={"clip_gradients": 1e-4}))
    c.append(Case("learning_rate_decayed/mnist-sgd-0.01-per-10", "learning_rate_decayed",
                  lambda: (mlp(optimizer=tflearn.SGD(0.1, lr_decay=0.01, decay_step=10)), *fit_args("mnist")),
                  "healthy/mnist-mlp-sgd"))
    c.append(Case("stopped_while_learning/mnist-sgd-0.005-90-steps", "stopped_while_learning",
                  lambda: (mlp(hidden=(64, 64), optimizer="sgd", learning_rate=0.005), *fit_args("mnist", steps=90)),
                  "healthy/mnist-mlp-sgd"))
    c.append(Case("momentum_too_high/mnist-0.9999", "momentum_too_high",
                  lambda: (mlp(hidden=(64, 64), optimizer=tflearn.Momentum(0.1, momentum=0.9999)), *fit_args("mnist")),
                  "healthy/mnist-mlp-momentum"))
    c.append(Case("init_too_large/mnist-tanh-stddev-2-sgd", "init_too_large",
                  lambda: (mlp(hidden=(64, 64), activation="tanh", weights_init=big(2.0), **sgd), *fit_args("mnist")),
                  "healthy/mnist-mlp-sgd"))
    held = []
    add = held.append
    add(Case("healthy/mnist-mlp-dropout-0.5-sgd", None,
             lambda: (mlp(hidden=(128,), keep_prob=0.5, **sgd), *fit_args("mnist"))))
    add(Case("healthy/fashion-mlp-momentum-0.95", None,
             lambda: (mlp(optimizer=tflearn.Momentum(0.02, momentum=0.95)), *fit_args("fashion"))))
    add(Case("healthy/notmnist-mlp-sgd-gentle-decay", None,
             lambda: (mlp(optimizer=tflearn.SGD(0.1, lr_decay=0.96, decay_step=100)), *fit_args("notmnist"))))
    add(Case("healthy/mnist-mlp-sgd-clip-1", None, lambda: (mlp(**sgd), *fit_args("mnist")), dnn={"clip_gradients": 1.0}))
    add(Case("healthy/fashion-mlp-adam-150-steps", None, lambda: (mlp(), *fit_args("fashion", steps=150))))
    add(Case("dropout_too_strong/fashion-keep-0.1-momentum", "dropout_too_strong",
             lambda: (mlp(hidden=(128, 64), keep_prob=0.1, optimizer="momentum", learning_rate=0.05),
                      *fit_args("fashion")), "healthy/fashion-mlp-sgd"))
    add(Case("dropout_too_strong/notmnist-keep-0.03-adam", "dropout_too_strong",
             lambda: (mlp(hidden=(64, 64), keep_prob=0.03), *fit_args("notmnist")), "healthy/notmnist-mlp-adam"))
    add(Case("gradient_clipping_too_tight/fashion-momentum-1e-3", "gradient_clipping_too_tight",
             lambda: (mlp(optimizer="momentum", learning_rate=0.02), *fit_args("fashion")), "healthy/fashion-mlp-sgd",
             dnn={"clip_gradients": 1e-3}))
    add(Case("gradient_clipping_too_tight/notmnist-sgd-1e-5", "gradient_clipping_too_tight",
             lambda: (mlp(**sgd), *fit_args("notmnist")), "healthy/notmnist-mlp-sgd", dnn={"clip_gradients": 1e-5}))
    add(Case("learning_rate_decayed/fashion-sgd-0.1-per-5", "learning_rate_decayed",
             lambda: (mlp(optimizer=tflearn.SGD(0.1, lr_decay=0.1, decay_step=5)), *fit_args("fashion")),
             "healthy/fashion-mlp-sgd"))
    add(Case("learning_rate_decayed/notmnist-momentum-staircase", "learning_rate_decayed",
             lambda: (mlp(optimizer=tflearn.Momentum(0.05, lr_decay=0.01, decay_step=20, staircase=True)),
                      *fit_args("notmnist")), "healthy/notmnist-mlp-sgd"))
    add(Case("stopped_while_learning/fashion-sgd-0.01-80-steps", "stopped_while_learning",
             lambda: (mlp(optimizer="sgd", learning_rate=0.01), *fit_args("fashion", steps=80)),
             "healthy/fashion-mlp-sgd"))
    add(Case("stopped_while_learning/notmnist-momentum-0.001-100-steps", "stopped_while_learning",
             lambda: (mlp(optimizer="momentum", learning_rate=0.001), *fit_args("notmnist", steps=100)),
             "healthy/notmnist-mlp-sgd"))
    add(Case("momentum_too_high/fashion-0.999", "momentum_too_high",
             lambda: (mlp(optimizer=tflearn.Momentum(0.05, momentum=0.999)), *fit_args("fashion")),
             "healthy/fashion-mlp-sgd"))
    add(Case("momentum_too_high/notmnist-nesterov-0.9995", "momentum_too_high",
             lambda: (mlp(optimizer=tflearn.Nesterov(0.02, momentum=0.9995)), *fit_args("notmnist")),
             "healthy/notmnist-mlp-sgd"))
    # (held out when first run: named first 6 of 9, no false alarm on 5 healthy runs; tuned on since, see below)
    # the first held-out set above missed 3 of 9 (two fits too short, a Nesterov momentum of 0.9995); the rules
    # were revised on them (they count as tuned from then on) and these were written before the revised rules ran
    later = []
    add = later.append
    add(Case("healthy/notmnist-mlp-momentum-0.98", None,
             lambda: (mlp(optimizer=tflearn.Momentum(0.01, momentum=0.98)), *fit_args("notmnist"))))
    add(Case("healthy/fashion-mlp-sgd-halved-every-100", None,
             lambda: (mlp(optimizer=tflearn.SGD(0.1, lr_decay=0.5, decay_step=100)), *fit_args("fashion"))))
    add(Case("healthy/mnist-cnn-sgd", None,
             lambda: (cnn(optimizer="sgd", learning_rate=0.1), *fit_args("mnist", image=True, steps=200))))
    add(Case("stopped_while_learning/mnist-cnn-sgd-0.005-60-steps", "stopped_while_learning",
             lambda: (cnn(optimizer="sgd", learning_rate=0.005), *fit_args("mnist", image=True, steps=60)),
             "healthy/mnist-cnn-sgd"))
    add(Case("stopped_while_learning/fashion-adam-1e-4-100-steps", "stopped_while_learning",
             lambda: (mlp(learning_rate=1e-4), *fit_args("fashion", steps=100)), "healthy/fashion-mlp-adam"))
    add(Case("momentum_too_high/mnist-cnn-0.999", "momentum_too_high",
             lambda: (cnn(optimizer=tflearn.Momentum(0.01, momentum=0.999)), *fit_args("mnist", image=True, steps=200)),
             "healthy/mnist-cnn-momentum"))
    add(Case("momentum_too_high/notmnist-tanh-0.998", "momentum_too_high",
             lambda: (mlp(activation="tanh", optimizer=tflearn.Momentum(0.05, momentum=0.998)), *fit_args("notmnist")),
             "healthy/notmnist-mlp-sgd"))
    add(Case("dropout_too_strong/notmnist-keep-0.15-sgd", "dropout_too_strong",
             lambda: (mlp(hidden=(128, 64), keep_prob=0.15, **sgd), *fit_args("notmnist")), "healthy/notmnist-mlp-sgd"))
    add(Case("gradient_clipping_too_tight/mnist-cnn-momentum-1e-3", "gradient_clipping_too_tight",
             lambda: (cnn(optimizer="momentum", learning_rate=0.02), *fit_args("mnist", image=True, steps=200)),
             "healthy/mnist-cnn-momentum", dnn={"clip_gradients": 1e-3}))
    add(Case("learning_rate_decayed/mnist-cnn-sgd-0.05-per-10", "learning_rate_decayed",
             lambda: (cnn(optimizer=tflearn.SGD(0.1, lr_decay=0.05, decay_step=10)),
                      *fit_args("mnist", image=True, steps=200)), "healthy/mnist-cnn-sgd"))
    for case in later:
        case.heldout = True
    return c + held + later


@dataclass
class Result:
    case: Case
    val_acc: float | None
    train_acc: float | None
    codes: list  # findings at warning or error, in the diagnosis' order
    root: str | None
    sentence: str
    seconds: float
    harmed: bool | None = None


def accuracy(model, X, Y) -> float:
    pred = np.asarray(model.predict(X))
    Y = np.asarray(Y)
    if pred.shape[1] == 1:
        return float(((pred > 0.5) == (Y > 0.5)).mean())
    return float((pred.argmax(1) == Y.argmax(1)).mean())


def run(case: Case, root: Path) -> Result:
    tflearn.set_seed(0)
    network, X, Y, kw = case.make()
    model = tflearn.DNN(network, tensorboard_dir=str(root), tensorboard_verbose=0, **case.dnn)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            model.fit(X, Y, run_id=case.name.replace("/", "_"), **kw)
        except Exception as error:  # noqa: BLE001 - a NaN stop is a result too
            if "non_finite" not in (model.diagnosis.codes if model.diagnosis else []):
                raise RuntimeError(f"{case.name}: {error}") from error
    seconds = time.perf_counter() - start
    d = model.diagnosis
    val = kw.get("validation_set")
    with np.errstate(all="ignore"):
        val_acc = accuracy(model, *val) if val is not None else None
        train_acc = accuracy(model, X, Y)
    alarms = [f for f in d.findings if f.severity in ("warning", "error")]
    root_cause = d.root_cause.code if getattr(d, "root_cause", None) is not None else (alarms[0].code if alarms else None)
    return Result(case, val_acc, train_acc, [f.code for f in alarms], root_cause,
                  getattr(d, "summary", "") or (str(alarms[0].message) if alarms else ""), seconds)


def judge_harm(results: dict[str, Result]) -> None:
    """Whether each broken run is measurably worse than its healthy twin (independent of the rules)."""
    for r in results.values():
        case = r.case
        if case.cause is None:
            continue
        twin = results.get(case.twin) if case.twin else None
        if case.harm == "gap":
            r.harmed = r.train_acc is not None and r.val_acc is not None and r.train_acc - r.val_acc > 0.15
        elif case.harm == "train":
            r.harmed = twin is not None and r.train_acc < twin.train_acc - 0.1
        else:
            r.harmed = twin is not None and r.val_acc is not None and not (r.val_acc >= twin.val_acc - 0.05)


def scores(results: list) -> str:
    """One line: named, first, false alarms."""
    broken = [r for r in results if r.case.cause is not None and r.harmed]
    healthy = [r for r in results if r.case.cause is None]
    named = sum(r.case.cause in r.codes for r in broken)
    first = sum(r.root == r.case.cause for r in broken)
    alarms = sum(bool(r.codes) for r in healthy)
    return (f"named {named}/{len(broken)}, first {first}/{len(broken)}, false alarms {alarms}/{len(healthy)}")


def table(results: dict[str, Result]) -> str:
    broken = [r for r in results.values() if r.case.cause is not None and r.harmed]
    healthy = [r for r in results.values() if r.case.cause is None]
    named = sum(r.case.cause in r.codes for r in broken)
    first = sum(r.root == r.case.cause for r in broken)
    alarms = sum(bool(r.codes) for r in healthy)
    by_cause = defaultdict(list)
    for r in broken:
        by_cause[r.case.cause].append(r)
    lines = [f"broken runs: {len(broken)} over {len(by_cause)} causes (harm confirmed against a healthy twin); "
             f"healthy runs: {len(healthy)}",
             f"true cause named: {named}/{len(broken)} ({100 * named / max(len(broken), 1):.0f}%); "
             f"named first: {first}/{len(broken)} ({100 * first / max(len(broken), 1):.0f}%); "
             f"false alarms (warning or worse) on healthy runs: {alarms}/{len(healthy)} "
             f"({100 * alarms / max(len(healthy), 1):.0f}%)", "",
             "| cause | runs | named | first |", "| --- | --- | --- | --- |"]
    for cause, rs in sorted(by_cause.items()):
        lines.append(f"| {cause} | {len(rs)} | {sum(cause in r.codes for r in rs)} | "
                     f"{sum(r.root == cause for r in rs)} |")
    tuned = [r for r in results.values() if not r.case.heldout]
    held = [r for r in results.values() if r.case.heldout]
    if held:
        lines.append(f"\ncases the rules were tuned on: {scores(tuned)}; held-out cases (written after): {scores(held)}")
    unconfirmed = [r.case.name for r in results.values() if r.case.cause is not None and not r.harmed]
    if unconfirmed:
        lines.append(f"\nharm not confirmed (left out of the scores): {', '.join(unconfirmed)}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run only the cases whose name contains this (and their twins)")
    parser.add_argument("--json", help="write every run's result to this file")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (tiny networks: 1 is fastest)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cases = _cases()
    if args.only:
        chosen = [c for c in cases if args.only in c.name]
        twins = {c.twin for c in chosen if c.twin}
        cases = [c for c in cases if c in chosen or c.name in twins]
    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            r = results[case.name] = run(case, Path(tmp))
            acc = "-" if r.val_acc is None else f"{r.val_acc:.3f}"
            print(f"{case.name:52s} val {acc:>5s} train {r.train_acc:.3f} {r.seconds:5.1f}s  "
                  f"root={r.root}  all={r.codes}", flush=True)
    judge_harm(results)
    print()
    for r in results.values():
        if r.case.cause is not None:
            mark = "FIRST" if r.root == r.case.cause else "named" if r.case.cause in r.codes else "MISSED"
            print(f"{mark:6s} {r.case.name}: {r.sentence[:300]}")
    print()
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(
            [{"case": r.case.name, "cause": r.case.cause, "harmed": r.harmed, "val_acc": r.val_acc,
              "train_acc": r.train_acc, "codes": r.codes, "root": r.root, "summary": r.sentence,
              "seconds": round(r.seconds, 2)} for r in results.values()], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
