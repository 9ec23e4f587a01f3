"""Lesions: silence units of a layer (a forward hook in a context manager) and measure the damage.

::

    with lesion(model, "FullyConnected", [3, 7]):
        model.evaluate(X, Y)                          # units 3 and 7 output 0
    study = lesion_study(model, X, Y, "FullyConnected")
    study.units[:5], study.drops[:5]                  # the most important units first
    with lesion_top_k(model, study, k=5):
        ...
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .._checks import Text, check_instance, check_int, fail
from .recording import network_of, resolve_layers
from ..layers.conv import Conv
from ..layers.core import Dense
from .recording import Recorder
from ..utils import evaluation_pass


def _unit_dim(output: torch.Tensor) -> int:
    """Internal layout: dense (N, F) and NCHW maps keep units on dim 1; (N, T, F) sequences last."""
    return -1 if output.dim() == 3 else 1


def _n_units(module) -> int | None:
    """Units of a Dense / Conv layer (None when only a forward pass can tell)."""
    activation = getattr(module, "activation", None)
    if isinstance(module, (Dense, Conv)) and getattr(activation, "expansion", 1) == 1:
        return int(module.weight.shape[0])
    return None


def _check_units(units, n: int | None, where: str) -> list[int]:
    units = [units] if isinstance(units, (int, np.integer)) else list(np.asarray(units).ravel())
    checked = [check_int(u, where, minimum=0) for u in units]
    if n is not None and any(u >= n for u in checked):
        fail(where, f"unit indices in 0..{n - 1} (the layer has {n} units)",
             Text(str([u for u in checked if u >= n])))
    return checked


@contextmanager
def lesion(model, layer: str, units):
    """Zero some units (features or channels) of a layer's output while the block runs.

    Args:
        model: a ``DNN`` or ``nn.Module``.
        layer: the layer's name.
        units: an index or a list of indices.

    Yields:
        the list of silenced unit indices. The hook is removed on exit (the network is restored).
    """
    module = resolve_layers(model, layer)[layer]
    where = f"lesion layer {layer!r} units"
    idx = _check_units(units, _n_units(module), where)

    def hook(mod, inputs, output):  # (N, units) or (N, C, H, W) or (N, T, units)
        dim = _unit_dim(output)
        if idx and max(idx) >= output.shape[dim]:
            fail(where, f"unit indices in 0..{output.shape[dim] - 1}", Text(str(idx)))
        return output.index_fill(dim, torch.tensor(idx, device=output.device, dtype=torch.long), 0.0)

    handle = module.register_forward_hook(hook)
    try:
        yield idx
    finally:
        handle.remove()


def _predict(model, X) -> np.ndarray:
    if hasattr(model, "predict") and hasattr(model, "net"):
        return model.predict(X)
    net = network_of(model)
    with evaluation_pass(net):
        x = X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X), dtype=torch.float32)
        return net(x).float().cpu().numpy()


def prediction_accuracy(model, X, Y) -> float:
    """Accuracy of ``argmax`` predictions (threshold 0.5 for one output) against labels or one-hot ``Y``."""
    pred, y = _predict(model, X), np.asarray(Y)
    if pred.ndim == 2 and pred.shape[1] == 1:
        return float(np.mean((pred[:, 0] > 0.5) == (y.reshape(-1) > 0.5)))
    labels = y.argmax(-1) if y.ndim == pred.ndim else y
    return float(np.mean(pred.argmax(-1) == labels))


@dataclass
class LesionStudy:
    """What silencing each unit alone costs.

    Attributes:
        layer: the lesioned layer.
        baseline: the metric of the intact network.
        units: (n,) unit indices, most important first.
        drops: (n,) ``baseline - metric`` with that unit silenced, in the same order.
        scores: (n,) the metric with that unit silenced, in the same order.
    """

    layer: str
    baseline: float
    units: np.ndarray
    drops: np.ndarray
    scores: np.ndarray

    def top(self, k: int) -> list[int]:
        """The ``k`` most important units."""
        return [int(u) for u in self.units[:check_int(k, "LesionStudy.top k", minimum=0)]]


def lesion_study(model, X, Y, layer: str, units=None, metric: Callable | None = None) -> LesionStudy:
    """Silence each unit alone and measure the drop of a metric.

    Args:
        model: a ``DNN`` or ``nn.Module``.
        X, Y: evaluation data.
        layer: the layer's name.
        units: unit indices to test (default: all units of the layer).
        metric: ``metric(model, X, Y) -> float``, higher is better. Default: ``model.evaluate``
            (the model's metric) for a ``DNN`` with a metric and a hidden layer, else the
            accuracy of the predictions (``evaluate`` skips the output layer's activation module).

    Returns:
        a ``LesionStudy`` sorted by drop, largest first.
    """
    module = resolve_layers(model, layer)[layer]
    n = _n_units(module)
    if n is None:  # learn the size from one sample
        with Recorder(model, [layer]) as rec:
            _predict(model, X[:1])
        out = rec[layer]  # user layout: units last
        n = int(out.shape[-1])
    units = list(range(n)) if units is None else _check_units(units, n, f"lesion_study layer {layer!r} units")
    if metric is None:
        is_output = getattr(network_of(model), "_output_layer", None) is module
        use_evaluate = getattr(model, "metric", None) is not None and hasattr(model, "evaluate") and not is_output
        metric = (lambda m, x, y: float(m.evaluate(x, y)[0])) if use_evaluate else prediction_accuracy
    baseline = float(metric(model, X, Y))
    scores = []
    for u in units:
        with lesion(model, layer, [u]):
            scores.append(float(metric(model, X, Y)))
    scores = np.asarray(scores)  # (n,)
    drops = baseline - scores
    order = np.argsort(-drops, kind="stable")
    return LesionStudy(layer, baseline, np.asarray(units)[order], drops[order], scores[order])


def lesion_top_k(model, study: LesionStudy, k: int):
    """A ``lesion`` context manager silencing the ``k`` most important units of a study."""
    check_instance(study, LesionStudy, "lesion_top_k study", "lesion_study(...)")
    return lesion(model, study.layer, study.top(k))
