"""Losses: values against numpy references, fused == unfused, stability, lookup and errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import deepscope as tflearn
from deepscope import losses
from deepscope._registry import UnknownNameError

N, C = 16, 5


def _data(name: str, dtype=torch.float64):
    """(activated output, targets) suited to the loss ``name``."""
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(N, C, generator=g, dtype=dtype) * 2
    loss = losses.get(name)
    if loss.fused_activation == "softmax" or name == "softmax_categorical_crossentropy":
        y = torch.nn.functional.one_hot(torch.randint(0, C, (N,), generator=g), C).to(dtype)
        return (logits if name == "softmax_categorical_crossentropy" else logits.softmax(-1)), y
    if loss.fused_activation == "sigmoid":
        return logits.sigmoid(), torch.randint(0, 2, (N, C), generator=g).to(dtype)
    if name.startswith("hinge"):
        return logits, torch.randint(0, 2, (N, C), generator=g).to(dtype) * 2 - 1
    return logits, torch.randn(N, C, generator=g, dtype=dtype)


@pytest.mark.parametrize("name", losses.REGISTRY.names())
def test_every_registered_loss(name):
    loss = losses.get(name)
    assert isinstance(loss, losses.Loss)
    assert loss.fused_activation in (None, "softmax", "sigmoid")
    y_pred, y_true = _data(name)
    y_pred.requires_grad_(True)
    value = loss(y_pred, y_true)
    assert value.ndim == 0 and torch.isfinite(value)
    value.backward()
    assert torch.isfinite(y_pred.grad).all()
    config = json.loads(json.dumps(loss.config))
    assert type(loss)(**config).config == loss.config
    assert isinstance(loss.name, str)


def _np_reference(name, p, y):
    p, y = p.numpy(), y.numpy()
    eps = 1e-10
    if name in ("categorical_crossentropy", "crossentropy"):
        return np.mean(-(y * np.log(np.clip(p, eps, None))).sum(-1))
    if name == "softmax_categorical_crossentropy":
        e = np.exp(p - p.max(-1, keepdims=True))
        return np.mean(-(y * np.log(e / e.sum(-1, keepdims=True))).sum(-1))
    if name in ("binary_crossentropy", "weighted_crossentropy"):
        return np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)))
    if name in ("mean_square", "mse"):
        return np.mean((p - y) ** 2)
    if name in ("mean_absolute", "mae"):
        return np.mean(np.abs(p - y))
    if name in ("huber_loss", "huber"):
        e = np.abs(p - y)
        return np.mean(np.where(e <= 1.0, 0.5 * e**2, e - 0.5))
    if name == "hinge_loss":
        return np.mean(np.maximum(0.0, 1.0 - y * p))
    raise KeyError(name)


@pytest.mark.parametrize("name", losses.REGISTRY.names())
def test_values_match_numpy(name):
    y_pred, y_true = _data(name)
    expected = _np_reference(name, y_pred, y_true)
    np.testing.assert_allclose(losses.get(name)(y_pred, y_true).item(), expected, rtol=1e-10)


@pytest.mark.parametrize("name", [n for n in losses.REGISTRY.names() if losses.get(n).fused_activation])
def test_fused_equals_unfused_and_is_stable(name):
    loss = losses.get(name)
    logits = torch.randn(N, C, dtype=torch.float64)
    act = (lambda z: z.softmax(-1)) if loss.fused_activation == "softmax" else torch.sigmoid
    _, y_true = _data(name)
    torch.testing.assert_close(loss.from_logits(logits, y_true), loss(act(logits), y_true))
    # huge logits: the fused version stays finite and exact, the unfused one saturates at -log(eps)
    big = torch.full((2, C), -1000.0)
    big[:, 0] = 1000.0
    y = torch.zeros(2, C)
    y[:, 1] = 1.0
    fused = loss.from_logits(big.requires_grad_(True), y)
    fused.backward()
    assert torch.isfinite(fused) and torch.isfinite(big.grad).all()
    unfused = loss(act(big.detach()), y)
    if loss.fused_activation == "softmax":
        assert fused.item() == pytest.approx(2000.0)
        assert unfused.item() == pytest.approx(-np.log(1e-10), rel=1e-4)  # saturated
    else:  # per row: x=1000 with y=0 and x=-1000 with y=1 cost 1000 each
        assert fused.item() == pytest.approx(2000.0 / C)
        assert unfused.item() <= 0.1 * fused.item()  # saturated (log clamped at -100 or log(1e-10))


def test_categorical_index_targets_equal_one_hot():
    logits = torch.randn(N, C)
    idx = torch.randint(0, C, (N,))
    onehot = torch.nn.functional.one_hot(idx, C).float()
    loss = losses.get("categorical_crossentropy")
    torch.testing.assert_close(loss.from_logits(logits, idx), loss.from_logits(logits, onehot))
    torch.testing.assert_close(loss(logits.softmax(-1), idx), loss(logits.softmax(-1), onehot))
    torch.testing.assert_close(loss.from_logits(logits, idx[:, None]), loss.from_logits(logits, idx))
    # integer one-hot (numpy int arrays) are probabilities, not indices
    torch.testing.assert_close(loss.from_logits(logits, onehot.long()), loss.from_logits(logits, onehot))


def test_categorical_on_sequences():
    logits = torch.randn(3, 4, C)  # (batch, time, classes)
    idx = torch.randint(0, C, (3, 4))
    loss = losses.get("categorical_crossentropy")
    expected = torch.nn.functional.cross_entropy(logits.reshape(-1, C), idx.reshape(-1))
    torch.testing.assert_close(loss.from_logits(logits, idx), expected)
    torch.testing.assert_close(loss.from_logits(logits, torch.nn.functional.one_hot(idx, C).float()), expected)


def test_softmax_categorical_takes_logits():
    logits = torch.randn(N, C)
    y = torch.randint(0, C, (N,))
    raw = losses.get("softmax_categorical_crossentropy")
    assert raw.fused_activation is None
    torch.testing.assert_close(raw(logits, y), losses.get("categorical_crossentropy").from_logits(logits, y))


def test_weighted_crossentropy_pos_weight():
    p = torch.rand(N, 1, dtype=torch.float64) * 0.98 + 0.01
    y = torch.randint(0, 2, (N, 1)).double()
    w = 3.0
    expected = np.mean(-(w * y.numpy() * np.log(p.numpy()) + (1 - y.numpy()) * np.log(1 - p.numpy())))
    loss = losses.WeightedCrossentropy(weight=w)
    np.testing.assert_allclose(loss(p, y).item(), expected, rtol=1e-10)
    logits = torch.logit(p)
    np.testing.assert_allclose(loss.from_logits(logits, y).item(), expected, rtol=1e-8)
    np.testing.assert_allclose(losses.weighted_crossentropy(p, y, w).item(), expected, rtol=1e-10)


def test_huber_delta_and_shapes():
    p, y = torch.randn(N, 1, dtype=torch.float64) * 3, torch.randn(N, dtype=torch.float64) * 3
    e = np.abs(p.numpy()[:, 0] - y.numpy())
    expected = np.mean(np.where(e <= 2.0, 0.5 * e**2, 2.0 * (e - 1.0)))
    np.testing.assert_allclose(losses.Huber(delta=2.0)(p, y).item(), expected, rtol=1e-10)
    # (N,) targets against (N, 1) outputs are not broadcast to (N, N)
    np.testing.assert_allclose(losses.get("mean_square")(p, y).item(), np.mean((p.numpy()[:, 0] - y.numpy()) ** 2))


def test_lookup_pass_through_and_functions():
    loss = losses.Huber(0.5)
    assert losses.get(loss) is loss
    assert isinstance(losses.get(losses.Huber), losses.Huber)
    fused = losses.get(losses.categorical_crossentropy)  # TFlearn functional name keeps its fused form
    assert fused.fused_activation == "softmax"
    custom = losses.get(lambda y_pred, y_true: (y_pred - y_true).abs().max())
    assert custom.fused_activation is None
    assert custom(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0])).item() == 3.0
    assert tflearn.losses is losses


def test_errors_are_clear():
    with pytest.raises(UnknownNameError, match="Did you mean 'mean_square'.*Valid names"):
        losses.get("mean_sqare", where="regression loss")
    with pytest.raises(TypeError, match="regression loss"):
        losses.get(3, where="regression loss")
    with pytest.raises(ValueError, match="huber_loss delta"):
        losses.Huber(delta=0)
    with pytest.raises(TypeError, match="weighted_crossentropy weight"):
        losses.WeightedCrossentropy(weight="2")
