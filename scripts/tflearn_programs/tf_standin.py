"""A small stand-in for TensorFlow 1's graph mode, on torch, so TFlearn's programs and tests run with
`tflearn` = deepscope and no TensorFlow (harness code: deepscope itself never needs it).

- `tf.placeholder` gives a `Symbol` leaf (shape, dtype, name); torch operations on symbols
  (`torch.tanh(x)`, `x @ W`, `x.float()`, deepscope's activations and metric ops) build `Symbol`
  expressions through `__torch_function__`; `Session.run(fetch, feed_dict)` evaluates them. A symbol is
  also a function of a feed (`symbol(feed)`), which is what deepscope.helpers' TrainOp, Evaluator and
  summaries take, so TFlearn's Trainer programs train through deepscope's loop.
- `tf.variable_scope` / `tf.name_scope` are deepscope's `variable_scope`; `tf.errors.NotFoundError` is
  deepscope's `WeightsNotFoundError`; graph collections are dicts of this module (TFlearn's `TARGETS` is
  filled by `regression(placeholder=...)` calls seen here).
"""
from __future__ import annotations

import contextlib
import importlib.machinery
import itertools
import sys
import types

import numpy as np
import torch

import deepscope
from deepscope.graph import Node, variable_scope
from deepscope.models.serialization import WeightsNotFoundError

_names = itertools.count()


class Symbol:
    """A value computed when a session runs: a placeholder (a leaf) or ``fn(*args, **kwargs)`` of symbols."""

    def __init__(self, fn=None, args=(), kwargs=None, shape=None, dtype=torch.float32, name=None):
        self.fn, self.args, self.kwargs = fn, tuple(args), dict(kwargs or {})
        self._shape = None if shape is None else [None if d in (None, -1) else int(d) for d in shape]
        self.dtype, self.name = dtype, name

    @property
    def shape(self):
        """A placeholder's shape; an expression's, found by running it once on zeros (batch of 2 -> None)."""
        if self._shape is None and self.fn is not None:
            leaves = _leaves(self)
            if all(leaf._shape is not None for leaf in leaves):
                feed = {leaf: torch.zeros([2 if d is None else d for d in leaf._shape], dtype=leaf.dtype)
                        for leaf in leaves}
                with torch.no_grad():
                    value = evaluate(self, feed)
                batched = any(leaf._shape and leaf._shape[0] is None for leaf in leaves)
                self._shape = [None if (i == 0 and batched) else d for i, d in enumerate(value.shape)]
        return self._shape

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return cls(func, args, kwargs)

    def __getattr__(self, name):
        if name.startswith("_") or not callable(getattr(torch.Tensor, name, None)):
            raise AttributeError(name)
        return lambda *a, **k: Symbol(lambda obj, *a2, **k2: getattr(obj, name)(*a2, **k2), (self, *a), k)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def dim(self) -> int:
        return len(self.shape)

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def get_shape(self):
        return deepscope.graph.Shape(self.shape or [])

    def __call__(self, feed):
        return evaluate(self, feed)

    def __add__(self, o): return torch.add(self, o)
    def __radd__(self, o): return torch.add(o, self)
    def __sub__(self, o): return torch.sub(self, o)
    def __rsub__(self, o): return torch.sub(o, self)
    def __mul__(self, o): return torch.mul(self, o)
    def __rmul__(self, o): return torch.mul(o, self)
    def __truediv__(self, o): return torch.div(self, o)
    def __rtruediv__(self, o): return torch.div(o, self)
    def __matmul__(self, o): return torch.matmul(self, o)
    def __neg__(self): return torch.neg(self)
    def __gt__(self, o): return torch.gt(self, o)
    def __lt__(self, o): return torch.lt(self, o)
    __hash__ = object.__hash__


def _leaves(symbol) -> list:
    found, stack = [], [symbol]
    while stack:
        item = stack.pop()
        if isinstance(item, Symbol):
            if item.fn is None:
                if all(item is not f for f in found):
                    found.append(item)
            else:
                stack.extend(item.args)
                stack.extend(item.kwargs.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return found


def evaluate(value, feed):
    """``value`` with every symbol computed from ``feed`` ({placeholder symbol or name: array})."""
    if isinstance(value, Symbol):
        if value.fn is None:
            for key, given in feed.items():
                if key is value or (isinstance(key, str) and value.name in (key, key + ":0")):
                    return torch.as_tensor(np.asarray(given) if not isinstance(given, torch.Tensor) else given,
                                           dtype=value.dtype)
            raise KeyError(f"placeholder {value.name!r} was not fed")
        return value.fn(*[evaluate(a, feed) for a in value.args],
                        **{k: evaluate(v, feed) for k, v in value.kwargs.items()})
    if isinstance(value, Node):  # a deepscope layer output: run its network on the fed inputs
        net = deepscope.network.Network(value)
        inputs = []
        for node in net.inputs:
            match = [v for k, v in feed.items() if k is node or getattr(k, "name", k) in (node.name, node.name + ":0")]
            inputs.append(torch.as_tensor(np.asarray(match[0]), dtype=torch.float32))
        with torch.no_grad():
            return net.eval()(*inputs)
    if isinstance(value, (list, tuple)):
        return type(value)(evaluate(v, feed) for v in value)
    if isinstance(value, dict):
        return {k: evaluate(v, feed) for k, v in value.items()}
    return value


def _numpy(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, (list, tuple)):
        return [_numpy(v) for v in value]
    return value


class Session:
    def __init__(self, *args, **kwargs):
        pass

    def run(self, fetches, feed_dict=None):
        return _numpy(evaluate(fetches, dict(feed_dict or {})))

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def as_default(self):
        return contextlib.nullcontext(self)


class Graph:
    def as_default(self):
        _COLLECTIONS.clear()
        return contextlib.nullcontext(self)


_COLLECTIONS: dict[str, list] = {}
_DTYPES = {"float32": torch.float32, "float": torch.float32, "float64": torch.float64, "int32": torch.int32,
           "int64": torch.int64}


def placeholder(dtype=torch.float32, shape=None, name=None):
    dtype = _DTYPES.get(dtype, dtype) if isinstance(dtype, str) else dtype
    scope = deepscope.graph.scope_prefix()
    return Symbol(shape=shape, dtype=dtype, name=f"{scope}{name or f'Placeholder_{next(_names)}'}:0")


def add_to_collection(key, value):
    _COLLECTIONS.setdefault(key, []).append(value)


def get_collection(key):
    return list(_COLLECTIONS.get(key, []))


def _regression_records_targets():
    """TFlearn's regression adds its target placeholder to the TARGETS collection once."""
    real = deepscope.layers.estimator.regression

    def regression(incoming, placeholder="default", *args, **kwargs):
        if isinstance(placeholder, Symbol) and placeholder not in _COLLECTIONS.get("targets", []):
            add_to_collection("targets", placeholder)
        return real(incoming, placeholder, *args, **kwargs)
    regression.__wrapped__ = real
    return regression


def _concat(values, axis=0, name=None):
    """Layer outputs join with deepscope's merge (a recorded layer); tensors and symbols with torch.cat."""
    if all(isinstance(v, Node) for v in values):
        return deepscope.merge(list(values), "concat", axis=axis)
    return torch.cat(values, axis)


def _op(fn):
    """A TensorFlow op on torch: TensorFlow's keyword names (``axis``, ``name``) dropped or mapped."""
    def call(*args, name=None, axis=None, reduction_indices=None, keep_dims=False, keepdims=False, **kwargs):
        dim = axis if axis is not None else reduction_indices
        if dim is not None:
            kwargs["dim"] = dim
            if keep_dims or keepdims:
                kwargs["keepdim"] = True
        return fn(*args, **kwargs)
    return call


def _variable(value, trainable=True, name=None, **kwargs):
    parameter = torch.nn.Parameter(torch.as_tensor(value, dtype=torch.float32).clone(), requires_grad=bool(trainable))
    deepscope.variables._MADE.add(parameter)  # TrainOp's default trainable_vars, as TensorFlow's graph has them
    return parameter


def _softmax_cross_entropy(logits=None, labels=None, dim=-1, axis=None, name=None, **kwargs):
    return -(labels * torch.log_softmax(logits, dim=dim if axis is None else axis)).sum(dim=-1)


def _expand_dims(value, axis, name=None):
    """A layer output gets a reshape layer with a new axis of size 1; tensors and symbols: torch.unsqueeze."""
    if isinstance(value, Node):
        shape = list(value.shape[1:])
        shape.insert(axis - 1 if axis > 0 else len(shape) + axis + 1, 1)
        return deepscope.reshape(value, [-1, *shape])
    return torch.unsqueeze(value, axis)


def build() -> types.ModuleType:
    """The ``tensorflow`` stand-in module (also as ``tensorflow.compat.v1``)."""
    tf = types.ModuleType("tensorflow")
    tf.__spec__ = importlib.machinery.ModuleSpec("tensorflow", None)
    tf.Graph, tf.Session = Graph, Session
    tf.reset_default_graph = _COLLECTIONS.clear
    tf.get_default_graph = Graph
    tf.float32, tf.float64, tf.int32, tf.int64 = torch.float32, torch.float64, torch.int32, torch.int64
    tf.placeholder, tf.add_to_collection, tf.get_collection = placeholder, add_to_collection, get_collection
    tf.constant = lambda value, dtype=torch.float32, **k: torch.tensor(value, dtype=dtype)
    tf.convert_to_tensor = lambda value, dtype=None, **k: torch.as_tensor(value, dtype=dtype)
    tf.Variable = _variable
    tf.global_variables_initializer = lambda: None
    tf.cast = lambda x, dtype, name=None: x.to(dtype)
    tf.equal, tf.log, tf.exp, tf.square = _op(torch.eq), _op(torch.log), _op(torch.exp), _op(torch.square)
    tf.argmax = lambda x, axis=None, name=None, dimension=None: torch.argmax(x, axis if axis is not None else dimension)
    tf.reshape = lambda x, shape, name=None: torch.reshape(x, [(-1 if d is None else d) for d in shape])
    tf.random_normal = lambda shape, mean=0.0, stddev=1.0, **k: torch.randn(*shape) * stddev + mean
    tf.matmul, tf.add = _op(torch.matmul), _op(torch.add)
    tf.reduce_mean, tf.reduce_sum, tf.reduce_max = _op(torch.mean), _op(torch.sum), _op(torch.amax)
    tf.concat, tf.expand_dims = _concat, _expand_dims
    tf.variable_scope = lambda name, *a, **k: variable_scope(name)
    tf.name_scope = lambda name, *a, **k: variable_scope(name)
    tf.nn = types.SimpleNamespace(tanh=_op(torch.tanh), relu=_op(torch.relu), sigmoid=_op(torch.sigmoid),
                                  softmax=lambda x, axis=-1, name=None: torch.softmax(x, axis),
                                  softmax_cross_entropy_with_logits=_softmax_cross_entropy,
                                  softmax_cross_entropy_with_logits_v2=_softmax_cross_entropy)
    tf.errors = types.SimpleNamespace(NotFoundError=WeightsNotFoundError)
    tf.GraphKeys = types.SimpleNamespace(ACTIVATIONS="activations", TARGETS="targets", INPUTS="inputs",
                                         TRAINABLE_VARIABLES="trainable_variables",
                                         REGULARIZATION_LOSSES="regularization_losses")
    tf.train = types.SimpleNamespace(GradientDescentOptimizer=lambda learning_rate, **k: deepscope.SGD(learning_rate),
                                     AdamOptimizer=lambda learning_rate=0.001, **k: deepscope.Adam(learning_rate))
    compat = types.ModuleType("tensorflow.compat")
    compat.v1 = tf
    tf.compat = compat
    regression = _regression_records_targets()
    for module in (deepscope, deepscope.layers, deepscope.layers.estimator):
        module.regression = regression
    return tf


def install() -> types.ModuleType:
    """Put the stand-in in ``sys.modules`` as ``tensorflow`` and ``tensorflow.compat.v1``."""
    tf = build()
    sys.modules.update({"tensorflow": tf, "tensorflow.compat": tf.compat, "tensorflow.compat.v1": tf})
    return tf
