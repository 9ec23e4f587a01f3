"""Loss objects with TFlearn's names (``tflearn.objectives``), mapped onto ``torch.nn.functional``.

A :class:`Loss` is called ``loss(y_pred, y_true) -> scalar`` on the *activated* output. A loss whose
``fused_activation`` is ``'softmax'`` or ``'sigmoid'`` also has ``from_logits(logits, y_true)``, which
the trainer calls on the pre-activation output when the last layer's activation matches: it is
numerically stable (finite for logits of +-1000) and faster. Nothing here syncs with the host.

Differences from TFlearn worth knowing:
- TFlearn's ``binary_crossentropy`` and ``weighted_crossentropy`` take *logits*; here they take
  probabilities (the sigmoid output) and the trainer fuses the sigmoid, so the usual
  ``activation='sigmoid'`` + ``loss='binary_crossentropy'`` computes the intended loss (TFlearn would
  apply the sigmoid twice).
- ``softmax_categorical_crossentropy`` keeps TFlearn's meaning: softmax cross-entropy applied to the
  raw output, so use it with ``activation='linear'``.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F

from ._checks import check_float
from ._registry import Registry

REGISTRY = Registry("loss")
_EPSILON = 1e-10  # TFlearn's clipping epsilon for cross-entropies on probabilities


def _like(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """``y_true`` as a float tensor of ``y_pred``'s shape ((N,) targets for (N, 1) outputs)."""
    if y_true.dtype != y_pred.dtype:
        y_true = y_true.to(y_pred.dtype)
    if y_true.shape != y_pred.shape and y_true.numel() == y_pred.numel():  # (N,) targets, (N, 1) output
        y_true = y_true.reshape(y_pred.shape)
    return y_true


def _class_args(x: torch.Tensor, y_true: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` as (M, C) (sequences (N, T, C) flattened) and targets as probabilities (M, C) in
    ``x``'s dtype when ``y_true`` has ``x``'s shape, else as class indices (M,) int64.
    (Reshapes and casts only when needed: each costs microseconds per step.)"""
    if y_true.shape == x.shape:  # one-hot / probabilities
        if x.ndim != 2:
            x, y_true = x.reshape(-1, x.shape[-1]), y_true.reshape(-1, x.shape[-1])
        return x, (y_true if y_true.dtype == x.dtype else y_true.to(x.dtype))
    if x.ndim != 2:
        x = x.reshape(-1, x.shape[-1])
    if y_true.ndim != 1:
        y_true = y_true.reshape(-1)
    return x, (y_true if y_true.dtype == torch.int64 else y_true.long())  # class indices


class Loss:
    """Base class: ``loss(y_pred, y_true) -> scalar`` on the activated output.

    Attributes:
        name: the registry name (for logs and configs).
        fused_activation: ``'softmax'``, ``'sigmoid'`` or ``None``.
        config: JSON-able constructor arguments.
    """

    name = "loss"
    fused_activation: str | None = None

    def __init__(self) -> None:
        self.config: dict[str, Any] = {}

    def __call__(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def from_logits(self, logits: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        """The loss on the pre-activation output (default: apply the activation, then the loss)."""
        if self.fused_activation == "softmax":
            return self(torch.softmax(logits, dim=-1), y_true)
        if self.fused_activation == "sigmoid":
            return self(torch.sigmoid(logits), y_true)
        return self(logits, y_true)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}({args})"


class CategoricalCrossentropy(Loss):
    """TFlearn ``categorical_crossentropy``: ``mean_n(-sum_c y log p)`` on softmax probabilities.

    ``y_true``: one-hot / probabilities (N, C) or class indices (N,) int64.
    """

    name = "categorical_crossentropy"
    fused_activation = "softmax"

    def __call__(self, y_pred, y_true):
        y_pred, y_true = _class_args(y_pred, y_true)
        log_p = y_pred.clamp_min(_EPSILON).log()  # (N, C)
        if not y_true.is_floating_point():
            return F.nll_loss(log_p, y_true)
        return -(y_true * log_p).sum(dim=-1).mean()

    def from_logits(self, logits, y_true):
        return F.cross_entropy(*_class_args(logits, y_true))


class SoftmaxCategoricalCrossentropy(Loss):
    """TFlearn ``softmax_categorical_crossentropy``: softmax cross-entropy of the raw output (logits)."""

    name = "softmax_categorical_crossentropy"

    def __call__(self, y_pred, y_true):
        return F.cross_entropy(*_class_args(y_pred, y_true))


class BinaryCrossentropy(Loss):
    """TFlearn ``binary_crossentropy``: ``mean(-(y log p + (1 - y) log(1 - p)))`` on sigmoid outputs."""

    name = "binary_crossentropy"
    fused_activation = "sigmoid"

    def __call__(self, y_pred, y_true):
        return F.binary_cross_entropy(y_pred, _like(y_pred, y_true))

    def from_logits(self, logits, y_true):
        return F.binary_cross_entropy_with_logits(logits, _like(logits, y_true))


class WeightedCrossentropy(Loss):
    """TFlearn ``weighted_crossentropy(y_pred, y_true, weight)``: binary cross-entropy whose
    positive term is multiplied by ``weight`` (``pos_weight``; > 1 raises recall).

    Args:
        weight: the positive-class weight (a number > 0).
    """

    name = "weighted_crossentropy"
    fused_activation = "sigmoid"

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        self.weight = check_float(weight, "weighted_crossentropy weight", minimum=0.0, min_inclusive=False)
        self.config = {"weight": self.weight}
        self._pos_weight: dict[tuple, torch.Tensor] = {}  # (device, dtype) -> scalar tensor, made once

    def __call__(self, y_pred, y_true):
        y_true = _like(y_pred, y_true)
        log_p = y_pred.clamp_min(_EPSILON).log()
        log_q = (1.0 - y_pred).clamp_min(_EPSILON).log()
        return -(self.weight * y_true * log_p + (1.0 - y_true) * log_q).mean()

    def from_logits(self, logits, y_true):
        key = (logits.device, logits.dtype)
        if key not in self._pos_weight:
            self._pos_weight[key] = torch.tensor(self.weight, device=logits.device, dtype=logits.dtype)
        return F.binary_cross_entropy_with_logits(logits, _like(logits, y_true), pos_weight=self._pos_weight[key])


class MeanSquare(Loss):
    """TFlearn ``mean_square``: ``mean((y_pred - y_true)^2)``."""

    name = "mean_square"

    def __call__(self, y_pred, y_true):
        return F.mse_loss(y_pred, _like(y_pred, y_true))


class MeanAbsolute(Loss):
    """``mean_absolute``: ``mean(|y_pred - y_true|)``."""

    name = "mean_absolute"

    def __call__(self, y_pred, y_true):
        return F.l1_loss(y_pred, _like(y_pred, y_true))


class Huber(Loss):
    """``huber_loss``: quadratic for ``|e| <= delta``, linear beyond (``F.huber_loss``).

    Args:
        delta: where the loss switches from quadratic to linear (> 0).
    """

    name = "huber_loss"

    def __init__(self, delta: float = 1.0) -> None:
        super().__init__()
        self.delta = check_float(delta, "huber_loss delta", minimum=0.0, min_inclusive=False)
        self.config = {"delta": self.delta}

    def __call__(self, y_pred, y_true):
        return F.huber_loss(y_pred, _like(y_pred, y_true), delta=self.delta)


class HingeLoss(Loss):
    """TFlearn ``hinge_loss``: ``mean(max(0, 1 - y_true * y_pred))`` (labels in {-1, 1})."""

    name = "hinge_loss"

    def __call__(self, y_pred, y_true):
        return (1.0 - _like(y_pred, y_true) * y_pred).clamp_min(0.0).mean()


class FunctionLoss(Loss):
    """Wraps a plain callable ``fn(y_pred, y_true) -> scalar`` (no fused activation)."""

    def __init__(self, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn
        self.name = getattr(fn, "__name__", type(fn).__name__)
        self.config = {"function": self.name}

    def __call__(self, y_pred, y_true):
        return self.fn(y_pred, y_true)

    def __repr__(self) -> str:
        return f"FunctionLoss({self.name})"


REGISTRY.add("categorical_crossentropy", CategoricalCrossentropy)
REGISTRY.add("crossentropy", CategoricalCrossentropy)
REGISTRY.add("softmax_categorical_crossentropy", SoftmaxCategoricalCrossentropy)
REGISTRY.add("binary_crossentropy", BinaryCrossentropy)
REGISTRY.add("weighted_crossentropy", WeightedCrossentropy)
REGISTRY.add("mean_square", MeanSquare)
REGISTRY.add("mse", MeanSquare)
REGISTRY.add("mean_absolute", MeanAbsolute)
REGISTRY.add("mae", MeanAbsolute)
REGISTRY.add("huber_loss", Huber)
REGISTRY.add("huber", Huber)
REGISTRY.add("hinge_loss", HingeLoss)


# TFlearn's functional names (``tflearn.objectives.categorical_crossentropy(y_pred, y_true)``).
def categorical_crossentropy(y_pred, y_true):
    return CategoricalCrossentropy()(y_pred, y_true)


def softmax_categorical_crossentropy(y_pred, y_true):
    return SoftmaxCategoricalCrossentropy()(y_pred, y_true)


def binary_crossentropy(y_pred, y_true):
    return BinaryCrossentropy()(y_pred, y_true)


def weighted_crossentropy(y_pred, y_true, weight=1.0):
    return WeightedCrossentropy(weight)(y_pred, y_true)


def mean_square(y_pred, y_true):
    return MeanSquare()(y_pred, y_true)


def mean_absolute(y_pred, y_true):
    return MeanAbsolute()(y_pred, y_true)


def huber_loss(y_pred, y_true, delta=1.0):
    return Huber(delta)(y_pred, y_true)


def hinge_loss(y_pred, y_true):
    return HingeLoss()(y_pred, y_true)


# A functional name passed as ``loss=`` keeps its fused version.
_FUNCTIONS = {
    categorical_crossentropy: CategoricalCrossentropy, softmax_categorical_crossentropy: SoftmaxCategoricalCrossentropy,
    binary_crossentropy: BinaryCrossentropy, weighted_crossentropy: WeightedCrossentropy, mean_square: MeanSquare,
    mean_absolute: MeanAbsolute, huber_loss: Huber, hinge_loss: HingeLoss,
}


def get(identifier: Any, where: str | None = None) -> Loss:
    """A :class:`Loss` from a name (``'categorical_crossentropy'``), a Loss (class or instance),
    one of this module's functions, or a plain callable ``fn(y_pred, y_true) -> scalar``.

    Args:
        identifier: what the user gave as ``loss=``.
        where: the argument and layer asking, for error messages.

    Returns:
        A Loss instance (a fresh one for names and classes).
    """
    if isinstance(identifier, Loss):
        return identifier
    found = REGISTRY.get(identifier, where=where)
    if isinstance(found, type) and issubclass(found, Loss):
        return found()
    if found in _FUNCTIONS:
        return _FUNCTIONS[found]()
    return FunctionLoss(found)


# TFlearn's further objectives: plain functions of tensors (use them in a custom loss, or as loss= where they
# take (y_pred, y_true)).
def weak_cross_entropy_2d(y_pred, y_true, num_classes=None, epsilon=0.0001, head=None):
    """Per-pixel softmax cross-entropy for segmentation (TFlearn's ``weak_cross_entropy_2d``).

    Args:
        y_pred: scores ``(N, H, W, C)`` (a softmax is taken after adding ``epsilon``).
        y_true: one-hot targets ``(N, H, W, C)``.
        num_classes: ``C`` (None: the targets' last dimension).
        epsilon: added to the scores before the softmax (TFlearn's).
        head: optional per-class weights ``(C,)``.

    Returns:
        The mean over pixels of ``-sum_c y_true * log softmax``.
    """
    y_pred, y_true = torch.as_tensor(y_pred), torch.as_tensor(y_true)
    classes = int(y_true.shape[-1]) if num_classes is None else int(num_classes)
    if y_pred.shape != y_true.shape or y_pred.shape[-1] != classes:
        raise ValueError(f"weak_cross_entropy_2d: expected y_pred and y_true of one shape (batch, height, width, "
                         f"{classes} classes), got {tuple(y_pred.shape)} and {tuple(y_true.shape)}. Give one-hot "
                         "targets of the prediction's shape.")
    logits = y_pred.reshape(-1, classes).float() + epsilon
    target = y_true.reshape(-1, classes).to(logits.dtype)
    terms = target * torch.log_softmax(logits, dim=1)
    if head is not None:
        terms = terms * torch.as_tensor(head, dtype=logits.dtype)
    return -terms.sum(1).mean()


def contrastive_loss(y_pred, y_true, margin=1.0):
    """Contrastive loss (Chopra, Hadsell & LeCun 2005) on distances ``y_pred`` and same-pair labels ``y_true``:
    ``sum(y * d^2 + (1 - y) * max(margin - d, 0)^2) / 2``."""
    d, y = torch.as_tensor(y_pred), torch.as_tensor(y_true)
    return (y * d.square() + (1 - y) * (margin - d).clamp_min(0.0).square()).sum() / 2.0


def triplet_loss(anchor, positive, negative, margin=1.0):
    """Triplet loss (Balntas et al. 2016) as TFlearn computes it: ``relu(sum (a - p)^2 - sum (a - n)^2 + margin)``
    over the whole batch."""
    a, p, n = torch.as_tensor(anchor), torch.as_tensor(positive), torch.as_tensor(negative)
    return torch.relu((a - p).square().sum() - (a - n).square().sum() + margin)


def roc_auc_score(y_pred, y_true):
    """TFlearn's differentiable ROC AUC surrogate (Yan et al. 2003, the Wilcoxon-Mann-Whitney statistic):
    ``sum over (positive, negative) pairs with p - n < gamma of (gamma - (p - n))^3``, ``gamma = 0.2``; lower is
    better (it is a loss, not the AUC)."""
    scores, labels = torch.as_tensor(y_pred), torch.as_tensor(y_true).bool()
    positive, negative = scores[labels], scores[~labels]
    difference = positive[None, :] - negative[:, None] - 0.2  # (negatives, positives)
    return (-difference[difference < 0.0]).pow(3).sum()
