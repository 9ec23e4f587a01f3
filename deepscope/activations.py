"""Activation functions: TFlearn's names, mapped onto ``torch.nn`` modules.

``get('relu')`` returns a fresh ``nn.Module``; inside a layer the channel / feature dimension is
dim 1, so learnable activations (PReLU, APL) own one parameter set per channel of dim 1.
Modules that torch already has are returned as plain torch modules (``nn.ReLU``, ``nn.PReLU``);
only centered softplus, maxout and APL are defined here.

Defaults worth knowing:
- ``'leaky_relu'`` uses alpha=0.1 (TFlearn's ``leaky_relu`` default); ``'lrelu'`` uses 0.01
  (Maas et al. 2013); ``'vlrelu'`` ("very leaky") uses 1/3. All three build ``nn.LeakyReLU``,
  so ``activation_name`` reports them as ``'leaky_relu'`` with their ``alpha`` in the config.
- ``'rrelu'``: slope drawn from U(0.1, 0.5) while training, fixed mean 0.3 at eval
  (``nn.RReLU(lower=0.1, upper=0.5)``; torch's own default is 1/8..1/3).
- ``'prelu'``: ``nn.PReLU(num_features, init=0.25)``; without ``num_features`` one shared alpha.
- ``'apl'``: one (a, b) pair per piece and channel; without ``num_features`` shared by all.
- ``'maxout'``: ``expansion = pieces`` (2); reduces dim 1 from ``n * pieces`` to ``n`` by taking
  the max over each group of ``pieces`` consecutive features.
- ``'softmax'`` normalizes over dim 1 (the class / channel dim).
"""
from __future__ import annotations

import functools
import inspect
import math
import weakref
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from deepscope._checks import check_float, check_int, check_choice, fail
from deepscope._registry import Registry

__all__ = [
    "REGISTRY", "get", "activation_name", "to_config", "from_config",
    "CenteredSoftplus", "Maxout", "APL", "Lambda",
    "linear", "tanh", "sigmoid", "softmax", "softplus", "softsign", "relu", "relu6",
    "leaky_relu", "prelu", "elu", "crelu", "selu", "gelu", "silu", "swish", "centered_softplus", "hard_sigmoid", "mish",
    "HardSigmoid",
]

REGISTRY = Registry("activation")
_LN2 = math.log(2.0)


# ---------------------------------------------------------------- modules torch does not have
class CenteredSoftplus(nn.Module):
    """Softplus through the origin: ``y = ln(e^x + 1) - ln 2``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.softplus(x) - _LN2


class Maxout(nn.Module):
    """Maxout (Goodfellow et al. 2013): ``y_j = max_k z_{j*pieces + k}`` over dim 1.

    The layer computes ``n * pieces`` pre-activations ``z = W_k x + b_k``; this keeps the max.

    Args:
        pieces: number of linear pieces per unit (the layer's ``expansion``).
    """

    expansion = 2

    def __init__(self, pieces: int = 2):
        super().__init__()
        self.pieces = check_int(pieces, "maxout pieces", minimum=1)
        self.expansion = self.pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (batch, units * pieces, ...) -> (batch, units, ...)
        if x.dim() < 2 or x.shape[1] % self.pieces:
            fail("maxout", f"an input whose dim 1 is a multiple of pieces={self.pieces}",
                 tuple(x.shape), "Give the layer n_units * pieces pre-activation features.")
        return x.unflatten(1, (-1, self.pieces)).amax(dim=2)

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}"


class APL(nn.Module):
    """Adaptive piecewise linear unit (Agostinelli et al. 2015).

    ``y = max(x, 0) + sum_s a_s * max(0, -x + b_s)`` with learnable ``a``, ``b`` of shape
    ``(pieces, num_features)``, broadcast over every dim after dim 1 (H, W of NCHW).
    Starts as a ReLU (``a = 0``) with hinges ``b`` spread over [-1, 1].

    Args:
        num_features: size of dim 1; ``None`` shares one set of parameters across channels.
        pieces: number of hinges S.
    """

    def __init__(self, num_features: int | None = None, pieces: int = 2):
        super().__init__()
        self.num_features = None if num_features is None else check_int(num_features, "apl num_features")
        self.pieces = check_int(pieces, "apl pieces", minimum=1)
        n = self.num_features or 1
        hinges = torch.linspace(-1.0, 1.0, self.pieces) if self.pieces > 1 else torch.zeros(1)
        self.a = nn.Parameter(torch.zeros(self.pieces, n))  # (pieces, channels)
        self.b = nn.Parameter(hinges[:, None].repeat(1, n))  # (pieces, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.num_features is None:
            shape = (self.pieces,) + (1,) * x.dim()
        else:
            if x.dim() < 2 or x.shape[1] != self.num_features:
                fail("apl", f"an input with {self.num_features} channels in dim 1", tuple(x.shape))
            shape = (self.pieces, 1, self.num_features) + (1,) * (x.dim() - 2)
        a, b = self.a.view(shape), self.b.view(shape)  # (pieces, 1, channels, 1, 1)
        return F.relu(x) + (a * F.relu(b - x.unsqueeze(0))).sum(dim=0)

    def extra_repr(self) -> str:
        return f"num_features={self.num_features}, pieces={self.pieces}"


class Lambda(nn.Module):
    """Wraps a plain ``tensor -> tensor`` function as a module."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]):
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return getattr(self.fn, "__name__", repr(self.fn))


# ---------------------------------------------------------------- TFlearn functional forms
def linear(x: torch.Tensor) -> torch.Tensor:
    """Identity."""
    return x


def softmax(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Softmax over ``dim`` (dim 1, the class dim; same as TFlearn's last dim for (N, C))."""
    return F.softmax(x, dim=dim)


def centered_softplus(x: torch.Tensor) -> torch.Tensor:
    """``ln(e^x + 1) - ln 2``."""
    return F.softplus(x) - _LN2


def leaky_relu(x: torch.Tensor, alpha: float = 0.1) -> torch.Tensor:
    """TFlearn's leaky ReLU, ``max(x, alpha * x)`` (default alpha 0.1)."""
    return F.leaky_relu(x, alpha)


#: the alphas ``prelu`` made for tensors (trainable; ``variables.made_variables`` lists them for ``TrainOp``)
PRELU_ALPHAS: "weakref.WeakSet[nn.Parameter]" = weakref.WeakSet()


def prelu(x, channel_shared=False, weights_init="zeros", trainable=True, restore=True, reuse=False, scope=None,
          name="PReLU"):
    """TFlearn's PReLU: ``relu(x) + alphas * (x - |x|) / 2`` with new trainable ``alphas`` (one per feature of the
    last dimension, or one with ``channel_shared``), started at ``weights_init`` (zeros: a ReLU at first).

    Args:
        x: a layer output (adds a PReLU activation layer) or a tensor (the result has ``.alphas``).
        channel_shared: one alpha for every feature. A tensor here is taken as given alphas (``prelu(x, w)`` =
            ``torch.nn.functional.prelu``).
        weights_init: ``'zeros'`` or a number: the alphas' starting value.
        trainable: train the alphas.
        restore, reuse, scope, name: TFlearn's; accepted.

    Returns:
        The new node, or the activated tensor.
    """
    if isinstance(channel_shared, torch.Tensor):  # explicit alphas: torch's functional PReLU
        return F.prelu(x, channel_shared)
    if hasattr(x, "apply_activation"):  # a layer output: a PReLU layer whose alphas start at 0 (TFlearn's zeros)
        return x.apply_activation({"name": "prelu", "alpha": 0.0})
    shape = getattr(x, "shape", None)
    features = 1 if channel_shared or not shape or not isinstance(shape[-1], int) else int(shape[-1])
    if weights_init in ("zeros", None):
        start = 0.0
    elif isinstance(weights_init, (int, float)) and not isinstance(weights_init, bool):
        start = float(weights_init)
    else:
        fail("prelu weights_init", "'zeros' or a number (the alphas' starting value)", weights_init)
    alphas = nn.Parameter(torch.full((features,), start), requires_grad=bool(trainable))
    PRELU_ALPHAS.add(alphas)
    out = torch.relu(x) + alphas * (x - torch.abs(x)) * 0.5
    try:
        out.alphas = alphas
    except AttributeError:  # (an object that takes no attributes)
        pass
    return out


def crelu(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Concatenated ReLU: ``cat(relu(x), relu(-x))`` along ``dim`` (doubles that dim).

    Functional only: not in the registry, since it changes the layer's output size.
    """
    return torch.cat([F.relu(x), F.relu(-x)], dim=dim)


def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """TFlearn's (Keras') hard sigmoid: ``clip(0.2 x + 0.5, 0, 1)`` (torch's ``hardsigmoid`` uses ``x / 6``)."""
    return (0.2 * x + 0.5).clamp(0.0, 1.0)


class HardSigmoid(nn.Module):
    """Module form of :func:`hard_sigmoid`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return hard_sigmoid(x)


def _on_nodes(fn: Callable, name: str) -> Callable:
    """``fn`` that also takes a layer's output (a graph node, as in TFlearn's ``relu(net)``): on a
    node it adds an activation layer (recorded, so the network still saves); on a tensor it is ``fn``."""

    @functools.wraps(fn)
    def apply(x, *args, **kwargs):
        if hasattr(x, "apply_activation") and name == "linear":  # TFlearn's linear(x) is x itself
            return x
        if hasattr(x, "apply_activation"):  # a deepscope Node (no import: this module is below graph)
            options = dict(zip(_OPTION_NAMES.get(name, ()), args), **kwargs)
            return x.apply_activation({"name": name, **options} if options else name)
        return fn(x, *args, **kwargs)

    return apply


_OPTION_NAMES = {"leaky_relu": ("alpha",), "softmax": ("dim",), "elu": ("alpha",)}

# plain torch functions (TFlearn's names), no re-implementation; each also takes a layer's output
linear, softmax, centered_softplus = _on_nodes(linear, "linear"), _on_nodes(softmax, "softmax"), _on_nodes(
    centered_softplus, "centered_softplus")
leaky_relu = _on_nodes(leaky_relu, "leaky_relu")
tanh, sigmoid = _on_nodes(torch.tanh, "tanh"), _on_nodes(torch.sigmoid, "sigmoid")
softplus, softsign = _on_nodes(F.softplus, "softplus"), _on_nodes(F.softsign, "softsign")
relu, relu6, elu = _on_nodes(F.relu, "relu"), _on_nodes(F.relu6, "relu6"), _on_nodes(F.elu, "elu")
selu, gelu, silu = _on_nodes(F.selu, "selu"), _on_nodes(F.gelu, "gelu"), _on_nodes(F.silu, "silu")
swish = silu
hard_sigmoid, mish = _on_nodes(hard_sigmoid, "hard_sigmoid"), _on_nodes(F.mish, "mish")

# functional form -> registry name, so ``activation=activations.relu`` builds ``nn.ReLU``
_FUNCTIONAL_NAMES: dict[Callable, str] = {
    linear: "linear", tanh: "tanh", sigmoid: "sigmoid", softmax: "softmax", softplus: "softplus",
    centered_softplus: "centered_softplus", softsign: "softsign", relu: "relu", relu6: "relu6",
    leaky_relu: "leaky_relu", elu: "elu", selu: "selu", gelu: "gelu", silu: "silu", hard_sigmoid: "hard_sigmoid",
    mish: "mish",
}


# ---------------------------------------------------------------- registry: name -> factory
def _factory(*names: str) -> Callable:
    """Register ``fn(num_features=None, **options) -> nn.Module`` under ``names``."""

    def decorator(fn: Callable) -> Callable:
        fn._is_factory = True
        for name in names:
            REGISTRY.add(name, fn)
        return fn

    return decorator


_PLAIN: dict[type, tuple[str, ...]] = {  # option-free modules: class -> names (first is canonical)
    nn.Identity: ("linear", "none", "identity"), nn.Sigmoid: ("sigmoid",), nn.Tanh: ("tanh",),
    nn.ReLU: ("relu",), nn.ReLU6: ("relu6",), nn.SELU: ("selu",), nn.Softsign: ("softsign",),
    nn.SiLU: ("silu", "swish"), CenteredSoftplus: ("centered_softplus",), HardSigmoid: ("hard_sigmoid",),
    nn.Mish: ("mish",),
}
for _cls, _names in _PLAIN.items():
    _factory(*_names)((lambda cls: lambda num_features=None: cls())(_cls))


@_factory("leaky_relu")
def _leaky_relu(num_features: int | None = None, alpha: float = 0.1) -> nn.Module:
    return nn.LeakyReLU(check_float(alpha, "leaky_relu alpha"))


@_factory("lrelu")
def _lrelu(num_features: int | None = None, alpha: float = 0.01) -> nn.Module:
    return nn.LeakyReLU(check_float(alpha, "lrelu alpha"))


@_factory("vlrelu")
def _vlrelu(num_features: int | None = None, alpha: float = 1.0 / 3.0) -> nn.Module:
    return nn.LeakyReLU(check_float(alpha, "vlrelu alpha"))


@_factory("rrelu")
def _rrelu(num_features: int | None = None, lower: float = 0.1, upper: float = 0.5) -> nn.Module:
    lower = check_float(lower, "rrelu lower", minimum=0.0)
    upper = check_float(upper, "rrelu upper", minimum=lower)
    return nn.RReLU(lower, upper)


@_factory("prelu")
def _prelu(num_features: int | None = None, alpha: float = 0.25) -> nn.Module:
    return nn.PReLU(num_parameters=num_features or 1, init=check_float(alpha, "prelu alpha"))


@_factory("elu")
def _elu(num_features: int | None = None, alpha: float = 1.0) -> nn.Module:
    return nn.ELU(check_float(alpha, "elu alpha"))


@_factory("softmax")
def _softmax(num_features: int | None = None, dim: int = 1) -> nn.Module:
    return nn.Softmax(dim=check_int(dim, "softmax dim", minimum=None))


@_factory("softplus")
def _softplus(num_features: int | None = None, beta: float = 1.0, threshold: float = 20.0) -> nn.Module:
    return nn.Softplus(check_float(beta, "softplus beta", minimum=0.0, min_inclusive=False),
                       check_float(threshold, "softplus threshold"))


@_factory("gelu")
def _gelu(num_features: int | None = None, approximate: str = "none") -> nn.Module:
    return nn.GELU(approximate=check_choice(approximate, "gelu approximate", ("none", "tanh")))


@_factory("maxout")
def _maxout(num_features: int | None = None, pieces: int = 2) -> nn.Module:
    return Maxout(pieces)


@_factory("apl")
def _apl(num_features: int | None = None, pieces: int = 2) -> nn.Module:
    return APL(num_features, pieces)


# built module type -> (registry name, its JSON options)
_CONFIG: dict[type, tuple[str, Callable[[Any], dict]]] = {
    **{cls: (names[0], lambda m: {}) for cls, names in _PLAIN.items()},
    nn.LeakyReLU: ("leaky_relu", lambda m: {"alpha": float(m.negative_slope)}),
    nn.RReLU: ("rrelu", lambda m: {"lower": float(m.lower), "upper": float(m.upper)}),
    nn.PReLU: ("prelu", lambda m: {"alpha": float(m.init)}),
    nn.ELU: ("elu", lambda m: {"alpha": float(m.alpha)}),
    nn.Softmax: ("softmax", lambda m: {"dim": m.dim}),
    nn.Softplus: ("softplus", lambda m: {"beta": float(m.beta), "threshold": float(m.threshold)}),
    nn.GELU: ("gelu", lambda m: {"approximate": m.approximate}),
    Maxout: ("maxout", lambda m: {"pieces": m.pieces}),
    APL: ("apl", lambda m: {"pieces": m.pieces}),
}


def _instantiate(cls: type, num_features: int | None) -> nn.Module:
    """A user's module class: pass ``num_features`` if its constructor takes it."""
    if "num_features" in inspect.signature(cls).parameters:
        return cls(num_features=num_features)
    return cls()


def _build(name: str, options: dict, num_features: int | None, where: str) -> nn.Module:
    obj = REGISTRY.get(name, where=where)
    if isinstance(obj, type) and issubclass(obj, nn.Module):
        return _instantiate(obj, num_features)
    if not getattr(obj, "_is_factory", False):  # a user-registered tensor -> tensor function
        return Lambda(obj)
    accepted = [p for p in inspect.signature(obj).parameters if p != "num_features"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        fail(f"{where} {name!r}", "options among " + (", ".join(accepted) or "(none)"),
             unknown[0] if len(unknown) == 1 else unknown, error=TypeError)
    return obj(num_features=num_features, **options)


def get(identifier: Any = None, num_features: int | None = None, where: str | None = None) -> nn.Module:
    """A fresh activation module.

    Args:
        identifier: a registered name (``'relu'``, ``'prelu'``...), ``None`` (identity), a
            config dict (``{"name": "prelu", "alpha": 0.1}``), an ``nn.Module`` instance (returned
            as is), an ``nn.Module`` class (instantiated), or a ``tensor -> tensor`` function
            (wrapped; TFlearn's functional forms map to their modules).
        num_features: size of dim 1, for learnable activations (PReLU, APL).
        where: the argument and layer asking, for error messages.

    Returns:
        An ``nn.Module``; it may carry ``expansion`` (maxout).
    """
    where = where or "activation"
    if num_features is not None:
        num_features = check_int(num_features, f"{where} num_features")
    if identifier is None:
        return nn.Identity()
    if isinstance(identifier, nn.Module):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, nn.Module):
        return _instantiate(identifier, num_features)
    if isinstance(identifier, dict):
        return from_config(identifier, num_features, where)
    if isinstance(identifier, str):
        return _build(identifier, {}, num_features, where)
    if callable(identifier):
        name = _FUNCTIONAL_NAMES.get(identifier)
        return _build(name, {}, num_features, where) if name else Lambda(identifier)
    return REGISTRY.get(identifier, where=where)  # raises a TypeError listing the valid names


def _registered_name(module: nn.Module) -> str | None:
    """The name under which a user registered this module's class (or wrapped function)."""
    target = module.fn if isinstance(module, Lambda) else type(module)
    for name, obj in REGISTRY.items():
        if obj is target:
            return name
    return None


def activation_name(module: nn.Module) -> str:
    """The registry name of a built activation module (``nn.ReLU()`` -> ``'relu'``).

    Unregistered modules give their function / class name (for display only).
    """
    if type(module) in _CONFIG:
        return _CONFIG[type(module)][0]
    registered = _registered_name(module)
    if registered is not None:
        return registered
    if isinstance(module, Lambda):
        return _FUNCTIONAL_NAMES.get(module.fn) or getattr(module.fn, "__name__", "custom")
    return type(module).__name__.lower()


def to_config(module: nn.Module) -> dict:
    """JSON-able config that ``from_config`` turns back into an equal module.

    Learned parameters are not included (they live in the weights file); ``num_features`` comes
    from the layer. Raises for unregistered custom activations.
    """
    if type(module) in _CONFIG:
        name, options = _CONFIG[type(module)]
        return {"name": name, **options(module)}
    registered = _registered_name(module)
    if registered is None:
        fail("activation to_config", "a built-in or registered activation", module,
             "Register it first, e.g. deepscope.activations.REGISTRY.add('my_act', MyModule).")
    return {"name": registered}


def from_config(config: dict, num_features: int | None = None, where: str | None = None) -> nn.Module:
    """Rebuild an activation module from ``to_config``'s dict (``{"name": ..., **options}``)."""
    where = where or "activation"
    if not isinstance(config, dict) or not isinstance(config.get("name"), str):
        fail(where, 'a config dict with a "name", e.g. {"name": "prelu", "alpha": 0.25}', config,
             error=TypeError)
    options = {k: v for k, v in config.items() if k != "name"}
    return _build(config["name"], options, num_features, where)
