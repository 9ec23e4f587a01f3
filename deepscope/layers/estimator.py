"""``regression``: the estimator layer that says how a network is trained (TFlearn's arguments)."""
from __future__ import annotations

import warnings

from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from .. import losses, metrics, optimizers
from .._checks import check_float, check_int, fail
from ..graph import SCOPES, Node, add_layer, layer_function, layer_label, require_node


@dataclass
class TrainingConfig:
    """What ``regression`` records: optimizer, loss, metric and batching defaults.

    Attributes mirror ``regression``'s arguments; ``optimizer``, ``loss`` and ``metric`` hold
    names or objects (resolved by :meth:`build_*`).
    """

    optimizer: Any = "adam"
    loss: Any = "categorical_crossentropy"
    metric: Any = "default"
    learning_rate: float | None = 0.001
    batch_size: int = 64
    shuffle_batches: bool = True
    to_one_hot: bool = False
    n_classes: int | None = None
    validation_batch_size: int | None = None
    extra: dict = field(default_factory=dict)

    def build_optimizer(self):
        """A TFlearn-style optimizer object (``build(params, total_steps)`` gives torch's)."""
        opt = self.optimizer
        if isinstance(opt, str):
            cls = optimizers.get(opt, where="regression optimizer")
            return cls(learning_rate=self.learning_rate) if self.learning_rate is not None else cls()
        if isinstance(opt, type):
            return opt(learning_rate=self.learning_rate) if self.learning_rate is not None else opt()
        return opt  # an optimizer object keeps its own learning rate (as in TFlearn)

    def build_loss(self):
        return losses.get(self.loss, where="regression loss")

    def build_metric(self):
        if self.metric is None:
            return None
        return metrics.get(self.metric, where="regression metric")

    def describe(self) -> dict:
        """JSON-able summary for run configs."""
        out = asdict(self)
        for key in ("optimizer", "loss", "metric"):
            value = out[key]
            if not isinstance(value, (str, type(None))):
                out[key] = getattr(value, "name", type(value).__name__)
            if isinstance(out[key], str):
                out[key] = out[key].lower()  # 'Adam' (an object) and 'adam' (a name) are the same optimizer
        return out


@layer_function("estimator")
def regression(incoming, placeholder="default", optimizer="adam", loss="categorical_crossentropy",
               metric="default", learning_rate=0.001, dtype=None, batch_size=64,
               shuffle_batches=True, to_one_hot=False, n_classes=None, trainable_vars=None,
               restore=True, op_name=None, validation_monitors=None, validation_batch_size=None,
               name=None) -> Node:
    """Declare how the network is trained (TFlearn's ``regression`` arguments).

    Args:
        incoming: the output layer.
        optimizer: name (``'sgd'``, ``'adam'``, ...) or a deepscope optimizer object.
        loss: name (``'categorical_crossentropy'``, ``'mean_square'``, ...) or callable.
        metric: name (``'default'`` = accuracy), a metric object, or None.
        learning_rate: used when ``optimizer`` is a name.
        batch_size: default batch size for ``DNN.fit``.
        shuffle_batches: shuffle the training data every epoch.
        to_one_hot: convert integer targets to one-hot with ``n_classes`` classes.
        n_classes: number of classes for ``to_one_hot``.
        validation_batch_size: batch size for validation (default: the larger of ``batch_size`` and 256).
        trainable_vars: train only these parameters (from
            ``deepscope.variables.get_layer_variables_by_name`` / ``..._by_scope``, a layer's ``.W``
            / ``.b``, or ``'layer_name.weight'`` strings); the others stay as they are. None: all.
        placeholder, dtype, restore, op_name, validation_monitors, name:
            accepted for TFlearn compatibility.

    Returns:
        A pass-through node carrying the training configuration.
    """
    label = layer_label("regression", incoming, name or "Regression") if isinstance(incoming, Node) else "regression"
    incoming = require_node(incoming, label)
    if learning_rate is not None:
        learning_rate = check_float(learning_rate, f"{label} learning_rate", minimum=0.0, min_inclusive=False)
    batch_size = check_int(batch_size, f"{label} batch_size", minimum=1)
    if validation_batch_size is not None:
        validation_batch_size = check_int(validation_batch_size, f"{label} validation_batch_size", minimum=1)
    if to_one_hot:
        if n_classes is None:
            fail(f"{label} n_classes", "the number of classes when to_one_hot=True", n_classes)
        n_classes = check_int(n_classes, f"{label} n_classes", minimum=2)
    config = TrainingConfig(optimizer, loss, metric, learning_rate, batch_size, bool(shuffle_batches),
                            bool(to_one_hot), n_classes, validation_batch_size)
    # resolve names now, so a typo fails here and not after data loading
    config.build_optimizer()
    config.build_loss()
    config.build_metric()
    config.trainable = None if trainable_vars is None else _parameters(trainable_vars, f"{label} trainable_vars")
    _warn_if_loss_does_not_fit(incoming, loss, label)
    node = add_layer(incoming, None, incoming.shape, name or "Regression")
    node.estimator = config
    return node


def _warn_if_loss_does_not_fit(incoming: Node, loss, label: str) -> None:
    """Warn where the loss certainly does not fit the output layer (the diagnosis says it again after
    the fit, with what it did to training)."""
    activation = getattr(incoming.module, "activation_name", None)
    units = incoming.shape[-1] if len(incoming.shape) else None
    if not isinstance(loss, str) or activation is None or not isinstance(units, int):
        return
    problem = None
    if activation == "softmax" and units == 1:
        problem = "a softmax over 1 unit always outputs 1.0; use activation='sigmoid' for one output unit"
    elif loss == "categorical_crossentropy" and activation != "softmax" and units > 1:
        problem = (f"loss='categorical_crossentropy' expects the probabilities of a softmax output, but the output "
                   f"activation is {activation!r}; use activation='softmax' (or loss='softmax_categorical_crossentropy' "
                   "on a linear output)")
    if problem:
        warnings.warn(f"{label}: {problem}.", UserWarning, stacklevel=4)


def _parameters(values, where: str) -> list:
    """``trainable_vars`` as parameters: tensors pass, ``'layer.weight'`` names are looked up."""
    if isinstance(values, (torch.Tensor, str)):
        values = [values]
    if not isinstance(values, (list, tuple)) or not values:
        fail(where, "a non-empty list of parameters (e.g. get_layer_variables_by_name('dense1'))", values,
             error=TypeError)
    found = []
    for i, value in enumerate(values):
        if isinstance(value, torch.Tensor):
            found.append(value)
            continue
        layer, _, attr = str(value).rpartition(".")
        module = SCOPES.get(layer)
        param = dict(module.named_parameters()).get(attr) if module is not None else None
        if param is None:
            fail(f"{where}[{i}]", "a parameter, or 'layer_name.weight' / 'layer_name.bias' of a built layer",
                 value, error=TypeError if not isinstance(value, str) else ValueError)
        found.append(param)
    return found
