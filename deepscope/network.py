"""The built network: an ordinary ``torch.nn.Module`` made from a graph of nodes."""
from __future__ import annotations

import torch
from torch import nn

from .graph import Layer, Node


def topological_order(output: Node) -> list[Node]:
    """All nodes the output depends on, parents before children, in creation order."""
    seen: dict[int, Node] = {}
    stack = [output]
    while stack:
        node = stack.pop()
        if node.id in seen:
            continue
        seen[node.id] = node
        stack.extend(node.parents)
    # node ids grow with creation time, and a node is always created after its parents
    return sorted(seen.values(), key=lambda n: n.id)


def _make_names_unique(order: list[Node]) -> None:
    """Rename nodes whose names collide (branches started by separate ``input_data`` calls
    count names separately). Deterministic in creation order, so a rebuilt network gets the
    same names as the original."""
    used: set[str] = set()
    for node in order:
        name, k = node.name, 1
        while name in used:
            name = f"{node.name}_{k}"
            k += 1
        if name != node.name:
            node.name = name
            if node.module is not None:
                node.module.layer_name = name
        used.add(name)


class Network(nn.Module):
    """A network described with layer functions, as a plain ``nn.Module``.

    ``forward(*inputs)`` takes one tensor per ``input_data`` (in the user's layout, NHWC for
    images) and returns the output layer's activated output. ``logits(*inputs)`` returns the
    output layer's pre-activation (used by fused losses).

    Args:
        output: the last node (``regression`` or any layer).
    """

    def __init__(self, output: Node):
        super().__init__()
        order = topological_order(output)
        _make_names_unique(order)
        self.nodes = order  # kept for summary / saving; not a submodule
        self.inputs = [n for n in order if not n.parents]
        self.layers = nn.ModuleDict({n.name: n.module for n in order if n.module is not None})
        # Execution plan: (node name, module or None, parent names, list_input)
        self._plan = [
            (n.name, n.module, [p.name for p in n.parents], bool(n.call and n.call.get("list_input")))
            for n in order
            if n.parents
        ]
        self.output_name = output.name
        self._image_output = len(output.shape) == 4  # internal NCHW -> the user's NHWC at the end
        self._is_chain = len(self.inputs) == 1 and all(len(n.parents) <= 1 for n in order)
        modules = [n.module for n in order if n.module is not None]
        # the chain skips input layers that do nothing (no preprocessing, augmentation or layout change)
        self._chain = [m for m in modules if not getattr(m, "is_noop", False)]
        # the node computing the output (the regression node passes its parent's value through)
        producer = output
        while producer.module is None and len(producer.parents) == 1:
            producer = producer.parents[0]
        last = producer.module
        self._output_node = producer.name if isinstance(last, Layer) else None
        # fused losses (softmax + cross-entropy from logits) for chains and graphs (merge, several inputs)
        self._has_output_layer = self._output_node is not None and (not self._is_chain or last is self._chain[-1])
        self._output_ref = (last if self._has_output_layer else None,)  # (a tuple: not a second submodule)
        self._penalties = [(m, *entry) for m in modules for entry in getattr(m, "regularizers", ())]

    @property
    def _output_layer(self) -> Layer | None:
        """The layer computing the output when it has an activation (a plain attribute, not a second
        registration of the module)."""
        return self._output_ref[0]

    @property
    def output_activation(self) -> str | None:
        """Name of the output layer's activation (``'softmax'``, ``'sigmoid'``, ...), if any."""
        layer = self._output_layer
        return getattr(layer, "activation_name", None) if layer is not None else None

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        if self._is_chain:
            x = inputs[0]
            for module in self._chain:
                x = module(x)
        else:
            x = self._run_graph(inputs)
        return x.permute(0, 2, 3, 1) if self._image_output else x  # (batch, H, W, C) as given

    def logits(self, *inputs: torch.Tensor) -> torch.Tensor:
        """The output layer's pre-activation (falls back to ``forward`` when there is none)."""
        if self._output_layer is None:
            return self.forward(*inputs)
        if self._is_chain:
            x = inputs[0]
            for module in self._chain[:-1]:
                x = module(x)
            x = self._output_layer.pre_activation(x)
        else:
            x = self._run_graph(inputs, logits_of=self._output_node)
        return x.permute(0, 2, 3, 1) if self._image_output else x

    def values_of(self, inputs, names: list[str], logits: frozenset = frozenset()) -> list[tuple]:
        """``(value, pre-activation)`` of the nodes named ``names`` (e.g. several regression layers) in
        one pass; the pre-activation only for the names in ``logits`` (else it is the value)."""
        return self._run_graph(inputs, keep=names, keep_logits=logits)

    def _run_graph(self, inputs, logits_of: str | None = None, keep: list[str] | None = None,
                   keep_logits: frozenset = frozenset()):
        """Run the plan; the node named ``logits_of`` (the output layer) gives its pre-activation;
        ``keep``: return ``(value, pre-activation)`` of those nodes instead of the output (the
        pre-activation computed only for those in ``keep_logits``; else it repeats the value)."""
        if len(inputs) != len(self.inputs):
            raise ValueError(
                f"the network has {len(self.inputs)} input_data layers "
                f"({', '.join(n.name for n in self.inputs)}) but received {len(inputs)} inputs. "
                f"Pass one array per input, in the order the input_data layers were created."
            )
        values = {}
        for node, x in zip(self.inputs, inputs):
            values[node.name] = node.module(x) if node.module is not None else x
        pre = {}
        for name, module, parent_names, list_input in self._plan:
            args = [values[p] for p in parent_names]
            if module is None:
                values[name] = args[0]
            elif name == logits_of:
                values[name] = module.pre_activation(args if list_input else args[0])
            else:
                values[name] = module(args) if list_input else module(*args)
                if name in keep_logits:
                    pre[name] = module.pre_activation(args if list_input else args[0])
        if keep is not None:
            return [(values[name], pre.get(name, values[name])) for name in keep]
        return values[self.output_name]

    def regularization_loss(self) -> torch.Tensor | None:
        """Sum of the per-layer L1/L2 penalties (``None`` when no layer has one)."""
        total = None
        for module, param_name, regularizer, weight_decay in self._penalties:
            term = regularizer(getattr(module, param_name), weight_decay)
            total = term if total is None else total + term
        return total
