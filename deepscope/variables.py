"""TFlearn's ``tflearn.variables``: a layer's variables by name, reading and setting their values.

In deepscope a variable is a ``torch.nn.Parameter`` of a layer's module; ``get_value`` /
``set_value`` work on it directly (the ``session`` argument is accepted and unused)::

    dense1 = tflearn.fully_connected(net, 128, name='dense1')
    W, b = tflearn.variables.get_layer_variables_by_name('dense1')
    tflearn.variables.get_value(W)          # numpy array
"""
from __future__ import annotations

import weakref

import numpy as np
import torch
from torch import nn

from . import activations, initializations, regularizers
from ._checks import Text, fail
from .graph import SCOPES


_MADE: "weakref.WeakSet[nn.Parameter]" = weakref.WeakSet()  # parameters made by variable(), still in use
#: penalties on parameters that no layer owns (``variable(..., regularizer='L2')``, ``add_weights_regularizer``):
#: ``helpers.TrainOp`` adds them to its loss (TensorFlow's REGULARIZATION_LOSSES collection)
LOOSE_PENALTIES: "weakref.WeakKeyDictionary[torch.Tensor, tuple]" = weakref.WeakKeyDictionary()


def made_variables() -> list[nn.Parameter]:
    """The parameters made by :func:`variable` (and the alphas of ``activations.prelu`` on tensors) still in use."""
    return list(_MADE) + list(activations.PRELU_ALPHAS)


def get_layer_variables_by_name(name: str) -> list[nn.Parameter]:
    """The parameters (weights first, then bias, ...) of the newest layer named (or scoped) ``name``.

    Raises:
        ValueError: no layer has that name.
    """
    return list(_layer_named(name, "get_layer_variables_by_name name").parameters())


def _layer_named(name, where: str) -> nn.Module:
    """The newest layer module named (or scoped) ``name``, or a clear error naming ``where``."""
    module = SCOPES.get(str(name))
    if module is None:
        fail(where, f"the name of a layer (known: {sorted(SCOPES)[:20]})", name,
             "Give the layer name='...' when you build it.")
    return module


def get_layer_variables_by_scope(scope_name: str) -> list[nn.Parameter]:
    """The parameters of every layer whose name or scope starts with ``scope_name``."""
    found, seen = [], set()
    for key in sorted(SCOPES):
        module = SCOPES.get(key)
        if module is not None and key.startswith(str(scope_name)):
            for p in module.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    found.append(p)
    return found


def get_all_variables() -> list[nn.Parameter]:
    """The parameters of every layer built so far (and still in use)."""
    return get_layer_variables_by_scope("")


def get_all_trainable_variable() -> list[nn.Parameter]:
    """The trainable parameters of every layer built so far (TFlearn's name)."""
    return [p for p in get_all_variables() if p.requires_grad]


def get_value(var, session=None) -> np.ndarray:
    """A parameter's value as a numpy array."""
    return _parameter(var, "get_value var").detach().cpu().numpy()


def set_value(var, value, session=None) -> None:
    """Assign ``value`` (same shape) to a parameter."""
    param = _parameter(var, "set_value var")
    array = np.asarray(value, dtype=np.float64)
    if array.shape != tuple(param.shape):
        fail("set_value value", f"shape {tuple(param.shape)}", Text(f"shape {array.shape}"))
    with torch.no_grad():
        param.copy_(torch.as_tensor(array, dtype=param.dtype).to(param.device))


def variable(name, shape=None, dtype=None, initializer=None, regularizer=None, trainable=True,
             collections=None, caching_device=None, validate_shape=True, device=None, restore=True) -> nn.Parameter:
    """A new parameter (TFlearn's ``variable``): ``shape`` filled by ``initializer`` (a name such as
    ``'truncated_normal'``, an initializer, or None: zeros); with ``regularizer`` (``'L2'``, ``'L1'``) its penalty
    (decay 0.001, TFlearn's) is added to the loss of ``helpers.TrainOp``s that train it.

    Returns:
        A ``torch.nn.Parameter`` (use it in your own ``nn.Module``; deepscope's layers own theirs).
    """
    if shape is None or not all(isinstance(d, (int, np.integer)) and d > 0 for d in shape):
        fail(f"variable '{name}' shape", "a list of positive sizes", shape)
    tensor = torch.zeros(tuple(int(d) for d in shape), dtype=dtype if isinstance(dtype, torch.dtype) else torch.float32)
    if initializer is not None:
        init = initializations.get(initializer, where=f"variable '{name}' initializer")
        with torch.no_grad():
            init(tensor)
    parameter = nn.Parameter(tensor, requires_grad=bool(trainable))
    _MADE.add(parameter)
    if regularizer is not None:  # TFlearn: the penalty with its default decay (L2: 0.001 * sum(w^2) / 2)
        LOOSE_PENALTIES[parameter] = (regularizers.get(regularizer, where=f"variable '{name}' regularizer"), 0.001)
    return parameter


def _parameter(value, where: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    fail(where, "a variable (a parameter from get_layer_variables_by_name, or a layer's .W / .b)",
         type(value).__name__, error=TypeError)


def get_layer_by_name(name: str) -> nn.Module:
    """The newest layer module named (or scoped) ``name`` (TFlearn's returns the layer's output tensor; here the
    ``nn.Module`` that computes it, with its ``weight`` / ``bias``).

    Raises:
        ValueError: no layer has that name.
    """
    return _layer_named(name, "get_layer_by_name name")


def get_inputs_placeholder_by_name(name):
    """TFlearn's: here the ``input_data`` layer's module named ``name`` (feed it as ``fit({name: X})``)."""
    return get_layer_by_name(name)


def get_targets_placeholder_by_name(name):
    """TFlearn's: a regression layer has no module of its own; feed its targets as ``fit(X, {name: Y})``."""
    fail("get_targets_placeholder_by_name name", "nothing: targets are fed by the regression layer's name",
         name, f"Give the targets as model.fit(X, {{{name!r}: Y}}) (deepscope has no target placeholders).",
         error=LookupError)
