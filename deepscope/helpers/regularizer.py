"""TFlearn's ``add_weights_regularizer`` / ``add_activation_regularizer``."""
from __future__ import annotations

import torch

from .. import regularizers
from .._checks import Text, check_float, fail
from ..graph import SCOPES, Node
from ..variables import LOOSE_PENALTIES



def _owner(variable: torch.Tensor):
    for module in list(SCOPES.values()):
        for name, param in module.named_parameters(recurse=False):
            if param is variable:
                return module, name
    return None, None


def add_weights_regularizer(variable, loss="L2", weight_decay=0.001, add_to_collection=None):
    """Penalize a parameter's size in training (TFlearn's arguments).

    A parameter of a deepscope layer: the layer gets the penalty (every network using it trains with it). Any
    other parameter (``variables.variable(...)``): ``helpers.TrainOp`` adds the penalty to its loss.

    Args:
        variable: a ``torch.nn.Parameter`` (a layer's ``.W``, or your own).
        loss: ``'L2'`` (``wd * sum(w^2) / 2``) or ``'L1'`` (``wd * sum |w|``).
        weight_decay: the penalty's scale.
        add_to_collection: TensorFlow's; accepted and unused.

    Returns:
        The penalty's current value (a 0-dim tensor).
    """
    if not isinstance(variable, torch.Tensor) or not variable.requires_grad:
        fail("add_weights_regularizer variable", "a trainable parameter (a layer's .W, or variables.variable(...))",
             Text(type(variable).__name__), error=TypeError)
    penalty = regularizers.get(loss, where="add_weights_regularizer loss")
    decay = check_float(weight_decay, "add_weights_regularizer weight_decay", minimum=0.0)
    module, name = _owner(variable)
    if module is not None and hasattr(module, "add_regularizer"):
        module.add_regularizer(name, penalty, decay)
    else:
        LOOSE_PENALTIES[variable] = (penalty, decay)
    return penalty(variable, decay)


def add_activation_regularizer(op, loss="L2", activation_decay=0.001, add_to_collection=None):
    """The penalty ``loss`` of a tensor of activations, scaled by ``activation_decay`` (TFlearn's arguments).

    Add the returned value to your loss (a ``TrainOp`` loss function). A layer's node is refused with advice:
    a deepscope network adds no penalty on activations by itself.

    Returns:
        The penalty (a 0-dim tensor).
    """
    if isinstance(op, Node):
        fail("add_activation_regularizer op", "a tensor of activations computed in your loss function", Text(
            f"the layer '{op.name}'"), "Compute it inside a helpers.TrainOp loss, or use a weight regularizer "
            "(fully_connected(..., regularizer='L2')).", error=TypeError)
    penalty = regularizers.get(loss, where="add_activation_regularizer loss")
    decay = check_float(activation_decay, "add_activation_regularizer activation_decay", minimum=0.0)
    return penalty(op if isinstance(op, torch.Tensor) else torch.as_tensor(op, dtype=torch.float32), decay)
