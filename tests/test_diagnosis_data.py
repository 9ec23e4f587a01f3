"""Causes in the data handed to fit, on real images: inputs identical for every sample, one-hot rows without a class
or with several, validation inputs prepared another way, a validation set whose labels do not belong to its inputs,
and a training set that repeats a few samples. Each leads the diagnosis of its broken
run (a plain fit, a CNN, a vectorized study's trial); healthy runs with unusual but sound validation sets raise none.
The probes that tuned these rules were MNIST MLPs; these are Fashion-MNIST, CIFAR-10 and a study."""
from __future__ import annotations

import contextlib
import io
import json
import re

import numpy as np
import pytest

import deepscope as tflearn
from deepscope.sweep import Fit, Study


@pytest.fixture(scope="module")
def fashion(shared_datasets):
    from deepscope.datasets import fashion_mnist

    X, Y, tX, tY = fashion_mnist.load_data(one_hot=True, data_dir=shared_datasets / "fashion_mnist")
    return (np.asarray(X[:2000], dtype=np.float32), np.asarray(Y[:2000], dtype=np.float32),
            np.asarray(tX[:500], dtype=np.float32), np.asarray(tY[:500], dtype=np.float32))


@pytest.fixture(scope="module")
def cifar(shared_datasets):
    from deepscope.datasets import cifar10

    with pytest.warns(UserWarning, match="subset"):
        (X, Y), (tX, tY) = cifar10.load_data(one_hot=True, dirname=shared_datasets / "cifar10_subset")
    return (np.asarray(X[:1500], dtype=np.float32), np.asarray(Y[:1500], dtype=np.float32),
            np.asarray(tX[:300], dtype=np.float32), np.asarray(tY[:300], dtype=np.float32))


def mlp(inputs=784):
    net = tflearn.input_data(shape=[None, inputs])
    net = tflearn.fully_connected(net, 64, activation="relu")
    net = tflearn.fully_connected(net, 10, activation="softmax")
    return tflearn.regression(net, optimizer="adam", learning_rate=0.002, batch_size=64)


def cnn():
    net = tflearn.input_data(shape=[None, 32, 32, 3])
    net = tflearn.max_pool_2d(tflearn.conv_2d(net, 16, 3, activation="relu"), 2)
    net = tflearn.max_pool_2d(tflearn.conv_2d(net, 16, 3, activation="relu"), 2)
    net = tflearn.fully_connected(net, 10, activation="softmax")
    return tflearn.regression(net, optimizer="adam", learning_rate=0.002, batch_size=64)


def diagnose(network, X, Y, validation, n_epoch=6):
    tflearn.set_seed(0)
    model = tflearn.DNN(network)
    with contextlib.redirect_stdout(io.StringIO()):
        model.fit(X, Y, n_epoch=n_epoch, validation_set=validation)
    return model.diagnosis


def test_validation_labels_shifted_by_one_class_lead_as_a_mismatch_not_overfitting(fashion):
    X, Y, vX, vY = fashion
    d = diagnose(mlp(), X, Y, (vX, np.roll(vY, 1, axis=1)))  # every label one class off: far below chance
    assert d.root_cause.code == "validation_mismatch", str(d)
    assert "overfitting" not in d.codes and "far below chance" in d.root_cause.message
    assert d.final["train_accuracy"] > 0.8


def test_validation_images_left_at_0_255_lead_for_a_cnn(cifar):
    X, Y, vX, vY = cifar
    d = diagnose(cnn(), X, Y, (vX * 255, vY), n_epoch=3)
    assert d.root_cause.code == "validation_inputs_differ", str(d)
    spread = float(re.search(r"spread is ([0-9.]+)x", d.root_cause.message).group(1))
    assert 150 < spread < 400  # (255x the training inputs', give or take the samples' spread)


def test_all_zero_inputs_lead_before_the_labels_or_the_dead_layer(fashion):
    X, Y, vX, vY = fashion
    d = diagnose(mlp(), np.zeros_like(X), Y, (vX, vY), n_epoch=2)
    assert d.root_cause.code == "constant_inputs", str(d)
    assert not {"uninformative_labels", "validation_inputs_differ"} & set(d.codes)
    assert "none of the 784 input features varies" in d.root_cause.message


def test_a_vectorized_trial_with_shuffled_validation_labels_says_so(fashion, tmp_path):
    X, Y, vX, vY = fashion
    shuffled = vY[np.random.default_rng(0).permutation(len(vY))]
    study = Study("mismatch", Fit(lambda lr: mlp(), X, Y, n_epoch=6, validation_set=(vX, shuffled)),
                  {"lr": [0.002]}, seeds=(0, 1), root=tmp_path, verbose=False)
    rows = study.run()
    assert all(r["status"] == "finished" for r in rows)
    for folder in (tmp_path / "mismatch").glob("*/diagnosis.json"):
        findings = json.loads(folder.read_text())["findings"]
        assert findings[0]["code"] == "validation_mismatch", findings


@pytest.mark.parametrize("broken", ["a third of the rows without a class", "a third with two classes"])
def test_target_rows_that_are_not_one_hot_lead(fashion, broken):
    X, Y, vX, vY = fashion
    Y = Y.copy()
    if broken.endswith("without a class"):
        Y[::3] = 0
    else:
        Y[::3, 0] = 1  # (class 0 added to a third of the rows; a third of those already were class 0)
    d = diagnose(mlp(), X, Y, (vX, vY), n_epoch=3)
    assert d.root_cause.code == "targets_not_one_hot", str(d)
    assert ("without a class" if broken.endswith("without a class") else "with several") in d.root_cause.summary
    assert "binary_crossentropy" in " ".join(d.root_cause.fixes) or broken.endswith("without a class")


def test_memorizing_a_set_that_repeats_a_few_samples_says_how_few(fashion):
    X, Y, vX, vY = fashion
    d = diagnose(mlp(), np.tile(X[:40], (50, 1)), np.tile(Y[:40], (50, 1)), (vX, vY), n_epoch=4)
    assert d.root_cause.code == "overfitting", str(d)
    assert "only 40 distinct inputs" in d.root_cause.message


@pytest.mark.parametrize("validation", ["other class shares", "20 samples", "held-out fraction", "smoothed labels"])
def test_sound_validation_sets_raise_nothing_about_the_data(fashion, validation):
    X, Y, vX, vY = fashion
    if validation == "other class shares":  # only 5 of the 10 classes: other shares, the same task
        keep = vY.argmax(1) < 5
        val = (vX[keep], vY[keep])
    elif validation == "20 samples":
        val = (vX[:20], vY[:20])
    elif validation == "smoothed labels":  # rows of 0.91 and 0.01s: soft, still one class per sample
        Y, val = Y * 0.9 + 0.01, (vX, vY)
    else:
        val = 0.1
    d = diagnose(mlp(), X, Y, val)
    data_codes = {"constant_inputs", "targets_not_one_hot", "validation_inputs_differ", "validation_mismatch"}
    assert not data_codes & set(d.codes), str(d)
