"""The learning-rate range test leaves the model exactly as it was (the known bug elsewhere)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import deepscope as tflearn
from deepscope.datasets import toy

X, Y = toy.moons(256, seed=0)
Y1 = np.eye(2, dtype=np.float32)[Y]


def model():
    net = tflearn.input_data([None, 2])
    net = tflearn.fully_connected(net, 16, activation="relu")
    net = tflearn.batch_normalization(net)
    net = tflearn.fully_connected(net, 2, activation="softmax")
    return tflearn.DNN(tflearn.regression(net, optimizer="adam", learning_rate=0.01))


@pytest.mark.parametrize("fitted_before", [False, True])
def test_lr_find_restores_everything_so_the_next_fit_is_unchanged(fitted_before, tmp_path):
    tflearn.set_seed(0)
    reference = model()
    tflearn.set_seed(0)
    probed = model()
    if fitted_before:
        state = torch.get_rng_state()
        reference.fit(X, Y1, n_epoch=1, diagnostics=False)
        torch.set_rng_state(state)
        probed.fit(X, Y1, n_epoch=1, diagnostics=False)
    before = torch.get_rng_state()
    result = probed.lr_find(X, Y1, num_steps=60)
    assert torch.equal(torch.get_rng_state(), before)
    assert len(result.lrs) >= 10 and result.lrs[0] == pytest.approx(1e-7)
    assert result.suggestion is None or 1e-7 <= result.suggestion <= 10
    result.plot(tmp_path / "lr.png")
    for a, b in zip(reference.net.state_dict().values(), probed.net.state_dict().values()):
        assert torch.equal(a, b)  # weights and batch-norm statistics
    state = torch.get_rng_state()
    reference.fit(X, Y1, n_epoch=2, diagnostics=False)
    torch.set_rng_state(state)  # both fits start from the same random state (they share the generator)
    probed.fit(X, Y1, n_epoch=2, diagnostics=False)
    for a, b in zip(reference.net.state_dict().values(), probed.net.state_dict().values()):
        assert torch.equal(a, b)  # optimizer state and random generators too


def test_lr_find_suggests_a_rate_where_the_loss_falls_and_stops_on_divergence():
    result = model().lr_find(X, Y1, num_steps=100, end_lr=100.0)
    assert result.stopped_early and result.suggestion is not None
    i = int(np.argmin(np.abs(result.lrs - result.suggestion)))
    assert result.smoothed[i] < result.smoothed[0]


def test_lr_find_bad_arguments():
    with pytest.raises(ValueError, match="lr_find end_lr"):
        model().lr_find(X, Y1, start_lr=1.0, end_lr=0.1)


def test_lr_find_steps_as_fit_does_trainable_vars_and_trainer_honoured():
    """Each step is the fit's own step: regression(trainable_vars=...) and fit's trainer= subclass."""
    tflearn.set_seed(0)
    net = tflearn.input_data([None, 2])
    first = tflearn.fully_connected(net, 16, activation="relu", name="first")
    out = tflearn.fully_connected(first, 2, activation="softmax", name="out")
    frozen_start = first.W.detach().clone()
    dnn = tflearn.DNN(tflearn.regression(out, optimizer="sgd", learning_rate=0.1,
                                         trainable_vars=tflearn.get_layer_variables_by_name("out")))
    seen = {"steps": 0, "first_moved": False, "out_moved": False}
    out_start = out.W.detach().clone()

    class Spy(tflearn.models.Trainer):
        def train_step(self, xs, y):
            result = super().train_step(xs, y)
            seen["steps"] += 1
            seen["first_moved"] |= not torch.equal(first.W.detach(), frozen_start)
            seen["out_moved"] |= not torch.equal(out.W.detach(), out_start)
            return result

    dnn.lr_find(X, Y1, num_steps=20, trainer=Spy)
    assert seen["steps"] >= 2 and seen["out_moved"] and not seen["first_moved"]
    assert torch.equal(out.W.detach(), out_start)  # restored afterwards
    with pytest.raises(TypeError, match="lr_find trainer"):
        dnn.lr_find(X, Y1, trainer=object)
