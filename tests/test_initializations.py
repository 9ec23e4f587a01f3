"""Tests for deepscope.initializations: every registry entry, statistics, 'auto', configs."""
from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

import deepscope as tflearn
from deepscope import activations
from deepscope import initializations as inits
from deepscope._registry import UnknownNameError

ALL_NAMES = inits.REGISTRY.names()


@pytest.mark.parametrize("name", ALL_NAMES)
@pytest.mark.parametrize("shape", [(16, 8), (6, 3, 3, 3), (7,), ()])
def test_every_entry_fills_in_place(name, shape):
    tensor = torch.full(shape, float("nan"))
    initializer = inits.get(name)
    assert isinstance(initializer, inits.Initializer)
    out = initializer(tensor)
    assert out is tensor and torch.isfinite(tensor).all()


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_entry_config_round_trip_and_seed(name):
    initializer = inits.get(name)
    config = json.loads(json.dumps(initializer.config))
    rebuilt = inits.from_config(config)
    assert rebuilt.config == initializer.config
    if "seed" in config:
        seeded = inits.from_config({**config, "seed": 3})
        a, b = seeded(torch.empty(10, 20)), seeded(torch.empty(10, 20))
        torch.testing.assert_close(a, b)  # the same seed draws the same values


def _he_std(fan_in: int, slope: float = 0.0) -> float:
    return math.sqrt(2.0 / ((1 + slope ** 2) * fan_in))


def test_auto_pairs_he_with_relu_and_glorot_with_tanh():
    weight = torch.empty(300, 400)  # Linear (out, in): fan_in 400, fan_out 300
    he = inits.get("auto", activation="relu")
    assert he.config["name"] == "he" and he.config["nonlinearity"] == "relu"
    assert he(weight).std().item() == pytest.approx(_he_std(400), rel=0.02)
    glorot = inits.get("auto", activation="tanh")
    assert glorot.config["name"] == "glorot_uniform"
    assert glorot(weight).std().item() == pytest.approx(math.sqrt(2.0 / 700), rel=0.02)
    bound = math.sqrt(6.0 / 700)
    assert weight.abs().max().item() <= bound


def test_auto_conv_fans_and_module_slopes():
    weight = torch.empty(64, 32, 3, 3)  # Conv (out, in, kh, kw): fan_in 288
    inits.get("auto", activation="elu")(weight)
    assert weight.std().item() == pytest.approx(_he_std(288), rel=0.03)
    lrelu = activations.get("vlrelu")
    init = inits.get("auto", activation=lrelu)
    assert init.config["nonlinearity"] == "leaky_relu" and init.config["alpha"] == pytest.approx(1 / 3)
    assert init(weight).std().item() == pytest.approx(_he_std(288, 1 / 3), rel=0.03)
    assert inits.get("auto", activation=nn.PReLU(init=0.1)).config["alpha"] == pytest.approx(0.1)
    assert inits.get("auto", activation="lrelu").config["alpha"] == pytest.approx(0.01)


@pytest.mark.parametrize("name", activations.REGISTRY.names())
def test_auto_covers_every_activation(name):
    family = inits.get("auto", activation=name).config["name"]
    glorot = {"linear", "none", "identity", "sigmoid", "hard_sigmoid", "tanh", "softmax", "softsign"}
    assert family == ("glorot_uniform" if name in glorot else "he")


def test_auto_defaults_and_selu_lecun():
    assert inits.get(None).config["name"] == "glorot_uniform"
    assert inits.get("auto").config["name"] == "glorot_uniform"
    assert inits.get("auto", activation=activations.get("maxout")).config["nonlinearity"] == "relu"
    assert inits.get("auto", activation="selu").config["nonlinearity"] == "linear"


@pytest.mark.parametrize("factory, std", [
    (lambda: inits.normal(stddev=0.1), 0.1),
    (lambda: inits.truncated_normal(mean=0.0, stddev=0.1), 0.1 * 0.8796),
    (lambda: inits.uniform(minval=-1.0, maxval=1.0), 1 / math.sqrt(3)),
    (lambda: inits.uniform_scaling(factor=1.0), 1 / math.sqrt(400)),  # sqrt(3/fan_in)/sqrt(3)
    (lambda: inits.variance_scaling(), math.sqrt(2 / 400)),
    (lambda: inits.variance_scaling(factor=1.0, mode="FAN_AVG", uniform=True), math.sqrt(2 / 700)),
    (lambda: inits.xavier(uniform=False), math.sqrt(2 / 700)),
    (lambda: inits.glorot_normal(), math.sqrt(2 / 700)),
    (lambda: inits.he_uniform(), math.sqrt(2 / 400)),
    (lambda: inits.he(mode="fan_out"), math.sqrt(2 / 300)),
])
def test_distribution_statistics(factory, std):
    weight = factory()(torch.empty(300, 400))
    assert weight.std().item() == pytest.approx(std, rel=0.02)


def test_truncated_normal_bounds_and_tflearn_defaults():
    w = inits.truncated_normal()(torch.empty(200, 200))
    assert w.abs().max().item() <= 0.04 + 1e-6  # 2 * stddev 0.02
    assert inits.uniform()(torch.empty(1000)).min().item() >= 0.0  # minval 0, maxval 1
    assert inits.variance_scaling().config == {
        "name": "variance_scaling", "factor": 2.0, "mode": "FAN_IN", "uniform": False, "seed": None}
    assert inits.xavier().config["uniform"] is True


def test_shape_argument_returns_a_tensor():
    t = inits.normal(shape=[3, 4], stddev=1.0)
    assert isinstance(t, torch.Tensor) and t.shape == (3, 4)
    assert inits.zeros(shape=(2,)).eq(0).all()


def test_orthogonal_and_zeros():
    w = inits.orthogonal()(torch.empty(20, 50))
    torch.testing.assert_close(w @ w.T, torch.eye(20), atol=1e-5, rtol=0)
    v = inits.orthogonal(gain=2.0)(torch.empty(9))
    assert v.norm().item() == pytest.approx(2.0, rel=1e-5)
    assert inits.get("zeros")(torch.ones(3, 3)).eq(0).all()


def test_wrapped_callables_and_pass_through():
    init = inits.normal(stddev=0.5)
    assert inits.get(init) is init
    w = inits.get(nn.init.ones_)(torch.zeros(2, 2))
    assert w.eq(1).all()
    w = inits.get(lambda t: torch.full_like(t, 7.0))(torch.zeros(2, 2))  # a returned tensor is copied in
    assert w.eq(7).all()
    assert inits.get({"name": "normal", "stddev": 0.3}).config["stddev"] == 0.3


def test_fills_parameters_without_grad_errors():
    layer = nn.Linear(5, 3)
    inits.get("he")(layer.weight)
    assert layer.weight.requires_grad and layer.weight.grad_fn is None


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match="normal stddev"):
        inits.normal(stddev=-1.0)
    with pytest.raises(ValueError, match="truncated_normal stddev"):
        inits.truncated_normal(stddev=0.0)
    with pytest.raises(ValueError, match="FAN_IN"):
        inits.variance_scaling(mode="fan_sideways")
    with pytest.raises(ValueError, match="uniform maxval"):
        inits.uniform(minval=1.0, maxval=0.5)
    with pytest.raises(TypeError, match="options"):
        inits.from_config({"name": "normal", "std": 0.1})
    with pytest.raises(TypeError, match="torch.Tensor"):
        inits.zeros()([1, 2])
    with pytest.raises(UnknownNameError) as info:
        inits.get("xaiver", where="conv_2d 'c1' weights_init")
    message = str(info.value)
    assert "conv_2d 'c1' weights_init" in message and "'xavier'" in message and "truncated_normal" in message
    with pytest.raises(TypeError, match="Valid names"):
        inits.get(3.5)


def test_importable_the_tflearn_way():
    import deepscope.initializations as tfi

    assert tfi is tflearn.initializations
    assert callable(tfi.xavier()) and callable(tfi.truncated_normal(stddev=0.01))
