"""The NaN/Inf guard: training stops at the first non-finite loss or gradient, naming step and tensor."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

import deepscope as tflearn
from deepscope.models import checkpoint as ck
from deepscope.models.guard import NonFiniteError


def _model(lr=0.01, dropout=False):
    tflearn.set_seed(1)
    net = tflearn.input_data(shape=[None, 8])
    net = tflearn.fully_connected(net, 16, activation="relu", name="fc1")
    if dropout:
        net = tflearn.dropout(net, 0.9)
    net = tflearn.fully_connected(net, 3, activation="softmax", name="out")
    return tflearn.DNN(tflearn.regression(net, optimizer="adam", learning_rate=lr), device="cpu")


def _data():
    rng = np.random.RandomState(0)
    X = rng.randn(50, 8).astype("float32")
    return X, np.eye(3)[rng.randint(0, 3, 50)]


class InjectWeight(tflearn.callbacks.Callback):
    """Sets one weight of layer 'out' to ``value`` just before step ``k``."""

    def __init__(self, k, value=float("nan")):
        self.k, self.value, self.done = k, value, False

    def on_batch_begin(self, state):
        if state.step + 1 == self.k and not self.done:
            self.done = True
            with torch.no_grad():
                state.model.net.layers.out.weight[0, 0] = self.value


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in ck.list_checkpoints(folder)}


@pytest.mark.parametrize("k,value", [(1, float("nan")), (7, float("inf")), (13, float("-inf"))])
def test_stops_at_the_step_of_the_nan(tmp_path, k, value):
    X, Y = _data()
    model = _model()
    before = None

    class Snap(tflearn.callbacks.Callback):
        def on_batch_begin(self, state):
            nonlocal before
            if state.step + 1 == k:
                before = _digests(tmp_path)

    with pytest.raises(NonFiniteError) as info:
        model.fit(X, Y, n_epoch=5, batch_size=16, checkpoint_every=2, checkpoint_dir=tmp_path,
                  callbacks=[Snap(), InjectWeight(k, value)])
    assert info.value.step == k and model.step == k - 1
    message = str(info.value)
    assert f"step {k}" in message and "layer 'out' parameter 'weight'" in message and "learning rate" in message
    assert _digests(tmp_path) == before  # the last good checkpoints are untouched
    for path in ck.list_checkpoints(tmp_path):
        t = ck.load_checkpoint(path).tensors
        assert all(torch.isfinite(v).all() for key, v in t.items() if key.startswith("model/"))


def test_non_finite_gradient_with_finite_loss_is_caught():
    X, Y = _data()
    model = _model(dropout=True)  # (autograd path)
    calls = {"n": 0}

    def poison(grad):
        calls["n"] += 1
        return grad * float("nan") if calls["n"] == 5 else grad

    fc1 = dict(model.net.named_parameters())
    name = [n for n in fc1 if n.endswith("fc1.weight")][0]
    fc1[name].register_hook(poison)
    with pytest.raises(NonFiniteError) as info:
        model.fit(X, Y, n_epoch=3, batch_size=16)
    assert info.value.step == 5 and "layer 'fc1' parameter 'weight' gradient" in str(info.value)
    assert all(torch.isfinite(p).all() for p in model.net.parameters())  # the bad step was not applied


def test_divergence_is_caught_without_gradient_clipping():
    tflearn.set_seed(0)
    net = tflearn.input_data(shape=[None, 2])
    net = tflearn.fully_connected(net, 1, activation="linear")
    net = tflearn.regression(net, optimizer="sgd", learning_rate=1e3, loss="mean_square")
    model = tflearn.DNN(net, clip_gradients=0, device="cpu")
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], "float32") * 100
    with pytest.raises(NonFiniteError, match="training stopped at step"):
        model.fit(X, [[0], [1], [1], [2]], n_epoch=200)
    assert all(torch.isfinite(p).all() for p in model.net.parameters())


def test_rollback_lowers_the_learning_rate_and_goes_on(tmp_path):
    X, Y = _data()
    model = _model()
    model.fit(X, Y, n_epoch=4, batch_size=16, callbacks=[InjectWeight(7)], nan_guard="rollback",
              checkpoint_every=2, checkpoint_dir=tmp_path)
    assert model.step == 16 and model.optimizer.param_groups[0]["lr"] == pytest.approx(0.005)
    assert all(torch.isfinite(p).all() for p in model.net.parameters())


def test_rollback_without_checkpoint_dir_uses_a_temporary_one():
    X, Y = _data()
    model = _model()
    model.fit(X, Y, n_epoch=3, batch_size=16, callbacks=[InjectWeight(6)], nan_guard="rollback")
    assert model.step == 12 and all(torch.isfinite(p).all() for p in model.net.parameters())


def test_guard_off_and_bad_values():
    X, Y = _data()
    model = _model()
    model.fit(X, Y, n_epoch=2, batch_size=16, callbacks=[InjectWeight(2)], nan_guard=False)
    assert model.step == 8 and not all(torch.isfinite(p).all() for p in model.net.parameters())
    with pytest.raises(ValueError, match="nan_guard"):
        _model().fit(X, Y, n_epoch=1, nan_guard="maybe")
