"""TFlearn's ``tflearn.config``: the graph set-up (``init_graph``) and the training mode of the layers built so far.

deepscope switches modes itself (``DNN.fit`` trains, ``predict`` evaluates); ``is_training`` is for calling
layers' modules by hand (dropout and batch normalization behave as in training when it is on).
"""
from __future__ import annotations

from .graph import SCOPES
from .utils import init_graph

__all__ = ["init_graph", "is_training", "get_training_mode", "init_training_mode"]

_TRAINING = [False]


def is_training(is_training=False, session=None):  # noqa: A002 - TFlearn's argument name
    """Put every layer built so far in training (True) or inference (False) mode (``module.train(flag)``).

    Args:
        is_training: the mode.
        session: TensorFlow's; accepted and unused.
    """
    _TRAINING[0] = bool(is_training)
    for module in list(SCOPES.values()):
        module.train(_TRAINING[0])


def get_training_mode() -> bool:
    """The mode last set by :func:`is_training` (False at start)."""
    return _TRAINING[0]


def init_training_mode():
    """Back to inference mode (TFlearn creates its mode variable here)."""
    is_training(False)
