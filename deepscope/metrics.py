"""Metrics with TFlearn's names (``tflearn.metrics``), accumulated on the model's device.

A :class:`Metric` has ``reset()``, ``update(y_pred, y_true)`` (``y_pred`` is the activated output)
and ``compute()``. ``update`` never syncs with the host (no ``.item()``, no data-dependent shapes):
counts stay device tensors and ``compute()`` is the only sync. ``y_true`` may be one-hot /
probabilities ``(N, C)``, class indices ``(N,)``, or ``(N, 1)`` / ``(N,)`` labels for one output unit.

Confusion matrices are accumulated with ``index_add_`` rather than ``torch.bincount``: bincount reads
the largest value back to the host on CUDA (a sync), index_add_ does not.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ._checks import check_float, check_int
from ._registry import Registry

REGISTRY = Registry("metric")


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t if t.ndim == 1 else t.reshape(-1)


def _labels(y_pred: torch.Tensor, y_true: torch.Tensor, threshold: float = 0.5):
    """Predicted and true class indices, flat (M,) int64, and the number of classes.

    One output unit is binary (``y_pred > threshold``); otherwise the argmax of the last dim.
    ``y_true`` of ``y_pred``'s shape is one-hot / probabilities, anything else class indices.
    (Reshapes and casts only when needed: each costs microseconds per step.)
    """
    n_out = y_pred.shape[-1] if y_pred.ndim > 1 else 1
    if n_out == 1:
        pred = (_flat(y_pred) > threshold).long()
        true = _flat(y_true)
        return pred, ((true > threshold).long() if true.is_floating_point() else true.long()), 2
    scores = y_pred if y_pred.ndim == 2 else y_pred.reshape(-1, n_out)
    if y_true.shape == y_pred.shape:
        true = (y_true if y_true.ndim == 2 else y_true.reshape(-1, n_out)).argmax(dim=-1)
    else:
        true = _flat(y_true)
        true = true if true.dtype == torch.int64 else true.long()
    return scores.argmax(dim=-1), true, n_out


def _acc_dtype(device: torch.device) -> torch.dtype:
    """float64 accumulators, except on MPS (no float64 there)."""
    return torch.float32 if device.type == "mps" else torch.float64


def _add(total: torch.Tensor | None, value: torch.Tensor) -> torch.Tensor:
    return value if total is None else total.add_(value)


# ---------------------------------------------------------------- functional helpers (no sync)
def accuracy_op(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """Fraction of correct predictions, as a 0-dim device tensor (binary when one output unit, threshold 0.5)."""
    pred, true, _ = _labels(y_pred, y_true)
    return torch.eq(pred, true).float().mean()


def _in_top_k(y_pred: torch.Tensor, y_true: torch.Tensor, k: int) -> torch.Tensor:
    """(M,) bool: the true class is among the ``k`` highest scores. Ties count as in
    ``tf.nn.in_top_k``: a class is in the top k when fewer than k classes score strictly higher."""
    scores = y_pred.reshape(-1, y_pred.shape[-1])  # (M, C)
    true_score = scores.gather(1, _labels(y_pred, y_true)[1][:, None])  # (M, 1)
    return (scores > true_score).sum(dim=1) < k


def top_k_accuracy(y_pred: torch.Tensor, y_true: torch.Tensor, k: int = 5) -> torch.Tensor:
    """Fraction of samples whose true class is among the ``k`` highest scores (0-dim device tensor)."""
    return _in_top_k(y_pred, y_true, k).float().mean()


def confusion_matrix(y_pred: torch.Tensor, y_true: torch.Tensor, n_classes: int | None = None) -> torch.Tensor:
    """(C, C) int64 device tensor of counts: rows are true classes, columns predicted classes."""
    pred, true, n = _labels(y_pred, y_true)
    n = n if n_classes is None else n_classes
    counts = torch.zeros(n * n, dtype=torch.long, device=pred.device)
    counts.index_add_(0, true * n + pred, torch.ones_like(pred))
    return counts.reshape(n, n)


def top_k_op(predictions, targets, k=1) -> torch.Tensor:
    """TFlearn's ``top_k_op``: fraction of samples whose one-hot target class is in the ``k`` best scores."""
    return top_k_accuracy(torch.as_tensor(predictions), torch.as_tensor(targets), k)


def binary_accuracy_op(predictions, targets) -> torch.Tensor:
    """TFlearn's ``binary_accuracy_op``: predictions are logits (``> 0`` is class 1), targets 0 / 1."""
    predicted = torch.gt(predictions, 0).float()
    return torch.mean(torch.eq(predicted, targets).float())


def r2_op(predictions, targets) -> torch.Tensor:
    """TFlearn's ``r2_op``: ``1 - sum (y - p)^2 / sum (y - mean y)^2`` over every value."""
    residual = torch.sum(torch.square(torch.sub(targets, predictions)))
    total = torch.sum(torch.square(torch.sub(targets, torch.mean(targets))))
    return 1.0 - residual / total


def weighted_r2_op(predictions, targets, inputs) -> torch.Tensor:
    """TFlearn's ``weighted_r2_op``: R^2 with each sample weighted by ``inputs[:, 1]`` (the sample weight column
    TFlearn's estimators append to the inputs)."""
    inputs = torch.as_tensor(inputs)
    weights = inputs[:, 1:2] if inputs.dim() > 1 else inputs
    predictions, targets = torch.as_tensor(predictions), torch.as_tensor(targets)
    residual = torch.sum(weights * torch.square(targets - predictions))
    total = torch.sum(weights * torch.square(targets - torch.mean(targets)))
    return 1.0 - residual / total


# ---------------------------------------------------------------- metric objects
class Metric:
    """Base class. Subclasses set ``name`` and implement ``update`` / ``compute``."""

    name = "metric"

    def __init__(self, name: str | None = None) -> None:
        self.config: dict[str, Any] = {}  # constructor arguments: ``type(m)(**m.config)`` rebuilds it
        if name is not None:
            self.name = self.config["name"] = name
        self.reset()

    def reset(self) -> None:
        """Forget everything accumulated so far."""

    def update(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> None:
        raise NotImplementedError

    def compute(self) -> float:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}({args})"

    def build(self, predictions, targets, inputs=None):
        """TFlearn's call: the metric on these tensors, kept as ``self.tensor`` (with TFlearn's ``m_name``).

        Args:
            predictions: the network's outputs ``(N, ...)``.
            targets: the targets.
            inputs: the inputs (only ``WeightedR2`` reads them).

        Returns:
            The value, a 0-dim tensor.
        """
        self.built = True
        self.tensor = self._op(predictions, targets, inputs)
        self.tensor.m_name = self.name
        return self.tensor

    def get_tensor(self):
        """TFlearn's ``get_tensor``: the value of the last :meth:`build`."""
        if not getattr(self, "built", False):
            raise RuntimeError(f"{type(self).__name__}.get_tensor: call build(predictions, targets) first.")
        return self.tensor

    def _op(self, predictions, targets, inputs):
        """The metric on whole tensors (default: reset, one update, compute)."""
        self.reset()
        self.update(torch.as_tensor(predictions), torch.as_tensor(targets))
        value = torch.tensor(self.compute())
        self.reset()
        return value


class _HitRate(Metric):
    """Fraction of samples for which ``_hits`` is true, counted on the device."""

    def _hits(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def reset(self):
        self._correct, self._count = None, 0  # device tensor, host int (from shapes only)

    def update(self, y_pred, y_true):
        hits = self._hits(y_pred, y_true)  # (M,) bool
        self._correct = _add(self._correct, hits.sum())
        self._count += hits.shape[0]

    def compute(self):
        return float(self._correct) / self._count if self._count else float("nan")


class Accuracy(_HitRate):
    """TFlearn ``Accuracy`` (``'accuracy'``, ``'default'``, ``'acc'``): fraction correct; binary with
    threshold 0.5 when the model has one output unit."""

    name = "acc"

    def _hits(self, y_pred, y_true):
        pred, true, _ = _labels(y_pred, y_true)
        return pred == true

    def _op(self, predictions, targets, inputs):  # TFlearn's build: logits for one output unit
        shape = list(predictions.shape)
        if len(shape) == 1 or (len(shape) == 2 and shape[1] == 1):
            self.name = self.config.get("name", "binary_acc")
            return binary_accuracy_op(predictions, targets)
        self.name = self.config.get("name", "acc")
        return torch.mean(torch.eq(torch.argmax(predictions, 1), torch.argmax(targets, 1)).float())


accuracy = Accuracy  # TFlearn's lowercase names


class Top_k(_HitRate):  # noqa: N801 (TFlearn's class name)
    """TFlearn ``Top_k(k=1)``: fraction of samples whose true class is in the ``k`` best scores.
    The names ``'top_k'`` / ``'top5'`` give ``k=5``."""

    def __init__(self, k: int = 1, name: str | None = None) -> None:
        self.k = check_int(k, "Top_k k", minimum=1)
        self.name = f"top{self.k}"
        super().__init__(name)
        self.config["k"] = self.k

    def _hits(self, y_pred, y_true):
        return _in_top_k(y_pred, y_true, self.k)


top_k = Top_k


class ConfusionMatrix(Metric):
    """Confusion matrix (rows true, columns predicted); ``compute()`` returns a numpy array."""

    name = "confusion_matrix"

    def __init__(self, threshold: float = 0.5, name: str | None = None) -> None:
        self.threshold = check_float(threshold, f"{type(self).__name__} threshold", 0.0, 1.0)
        super().__init__(name)
        self.config["threshold"] = self.threshold

    def reset(self):
        self._counts, self._n = None, 0  # (C*C,) int64 on the device, C

    def update(self, y_pred, y_true):
        pred, true, n = _labels(y_pred, y_true, self.threshold)
        if self._counts is None:
            self._counts, self._n = torch.zeros(n * n, dtype=torch.long, device=pred.device), n
        self._counts.index_add_(0, true * n + pred, torch.ones_like(pred))

    def matrix(self) -> np.ndarray:
        """The (C, C) counts as a numpy array (rows true, columns predicted)."""
        if self._counts is None:
            return np.zeros((0, 0), dtype=np.int64)
        return self._counts.reshape(self._n, self._n).cpu().numpy()

    def compute(self):
        return self.matrix()


class _ClassScore(ConfusionMatrix):
    """Precision / recall / F1 from the confusion matrix: of the positive class for one output
    unit, else the macro average over the classes present in ``y_true`` or the predictions
    (as scikit-learn; a 0/0 ratio counts as 0)."""

    def _per_class(self, tp, pred_pos, true_pos):
        raise NotImplementedError

    def compute(self):
        cm = self.matrix().astype(np.float64)
        if cm.size == 0:
            return float("nan")
        tp, pred_pos, true_pos = np.diag(cm), cm.sum(axis=0), cm.sum(axis=1)
        score = self._per_class(tp, pred_pos, true_pos)
        if len(cm) == 2 and self._binary:
            return float(score[1])
        present = (pred_pos + true_pos) > 0
        return float(score[present].mean()) if present.any() else float("nan")

    def update(self, y_pred, y_true):
        self._binary = (y_pred.shape[-1] if y_pred.ndim > 1 else 1) == 1
        super().update(y_pred, y_true)


def _ratio(a, b):
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


class Precision(_ClassScore):
    name = "precision"

    def _per_class(self, tp, pred_pos, true_pos):
        return _ratio(tp, pred_pos)


class Recall(_ClassScore):
    name = "recall"

    def _per_class(self, tp, pred_pos, true_pos):
        return _ratio(tp, true_pos)


class F1(_ClassScore):
    name = "f1"

    def _per_class(self, tp, pred_pos, true_pos):
        return _ratio(2 * tp, pred_pos + true_pos)


def _auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC by the rank statistic (Mann-Whitney U), ties get average ranks."""
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    _, inverse, counts = np.unique(scores[order], return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    avg_rank = (ends - (counts - 1) / 2.0)[inverse]  # 1-based average rank of each sorted score
    ranks = np.empty_like(avg_rank)
    ranks[order] = avg_rank
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


class AUC(Metric):
    """Area under the ROC curve: binary for one output unit, else the one-vs-rest macro average
    over the classes with both positives and negatives. Scores stay on the device until compute()."""

    name = "auc"

    def reset(self):
        self._scores, self._true = [], []

    def update(self, y_pred, y_true):
        n_out = y_pred.shape[-1] if y_pred.ndim > 1 else 1
        self._scores.append(y_pred.detach().reshape(-1, n_out))
        self._true.append(_labels(y_pred, y_true)[1])

    def compute(self):
        if not self._scores:
            return float("nan")
        scores = torch.cat(self._scores).float().cpu().numpy()  # (M, C)
        true = torch.cat(self._true).cpu().numpy()  # (M,)
        if scores.shape[1] == 1:
            return _auc(scores[:, 0], true == 1)
        aucs = [_auc(scores[:, c], true == c) for c in range(scores.shape[1])]
        aucs = [a for a in aucs if a == a]
        return float(np.mean(aucs)) if aucs else float("nan")


class R2(Metric):
    """Coefficient of determination ``1 - SS_res / SS_tot``, averaged over output columns.

    Note: TFlearn's ``R2`` computes ``sum(y_pred^2) / sum(y_true^2)``; this is the usual R^2.
    """

    name = "r2"

    def reset(self):
        self._sums, self._count = None, 0  # (3, F): sum (y - p)^2, sum y, sum y^2

    def update(self, y_pred, y_true):
        p = y_pred.detach().reshape(y_pred.shape[0], -1)  # (N, F)
        dtype = _acc_dtype(p.device)
        p = p.to(dtype)
        y = y_true.reshape(p.shape).to(dtype)
        self._sums = _add(self._sums, torch.stack([(y - p).square().sum(0), y.sum(0), y.square().sum(0)]))
        self._count += p.shape[0]

    def compute(self):
        if self._sums is None:
            return float("nan")
        ss_res, s, s2 = self._sums.cpu().numpy()
        ss_tot = s2 - s * s / self._count
        return float(np.mean(1.0 - ss_res / np.where(ss_tot > 0, ss_tot, np.nan)))


class WeightedR2(R2):
    """TFlearn's ``WeightedR2``: R^2 with each sample weighted by the second input column (TFlearn's estimators
    put the sample weights there); in training (``update``) every sample weighs the same, as ``R2``."""

    name = "R2"

    def _op(self, predictions, targets, inputs):
        if inputs is None:
            raise ValueError("WeightedR2.build: give inputs (the sample weights are its second column).")
        return weighted_r2_op(predictions, targets, inputs)


class Prediction_Counts(Metric):  # noqa: N801 (TFlearn's class name)
    """TFlearn's ``Prediction_Counts(inner_metric)``: the inner metric's value, and how often each class is
    predicted (``counts``, ``{class: count}``, printed at ``build``; useful to spot a network that always
    answers the same class).

    Args:
        inner_metric: the metric whose value this one reports (an object or a name).
        name: display name.
    """

    def __init__(self, inner_metric, name: str | None = None) -> None:
        self.inner_metric = get(inner_metric, where="Prediction_Counts inner_metric")
        self.name = name or self.inner_metric.name
        super().__init__(name)
        self.config["inner_metric"] = self.inner_metric.name

    def reset(self):
        self.inner_metric.reset()
        self._counts = None  # (classes,) device tensor: no sync in update

    def update(self, y_pred, y_true):
        self.inner_metric.update(y_pred, y_true)
        predicted, _, n = _labels(y_pred, y_true)
        counts = torch.zeros(n, dtype=torch.long, device=predicted.device).index_add_(
            0, predicted, torch.ones_like(predicted))
        self._counts = _add(self._counts, counts)

    @property
    def counts(self) -> dict[int, int]:
        """``{class: how many predictions}`` of the classes predicted at least once."""
        if self._counts is None:
            return {}
        return {c: int(k) for c, k in enumerate(self._counts.tolist()) if k}

    def compute(self):
        return self.inner_metric.compute()

    def _op(self, predictions, targets, inputs):
        value = self.inner_metric.build(predictions, targets, inputs)
        self.reset()
        self.update(torch.as_tensor(predictions), torch.as_tensor(targets))
        print(f"{self.name}: predicted classes {dict(sorted(self.counts.items()))}")
        return value


prediction_counts = Prediction_Counts


class FunctionMetric(Metric):
    """Wraps ``fn(y_pred, y_true) -> scalar tensor`` (a batch mean); reports the sample-weighted
    mean over all batches."""

    def __init__(self, fn, name: str | None = None) -> None:
        self.fn = fn
        super().__init__(name or getattr(fn, "__name__", type(fn).__name__))

    def reset(self):
        self._total, self._count = None, 0

    def update(self, y_pred, y_true):
        value = torch.as_tensor(self.fn(y_pred, y_true), device=y_pred.device).detach()
        self._total = _add(self._total, value.to(_acc_dtype(value.device)) * y_pred.shape[0])
        self._count += y_pred.shape[0]

    def compute(self):
        return float(self._total) / self._count if self._count else float("nan")


def _top5(name: str | None = None) -> Top_k:
    return Top_k(5, name)


for _names, _factory in [
    (("accuracy", "default", "acc"), Accuracy), (("top_k", "top5"), _top5), (("precision",), Precision),
    (("recall",), Recall), (("f1", "f1_score"), F1), (("auc", "roc_auc"), AUC), (("R2", "r2_score"), R2),
    (("confusion_matrix",), ConfusionMatrix),
]:
    for _name in _names:
        REGISTRY.add(_name, _factory)


def get(identifier: Any, where: str | None = None) -> Metric:
    """A fresh :class:`Metric` from a name (``'accuracy'``, ``'top5'``, ``'f1'``...) or a Metric class;
    a Metric instance passes through.

    Args:
        identifier: what the user gave as ``metric=``.
        where: the argument and layer asking, for error messages.
    """
    if isinstance(identifier, Metric):
        return identifier
    found = REGISTRY.get(identifier, where=where)
    if isinstance(identifier, str) or (isinstance(found, type) and issubclass(found, Metric)):
        return found()
    return FunctionMetric(found)
