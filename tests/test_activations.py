"""Tests for deepscope.activations: every registry entry, values, gradients, configs."""
from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import deepscope as tflearn
from deepscope import activations
from deepscope._registry import UnknownNameError

ALL_NAMES = activations.REGISTRY.names()
C = 4  # channels (dim 1)


def _input(name: str, shape=(3, C, 5, 5), dtype=torch.float32) -> torch.Tensor:
    """A tensor of ``shape``; maxout gets ``pieces`` times the channels."""
    shape = list(shape)
    if name == "maxout":
        shape[1] *= activations.Maxout.expansion
    return torch.randn(*shape, dtype=dtype)


@pytest.mark.parametrize("name", ALL_NAMES)
@pytest.mark.parametrize("shape", [(3, C), (3, C, 5, 5)])
def test_every_entry_builds_keeps_shape_and_backprops(name, shape):
    module = activations.get(name, num_features=C)
    assert isinstance(module, nn.Module)
    assert activations.get(name, num_features=C) is not module  # fresh each call
    x = _input(name, shape).requires_grad_()
    y = module(x)
    expected = list(shape)
    assert list(y.shape) == expected  # maxout brings n * k back to n
    y.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert getattr(module, "expansion", 1) == (2 if name == "maxout" else 1)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_entry_config_round_trip(name):
    module = activations.get(name, num_features=C)
    config = activations.to_config(module)
    config = json.loads(json.dumps(config))  # JSON-able
    assert config["name"] == activations.activation_name(module)
    rebuilt = activations.from_config(config, num_features=C)
    assert type(rebuilt) is type(module)
    assert activations.to_config(rebuilt) == config
    rebuilt.load_state_dict(module.state_dict())
    module.eval(), rebuilt.eval()
    x = _input(name)
    torch.testing.assert_close(rebuilt(x), module(x))


def test_config_with_options_and_get_accepts_dicts():
    m = activations.get({"name": "prelu", "alpha": 0.1}, num_features=3)
    assert isinstance(m, nn.PReLU) and m.weight.shape == (3,)
    torch.testing.assert_close(m.weight.detach(), torch.full((3,), 0.1))
    assert activations.to_config(activations.get({"name": "maxout", "pieces": 3})) == {"name": "maxout", "pieces": 3}
    with pytest.raises(TypeError, match="pieces"):
        activations.from_config({"name": "apl", "piece": 3})
    with pytest.raises(TypeError, match="name"):
        activations.from_config({"alpha": 0.2})


REFERENCES = {
    "linear": lambda x: x,
    "sigmoid": lambda x: 1 / (1 + torch.exp(-x)),
    "tanh": lambda x: (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x)),
    "relu": lambda x: torch.where(x > 0, x, 0.0),
    "relu6": lambda x: x.clamp(0, 6),
    "leaky_relu": lambda x: torch.where(x > 0, x, 0.1 * x),
    "lrelu": lambda x: torch.where(x > 0, x, 0.01 * x),
    "vlrelu": lambda x: torch.where(x > 0, x, x / 3),
    "elu": lambda x: torch.where(x > 0, x, torch.exp(x) - 1),
    "softplus": lambda x: torch.log(torch.exp(x) + 1),
    "centered_softplus": lambda x: torch.log(torch.exp(x) + 1) - math.log(2),
    "softsign": lambda x: x / (1 + x.abs()),
    "silu": lambda x: x / (1 + torch.exp(-x)),
    "gelu": lambda x: 0.5 * x * (1 + torch.erf(x / math.sqrt(2))),
    "softmax": lambda x: torch.exp(x) / torch.exp(x).sum(dim=1, keepdim=True),
    "prelu": lambda x: torch.where(x > 0, x, 0.25 * x),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_values_match_reference_formula(name):
    x = torch.linspace(-7, 7, 2 * 3 * 4, dtype=torch.float64).view(2, 3, 4)
    module = activations.get(name, num_features=3).double()
    torch.testing.assert_close(module(x), REFERENCES[name](x))


def test_centered_softplus_passes_through_origin():
    assert activations.get("centered_softplus")(torch.zeros(1)).item() == pytest.approx(0.0, abs=1e-7)


def test_maxout_reference():
    x = torch.randn(5, 6, 7)  # 3 units x 2 pieces, length 7
    y = activations.get("maxout")(x)
    expected = torch.stack([torch.maximum(x[:, 2 * j], x[:, 2 * j + 1]) for j in range(3)], dim=1)
    torch.testing.assert_close(y, expected)
    m3 = activations.Maxout(pieces=3)
    assert m3.expansion == 3 and activations.Maxout.expansion == 2
    assert m3(torch.randn(2, 9)).shape == (2, 3)
    with pytest.raises(ValueError, match="multiple of pieces=3"):
        m3(torch.randn(2, 8))


def test_apl_reference_and_broadcast_over_hw():
    apl = activations.get("apl", num_features=C)
    with torch.no_grad():
        apl.a.copy_(torch.randn(2, C))
        apl.b.copy_(torch.randn(2, C))
    x = torch.randn(3, C, 5, 6)  # (batch, channels, height, width)
    expected = x.clamp(min=0)
    for s in range(2):
        a, b = apl.a[s].view(1, C, 1, 1), apl.b[s].view(1, C, 1, 1)
        expected = expected + a * torch.clamp(-x + b, min=0)
    torch.testing.assert_close(apl(x), expected)
    # starts as a ReLU
    torch.testing.assert_close(activations.get("apl", num_features=C)(x), F.relu(x))
    shared = activations.get("apl")
    assert shared.a.shape == (2, 1) and shared(x).shape == x.shape
    with pytest.raises(ValueError, match="4 channels"):
        apl(torch.randn(2, 3))


def _gradcheck(module: nn.Module, x: torch.Tensor) -> None:
    module = module.double()
    assert torch.autograd.gradcheck(module, (x.double().requires_grad_(),), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("name", ["centered_softplus", "maxout", "vlrelu", "lrelu", "leaky_relu", "softmax", "elu"])
def test_gradcheck_float64(name):
    x = _input(name, (2, 3, 3), dtype=torch.float64)
    x = x + 0.05 * torch.sign(x)  # keep away from kinks
    _gradcheck(activations.get(name, num_features=3), x)


@pytest.mark.parametrize("name", ["prelu", "apl"])
def test_gradcheck_learnable_including_parameters(name):
    module = activations.get(name, num_features=3).double()
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.rand_like(p) * 0.5 + 0.1)
    x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    names = [n for n, _ in module.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in module.parameters())

    def fn(inp, *values):  # gradcheck w.r.t. the input and the parameters together
        return torch.func.functional_call(module, dict(zip(names, values)), (inp,))

    assert torch.autograd.gradcheck(fn, (x, *params), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("name", ["prelu", "apl"])
def test_learnable_parameters_receive_gradients(name):
    module = activations.get(name, num_features=C)
    n_params = sum(p.numel() for p in module.parameters())
    assert n_params == (C if name == "prelu" else 2 * 2 * C)
    x = torch.randn(8, C, 3, 3)
    # APL starts as a ReLU (a = 0), so its hinges b get gradient from the second step on
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1)
    for _ in range(2):
        optimizer.zero_grad()
        module(x).sum().backward()
        optimizer.step()
    for p in module.parameters():
        assert p.grad is not None and (p.grad.abs() > 0).all()


def test_prelu_without_num_features_shares_one_alpha():
    m = activations.get("prelu")
    assert m.weight.shape == (1,)
    assert m(torch.randn(2, 7, 3)).shape == (2, 7, 3)


def test_rrelu_random_only_in_training():
    m = activations.get("rrelu")
    x = -torch.ones(2000)
    m.train()
    slopes = m(x) / x
    assert slopes.std() > 0.05 and 0.1 <= slopes.min() and slopes.max() <= 0.5
    m.eval()
    y1, y2 = m(x), m(x)
    torch.testing.assert_close(y1, y2)
    torch.testing.assert_close(y1 / x, torch.full_like(x, 0.3))


def test_none_functions_modules_and_classes():
    assert isinstance(activations.get(None), nn.Identity)
    assert isinstance(activations.get("none"), nn.Identity)
    relu = nn.ReLU()
    assert activations.get(relu) is relu
    assert isinstance(activations.get(nn.Tanh), nn.Tanh)
    assert isinstance(activations.get(activations.relu), nn.ReLU)  # TFlearn functional form
    lrelu = activations.get(activations.leaky_relu)
    assert isinstance(lrelu, nn.LeakyReLU) and lrelu.negative_slope == 0.1
    wrapped = activations.get(torch.sin)
    torch.testing.assert_close(wrapped(torch.ones(2)), torch.sin(torch.ones(2)))
    assert activations.activation_name(wrapped) == "sin"
    with pytest.raises(ValueError, match="registered"):
        activations.to_config(wrapped)


def test_user_registered_class_round_trips():
    class Square(nn.Module):
        def forward(self, x):
            return x * x

    activations.REGISTRY.add("test_square", Square)
    m = activations.get("test_square")
    assert isinstance(m, Square)
    assert activations.from_config(activations.to_config(m)).__class__ is Square


def test_unknown_name_lists_valid_names():
    with pytest.raises(UnknownNameError) as info:
        activations.get("rleu", where="fully_connected 'fc1' activation")
    message = str(info.value)
    assert "fully_connected 'fc1' activation" in message and "'relu'" in message
    for name in ("relu", "prelu", "maxout", "softmax"):
        assert name in message
    with pytest.raises(TypeError, match="Valid names"):
        activations.get(3)


def test_tflearn_spellings_and_functional_forms():
    import deepscope.activations as tfa  # `tflearn.activations` in user code

    assert tfa is tflearn.activations
    x = torch.randn(4, 5)
    torch.testing.assert_close(tfa.leaky_relu(x), F.leaky_relu(x, 0.1))
    torch.testing.assert_close(tfa.softmax(x).sum(1), torch.ones(4))
    assert tfa.crelu(x).shape == (4, 10)
    torch.testing.assert_close(tfa.prelu(x, torch.tensor([0.2])), F.prelu(x, torch.tensor([0.2])))
    for fn in (tfa.linear, tfa.tanh, tfa.sigmoid, tfa.softplus, tfa.softsign, tfa.relu, tfa.relu6,
               tfa.elu, tfa.selu, tfa.gelu, tfa.swish, tfa.centered_softplus):
        assert fn(x).shape == x.shape
    for spelling in ("LReLU", "Leaky-ReLU", "PReLU", "ELU", "Swish", "VLReLU"):
        assert isinstance(activations.get(spelling, num_features=3), nn.Module)


def test_bad_option_values_are_clear():
    with pytest.raises(ValueError, match="rrelu upper"):
        activations.from_config({"name": "rrelu", "lower": 0.5, "upper": 0.1})
    with pytest.raises(ValueError, match="num_features"):
        activations.get("prelu", num_features=0)
