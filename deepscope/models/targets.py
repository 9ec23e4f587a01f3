"""Several ``regression`` layers in one model (TFlearn's multi-target graphs, e.g. the XOR of
``examples/basics/logical.py``: ``DNN(merge([g_nand, g_or], 'elemwise_mul'))`` fitted with
``fit(X, [Y_nand, Y_or])``).

Semantics: every regression layer contributes its own loss on its own targets and the model
minimises their sum (each layer's L1/L2 penalties once); ``predict`` returns the model's output
node. The regression layers must agree on the optimizer (TFlearn runs one optimizer per layer:
with the same optimizer and learning rate, and disjoint branches, the summed loss gives each
branch exactly its own update). Targets are fed as a list in the order the regression layers were
created, or as a dict keyed by their names or the layers themselves. Internally the targets are
one ``(N, sum of widths)`` tensor, so batching, validation and checkpoints work unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .._checks import Text, fail
from ..graph import Layer, Node
from . import data as datamod


@dataclass
class Target:
    """One regression layer: its node name, output width, loss and metric; ``producer`` is the layer
    computing its value, ``fused`` whether the loss is taken from that layer's logits (softmax /
    sigmoid cross-entropy, numerically stable, as for single-output models)."""
    name: str
    width: int
    loss: object
    metric: object | None
    producer: str
    fused: bool


class MultiTarget:
    """The regression layers of a model whose output is not itself a regression layer.

    Args:
        nodes: the regression nodes, in creation order.
    """

    name = "multi_target"
    fused_activation = None

    def __init__(self, nodes: list[Node]):
        self.targets = []
        for node in nodes:
            if len(node.shape) != 2:
                fail(f"regression '{node.name}'", "a 2-D output [None, units] when a model has several "
                     "regression layers", Text(f"shape {list(node.shape)}"), "Flatten the layer before it.")
            config = node.estimator
            loss = config.build_loss()
            producer = node
            while producer.module is None and len(producer.parents) == 1:
                producer = producer.parents[0]
            fused = bool(isinstance(producer.module, Layer) and getattr(loss, "fused_activation", None)
                         and getattr(producer.module, "activation_name", None) == loss.fused_activation)
            self.targets.append(Target(node.name, int(node.shape[1]), loss, config.build_metric(), producer.name,
                                       fused))
        optimizers = {(_optimizer_key(n.estimator.optimizer), n.estimator.learning_rate) for n in nodes}
        if len(optimizers) > 1:
            fail("DNN (several regression layers)", "the same optimizer and learning rate in every regression "
                 "layer", Text(f"{sorted(map(str, optimizers))}"),
                 "Give them the same optimizer (one optimizer trains the summed loss).")
        self.names = [t.name for t in self.targets]
        self.slices, start = [], 0
        for t in self.targets:
            self.slices.append(slice(start, start + t.width))
            start += t.width
        metrics = [t.metric for t in self.targets if t.metric is not None]
        self.metric = MultiTargetMetric(self) if metrics else None

    def output_and_loss(self, net, xs, y) -> tuple[torch.Tensor, torch.Tensor]:
        """Every regression layer's activated output side by side ``(N, sum of widths)``, and the sum
        of their losses (from logits where the loss is fused)."""
        producers = [t.producer for t in self.targets]
        logits = frozenset(t.producer for t in self.targets if t.fused)
        total, outputs = None, []
        for target, part, (out, pre) in zip(self.targets, self.slices, net.values_of(xs, producers, logits)):
            out, pre = out.reshape(out.shape[0], -1).float(), pre.reshape(pre.shape[0], -1).float()
            outputs.append(out)
            term = target.loss.from_logits(pre, y[:, part]) if target.fused else target.loss(out, y[:, part])
            total = term if total is None else total + term
        return torch.cat(outputs, 1), total

    def prepare(self, Y, argument: str) -> torch.Tensor:
        """Targets as one float tensor ``(N, sum of widths)`` from a list or a dict of arrays."""
        if isinstance(Y, dict):
            Y = datamod.by_name(Y)
            missing = [n for n in self.names if n not in Y]
            if missing:
                fail(argument, f"targets for every regression layer ({', '.join(map(repr, self.names))})",
                     Text(f"a dict with keys {sorted(map(str, Y))}"), "Key them by the regression layers' names.")
            Y = [Y[n] for n in self.names]
        if not isinstance(Y, (list, tuple)) or len(Y) != len(self.targets):
            fail(argument, f"a list of {len(self.targets)} target arrays, one per regression layer "
                 f"({', '.join(self.names)}), in the order they were created",
                 Text(f"{type(Y).__name__}" + (f" of {len(Y)}" if isinstance(Y, (list, tuple)) else "")))
        parts = []
        for target, values in zip(self.targets, Y):
            y = datamod.to_tensor(values, f"{argument} for '{target.name}'").float()
            if y.dim() == 1:
                y = y.reshape(-1, 1)
            if y.dim() != 2 or y.shape[1] != target.width:
                fail(f"{argument} for '{target.name}'", f"targets with {target.width} column(s)",
                     Text(f"shape {tuple(y.shape)}"), "Use one-hot rows for a softmax layer.")
            parts.append(y)
        lengths = {len(p) for p in parts}
        if len(lengths) != 1:
            fail(argument, "the same number of samples for every regression layer", Text(f"{sorted(lengths)}"))
        return torch.cat(parts, 1)


class MultiTargetMetric:
    """Each regression layer's metric on its own targets; ``compute`` gives their mean, and
    ``values`` each one (``{layer name: value}``)."""

    def __init__(self, multi: MultiTarget):
        self.multi = multi
        first = next(t.metric for t in multi.targets if t.metric is not None)
        self.name = first.name
        self.values: dict[str, float] = {}

    def reset(self) -> None:
        for t in self.multi.targets:
            if t.metric is not None:
                t.metric.reset()

    def update(self, output: torch.Tensor, y: torch.Tensor) -> None:
        for t, part in zip(self.multi.targets, self.multi.slices):
            if t.metric is not None:
                t.metric.update(output[:, part], y[:, part])

    def compute(self) -> float:
        self.values = {t.name: t.metric.compute() for t in self.multi.targets if t.metric is not None}
        return sum(self.values.values()) / len(self.values)


def _optimizer_key(optimizer) -> str:
    if isinstance(optimizer, str):
        return optimizer.lower()
    return getattr(optimizer, "name", type(optimizer).__name__).lower()
