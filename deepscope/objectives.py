"""TFlearn's name for the loss functions (``tflearn.objectives``): each takes ``(y_pred, y_true)``
tensors and returns a scalar; the same functions as :mod:`deepscope.losses`."""
from __future__ import annotations

from .losses import (binary_crossentropy, categorical_crossentropy, hinge_loss, huber_loss, mean_absolute,
                     mean_square, softmax_categorical_crossentropy, weighted_crossentropy)

__all__ = ["binary_crossentropy", "categorical_crossentropy", "hinge_loss", "huber_loss", "mean_absolute",
           "mean_square", "softmax_categorical_crossentropy", "weighted_crossentropy"]
