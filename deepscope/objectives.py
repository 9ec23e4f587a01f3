"""TFlearn's name for the loss functions (``tflearn.objectives``): each takes ``(y_pred, y_true)``
tensors and returns a scalar; the same functions as :mod:`deepscope.losses`."""
from __future__ import annotations

from .losses import (binary_crossentropy, categorical_crossentropy, contrastive_loss, get, hinge_loss, huber_loss,
                     mean_absolute, mean_square, roc_auc_score, softmax_categorical_crossentropy, triplet_loss,
                     weak_cross_entropy_2d, weighted_crossentropy)

__all__ = ["binary_crossentropy", "categorical_crossentropy", "hinge_loss", "huber_loss", "mean_absolute",
           "mean_square", "softmax_categorical_crossentropy", "weighted_crossentropy", "weak_cross_entropy_2d",
           "contrastive_loss", "triplet_loss", "roc_auc_score", "get"]
