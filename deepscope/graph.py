"""Symbolic tensors: ``input_data(...) -> layer calls -> a built nn.Module``, with shape inference.

A layer function (``fully_connected``, ``conv_2d``, ...) receives a :class:`Node`, builds its
``nn.Module`` at once for the node's (already known) shape, and returns a new Node. The call
and its arguments are recorded, so a network can be written to JSON and rebuilt by replaying
the same layer functions: no code is ever loaded from a file.

Shapes on nodes are TFlearn's (``[None, 32, 32, 3]``, NHWC); inside the module, rank-4 tensors
are NCHW (see docs/INTERNALS.md).
"""
from __future__ import annotations

import functools
import inspect
import itertools
import numbers
from typing import Any, Callable

import torch
from torch import nn

from ._checks import fail
from ._registry import Registry

LAYERS = Registry("layer")  # layer function name -> function, used to rebuild saved networks
_node_ids = itertools.count()


class Graph:
    """The set of layer names in use, so each layer gets a unique TFlearn-style name."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def peek_name(self, base: str) -> str:
        """The name ``unique_name(base)`` would return, without taking it (for error messages)."""
        n = self.counts.get(base, 0)
        return base if n == 0 else f"{base}_{n}"

    def unique_name(self, base: str) -> str:
        n = self.counts.get(base, 0)
        self.counts[base] = n + 1
        return base if n == 0 else f"{base}_{n}"


class Shape(list):
    """A TFlearn-style shape list (``None`` batch) with TensorFlow's ``as_list()``."""

    def as_list(self) -> list:
        return list(self)


class Node:
    """A symbolic tensor: the output of a layer while the network is described.

    Attributes:
        shape: TFlearn-style shape, batch dimension ``None``.
        module: the ``nn.Module`` computing this node from its parents (``None`` for pass-through).
        parents: the nodes this one is computed from.
        name: unique layer name (``FullyConnected_1``).
        call: ``(function name, recorded arguments)`` for rebuilding from JSON.
        estimator: training settings attached by ``regression`` (else ``None``).
    """

    def __init__(self, shape, module, parents, name, graph, call=None):
        self.id = next(_node_ids)
        self.shape = Shape(shape)
        self.module = module
        self.parents = list(parents)
        self.name = name
        self.graph = graph
        self.call = call
        self.estimator = None

    def get_shape(self) -> Shape:
        """TensorFlow-compatible: ``net.get_shape().as_list()``."""
        return self.shape

    @property
    def W(self):  # TFlearn exposes a layer's weights as ``net.W``
        return getattr(self.module, "weight", None)

    @property
    def b(self):
        return getattr(self.module, "bias", None)

    def __repr__(self) -> str:
        return f"<deepscope Node {self.name!r} shape={list(self.shape)}>"


class Layer(nn.Module):
    """Base for layers with an activation: ``forward(x) = activation(pre_activation(x))``.

    The trainer calls :meth:`pre_activation` of the output layer for fused losses
    (softmax + cross-entropy, sigmoid + binary cross-entropy).
    """

    activation: nn.Module

    def pre_activation(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.pre_activation(x))

    def add_regularizer(self, param_name: str, regularizer: Any, weight_decay: float) -> None:
        """Attach an L1/L2 penalty to one of this layer's parameters."""
        if not hasattr(self, "regularizers"):
            self.regularizers = []
        self.regularizers.append((param_name, regularizer, float(weight_decay)))


def activation_name_of(module: nn.Module) -> str | None:
    """The registry name of a layer's output activation, or None when it has none."""
    act = getattr(module, "activation", None)
    if act is None:
        return None
    return getattr(act, "registry_name", None) or type(act).__name__.lower()


# ---------------------------------------------------------------------------------------------
# Recording layer calls so a network can be rebuilt from JSON
# ---------------------------------------------------------------------------------------------
class NotSerializable:
    """Marks an argument that cannot be written to JSON (a Python function, say)."""

    def __init__(self, argument: str, value: Any):
        self.argument, self.value = argument, value

    def __repr__(self) -> str:
        return f"<not serializable: {self.argument}={self.value!r}>"


def to_json_value(value: Any, argument: str) -> Any:
    """JSON form of a layer argument; objects with ``to_config`` become ``{"__config__": ...}``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [to_json_value(v, argument) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json_value(v, argument) for k, v in value.items()}
    if hasattr(value, "to_config"):
        return {"__class__": type(value).__name__, "__config__": value.to_config()}
    if isinstance(getattr(value, "config", None), dict):  # optimizer / loss / metric objects
        return {"__class__": type(value).__name__, "__config__": to_json_value(value.config, argument)}
    return NotSerializable(argument, value)


def _copy_containers(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_copy_containers(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy_containers(v) for k, v in value.items()}
    return value


def layer_function(kind: str) -> Callable:
    """Decorator for layer functions: records the call and registers the function by name.

    The wrapped function must take the incoming node(s) as its first argument.
    """

    def decorator(fn: Callable) -> Callable:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            node = fn(*args, **kwargs)
            arguments = dict(bound.arguments)
            if kind == "input":  # input_data has no incoming node
                incoming, parents = None, []
            else:
                incoming = arguments.pop(next(iter(signature.parameters)))
                parents = incoming if isinstance(incoming, (list, tuple)) else [incoming]
            if isinstance(node, Node) and node.call is None:
                node.call = {
                    "fn": fn.__name__,
                    "inputs": [p.id for p in parents if isinstance(p, Node)],
                    "list_input": isinstance(incoming, (list, tuple)),
                    # the values themselves (containers copied): written as JSON only when saved, so
                    # objects like ImagePreprocessing are described with the statistics fit() gave them
                    "args": {k: _copy_containers(v) for k, v in arguments.items()},
                }
            return node

        LAYERS.add(fn.__name__, wrapper)
        wrapper.layer_kind = kind
        return wrapper

    return decorator


def add_layer(incoming: Node | list[Node], module: nn.Module | None, shape, name: str) -> Node:
    """Create the node produced by a layer function.

    Args:
        incoming: parent node (or list of parents, e.g. for ``merge``).
        module: the built module computing the node (``None``: pass-through).
        shape: the inferred TFlearn-style output shape.
        name: base name; made unique within the graph.

    Returns:
        The new node.
    """
    parents = incoming if isinstance(incoming, (list, tuple)) else [incoming]
    if not isinstance(name, str) or not name or any(c in name for c in "./\\"):
        fail("layer name", "a plain name without '.', '/' or '\\', such as 'conv1'", name,
             "Names become the keys of the built module's layers (and of saved weights).")
    graph = parents[0].graph
    unique = graph.unique_name(name)
    if module is not None:
        module.layer_name = unique
    return Node(shape, module, parents, unique, graph)


def layer_label(kind: str, incoming: Node, name: str) -> str:
    """``"fully_connected 'FullyConnected_1'"``: how errors name the layer being built."""
    return f"{kind} '{incoming.graph.peek_name(name)}'"


def require_node(incoming: Any, where: str) -> Node:
    """Check that a layer received a node from ``input_data`` or another layer."""
    if isinstance(incoming, Node):
        return incoming
    raise TypeError(
        f"{where}: expected the output of input_data(...) or of another layer as 'incoming', "
        f"got {type(incoming).__name__}. Start the network with net = input_data(shape=[None, ...])."
    )
