"""Causes in the training settings, on real MNIST: dropout that keeps too little, a momentum near 1, gradient
clipping that shrinks every step, a schedule that decays the learning rate to nothing early, and a fit stopped
while it was still learning. Each leads the diagnosis of its broken run; the healthy twin raises nothing."""
from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

import deepscope as tflearn
from deepscope.diagnostics import rules
from deepscope.diagnostics.facts import FitFacts


@pytest.fixture(scope="module")
def mnist_small(shared_datasets):
    import os

    os.environ.setdefault("DEEPSCOPE_DATA", str(shared_datasets))
    from deepscope.datasets import mnist

    X, Y, tX, tY = mnist.load_data(one_hot=True, limit=2000, verbose=False, data_dir=shared_datasets / "mnist")
    return X[:2000], Y[:2000], tX[:500], tY[:500]


def mlp(optimizer="sgd", learning_rate=0.1, keep_prob=None, activation="relu", weights_init="auto"):
    tflearn.set_seed(0)
    net = tflearn.input_data(shape=[None, 784])
    for _ in range(2):
        net = tflearn.fully_connected(net, 64, activation=activation, weights_init=weights_init)
        if keep_prob is not None:
            net = tflearn.dropout(net, keep_prob)
    net = tflearn.fully_connected(net, 10, activation="softmax")
    return tflearn.regression(net, optimizer=optimizer, learning_rate=learning_rate, batch_size=64)


def diagnose(data, network, steps=250, **dnn):
    X, Y, vX, vY = data
    tflearn.set_seed(0)
    model = tflearn.DNN(network, **dnn)
    with contextlib.redirect_stdout(io.StringIO()):
        model.fit(X, Y, max_steps=steps, validation_set=(vX, vY))
    return model.diagnosis


def test_the_healthy_twin_raises_nothing(mnist_small):
    d = diagnose(mnist_small, mlp())
    assert d.healthy and d.final["train_accuracy"] > 0.85, str(d)


def test_dropout_that_keeps_too_little_leads(mnist_small):
    d = diagnose(mnist_small, mlp(keep_prob=0.05))
    assert d.root_cause.code == "dropout_too_strong", str(d)
    assert "keeps only 5%" in d.root_cause.message and "keep_prob=0.05" in d.root_cause.message
    assert d.summary.endswith("dropout layer 'Dropout' keeps only 5% of its inputs.")


def test_momentum_near_one_leads(mnist_small):
    d = diagnose(mnist_small, mlp(optimizer=tflearn.Momentum(0.1, momentum=0.9999)))
    assert d.root_cause.code == "momentum_too_high", str(d)
    assert "10,000x" in d.root_cause.message and d.root_cause.evidence["momentum"] == pytest.approx(0.9999)


def test_clipping_that_shrinks_every_step_leads_and_explains_the_small_steps(mnist_small):
    d = diagnose(mnist_small, mlp(), clip_gradients=1e-4)
    assert d.root_cause.code == "gradient_clipping_too_tight", str(d)
    assert "learning_rate_too_small" not in d.codes  # (the small steps are the clipping's doing: no "raise the rate")
    assert "learning rate" not in d.summary.split("because", 1)[-1]  # the sentence names the clipping, not the rate
    assert d.root_cause.evidence["shrink"] > 100


def test_a_learning_rate_decayed_early_leads_with_the_step_it_fell(mnist_small):
    d = diagnose(mnist_small, mlp(optimizer=tflearn.SGD(0.1, lr_decay=0.01, decay_step=10)))
    assert d.root_cause.code == "learning_rate_decayed", str(d)
    step = d.root_cause.evidence["at_step"]
    assert step <= 20 and d.root_cause.evidence["learning_rate_then"] < 1e-3  # 0.1 * 0.01 ** (step / 10)
    assert "learning_rate_too_small" not in d.codes
    assert d.summary.endswith("because " + d.root_cause.summary + ".")  # (not: "the learning rate is too small")


def test_a_fit_stopped_while_learning_is_named_only_as_a_last_resort(mnist_small):
    d = diagnose(mnist_small, mlp(learning_rate=0.005), steps=90)
    assert d.root_cause.code == "stopped_while_learning", str(d)
    assert d.root_cause.severity == "warning" and "more epochs" in " ".join(d.root_cause.fixes)
    # with another cause present, the short fit is not named (the other cause explains the shortfall)
    other = diagnose(mnist_small, mlp(learning_rate=0.005, keep_prob=0.05), steps=90)
    assert "stopped_while_learning" not in other.codes and other.root_cause.code == "dropout_too_strong", str(other)


def test_a_fit_at_full_training_accuracy_is_not_called_short():
    """The rule on constructed records: a loss still falling steeply, but the network already fits its data."""
    loss = np.linspace(2.0, 0.1, 40) ** 1.0
    records = [{"step": i + 1, "epoch": 1, "loss": float(v)} for i, v in enumerate(loss)]
    facts = FitFacts(n_samples=1000, batch_size=50, drop_last=False, learning_rate=0.01, clip_gradients=0.0,
                     n_outputs=10, classifier=True, n_predicted_classes=10, majority_class=0, majority_fraction=0.1,
                     output_spread=1.0, final_dead={}, final_saturated={}, train_accuracy=0.5, chance=0.1)
    assert [f.code for f in rules.stopped_while_learning(records, facts)] == ["stopped_while_learning"]
    facts.train_accuracy = 0.99
    assert rules.stopped_while_learning(records, facts) == []


# -- regression: targets a network cannot reach, and targets never standardized -------------------------------
def teacher_data(n=1500, seed=0):
    """A regression task: 3 targets from a random tanh teacher of 20 inputs, with noise (var ~0.4 each)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 20)).astype(np.float32)
    Y = np.tanh(X @ rng.normal(size=(20, 3)).astype(np.float32) / 3) + 0.1 * rng.normal(size=(n, 3)).astype(np.float32)
    return X, Y.astype(np.float32)


def regressor(output="linear"):
    tflearn.set_seed(0)
    net = tflearn.input_data(shape=[None, 20])
    net = tflearn.fully_connected(net, 32, activation="relu")
    net = tflearn.fully_connected(net, 3, activation=output)
    return tflearn.regression(net, optimizer="adam", learning_rate=0.01, loss="mean_square", batch_size=64)


def fit_regression(output="linear", transform=lambda y: y):
    X, Y = teacher_data()
    Y = transform(Y)
    model = tflearn.DNN(regressor(output))
    with contextlib.redirect_stdout(io.StringIO()):
        model.fit(X[:1200], Y[:1200], n_epoch=8, validation_set=(X[1200:], Y[1200:]))
    return model.diagnosis


def test_a_healthy_regression_raises_nothing_and_measures_its_fit():
    d = fit_regression()
    assert d.healthy, str(d)


@pytest.mark.parametrize("output, reach", [("sigmoid", "as low as"), ("relu", "as low as"), ("tanh", "as high as")])
def test_an_output_that_cannot_reach_the_targets_leads(output, reach):
    transform = (lambda y: y * 2.0) if output == "tanh" else (lambda y: y)  # (tanh: targets up to about 2)
    d = fit_regression(output, transform)
    assert d.root_cause.code == "output_range_mismatch", str(d)
    assert reach in d.root_cause.message and "activation='linear'" in d.root_cause.fixes[0]


@pytest.mark.parametrize("transform", [lambda y: y * 1000, lambda y: y + 500], ids=["spread 1000x", "offset 500"])
def test_targets_never_standardized_lead_and_explain_the_clipped_steps(transform):
    d = fit_regression(transform=transform)
    assert d.root_cause.code == "targets_not_scaled", str(d)
    assert d.root_cause.evidence["train_r2"] < 0.5
    assert d.summary.startswith("The targets are not scaled")


def test_scaled_targets_with_a_sigmoid_inside_their_range_are_fine():
    d = fit_regression("sigmoid", lambda y: (y - y.min()) / (y.max() - y.min()))  # targets in [0, 1]
    assert "output_range_mismatch" not in d.codes and "targets_not_scaled" not in d.codes, str(d)


def test_a_full_batch_fit_of_ten_steps_is_called_short(mnist_small):
    X, Y, vX, vY = mnist_small
    tflearn.set_seed(0)
    model = tflearn.DNN(mlp())
    with contextlib.redirect_stdout(io.StringIO()):
        model.fit(X, Y, n_epoch=10, batch_size=len(X), validation_set=(vX, vY))
    d = model.diagnosis
    assert d.root_cause.code == "stopped_while_learning", str(d)
    assert "only 10 steps" in d.root_cause.message and "a smaller batch_size" in " ".join(d.root_cause.fixes)


def test_a_failing_rule_never_breaks_the_fit_it_judges(monkeypatch):
    def broken_rule(records, facts):
        raise ZeroDivisionError("a bug in a rule")

    monkeypatch.setattr(rules, "RULES", rules.RULES + (broken_rule,))
    X, Y = teacher_data(300)
    model = tflearn.DNN(regressor())
    with contextlib.redirect_stdout(io.StringIO()):
        model.fit(X, Y, n_epoch=2)  # no exception
    note = next(f for f in model.diagnosis.findings if f.code == "rule_failed")
    assert note.severity == "note" and "broken_rule" in note.message and "ZeroDivisionError" in note.message


def test_one_input_feature_on_another_scale_is_named_as_such(mnist_small):
    X, Y, vX, vY = mnist_small
    X, vX = X.copy(), vX.copy()
    X[:, 0] = np.random.default_rng(0).normal(size=len(X)) * 1e4  # one feature in other units than the rest
    vX[:, 0] = np.random.default_rng(1).normal(size=len(vX)) * 1e4
    d = diagnose((X, Y, vX, vY), mlp())
    assert d.root_cause.code == "inputs_not_normalized", str(d)
    assert "in 1 of the 784 input features" in d.root_cause.message and "pixels" not in d.root_cause.message
    assert d.root_cause.fixes[0].startswith("standardize each input feature")


# -- recurrent networks ------------------------------------------------------------------------------------------
def sequence_task(n=1200, steps=20, seed=0):
    """4 classes from two sums over a sequence of 4 features: a linear readout of the flattened inputs reaches
    about 90%, a small LSTM about 80% on held-out sequences."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, steps, 4)).astype(np.float32)
    labels = (X[:, :, 0].sum(1) > 0).astype(int) + 2 * (X[:, -5:, 1].sum(1) > 0).astype(int)
    return X, np.eye(4, dtype=np.float32)[labels]


def fit_sequences(cell="lstm", scale=1.0, learning_rate=0.01, optimizer="adam", **dnn):
    X, Y = sequence_task()
    tflearn.set_seed(0)
    net = tflearn.input_data(shape=[None, 20, 4])
    net = (tflearn.lstm if cell == "lstm" else tflearn.simple_rnn)(net, 32)
    net = tflearn.fully_connected(net, 4, activation="softmax")
    net = tflearn.regression(net, optimizer=optimizer, learning_rate=learning_rate, batch_size=32)
    model = tflearn.DNN(net, **dnn)
    with contextlib.redirect_stdout(io.StringIO()):
        model.fit(X[:1000] * scale, Y[:1000], n_epoch=8, validation_set=(X[1000:] * scale, Y[1000:]))
    return model.diagnosis


def test_a_recurrent_layer_is_a_hidden_layer():
    """A recurrent network that fails is never told it 'has no hidden layer' (its cell's weights count)."""
    d = fit_sequences("rnn", learning_rate=10.0, optimizer="sgd", clip_gradients=0.0)
    assert d.root_cause.code == "learning_rate_too_large", str(d)
    assert "capacity_too_low" not in d.codes


def test_unscaled_sequences_are_named_when_the_network_falls_behind_a_linear_readout():
    d = fit_sequences(scale=100.0)
    assert d.root_cause.code == "inputs_not_normalized", str(d)
