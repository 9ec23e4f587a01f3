"""Symbolic tensors: ``input_data(...) -> layer calls -> a built nn.Module``, with shape inference.

A layer function (``fully_connected``, ``conv_2d``, ...) receives a :class:`Node`, builds its
``nn.Module`` at once for the node's (already known) shape, and returns a new Node. The call
and its arguments are recorded, so a network can be written to JSON and rebuilt by replaying
the same layer functions: no code is ever loaded from a file.

Shapes on nodes are TFlearn's (``[None, 32, 32, 3]``, NHWC); inside the module, rank-4 tensors
are NCHW (see docs/INTERNALS.md).
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import itertools
import numbers
import weakref
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_keywords, fail, keyword_names
from ._registry import Registry

LAYERS = Registry("layer")  # layer function name -> function, used to rebuild saved networks
_TORCH_ACTIVATIONS = {  # torch functions a Node answers as activation layers (see Node.__torch_function__)
    F.relu: "relu", torch.relu: "relu", torch.tanh: "tanh", F.tanh: "tanh", torch.sigmoid: "sigmoid",
    F.sigmoid: "sigmoid", F.softmax: "softmax", F.elu: "elu", F.leaky_relu: "leaky_relu", F.selu: "selu",
    F.gelu: "gelu", F.silu: "silu", F.softplus: "softplus", F.softsign: "softsign",
}
_node_ids = itertools.count()
# TFlearn's variable scopes: the layers created with a name or scope, newest first (weak: a layer
# that no network uses any more disappears). ``reuse=True`` shares a scope's module (its weights);
# ``deepscope.variables.get_layer_variables_by_name`` reads its parameters.
SCOPES: "weakref.WeakValueDictionary[str, nn.Module]" = weakref.WeakValueDictionary()


_OPEN_SCOPES: list[str] = []  # TFlearn/TensorFlow variable scopes open now, outermost first


@contextlib.contextmanager
def variable_scope(name: str):
    """Prefix the names of the layers made inside with ``name/`` (TensorFlow's ``tf.variable_scope``).

    A layer named ``'target'`` made inside ``variable_scope('scopeQ')`` is ``'scopeQ/target'``: feed
    it as ``fit({'scopeQ/input': X}, {'scopeQ/target': Y})``; its weights are saved under that name, and
    ``DNN.load(path, scope_for_restore='scopeQ')`` or ``variable_name_map=('^scopeQ/', '')`` load a file
    saved without the scope. Scopes nest (``'outer/inner/target'``).

    Args:
        name: a plain word (letters, digits, ``_``, ``-``); no ``'.'``, ``'/'`` or ``'\\'``.
    """
    if not isinstance(name, str) or not name or any(c in name for c in "./\\"):
        fail("variable_scope name", "a plain word without '.', '/' or '\\', such as 'scopeA'", name)
    _OPEN_SCOPES.append(name)
    try:
        yield name
    finally:
        _OPEN_SCOPES.pop()


def scope_prefix() -> str:
    """``'outer/inner/'`` for the variable scopes open now (``''`` outside any)."""
    return "".join(f"{scope}/" for scope in _OPEN_SCOPES)


@contextlib.contextmanager
def scope_path(path: str | None):
    """Reopen the scopes of ``'outer/inner'`` (rebuilding a saved network); ``None`` or ``''``: none."""
    with contextlib.ExitStack() as stack:
        for part in (path or "").split("/"):
            if part:
                stack.enter_context(variable_scope(part))
        yield


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


#: the layer functions a ``Node`` applies to itself (arithmetic, activations), handed over by
#: layers/core.py when it is imported (they build on this module, so it cannot import them)
NODE_LAYERS: dict = {}


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

    # Arithmetic on layer outputs (TFlearn's tensors allow it): each operation is recorded as an
    # ``elementwise`` layer, so the network still saves and loads. (The layer functions build on this
    # module; layers/core.py hands them to ``NODE_LAYERS`` when it is imported.)
    def _elementwise(self, other, op: str, reverse: bool = False) -> "Node":
        elementwise = NODE_LAYERS["elementwise"]
        if isinstance(other, Node):
            return elementwise([other, self] if reverse else [self, other], op)
        if isinstance(other, numbers.Real) and not isinstance(other, bool):
            return elementwise(self, op, constant=float(other), reverse=reverse)
        return NotImplemented

    def __add__(self, other): return self._elementwise(other, "add")
    def __radd__(self, other): return self._elementwise(other, "add", reverse=True)
    def __sub__(self, other): return self._elementwise(other, "sub")
    def __rsub__(self, other): return self._elementwise(other, "sub", reverse=True)
    def __mul__(self, other): return self._elementwise(other, "mul")
    def __rmul__(self, other): return self._elementwise(other, "mul", reverse=True)
    def __truediv__(self, other): return self._elementwise(other, "div")
    def __rtruediv__(self, other): return self._elementwise(other, "div", reverse=True)
    def __neg__(self): return self._elementwise(-1.0, "mul")

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        """A torch activation called on a layer output (``nn.ReLU()(net)``, ``torch.tanh(net)``, what
        TFlearn programs do with ``activations.get('relu')(net)``) becomes an activation layer; any
        other torch function cannot run on a symbolic output and says what to use instead."""
        kwargs = kwargs or {}
        name = _TORCH_ACTIVATIONS.get(func)
        node = args[0] if args else None
        if name is None or not isinstance(node, Node):
            fail(f"torch function {getattr(func, '__name__', func)!r} on the layer output",
                 "a torch activation (relu, tanh, sigmoid, softmax, elu, leaky_relu, ...) or a deepscope layer",
                 type(node).__name__, "Layer outputs are symbolic while the network is described: use a layer "
                 "(activation(net, ...), merge, reshape, elementwise arithmetic like net + other).", error=TypeError)
        options = {}
        if name == "leaky_relu":
            options["alpha"] = float(args[1] if len(args) > 1 else kwargs.get("negative_slope", 0.01))
        elif name == "elu":
            options["alpha"] = float(args[1] if len(args) > 1 else kwargs.get("alpha", 1.0))
        return node.apply_activation({"name": name, **options} if options else name)

    def apply_activation(self, activation) -> "Node":
        """An activation layer on this node (what ``deepscope.activations.relu(node)`` does)."""
        return NODE_LAYERS["activation"](self, activation)


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
    if callable(value) and hasattr(value, "layer_kind") and value.__name__ in LAYERS and LAYERS.get(value.__name__) is value:
        return {"__layer__": value.__name__}  # time_distributed(fn=fully_connected): a layer function by name
    if callable(value) and isinstance(getattr(value, "deepscope_custom_name", None), str):
        return {"__custom__": value.deepscope_custom_name}  # custom_layer(custom_fn=...): by registered name
    if isinstance(value, nn.Parameter):  # regression(trainable_vars=[...]): stored by layer and name
        for module in list(SCOPES.values()):
            for param_name, param in module.named_parameters():
                if param is value:
                    return f"{module.layer_name}.{param_name}"
        return NotSerializable(argument, value)
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

        names = None if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()) else \
            keyword_names(signature)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if names is not None:
                check_keywords(fn.__name__, names, kwargs)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            scope = bound.arguments.get("scope")
            if isinstance(scope, str) and scope and not bound.arguments.get("reuse") and "name" in bound.arguments:
                # TFlearn: "scope will override name" (the layer's weights are named after it)
                bound.arguments["name"] = scope.replace("/", "_").replace(".", "_")
                args, kwargs = bound.args, bound.kwargs
            node = fn(*args, **kwargs)
            arguments = dict(bound.arguments)
            for param in signature.parameters.values():  # **kwargs (custom_layer's) recorded as plain arguments
                if param.kind is inspect.Parameter.VAR_KEYWORD:
                    arguments.update(arguments.pop(param.name, {}))
            if isinstance(node, Node) and node.module is not None:
                _apply_scope(node, arguments, fn.__name__)
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


def _apply_scope(node: Node, arguments: dict, function: str) -> None:
    """TFlearn's ``scope``/``reuse``/``restore`` arguments of a layer call.

    ``reuse=True`` with ``scope='s'``: the node uses the module created earlier with scope ``'s'``
    (the same weights, shared); ``restore=False``: ``DNN.load`` leaves this layer's fresh weights.
    """
    scope, reuse = arguments.get("scope"), arguments.get("reuse")
    where = f"{function} '{node.name}'"
    if reuse and not scope:
        fail(f"{where} reuse", "a scope naming the layer to share weights with", None,
             "Give scope='...' both where the layer is first made and here (with reuse=True).")
    if reuse:
        shared = SCOPES.get(str(scope))
        if shared is None:
            fail(f"{where} scope", f"a scope made earlier (reuse=True shares its weights); known: {sorted(SCOPES)}",
                 scope, f"Create the layer first with scope={scope!r} and reuse=False.")
        mine = {k: tuple(v.shape) for k, v in node.module.state_dict().items()}
        theirs = {k: tuple(v.shape) for k, v in shared.state_dict().items()}
        if mine != theirs or type(shared) is not type(node.module):
            fail(f"{where} (reuse=True, scope={scope!r})", f"the same layer as the one scope {scope!r} names "
                 f"({type(shared).__name__} {theirs})", f"{type(node.module).__name__} {mine}",
                 "A shared layer must have the same kind, sizes and input size.")
        node.module = shared
        return
    if arguments.get("restore") is False:
        node.module.restore = False
    for key in {str(scope) if scope else None, node.name} - {None}:
        SCOPES[key] = node.module


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
    unique = graph.unique_name(scope_prefix() + name)
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
