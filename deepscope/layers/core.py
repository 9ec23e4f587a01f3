"""Core layers, as in ``tflearn.layers.core``: input_data, fully_connected, dropout, flatten, ..."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .. import activations, initializations, regularizers
from .._registry import Registry
from .._checks import Text, check_choice, check_float, check_int, check_shape_list, fail
from ..graph import NODE_LAYERS, Graph, scope_prefix, Layer, Node, add_layer, layer_function, layer_label, require_node


# ---------------------------------------------------------------------------------------------
# helpers shared by layers
# ---------------------------------------------------------------------------------------------
def to_user_layout(x: torch.Tensor) -> torch.Tensor:
    """Internal NCHW (rank 4) -> TFlearn's NHWC; other ranks unchanged."""
    return x.permute(0, 2, 3, 1) if x.dim() == 4 else x


def to_internal_layout(x: torch.Tensor) -> torch.Tensor:
    """TFlearn's NHWC (rank 4) -> internal NCHW (a view: channels_last memory)."""
    return x.permute(0, 3, 1, 2) if x.dim() == 4 else x


def flatten_features(x: torch.Tensor) -> torch.Tensor:
    """Flatten all but the batch dimension in TFlearn's (NHWC) order."""
    return to_user_layout(x).reshape(x.shape[0], -1)  # (batch, features)


def build_activation(activation, num_features: int, where: str) -> tuple[nn.Module, str | None]:
    """The activation module and its name (``None`` when given as a callable)."""
    module = activations.get(activation, num_features=num_features, where=f"{where} activation")
    name = activation.lower() if isinstance(activation, str) else None
    return module, name


def init_weight(weight: torch.Tensor, weights_init, activation, where: str) -> None:
    """Fill ``weight`` in place with the named or given initializer."""
    init = initializations.get(weights_init, activation=activation, where=f"{where} weights_init")
    with torch.no_grad():
        init(weight)


def init_bias(bias: torch.Tensor | None, bias_init, where: str) -> None:
    if bias is None:
        return
    init = initializations.get(bias_init, where=f"{where} bias_init")
    with torch.no_grad():
        init(bias)


def attach_regularizer(layer: Layer, param_name: str, regularizer, weight_decay, where: str) -> None:
    if regularizer is None:
        return
    fn = regularizers.get(regularizer, where=f"{where} regularizer")
    wd = check_float(weight_decay, f"{where} weight_decay", minimum=0.0)
    layer.add_regularizer(param_name, fn, wd)


# ---------------------------------------------------------------------------------------------
# input_data
# ---------------------------------------------------------------------------------------------
class InputLayer(nn.Module):
    """Entry of a network: preprocessing, augmentation (training only), NHWC -> NCHW.

    Args:
        shape: TFlearn-style input shape (batch None).
        preprocessing: optional ``ImagePreprocessing`` / ``DataPreprocessing`` module.
        augmentation: optional ``ImageAugmentation`` module.
    """

    def __init__(self, shape, preprocessing=None, augmentation=None):
        super().__init__()
        self.shape = list(shape)
        self.preprocessing = preprocessing
        self.augmentation = augmentation

    @property
    def is_noop(self) -> bool:
        """True when the layer would return its input unchanged (the network then skips it)."""
        return self.preprocessing is None and self.augmentation is None and len(self.shape) != 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, *shape[1:]) -> internal layout
        if self.preprocessing is not None:
            x = self.preprocessing(x)
        if self.augmentation is not None and self.training:
            x = self.augmentation(x)
        return to_internal_layout(x)


@layer_function("input")
def input_data(shape=None, placeholder=None, dtype=None, data_preprocessing=None,
               data_augmentation=None, name="InputData") -> Node:
    """The network's input, with TFlearn's arguments.

    Args:
        shape: ``[None]`` (one number per sample), ``[None, features]``, ``[None, steps, features]``
            or ``[None, H, W, C]``.
        placeholder: None; an input node made earlier (returned as it is); or a placeholder object with
            ``shape`` and ``name`` (the input takes both: fit's feed dict may be keyed by the object).
        dtype: ignored (inputs are float32 unless an embedding follows).
        data_preprocessing: an ``ImagePreprocessing`` applied at train and predict time.
        data_augmentation: an ``ImageAugmentation`` applied while training only.
        name: layer name.

    Returns:
        The input node.
    """
    if isinstance(placeholder, Node) and not placeholder.parents:
        return placeholder  # an input made earlier (TFlearn: the placeholder this input feeds)
    if placeholder is not None:  # a placeholder object (a TensorFlow stand-in): its shape and name
        placeholder_shape, placeholder_name = getattr(placeholder, "shape", None), getattr(placeholder, "name", None)
        if not isinstance(placeholder_shape, (list, tuple)) or not isinstance(placeholder_name, str):
            fail("input_data placeholder", "None, an input made with input_data, or an object with a shape list and "
                 "a name (what fit's feed dict is keyed by)", placeholder, "Give shape=[None, ...] instead.")
        shape = shape if shape is not None else [None, *list(placeholder_shape)[1:]]
        if name == "InputData":
            name = placeholder_name.rsplit("/", 1)[-1].split(":")[0]
    if shape is None:
        fail("input_data shape", "a shape such as [None, 2] or [None, 32, 32, 3]", shape,
             "The first dimension (None) is the batch size.")
    shape = check_shape_list(shape, "input_data shape")
    shape[0] = None
    if len(shape) > 5:
        fail("input_data shape", "1 to 5 dimensions including the batch ([None] for one number per "
             "sample, [None, features] ... [None, depth, H, W, C])", shape)
    module = InputLayer(shape, data_preprocessing, data_augmentation)
    node = add_layer_root(module, shape, name)
    if placeholder is not None:  # recorded as the shape and name it gave (the object itself is not saved)
        node.call = {"fn": "input_data", "inputs": [], "list_input": False,
                     "args": {"shape": list(shape), "placeholder": None, "dtype": None,
                              "data_preprocessing": data_preprocessing, "data_augmentation": data_augmentation,
                              "name": name}}
    return node


def add_layer_root(module: nn.Module, shape, name: str) -> Node:
    if not isinstance(name, str) or not name or any(c in name for c in "./\\"):
        fail("input_data name", "a plain name without '.', '/' or '\\', such as 'input'", name)
    graph = Graph()
    unique = graph.unique_name(scope_prefix() + name)
    module.layer_name = unique
    return Node(shape, module, [], unique, graph)


# ---------------------------------------------------------------------------------------------
# fully_connected
# ---------------------------------------------------------------------------------------------
class Dense(Layer):
    """A fully connected layer: ``activation(x @ W.T + b)``; inputs of rank > 2 are flattened."""

    def __init__(self, in_features: int, n_units: int, activation: nn.Module, activation_name, bias: bool):
        super().__init__()
        expansion = getattr(activation, "expansion", 1)
        self.weight = nn.Parameter(torch.empty(n_units * expansion, in_features))  # (out, in)
        self.bias = nn.Parameter(torch.zeros(n_units * expansion)) if bias else None
        self.activation = activation
        self.activation_name = activation_name

    def pre_activation(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() > 2:
            x = flatten_features(x)  # (batch, features)
        return F.linear(x, self.weight, self.bias)  # (batch, n_units)


@layer_function("core")
def fully_connected(incoming, n_units, activation="linear", bias=True, weights_init="auto",
                    bias_init="zeros", regularizer=None, weight_decay=0.001, trainable=True,
                    restore=True, reuse=False, scope=None, name="FullyConnected") -> Node:
    """A fully connected layer (TFlearn's arguments).

    Args:
        incoming: the previous node; rank > 2 inputs are flattened.
        n_units: number of units.
        activation: name (``'relu'``, ``'softmax'``, ...) or a module / function.
        bias: whether to add a bias.
        weights_init: initializer name or callable; ``'auto'`` pairs He with ReLU-like
            activations and Glorot with tanh/sigmoid/softmax/linear.
        bias_init: initializer for the bias.
        regularizer: ``'L1'``, ``'L2'`` or None; scaled by ``weight_decay``.
        weight_decay: scale of the regularizer for this layer.
        trainable: False freezes the weights.
        restore, reuse, scope: accepted for TFlearn compatibility.
        name: layer name.

    Returns:
        The new node, shape ``[None, n_units]``.
    """
    incoming = require_node(incoming, f"fully_connected '{name}'")
    where = layer_label("fully_connected", incoming, name)
    n_units = check_int(n_units, f"{where} n_units", minimum=1)
    in_features = math.prod(incoming.shape[1:])
    act, act_name = build_activation(activation, n_units, where)
    layer = Dense(in_features, n_units, act, act_name, bool(bias))
    init_weight(layer.weight, weights_init, act, where)
    init_bias(layer.bias, bias_init, where)
    attach_regularizer(layer, "weight", regularizer, weight_decay, where)
    if not trainable:
        layer.requires_grad_(False)
    return add_layer(incoming, layer, [None, n_units], name)


class SingleUnit(Layer):
    """One weight and one bias applied to every input value: ``activation(w * x + b)``."""

    def __init__(self, activation: nn.Module, activation_name, bias: bool):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(1))
        self.bias = nn.Parameter(torch.zeros(1)) if bias else None
        self.activation = activation
        self.activation_name = activation_name

    def pre_activation(self, x: torch.Tensor) -> torch.Tensor:
        x = x * self.weight  # same shape as the input
        return x + self.bias if self.bias is not None else x


@layer_function("core")
def single_unit(incoming, activation="linear", bias=True, trainable=True, restore=True, reuse=False,
                scope=None, name="Linear") -> Node:
    """A single unit (TFlearn's, for linear regression): ``activation(w * x + b)`` element-wise.

    Args:
        incoming: the previous node, e.g. ``input_data(shape=[None])``.
        activation: name or callable.
        bias: whether to add the bias ``b``.
        trainable, restore, reuse, scope: as in TFlearn.
        name: layer name.

    Returns:
        A node of the incoming shape.
    """
    incoming = require_node(incoming, f"single_unit '{name}'")
    where = layer_label("single_unit", incoming, name)
    act, act_name = build_activation(activation, 1, where)
    layer = SingleUnit(act, act_name, bool(bias))
    with torch.no_grad():
        layer.weight.normal_()  # TFlearn: a standard normal start
    if not trainable:
        layer.requires_grad_(False)
    return add_layer(incoming, layer, incoming.shape, name)


# ---------------------------------------------------------------------------------------------
# dropout, activation, flatten, reshape
# ---------------------------------------------------------------------------------------------
@layer_function("core")
def dropout(incoming, keep_prob, noise_shape=None, name="Dropout") -> Node:
    """Dropout with TFlearn's meaning: ``keep_prob`` is the probability of KEEPING a unit.

    Args:
        incoming: the previous node.
        keep_prob: probability in (0, 1] that a unit is kept while training.
        noise_shape: unsupported; must be None.
        name: layer name.
    """
    incoming = require_node(incoming, f"dropout '{name}'")
    keep_prob = check_float(keep_prob, f"dropout '{name}' keep_prob", minimum=0.0, maximum=1.0,
                            min_inclusive=False)
    if noise_shape is not None:
        fail(f"dropout '{name}' noise_shape", "None", noise_shape)
    return add_layer(incoming, nn.Dropout(p=1.0 - keep_prob), incoming.shape, name)


class Activation(Layer):
    """A standalone activation layer."""

    def __init__(self, activation: nn.Module, activation_name, channels_last_input: bool):
        super().__init__()
        self.activation = activation
        self.activation_name = activation_name
        self.channels_last_input = channels_last_input  # rank-3 (batch, steps, features)

    def pre_activation(self, x):
        return x

    def forward(self, x):
        if self.channels_last_input:  # activations act on dim 1: move features there and back
            return self.activation(x.transpose(1, 2)).transpose(1, 2)
        return self.activation(x)


@layer_function("core")
def activation(incoming, activation="linear", name="Activation") -> Node:
    """Apply an activation function by name or callable.

    Args:
        incoming: a node (adds an activation layer) or a tensor / array (returns the activated values, as
            TFlearn's ``activation(tensor, 'relu')``).
        activation: a name (``'relu'``, ``'leaky_relu'``, ...) or a callable.
        name: layer name.

    Returns:
        The new node, or the activated tensor.
    """
    if not isinstance(incoming, Node) and not isinstance(incoming, (list, tuple, dict, str)) and incoming is not None:
        return apply_activation(incoming, activation, f"activation '{name}'")
    incoming = require_node(incoming, f"activation '{name}'")
    rank = len(incoming.shape)
    features = incoming.shape[-1] if rank != 4 else incoming.shape[3]
    act, act_name = build_activation(activation, features, layer_label("activation", incoming, name))
    if getattr(act, "expansion", 1) != 1:
        fail(f"activation '{name}'", "an element-wise activation", activation,
             "maxout changes the number of units: use fully_connected(..., activation='maxout').")
    return add_layer(incoming, Activation(act, act_name, rank == 3), incoming.shape, name)


def apply_activation(values, activation, where: str):
    """``activation`` applied to a tensor (arrays and numbers become float32 tensors); element-wise only."""
    if not isinstance(values, torch.Tensor) and not hasattr(values, "__torch_function__"):
        try:
            values = torch.as_tensor(values, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError):
            fail(f"{where} incoming", "a node, a tensor, an array or a number", Text(type(values).__name__),
                 error=TypeError)
    if callable(activation) and not isinstance(activation, nn.Module) and not isinstance(activation, str):
        return activation(values)
    module = activations.get(activation, num_features=1, where=f"{where} activation")
    if getattr(module, "expansion", 1) != 1:
        fail(f"{where} activation", "an element-wise activation", activation)
    return module(values)


ELEMENTWISE_OPS = ("add", "sub", "mul", "div")


class Elementwise(nn.Module):
    """``a op b`` for two same-shaped tensors, or ``x op constant`` (``reverse``: ``constant op x``)."""

    def __init__(self, op: str, constant: float | None = None, reverse: bool = False):
        super().__init__()
        self.op, self.constant, self.reverse = op, constant, reverse

    def forward(self, x):
        if self.constant is None:
            a, b = x  # (two tensors of one shape)
        else:
            a, b = (self.constant, x) if self.reverse else (x, self.constant)
        if self.op == "add":
            return a + b
        if self.op == "sub":
            return a - b
        if self.op == "mul":
            return a * b
        return a / b


@layer_function("core")
def elementwise(incoming, op, constant=None, reverse=False, name="Elementwise") -> Node:
    """Arithmetic on layer outputs, as ``net + other``, ``0.17 * net``, ``a - b`` write it.

    Args:
        incoming: a node, or a list of two nodes of the same shape.
        op: ``'add'``, ``'sub'``, ``'mul'`` or ``'div'``.
        constant: the number (when ``incoming`` is one node).
        reverse: ``constant op incoming`` instead of ``incoming op constant``.
        name: layer name.

    Returns:
        A node of the same shape.
    """
    label = f"elementwise '{name}'"
    check_choice(op, f"{label} op", ELEMENTWISE_OPS)
    if isinstance(incoming, (list, tuple)):
        if len(incoming) != 2 or not all(isinstance(n, Node) for n in incoming):
            fail(f"{label} incoming", "two layer outputs", incoming, error=TypeError)
        a, b = incoming
        if list(a.shape) != list(b.shape):
            fail(f"{label} ({a.name} {op} {b.name})", "two outputs of the same shape",
                 Text(f"shapes {list(a.shape)} and {list(b.shape)}"),
                 "Reshape one of them, or use merge(..., 'concat') to join different sizes.")
        return add_layer([a, b], Elementwise(op), list(a.shape), name)
    incoming = require_node(incoming, label)
    if isinstance(constant, bool) or not isinstance(constant, (int, float)):
        fail(f"{label} constant", "a number", constant, error=TypeError)
    return add_layer(incoming, Elementwise(op, float(constant), bool(reverse)), list(incoming.shape), name)


CUSTOM_FUNCTIONS = Registry("custom layer function")  # name -> function, so custom_layer models save


def register_custom_function(fn, name: str | None = None):
    """Register a ``custom_layer`` function under ``name`` (default: its ``__name__``), so a model using
    it can be saved and loaded (register it again before ``deepscope.load`` in another program).
    Usable as a decorator.

    Returns:
        ``fn``.
    """
    if not callable(fn):
        fail("register_custom_function fn", "a function tensor -> tensor", type(fn).__name__, error=TypeError)
    name = name or getattr(fn, "__name__", None)
    if not isinstance(name, str) or not name.isidentifier():
        fail("register_custom_function name", "a name such as 'my_layer'", name)
    CUSTOM_FUNCTIONS.add(name, fn)
    fn.deepscope_custom_name = name  # how a saved model names it
    return fn


class CustomLayer(nn.Module):
    """Applies a user function to the tensor in TFlearn's layout (NHWC for images)."""

    def __init__(self, fn, kwargs: dict):
        super().__init__()
        self.fn, self.kwargs = fn, dict(kwargs)

    def forward(self, x):
        return to_internal_layout(self.fn(to_user_layout(x), **self.kwargs))


@layer_function("core")
def custom_layer(incoming, custom_fn, name="CustomLayer", **kwargs) -> Node:
    """A layer computing ``custom_fn(x, **kwargs)`` on its input (TFlearn's ``custom_layer``). ``x`` is a
    torch tensor in TFlearn's layout (NHWC images); the output shape is found by running the function
    once on a small batch. To save the model, register the function first
    (``register_custom_function(fn)``, or give its registered name as ``custom_fn``); an unregistered
    function is refused when saving, with this advice.

    Returns:
        The new node.
    """
    incoming = require_node(incoming, f"custom_layer '{name}'")
    where = layer_label("custom_layer", incoming, name)
    fn = CUSTOM_FUNCTIONS.get(custom_fn, where=f"{where} custom_fn") if isinstance(custom_fn, str) else custom_fn
    if not callable(fn):
        fail(f"{where} custom_fn", "a function tensor -> tensor (or a registered name)", type(custom_fn).__name__,
             error=TypeError)
    probe = torch.zeros(2, *incoming.shape[1:])  # (2, ...) in TFlearn's layout
    try:
        with torch.no_grad():
            out = fn(probe, **kwargs)
    except Exception as error:  # noqa: BLE001 - the user's function: say where it failed
        fail(where, f"a function that runs on a batch of shape {[None, *incoming.shape[1:]]}",
             Text(f"{type(error).__name__}: {str(error)[:160]}"))
    if not isinstance(out, torch.Tensor) or out.dim() < 1 or out.shape[0] != 2:
        fail(where, "a function returning a tensor with the batch first", Text(repr(type(out).__name__)))
    return add_layer(incoming, CustomLayer(fn, kwargs), [None, *out.shape[1:]], name)


class Flatten(nn.Module):
    def forward(self, x):
        return flatten_features(x)


@layer_function("core")
def flatten(incoming, name="Flatten") -> Node:
    """Flatten all but the batch dimension (TFlearn's NHWC order)."""
    incoming = require_node(incoming, f"flatten '{name}'")
    return add_layer(incoming, Flatten(), [None, math.prod(incoming.shape[1:])], name)


class Reshape(nn.Module):
    def __init__(self, new_shape):
        super().__init__()
        self.new_shape = list(new_shape)

    def forward(self, x):
        if not self.new_shape:  # new_shape=[-1]: every value in one vector (the batch axis grows)
            return to_user_layout(x).reshape(-1)
        x = to_user_layout(x).reshape([x.shape[0]] + self.new_shape)
        return to_internal_layout(x)


@layer_function("core")
def reshape(incoming, new_shape, name="Reshape") -> Node:
    """Reshape (TFlearn semantics: shapes are NHWC; the batch dimension may be -1 or None).

    Args:
        incoming: the previous node.
        new_shape: e.g. ``[-1, 28, 28, 1]``; ``[-1]`` puts every value of the batch in one vector.
        name: layer name.
    """
    incoming = require_node(incoming, f"reshape '{name}'")
    where = f"reshape '{name}' new_shape"
    if isinstance(new_shape, (list, tuple)) and len(new_shape) == 1 and new_shape[0] in (-1, None):
        return add_layer(incoming, Reshape([]), [None], name)  # TFlearn's [-1]: all values in one vector
    if not isinstance(new_shape, (list, tuple)) or len(new_shape) < 2:
        fail(where, "a list such as [-1, 28, 28, 1] (batch first), or [-1] for one vector of all values",
             new_shape, error=TypeError)
    rest = list(new_shape[1:])
    size = math.prod(incoming.shape[1:])
    if rest.count(-1) > 1 or any((not isinstance(d, int)) or d == 0 or d < -1 for d in rest):
        fail(where, "positive sizes after the batch dimension (at most one -1)", new_shape)
    known = math.prod(d for d in rest if d != -1)
    if -1 in rest:
        if size % known:
            fail(where, f"sizes that divide the {size} features of the input {list(incoming.shape)}", new_shape)
        rest[rest.index(-1)] = size // known
    elif known != size:
        fail(where, f"{size} features in all (the input is {list(incoming.shape)})", new_shape,
             f"The product of the new sizes is {known}.")
    return add_layer(incoming, Reshape(rest), [None] + rest, name)


NODE_LAYERS.update(elementwise=elementwise, activation=activation)  # what Node arithmetic and activations call
