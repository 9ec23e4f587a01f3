"""Causes before symptoms: every cause rule named (and leading the diagnosis) on a small constructed
case, silent on a healthy twin; the one-sentence summary traces the symptom back to its cause; the
records of a killed and resumed fit are one fit's; a study keeps each trial's root cause."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import deepscope as tflearn
from deepscope.callbacks import Callback
from deepscope.datasets import toy
from deepscope.diagnostics import read_steps
from deepscope.models import Trainer
from deepscope.models.guard import NonFiniteError

XB, YB = toy.blobs(600, noise=0.6, seed=0, n_classes=4)  # 4 separable classes in 2-d
YB1 = np.eye(4, dtype=np.float32)[YB]
VAL = toy.blobs(300, noise=0.6, seed=1, n_classes=4)
VAL = (VAL[0], np.eye(4, dtype=np.float32)[VAL[1]])


def net(hidden=(32,), activation="relu", optimizer="adam", lr=1e-2, loss="categorical_crossentropy",
        output="softmax", init="auto", bias_init="zeros", weight_decay=None, batch_norm=False, n_in=2, n_out=4,
        batch_size=32):
    tflearn.set_seed(0)  # (the weights are drawn as the layers are described)
    x = tflearn.input_data(shape=[None, n_in])
    for units in hidden:
        x = tflearn.fully_connected(x, units, activation="linear" if batch_norm else activation, weights_init=init,
                                    bias_init=bias_init, regularizer="L2" if weight_decay else None,
                                    weight_decay=weight_decay or 0.0)
        if batch_norm:
            x = tflearn.activation(tflearn.batch_normalization(x), activation)
    x = tflearn.fully_connected(x, n_out, activation=output, weights_init=init)
    return tflearn.regression(x, optimizer=optimizer, learning_rate=lr, loss=loss, batch_size=batch_size)


def fit(network, X=XB, Y=YB1, dnn=None, **kw):
    tflearn.set_seed(0)
    model = tflearn.DNN(network, **(dnn or {}))
    try:
        model.fit(X, Y, **{"n_epoch": 10, "validation_set": VAL, **kw})
    except NonFiniteError:
        assert model.diagnosis.codes.count("non_finite") == 1
    return model.diagnosis


def test_a_healthy_run_raises_nothing_and_says_so():
    d = fit(net())
    assert d.healthy and d.root_cause is None and d.final["train_accuracy"] > 0.9, str(d)
    assert "nothing wrong" in str(d)


class NoStep(Trainer):
    def train_step(self, xs, y):
        output, loss = self.dnn.compute_loss(xs, y)
        self.zero_grad()
        loss.backward()
        return loss.detach(), output


def test_parameters_not_changing():
    d = fit(net(), trainer=NoStep)
    assert d.root_cause.code == "parameters_not_changing" and d.root_cause.role == "cause"
    assert d.summary.startswith("Training accuracy stayed at chance") and "no parameter changed" in d.summary


def test_learning_rate_too_small_and_too_large():
    small = fit(net(optimizer="sgd", lr=1e-6))
    assert small.root_cause.code == "learning_rate_too_small", str(small)
    assert small.root_cause.evidence["median_update_ratio"] < 1e-4
    large = fit(net(hidden=(32, 32), lr=5.0))
    assert large.root_cause.code == "learning_rate_too_large", str(large)
    assert {"loss_spike", "dead_layer", "mostly_dead_layer", "constant_prediction"} & set(large.root_cause.explains)


def test_init_too_large_leads_the_spike_and_the_death_it_causes():
    big = tflearn.initializations.truncated_normal(stddev=20.0)
    d = fit(net(hidden=(32, 32), optimizer="sgd", lr=0.5, init=big), dnn={"clip_gradients": None})
    assert d.root_cause.code == "init_too_large", str(d)
    assert d.root_cause.evidence["init_scale"]["FullyConnected"] > 4
    assert {"loss_spike", "dead_layer", "constant_prediction"} & set(d.root_cause.explains), str(d)


def test_uninformative_labels_named_with_the_nearest_neighbour_evidence():
    shuffled = YB1[np.random.default_rng(0).permutation(len(YB1))]
    d = fit(net(), Y=shuffled)
    assert d.root_cause.code == "uninformative_labels", str(d)
    assert d.root_cause.evidence["knn_accuracy"] < 0.35
    assert "uninformative_labels" not in fit(net()).codes


@pytest.mark.parametrize("output,loss", [("softmax", "mean_square"), ("sigmoid", "categorical_crossentropy"),
                                         ("linear", "categorical_crossentropy")])
def test_loss_that_does_not_fit_the_output(output, loss):
    d = fit(net(output=output, loss=loss, optimizer="sgd", lr=0.1))
    assert d.findings[0].code == "loss_output_mismatch", str(d)
    assert d.findings[0].evidence["output_activation"] == output


def test_regression_warns_where_the_mismatch_is_certain():
    x = tflearn.input_data(shape=[None, 2])
    x = tflearn.fully_connected(x, 4, activation="sigmoid")
    with pytest.warns(UserWarning, match="categorical_crossentropy.*softmax"):
        tflearn.regression(x, loss="categorical_crossentropy")


def test_seed_004_xor_with_one_unit_is_not_separable():
    X, Y = toy.logic_gate("xor")
    x = tflearn.input_data(shape=[None, 2])
    x = tflearn.fully_connected(x, 1, activation="sigmoid")
    network = tflearn.regression(x, optimizer="sgd", learning_rate=2, loss="mean_square")
    tflearn.set_seed(0)
    model = tflearn.DNN(network)
    model.fit(X, Y, n_epoch=2000, snapshot_epoch=False)
    d = model.diagnosis
    assert d.root_cause.code == "capacity_too_low", str(d)
    assert "not separable by one unit" in d.summary and "hidden layer" in d.root_cause.fixes[0]


def test_a_bottleneck_layer_is_too_narrow():
    d = fit(net(hidden=(1,)))
    assert d.root_cause.code == "capacity_too_low", str(d)
    assert "1 unit" in d.root_cause.message


def test_penalty_collapse_named_when_it_happens_and_chained_in_the_sentence():
    d = fit(net(hidden=(32, 16), optimizer="sgd", lr=0.3, weight_decay=5.0))
    cause = d.root_cause
    assert cause.code == "penalty_collapse", str(d)
    assert cause.step <= 2 and cause.evidence["penalty_share"] > 0.5
    assert "of the loss at step" in d.summary and d.summary.endswith(".")


def test_overfitting_with_where_early_stopping_would_stop():
    X, labels = toy.spirals(600, noise=0.3, seed=0, n_classes=3)
    Y = np.eye(3, dtype=np.float32)[labels]
    d = fit(net(hidden=(256, 256), lr=1e-2, n_out=3), X=X[:30], Y=Y[:30], n_epoch=300, batch_size=10,
            validation_set=(X[300:], Y[300:]))
    assert d.root_cause.code == "overfitting", str(d)
    f = d.root_cause
    assert f.evidence["gap"] > 0.15 and f.evidence["train_accuracy"] == 1.0
    assert f.evidence["best_val_epoch"] is not None and "early stopping would have stopped there" in f.message


def test_overfitting_rule_on_its_facts():
    from deepscope.diagnostics.facts import FitFacts
    from deepscope.diagnostics.rules import overfitting
    history = [{"loss": 1.0 / e, "val_loss": v} for e, v in enumerate([1.0, 0.6, 0.5, 0.7, 0.9, 1.2], 1)]
    history[-1]["val_acc"] = 0.6
    facts = FitFacts(100, 10, False, 0.01, 5.0, 10, True, 10, 0, 0.2, 1.0, {}, {}, history=history,
                     train_accuracy=1.0)
    f = overfitting([], facts)[0]
    assert f.evidence["best_val_epoch"] == 3 and "early stopping would have stopped there" in f.message
    facts.train_accuracy = 0.7
    assert overfitting([], facts) == []


def test_batch_normalization_with_tiny_batches():
    d = fit(net(batch_norm=True, batch_size=2), n_epoch=1)
    assert "batchnorm_tiny_batches" in d.codes
    assert "batchnorm_tiny_batches" not in fit(net(batch_norm=True, batch_size=32)).codes


def test_batch_normalization_with_batches_of_one_is_refused_clearly():
    with pytest.raises(ValueError, match="batch_normalization.*batch_size"):
        fit(net(batch_norm=True, batch_size=1), n_epoch=1)


def test_a_dominant_class():
    keep = np.concatenate([np.nonzero(YB == 0)[0], np.nonzero(YB != 0)[0][:15]])
    d = fit(net(optimizer="sgd", lr=0.05), X=XB[keep], Y=YB1[keep], n_epoch=3)
    assert d.root_cause.code == "dominant_class", str(d)
    assert d.root_cause.evidence["class_shares"][0] > 0.9


def test_dead_from_initialization():
    d = fit(net(bias_init=tflearn.initializations.constant(-20.0)))
    assert d.root_cause.code == "dead_at_init", str(d)
    assert "dead_layer" not in d.codes  # (the same layer is not reported twice)


def test_vanishing_gradients_through_a_deep_sigmoid_stack():
    d = fit(net(hidden=(16,) * 10, activation="sigmoid", optimizer="sgd", lr=0.1), n_epoch=3)
    assert d.root_cause.code == "vanishing_gradients" and d.root_cause.role == "cause", str(d)


def test_inputs_not_normalized():
    d = fit(net(activation="sigmoid", optimizer="sgd", lr=0.1), X=XB * 300, n_epoch=3,
            validation_set=(VAL[0] * 300, VAL[1]))
    assert d.root_cause.code == "inputs_not_normalized", str(d)


def test_tiny_last_batch_matters_only_at_a_large_learning_rate():
    quiet = fit(net(lr=5e-3, batch_size=37), n_epoch=10)  # 600 = 16 x 37 + 8
    note = next(f for f in quiet.findings if f.code == "tiny_last_batch")
    assert note.severity == "note" and quiet.healthy
    loud = fit(net(optimizer="sgd", lr=1.0, batch_size=37), n_epoch=10)
    assert next(f for f in loud.findings if f.code == "tiny_last_batch").severity == "warning"


class Die(Callback):
    def __init__(self, at):
        self.at = at

    def on_batch_end(self, state, snapshot=False):
        if state.step == self.at:
            raise KeyboardInterrupt


def test_records_and_findings_continue_across_a_resume(tmp_path):
    """Before: the resumed fit's steps.csv restarted at the resume step, its schedule recorded every step
    again, and the first loss after the resume looked like a spike "at the start of training"."""
    def model():
        tflearn.set_seed(1)
        return tflearn.DNN(net(lr=0.05), tensorboard_dir=str(tmp_path), tensorboard_verbose=0)

    args = dict(X_inputs=XB, Y_targets=YB1, n_epoch=4, batch_size=20, checkpoint_every=10, seed=3)
    ref = model()
    ref.fit(**args, run_id="whole")
    killed = model()
    with pytest.raises(KeyboardInterrupt):
        killed.fit(**args, run_id="killed", callbacks=[Die(47)])
    before = read_steps(killed.last_run.path)
    assert before and before[-1]["step"] >= 40  # flushed with the checkpoint at step 40 (and at the interrupt)
    resumed = model()
    resumed.fit(**args, run_id="killed", resume=True)
    assert resumed.last_run.path == killed.last_run.path
    steps = [r["step"] for r in read_steps(resumed.last_run.path)]
    assert steps == [r["step"] for r in read_steps(ref.last_run.path)]
    assert resumed.diagnosis.codes == ref.diagnosis.codes
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(resumed.last_run.path / "train"), size_guidance={"scalars": 0})
    acc.Reload()
    tag = next(t for t in acc.Tags()["scalars"] if t.startswith("diagnostics/") and t.endswith("loss"))
    assert sorted({e.step for e in acc.Scalars(tag)}) == steps  # the points before the kill are kept


def test_a_study_keeps_each_trials_root_cause(tmp_path):
    from deepscope.sweep import Fit, Study, stability_grid

    def build(lr):
        return net(optimizer="sgd", lr=lr)

    study = Study("causes", Fit(build, XB, YB1, n_epoch=3, validation_set=VAL), {"lr": [1e-7, 0.1]},
                  seeds=(0, 1), root=tmp_path, verbose=False)
    study.run()
    rows = study.results()
    by_lr = {r["params"]["lr"]: r for r in rows}
    assert by_lr[1e-7]["record"]["root_cause"] == "learning_rate_too_small"
    assert by_lr[0.1]["record"]["root_cause"] is None
    g = stability_grid(study, "lr", "lr", metric="val_acc", collapse=0.4)
    assert g.diagnosis[0, 0] == "learning_rate_too_small"
    assert "learning rate (1e-07) is too small" in by_lr[1e-7]["record"]["summary"]


def test_data_sorted_by_class_without_shuffling():
    order = np.argsort(YB, kind="stable")
    d = fit(net(optimizer="sgd", lr=0.1), X=XB[order], Y=YB1[order], shuffle=False, n_epoch=3)
    assert "data_not_shuffled" in d.codes, str(d)
    assert d.findings[d.codes.index("data_not_shuffled")].evidence["batch_purity"] > 0.9
    mixed = fit(net(optimizer="sgd", lr=0.1), shuffle=False, n_epoch=3)  # the blobs come mixed: nothing to say
    assert "data_not_shuffled" not in mixed.codes


def test_a_mostly_dead_layer_is_a_note_when_the_network_learned_and_a_warning_when_it_failed():
    """Half of a ReLU layer silent in a CNN that learned (a healthy CIFAR twin: 59% of its dense units) is unused
    capacity, not a failure; the same with training stuck at chance is a warning."""
    from deepscope.diagnostics.facts import FitFacts
    from deepscope.diagnostics.rules import dead_layers
    records = [{"step": s, "FullyConnected/dead": d} for s, d in ((1, 0.1), (50, 0.55), (100, 0.6))]
    facts = FitFacts(1000, 50, False, 0.002, 5.0, 10, True, 10, 3, 0.2, 1.0, {"FullyConnected": 0.6}, {},
                     history=[{"loss": 1.5, "val_acc": 0.39}], train_accuracy=0.5, chance=0.11)
    finding = dead_layers(records, facts)[0]
    assert (finding.code, finding.severity) == ("mostly_dead_layer", "note") and "learned anyway" in finding.message
    facts.train_accuracy, facts.history = 0.11, [{"loss": 2.3, "val_acc": 0.1}]
    assert dead_layers(records, facts)[0].severity == "warning"
