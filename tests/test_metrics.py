"""Metrics: numpy references on random data, streaming == one batch, label formats, lookup."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from deepscope import metrics
from deepscope._registry import UnknownNameError

N, C = 200, 6


def _multiclass(seed=0, n=N, c=C):
    g = torch.Generator().manual_seed(seed)
    probs = torch.randn(n, c, generator=g).softmax(-1)
    idx = torch.randint(0, c, (n,), generator=g)
    return probs, idx


def _binary(seed=0, n=N):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, generator=g), torch.randint(0, 2, (n, 1), generator=g).float()


# ------------------------------------------------------------------ numpy references
def np_confusion(true, pred, c):
    cm = np.zeros((c, c), dtype=np.int64)
    for t, p in zip(true, pred):
        cm[t, p] += 1
    return cm


def np_scores(true, pred, c, binary):
    """precision, recall, f1 as scikit-learn (binary: positive class; else macro over present labels)."""
    labels = [1] if binary else sorted(set(true) | set(pred))
    per = []
    for k in labels:
        tp = np.sum((pred == k) & (true == k))
        fp = np.sum((pred == k) & (true != k))
        fn = np.sum((pred != k) & (true == k))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
        per.append((prec, rec, f1))
    return np.mean(per, axis=0)


def np_auc(scores, positive):
    """O(n^2) pairwise count: P(score_pos > score_neg) + 0.5 P(tie)."""
    pos, neg = scores[positive], scores[~positive]
    return ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg))


def reference(name, y_pred, y_true):
    p, t = y_pred.numpy(), y_true.numpy()
    binary = p.shape[1] == 1
    pred = (p[:, 0] > 0.5).astype(int) if binary else p.argmax(1)
    true = (t.reshape(-1) > 0.5).astype(int) if binary else t
    if name == "acc":
        return np.mean(pred == true)
    if name == "top5":
        rank = (p > p[np.arange(len(t)), t][:, None]).sum(1)
        return np.mean(rank < 5)
    if name in ("precision", "recall", "f1"):
        return np_scores(true, pred, p.shape[1], binary)[["precision", "recall", "f1"].index(name)]
    if name == "auc":
        if binary:
            return np_auc(p[:, 0], true == 1)
        return np.mean([np_auc(p[:, k], true == k) for k in range(p.shape[1])])
    if name == "confusion_matrix":
        return np_confusion(true, pred, 2 if binary else p.shape[1])
    raise KeyError(name)


CLASSIFICATION = sorted({type(metrics.get(n)).__name__: n for n in metrics.REGISTRY.names()
                         if not isinstance(metrics.get(n), metrics.R2)}.values())


@pytest.mark.parametrize("name", metrics.REGISTRY.names())
def test_every_registered_metric(name):
    metric = metrics.get(name)
    assert isinstance(metric, metrics.Metric) and isinstance(metric.name, str)
    assert metrics.get(name) is not metric  # a fresh one each time
    y_pred, y_true = (torch.randn(N, 3), torch.randn(N, 3)) if isinstance(metric, metrics.R2) else _multiclass()
    assert np.all(np.isnan(metric.compute())) or np.size(metric.compute()) == 0  # nothing seen yet
    metric.update(y_pred, y_true)
    value = metric.compute()
    assert np.all(np.isfinite(value))
    assert type(metric)(**json.loads(json.dumps(metric.config))).config == metric.config


@pytest.mark.parametrize("name", CLASSIFICATION)
@pytest.mark.parametrize("kind", ["multiclass", "binary"])
def test_values_match_numpy_and_streaming(name, kind):
    metric = metrics.get(name)
    if kind == "binary" and metric.name == "top5":
        pytest.skip("top-k needs several classes")
    y_pred, y_true = _multiclass(1) if kind == "multiclass" else _binary(1)
    expected = reference(metric.name, y_pred, y_true)
    metric.update(y_pred, y_true)
    np.testing.assert_allclose(metric.compute(), expected, rtol=1e-12)
    metric.reset()
    for i in range(0, N, 37):  # uneven batches
        metric.update(y_pred[i:i + 37], y_true[i:i + 37])
    np.testing.assert_allclose(metric.compute(), expected, rtol=1e-12)


@pytest.mark.parametrize("name", ["accuracy", "top5", "f1", "auc", "confusion_matrix"])
def test_label_formats_agree(name):
    """Indices (N,), indices (N, 1) and one-hot (N, C) give the same result."""
    y_pred, idx = _multiclass(2)
    results = []
    for y_true in (idx, idx[:, None], torch.nn.functional.one_hot(idx, C).float()):
        metric = metrics.get(name)
        metric.update(y_pred, y_true)
        results.append(metric.compute())
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])


def test_top5_vs_top1_and_functionals():
    y_pred, idx = _multiclass(3, c=10)
    top1, top5 = metrics.Top_k(1), metrics.get("top_k")
    assert (top1.name, top5.name, top5.k) == ("top1", "top5", 5)
    for m in (top1, top5):
        m.update(y_pred, idx)
    assert top1.compute() == pytest.approx(metrics.accuracy_op(y_pred, idx).item())
    assert top5.compute() == pytest.approx(metrics.top_k_accuracy(y_pred, idx, 5).item())
    assert top5.compute() >= top1.compute()
    assert metrics.top_k_accuracy(y_pred, idx, 10).item() == 1.0
    cm = metrics.confusion_matrix(y_pred, idx, 10)
    np.testing.assert_array_equal(cm.numpy(), np_confusion(idx.numpy(), y_pred.argmax(1).numpy(), 10))
    # ties count as in tf.nn.in_top_k: all tied classes are in the top k
    assert metrics.top_k_accuracy(torch.zeros(4, 10), torch.arange(4), 1).item() == 1.0


def test_auc_with_ties_and_known_values():
    auc = metrics.AUC()
    auc.update(torch.tensor([[0.1], [0.4], [0.35], [0.8]]), torch.tensor([0.0, 0.0, 1.0, 1.0]))
    assert auc.compute() == pytest.approx(0.75)
    scores = torch.tensor([0.5, 0.5, 0.5, 0.9, 0.1])[:, None]
    labels = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0])
    auc.reset()
    auc.update(scores, labels)
    assert auc.compute() == pytest.approx(np_auc(scores[:, 0].numpy(), labels.numpy() == 1))


def test_r2_matches_numpy_and_streams():
    g = torch.Generator().manual_seed(4)
    y = torch.randn(N, 3, generator=g)
    p = y + 0.5 * torch.randn(N, 3, generator=g)
    yn, pn = y.numpy().astype(np.float64), p.numpy().astype(np.float64)
    expected = np.mean(1 - ((yn - pn) ** 2).sum(0) / ((yn - yn.mean(0)) ** 2).sum(0))
    r2 = metrics.get("R2")
    for i in range(0, N, 64):
        r2.update(p[i:i + 64], y[i:i + 64])
    assert r2.compute() == pytest.approx(expected, rel=1e-9)
    r2.reset()
    r2.update(p[:, :1], y[:, 0])  # (N,) targets for one output
    assert r2.compute() == pytest.approx(1 - ((yn[:, 0] - pn[:, 0]) ** 2).sum() / ((yn[:, 0] - yn[:, 0].mean()) ** 2).sum())


def test_sequence_outputs_and_binary_accuracy():
    y_pred = torch.randn(4, 7, C).softmax(-1)  # (batch, time, classes)
    idx = torch.randint(0, C, (4, 7))
    acc = metrics.Accuracy()
    acc.update(y_pred, idx)
    assert acc.compute() == pytest.approx((y_pred.argmax(-1) == idx).float().mean().item())
    assert metrics.accuracy_op(torch.tensor([0.2, 0.7, 0.6]), torch.tensor([0.0, 1.0, 0.0])).item() == pytest.approx(2 / 3)


def test_update_does_not_sync(monkeypatch):
    """update() must not read device values back (no .item() / float() / bool() / .cpu())."""
    forbidden = ("item", "cpu", "numpy", "tolist", "__float__", "__bool__", "__int__")

    def boom(*args, **kwargs):
        raise AssertionError("host sync in update()")

    y_pred, idx = _multiclass(5)
    to_test = [metrics.get(n) for n in metrics.REGISTRY.names()]
    for name in forbidden:
        monkeypatch.setattr(torch.Tensor, name, boom)
    for metric in to_test:
        y = torch.randn(N, C) if isinstance(metric, metrics.R2) else idx
        metric.update(y_pred, y)
        metric.update(y_pred, y)
    monkeypatch.undo()
    assert all(np.all(np.isfinite(m.compute())) for m in to_test)


def test_lookup_and_errors():
    acc = metrics.Accuracy(name="my_acc")
    assert metrics.get(acc) is acc and acc.name == "my_acc"
    assert isinstance(metrics.get("default"), metrics.Accuracy)
    assert isinstance(metrics.get(metrics.F1), metrics.F1)
    custom = metrics.get(lambda p, t: (p - t).abs().mean())
    custom.update(torch.ones(2, 1), torch.zeros(2, 1))
    custom.update(torch.ones(6, 1) * 3, torch.zeros(6, 1))
    assert custom.compute() == pytest.approx((2 * 1 + 6 * 3) / 8)
    with pytest.raises(UnknownNameError, match="Did you mean 'accuracy'"):
        metrics.get("acuracy", where="regression metric")
    with pytest.raises(TypeError, match="Top_k k"):
        metrics.Top_k(k=2.5)
    with pytest.raises(ValueError, match="Top_k k"):
        metrics.Top_k(k=0)
