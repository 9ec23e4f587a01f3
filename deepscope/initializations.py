"""Weight initializers: TFlearn's constructors and names, sampling with ``torch.nn.init``.

An ``Initializer`` fills a tensor **in place** and returns it: ``normal(stddev=0.1)(weight)``.
Fans use PyTorch layouts (Linear ``(out, in)``, Conv ``(out, in, kh, kw)``); a 1-D or 0-D tensor
(a bias) uses ``fan_in = fan_out = numel`` as TensorFlow does, so no initializer fails on it.
Each initializer carries a JSON-able ``config`` (``{"name": "normal", "mean": 0.0, ...}``) that
``from_config`` turns back into an equal initializer. With ``seed``, every call draws the same
values (TensorFlow's op-level seed).

``'auto'`` (the layers' default) pairs with the activation: He normal (Kaiming, fan_in) for
ReLU-like units, with the leaky gain ``sqrt(2 / (1 + alpha^2))`` for leaky/randomized/parametric
ReLUs; LeCun normal for SELU; Glorot uniform for tanh, sigmoid, softmax, softsign, linear and
for unknown activations.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn
from torch.nn import init

from deepscope._checks import check_choice, check_float, check_int, check_shape_list, fail
from deepscope._registry import Registry, _normalize
from deepscope.activations import activation_name

__all__ = [
    "REGISTRY", "Initializer", "get", "from_config", "auto", "zeros", "ones", "constant", "uniform",
    "uniform_scaling", "normal", "truncated_normal", "xavier", "variance_scaling", "he", "he_normal",
    "he_uniform", "glorot_uniform", "glorot_normal", "orthogonal",
]

REGISTRY = Registry("initializer")
_TRUNC_STD = 0.87962566103423978  # std of a unit normal truncated to [-2, 2]


class Initializer:
    """A callable filling a tensor in place.

    Args:
        fill: ``fill(tensor, generator)`` writing values into ``tensor`` (under ``no_grad``).
        config: JSON-able ``{"name": ..., **arguments}``; ``config["seed"]`` seeds each call.
    """

    def __init__(self, fill: Callable[[torch.Tensor, torch.Generator | None], Any], config: dict):
        self._fill = fill
        self.config = config

    @property
    def name(self) -> str:
        return self.config["name"]

    def __call__(self, tensor: torch.Tensor) -> torch.Tensor:
        if not isinstance(tensor, torch.Tensor):
            fail(f"initializer {self.name!r}", "a torch.Tensor to fill in place", type(tensor).__name__,
                 error=TypeError)
        seed = self.config.get("seed")
        generator = None if seed is None else torch.Generator(device=tensor.device).manual_seed(seed)
        if tensor.numel() > 0:
            with torch.no_grad():
                self._fill(tensor, generator)
        return tensor

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items() if k != "name")
        return f"Initializer.{self.name}({args})"


def _make(name: str, fill: Callable, shape: Any = None, **config: Any) -> Initializer | torch.Tensor:
    """An Initializer; or, TFlearn-style, a new filled tensor when ``shape`` is given."""
    if config.get("seed") is not None:
        config["seed"] = check_int(config["seed"], f"{name} seed", minimum=0)
    initializer = Initializer(fill, {"name": name, **config})
    if shape is None:
        return initializer
    dims = check_shape_list(shape, f"{name} shape")
    if dims[0] is None:
        fail(f"{name} shape", "fully known sizes (no None)", shape)
    return initializer(torch.empty(dims))


def _fans(tensor: torch.Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) in PyTorch layout; ``numel`` for both when the tensor is 0-D or 1-D."""
    if tensor.dim() < 2:
        n = max(tensor.numel(), 1)
        return n, n
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


_MODES = ("FAN_IN", "FAN_OUT", "FAN_AVG")


def _scaled(tensor: torch.Tensor, generator, scale: float, mode: str, distribution: str) -> None:
    """Fill with variance ``scale / fan`` (fan chosen by ``mode``), the shared He/Glorot core."""
    fan_in, fan_out = _fans(tensor)
    fan = {"FAN_IN": fan_in, "FAN_OUT": fan_out, "FAN_AVG": (fan_in + fan_out) / 2}[mode]
    std = math.sqrt(scale / fan)
    if distribution == "uniform":
        init.uniform_(tensor, -math.sqrt(3.0) * std, math.sqrt(3.0) * std, generator=generator)
    elif distribution == "normal":
        init.normal_(tensor, 0.0, std, generator=generator)
    else:  # truncated at 2 std, widened so the result still has standard deviation ``std``
        std = std / _TRUNC_STD
        init.trunc_normal_(tensor, 0.0, std, -2 * std, 2 * std, generator=generator)


# ---------------------------------------------------------------- TFlearn constructors
def zeros(shape: Any = None) -> Initializer | torch.Tensor:
    """All zeros."""
    return _make("zeros", lambda t, g: init.zeros_(t), shape)


def ones(shape: Any = None) -> Initializer | torch.Tensor:
    """All ones."""
    return _make("ones", lambda t, g: init.ones_(t), shape)


def constant(value: float = 0.0, shape: Any = None) -> Initializer | torch.Tensor:
    """Every entry equal to ``value``."""
    value = check_float(value, "constant value")
    return _make("constant", lambda t, g: init.constant_(t, value), shape, value=value)


def uniform(shape: Any = None, minval: float = 0.0, maxval: float | None = None,
            seed: int | None = None) -> Initializer | torch.Tensor:
    """U(minval, maxval); ``maxval=None`` means 1 (as TensorFlow's ``random_uniform``)."""
    minval = check_float(minval, "uniform minval")
    maxval = check_float(1.0 if maxval is None else maxval, "uniform maxval", minimum=minval,
                         min_inclusive=False)
    return _make("uniform", lambda t, g: init.uniform_(t, minval, maxval, generator=g), shape,
                 minval=minval, maxval=maxval, seed=seed)


def uniform_scaling(shape: Any = None, factor: float = 1.0, seed: int | None = None) -> Initializer | torch.Tensor:
    """U(-b, b) with ``b = factor * sqrt(3 / fan_in)`` (TensorFlow's uniform unit scaling)."""
    factor = check_float(factor, "uniform_scaling factor", minimum=0.0, min_inclusive=False)
    return _make("uniform_scaling", lambda t, g: _scaled(t, g, factor ** 2, "FAN_IN", "uniform"),
                 shape, factor=factor, seed=seed)


def normal(shape: Any = None, mean: float = 0.0, stddev: float = 0.02,
           seed: int | None = None) -> Initializer | torch.Tensor:
    """N(mean, stddev^2)."""
    mean = check_float(mean, "normal mean")
    stddev = check_float(stddev, "normal stddev", minimum=0.0, min_inclusive=False)
    return _make("normal", lambda t, g: init.normal_(t, mean, stddev, generator=g), shape,
                 mean=mean, stddev=stddev, seed=seed)


def truncated_normal(shape: Any = None, mean: float = 0.0, stddev: float = 0.02,
                     seed: int | None = None) -> Initializer | torch.Tensor:
    """N(mean, stddev^2) redrawn outside ``mean +- 2 stddev`` (TFlearn's layer default)."""
    mean = check_float(mean, "truncated_normal mean")
    stddev = check_float(stddev, "truncated_normal stddev", minimum=0.0, min_inclusive=False)
    fill = lambda t, g: init.trunc_normal_(t, mean, stddev, mean - 2 * stddev, mean + 2 * stddev, generator=g)
    return _make("truncated_normal", fill, shape, mean=mean, stddev=stddev, seed=seed)


def variance_scaling(factor: float = 2.0, mode: str = "FAN_IN", uniform: bool = False,
                     seed: int | None = None) -> Initializer:
    """Variance ``factor / n``, ``n`` = fan_in, fan_out or their mean (``mode``).

    ``uniform=False`` draws a truncated normal (2 std) rescaled to that variance, as TFlearn.
    The default (factor 2, FAN_IN) is He et al. 2015.
    """
    factor = check_float(factor, "variance_scaling factor", minimum=0.0, min_inclusive=False)
    mode = check_choice(mode.upper() if isinstance(mode, str) else mode, "variance_scaling mode", _MODES)
    uniform = bool(uniform)
    dist = "uniform" if uniform else "truncated_normal"
    return _make("variance_scaling", lambda t, g: _scaled(t, g, factor, mode, dist),
                 factor=factor, mode=mode, uniform=uniform, seed=seed)


def xavier(uniform: bool = True, seed: int | None = None) -> Initializer:
    """Glorot & Bengio 2010: variance ``2 / (fan_in + fan_out)`` (TFlearn's ``xavier``)."""
    uniform = bool(uniform)
    dist = "uniform" if uniform else "truncated_normal"
    return _make("xavier", lambda t, g: _scaled(t, g, 1.0, "FAN_AVG", dist), uniform=uniform, seed=seed)


def glorot_uniform(gain: float = 1.0, seed: int | None = None) -> Initializer:
    """U(-b, b), ``b = gain * sqrt(6 / (fan_in + fan_out))`` (``init.xavier_uniform_``)."""
    gain = check_float(gain, "glorot_uniform gain", minimum=0.0, min_inclusive=False)
    return _make("glorot_uniform", lambda t, g: _scaled(t, g, gain ** 2, "FAN_AVG", "uniform"),
                 gain=gain, seed=seed)


def glorot_normal(gain: float = 1.0, seed: int | None = None) -> Initializer:
    """N(0, gain^2 * 2 / (fan_in + fan_out)) (``init.xavier_normal_``)."""
    gain = check_float(gain, "glorot_normal gain", minimum=0.0, min_inclusive=False)
    return _make("glorot_normal", lambda t, g: _scaled(t, g, gain ** 2, "FAN_AVG", "normal"),
                 gain=gain, seed=seed)


_NONLINEARITIES = ("relu", "leaky_relu", "linear", "tanh", "sigmoid", "selu")


def he(uniform: bool = False, nonlinearity: str = "relu", alpha: float | None = None,
       mode: str = "FAN_IN", seed: int | None = None) -> Initializer:
    """He / Kaiming et al. 2015: std ``gain / sqrt(fan)``, gain from ``init.calculate_gain``.

    Args:
        uniform: U(-sqrt(3) std, sqrt(3) std) instead of N(0, std^2).
        nonlinearity: 'relu' (gain sqrt 2), 'leaky_relu' (gain sqrt(2 / (1 + alpha^2))),
            'linear' (gain 1: LeCun), 'tanh', 'sigmoid', 'selu'.
        alpha: negative slope for 'leaky_relu' (``None``: torch's 0.01).
        mode: 'FAN_IN' (preserves forward variance) or 'FAN_OUT' (backward).
    """
    uniform = bool(uniform)
    nonlinearity = check_choice(nonlinearity, "he nonlinearity", _NONLINEARITIES)
    if alpha is not None:
        alpha = check_float(alpha, "he alpha")
    mode = check_choice(mode.upper() if isinstance(mode, str) else mode, "he mode", _MODES)
    gain = init.calculate_gain(nonlinearity, alpha)
    dist = "uniform" if uniform else "normal"
    return _make("he", lambda t, g: _scaled(t, g, gain ** 2, mode, dist), uniform=uniform,
                 nonlinearity=nonlinearity, alpha=alpha, mode=mode, seed=seed)


def he_normal(nonlinearity: str = "relu", alpha: float | None = None, mode: str = "FAN_IN",
              seed: int | None = None) -> Initializer:
    """He normal (``init.kaiming_normal_``)."""
    return he(False, nonlinearity, alpha, mode, seed)


def he_uniform(nonlinearity: str = "relu", alpha: float | None = None, mode: str = "FAN_IN",
               seed: int | None = None) -> Initializer:
    """He uniform (``init.kaiming_uniform_``)."""
    return he(True, nonlinearity, alpha, mode, seed)


def orthogonal(gain: float = 1.0, seed: int | None = None) -> Initializer:
    """Saxe et al. 2014 (``init.orthogonal_``); a 1-D tensor becomes a vector of norm ``gain``."""
    gain = check_float(gain, "orthogonal gain", minimum=0.0, min_inclusive=False)
    fill = lambda t, g: init.orthogonal_(t if t.dim() >= 2 else t.view(1, -1), gain, generator=g)
    return _make("orthogonal", fill, gain=gain, seed=seed)


# ---------------------------------------------------------------- 'auto' pairing
_RELU_LIKE = {"relu", "relu6", "elu", "gelu", "silu", "swish", "mish", "softplus", "centeredsoftplus",
              "maxout", "apl", "crelu"}
_LEAKY_DEFAULTS = {"leakyrelu": 0.1, "lrelu": 0.01, "vlrelu": 1 / 3, "rrelu": 0.3, "prelu": 0.25}


def auto(activation: Any = None) -> Initializer:
    """The initializer paired with ``activation`` (a name, module or ``None`` for linear).

    He normal for ReLU-like units (leaky gain for leaky/randomized/parametric ReLUs, reading the
    slope from a built module), LeCun normal for SELU, Glorot uniform otherwise.
    """
    slope = None
    if isinstance(activation, nn.Module):
        name = activation_name(activation)
        if isinstance(activation, nn.LeakyReLU):
            slope = activation.negative_slope
        elif isinstance(activation, nn.RReLU):
            slope = (activation.lower + activation.upper) / 2
        elif isinstance(activation, nn.PReLU):
            slope = activation.init
    else:
        name = activation if isinstance(activation, str) else getattr(activation, "__name__", "linear")
    key = _normalize(name)
    if key in _LEAKY_DEFAULTS:
        return he_normal("leaky_relu", _LEAKY_DEFAULTS[key] if slope is None else float(slope))
    if key in _RELU_LIKE:
        return he_normal("relu")
    if key == "selu":
        return he_normal("linear")
    return glorot_uniform()


# ---------------------------------------------------------------- registry and lookup
for _names, _fn in [
    (("auto",), auto), (("zeros", "zero"), zeros), (("ones",), ones), (("constant",), constant),
    (("uniform",), uniform), (("uniform_scaling",), uniform_scaling), (("normal",), normal),
    (("truncated_normal",), truncated_normal), (("xavier",), xavier),
    (("variance_scaling",), variance_scaling), (("he",), he),
    (("he_normal", "kaiming", "kaiming_normal"), he_normal),
    (("he_uniform", "kaiming_uniform"), he_uniform), (("glorot_uniform", "glorot"), glorot_uniform),
    (("glorot_normal",), glorot_normal), (("orthogonal",), orthogonal),
]:
    for _name in _names:
        REGISTRY.add(_name, _fn)


def get(identifier: Any = "auto", activation: Any = None, where: str | None = None) -> Initializer:
    """An initializer.

    Args:
        identifier: a registered name (``'auto'``, ``'truncated_normal'``, ``'he'``...), ``None``
            (same as ``'auto'``), an ``Initializer`` (returned as is), a config dict, or a function
            filling a tensor in place (e.g. ``torch.nn.init.xavier_uniform_``), which is wrapped.
        activation: the layer's activation (name or module), used by ``'auto'``.
        where: the argument and layer asking, for error messages.
    """
    where = where or "initializer"
    if identifier is None:
        return auto(activation)
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, dict):
        return from_config(identifier, where)
    if isinstance(identifier, str):
        factory = REGISTRY.get(identifier, where=where)
        return factory(activation) if factory is auto else factory()
    fn = REGISTRY.get(identifier, where=where)  # callables pass; anything else raises

    def fill(tensor: torch.Tensor, generator) -> None:
        result = fn(tensor)
        if isinstance(result, torch.Tensor) and result is not tensor:
            tensor.copy_(result)

    return Initializer(fill, {"name": getattr(fn, "__name__", "custom")})


def from_config(config: dict, where: str | None = None) -> Initializer:
    """Rebuild an initializer from its ``config`` (``{"name": "normal", "stddev": 0.1}``)."""
    where = where or "initializer"
    if not isinstance(config, dict) or not isinstance(config.get("name"), str):
        fail(where, 'a config dict with a "name", e.g. {"name": "normal", "stddev": 0.1}', config,
             error=TypeError)
    factory = REGISTRY.get(config["name"], where=where)
    options = {k: v for k, v in config.items() if k != "name"}
    try:
        return factory(**options)
    except TypeError as error:
        fail(f"{where} {config['name']!r}", "options accepted by that initializer", options,
             f"({error})", error=TypeError)
