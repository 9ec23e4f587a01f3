"""Optimizers: TFlearn arguments mapped into torch, schedules, update rules and clear errors."""
from __future__ import annotations

import json
import math

import pytest
import torch

import deepscope as tflearn
from deepscope import optimizers
from deepscope._registry import UnknownNameError

NAMES = optimizers.REGISTRY.names()


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))


def _train(opt, scheduler, model, steps):
    x, y = torch.randn(32, 4), torch.randn(32, 1)
    losses, lrs = [], []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.item())
    return losses, lrs


@pytest.mark.parametrize("name", NAMES)
def test_every_registered_optimizer(name):
    cls = optimizers.get(name)
    assert issubclass(cls, optimizers.Optimizer)
    spec = cls(learning_rate=0.05) if name != "adadelta" else cls(learning_rate=1.0, rho=0.9)
    model = _model()
    opt, scheduler = spec.build(model.parameters(), total_steps=30)
    assert isinstance(opt, spec.torch_class) and scheduler is None
    assert opt.param_groups[0]["lr"] == spec.learning_rate
    losses, _ = _train(opt, scheduler, model, 30)
    assert losses[-1] < losses[0]
    config = json.loads(json.dumps(spec.config))
    assert type(spec)(**config).config == spec.config
    assert getattr(tflearn.optimizers, type(spec).__name__) is cls


def test_hyperparameters_reach_torch():
    params = list(_model().parameters())

    def group(spec):
        return spec.build(params)[0].param_groups[0]

    g = group(optimizers.Momentum(0.1, momentum=0.8))
    assert (g["lr"], g["momentum"], g["nesterov"], g["dampening"]) == (0.1, 0.8, False, 0)
    assert group(optimizers.Nesterov(0.1, momentum=0.7))["nesterov"] is True
    g = group(optimizers.Adam(0.01, beta1=0.8, beta2=0.99, epsilon=1e-6))
    assert (g["betas"], g["eps"], g["weight_decay"]) == ((0.8, 0.99), 1e-6, 0)
    g = group(optimizers.AdamW(0.01, weight_decay=0.05, beta1=0.85))
    assert (g["weight_decay"], g["betas"]) == (0.05, (0.85, 0.999))
    g = group(optimizers.RMSProp(0.01, decay=0.8, momentum=0.5, epsilon=1e-6))
    assert (g["alpha"], g["momentum"], g["eps"]) == (0.8, 0.5, pytest.approx(1e-3))
    g = group(optimizers.AdaGrad(0.01, initial_accumulator_value=0.3))
    assert g["initial_accumulator_value"] == 0.3
    g = group(optimizers.AdaDelta())
    assert (g["lr"], g["rho"], g["eps"]) == (0.001, 0.1, 1e-8)  # TFlearn's defaults
    for spec in (optimizers.SGD(), optimizers.Adam(), optimizers.AdamW(), optimizers.AdaGrad()):
        assert group(spec)["fused"] is True  # the fastest kernels on CPU (see optimizers.py)


def test_momentum_matches_tensorflow_rule():
    """TF: accum = m * accum + g; w -= lr * accum (torch's SGD momentum is the same)."""
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    opt, _ = optimizers.Momentum(0.1, momentum=0.9).build([w])
    ref, accum = w.detach().clone(), torch.zeros(2, dtype=torch.float64)
    for _ in range(4):
        opt.zero_grad()
        (w ** 3).sum().backward()
        g = 3 * ref ** 2
        accum = 0.9 * accum + g
        ref = ref - 0.1 * accum
        opt.step()
        torch.testing.assert_close(w.detach(), ref)


@pytest.mark.parametrize("staircase", [False, True])
def test_tflearn_lr_decay(staircase):
    spec = optimizers.SGD(0.5, lr_decay=0.9, decay_step=10, staircase=staircase)
    opt, scheduler = spec.build(_model().parameters(), total_steps=100)
    _, lrs = _train(opt, scheduler, _model(), 35)
    for step in (0, 1, 9, 10, 15, 34):
        exponent = step // 10 if staircase else step / 10
        assert lrs[step] == pytest.approx(0.5 * 0.9 ** exponent)


@pytest.mark.parametrize("schedule", optimizers.SCHEDULES)
@pytest.mark.parametrize("name", ["sgd", "momentum", "adam", "rmsprop", "adagrad"])
def test_every_schedule_runs(schedule, name):
    model = _model()
    spec = optimizers.get(name)(learning_rate=0.01, schedule=schedule)
    opt, scheduler = spec.build(model.parameters(), total_steps=300)
    momentum_before = opt.param_groups[0].get("momentum")
    _, lrs = _train(opt, scheduler, model, 300)
    assert all(math.isfinite(lr) and lr >= 0 for lr in lrs)
    if schedule == "step":
        assert lrs[99] == pytest.approx(0.01) and lrs[100] == pytest.approx(0.001)
    elif schedule == "exponential":
        assert lrs[-1] == pytest.approx(0.01 * 0.01 ** (299 / 300))
    elif schedule == "cosine":
        assert lrs[0] == pytest.approx(0.01) and lrs[-1] < 1e-5
    else:
        assert max(lrs) == pytest.approx(0.01, rel=1e-3) and lrs[0] < 0.001
        if name == "sgd":  # plain SGD does not become momentum SGD
            assert opt.param_groups[0]["momentum"] == momentum_before == 0


def test_schedule_args_and_callable():
    spec = optimizers.Adam(0.1, schedule="step", schedule_args={"step_size": 5, "gamma": 0.5})
    opt, scheduler = spec.build(_model().parameters())
    _, lrs = _train(opt, scheduler, _model(), 11)
    assert (lrs[4], lrs[5], lrs[10]) == (pytest.approx(0.1), pytest.approx(0.05), pytest.approx(0.025))

    def warmup(step):
        return min(1.0, (step + 1) / 4)

    spec = optimizers.SGD(0.2, schedule=warmup)
    opt, scheduler = spec.build(_model().parameters())
    _, lrs = _train(opt, scheduler, _model(), 5)
    assert lrs == pytest.approx([0.05, 0.1, 0.15, 0.2, 0.2])
    assert spec.config["schedule"] is warmup  # (kept as is: a clone gets it; saving a model refuses it)


def test_bad_arguments_get_clear_errors():
    with pytest.raises(ValueError, match=r"Adam learning_rate: expected a number > 0.*got -0.1.*learning_rate=0.001"):
        optimizers.Adam(learning_rate=-0.1)
    with pytest.raises(ValueError, match="SGD learning_rate"):
        optimizers.SGD(0)
    with pytest.raises(TypeError, match="Momentum learning_rate: expected a number, got '0.1'"):
        optimizers.Momentum("0.1")
    with pytest.raises(ValueError, match="finite"):
        optimizers.RMSProp(float("nan"))
    with pytest.raises(ValueError, match="Momentum momentum"):
        optimizers.Momentum(0.1, momentum=1.5)
    with pytest.raises(ValueError, match="Adam beta2"):
        optimizers.Adam(beta2=1.0)
    with pytest.raises(ValueError, match="SGD decay_step"):
        optimizers.SGD(0.1, lr_decay=0.9, decay_step=0)
    with pytest.raises(ValueError, match="one of 'step', 'exponential', 'cosine', 'one_cycle'"):
        optimizers.SGD(0.1, schedule="linear")
    with pytest.raises(ValueError, match="lr_decay=0 when schedule is given"):
        optimizers.SGD(0.1, lr_decay=0.9, schedule="cosine")
    with pytest.raises(TypeError, match="cosine.*total_steps"):
        optimizers.SGD(0.1, schedule="cosine").build(_model().parameters())
    with pytest.raises(TypeError, match="bad schedule_args"):
        optimizers.SGD(0.1, schedule="step", schedule_args={"stepsize": 3}).build(_model().parameters())
    with pytest.raises(UnknownNameError, match="Did you mean 'adam'"):
        optimizers.get("adma", where="regression optimizer")
    with pytest.raises(TypeError, match="regression optimizer: expected an optimizer name"):
        optimizers.get(torch.optim.Adam, where="regression optimizer")


def test_get_passes_objects_through():
    spec = optimizers.Adam(0.01)
    assert optimizers.get(spec) is spec
    assert optimizers.get(optimizers.RMSProp) is optimizers.RMSProp
    assert optimizers.get("AdaGrad") is optimizers.AdaGrad
