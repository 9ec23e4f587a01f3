"""Recurrent layers, as in ``tflearn.layers.recurrent``: ``simple_rnn``, ``lstm``, ``gru``, and
``bidirectional_rnn`` with TFlearn's cell objects (``BasicRNNCell``, ``BasicLSTMCell``, ``GRUCell``).

Input ``(N, T, F)``; output ``(N, n_units)`` (last step) or ``(N, T, n_units)`` with ``return_seq``.

Parameters are always held by a torch ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (``batch_first``; gate
order i, f, g, o for the LSTM and r, z, n for the GRU). With the standard activations
(``simple_rnn``: tanh or relu; ``lstm``/``gru``: tanh with sigmoid gates) the torch module runs
itself (fused kernels, cuDNN on GPU). Any other activation (``simple_rnn``'s TFlearn default
``'sigmoid'``, say) runs the same equations step by step in Python with the same parameters:
slower, but every activation name works.

Differences from TensorFlow worth knowing: torch's GRU applies the reset gate after the
recurrent matrix product (``n = act(W_in x + r * (W_hn h + b_hn))``, the cuDNN form), and the
LSTM's ``forget_bias`` is an initial value of the forget-gate bias (trainable), not a constant.
"""
from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_float, check_int, fail
from ..graph import Node, add_layer, layer_function, layer_label, require_node
from .core import build_activation, init_weight

_GATES = {"rnn": 1, "lstm": 4, "gru": 3}
_TORCH = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class Recurrent(nn.Module):
    """One recurrent layer (RNN, LSTM or GRU) with TFlearn's options.

    Args:
        cell: ``'rnn'``, ``'lstm'`` or ``'gru'``.
        input_size, n_units: feature sizes.
        activation, inner_activation: activation modules (``inner`` for gates; unused by ``'rnn'``).
        fast: whether torch's own module computes the layer (standard activations).
        nonlinearity: ``'tanh'`` or ``'relu'`` for a fast simple RNN.
        bias: whether the cell has biases.
        keep_in, keep_out: TFlearn's dropout keep probabilities on inputs and outputs.
        return_seq: return every step rather than the last one.
        dynamic: sequences are zero-padded; return the last non-zero step, zeros after it.
    """

    def __init__(self, cell, input_size, n_units, activation, inner_activation, fast, nonlinearity, bias,
                 keep_in, keep_out, return_seq, dynamic):
        super().__init__()
        self.cell, self.fast, self.return_seq, self.dynamic = cell, fast, return_seq, dynamic
        options = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        self.rnn = _TORCH[cell](input_size, n_units, bias=bias, batch_first=True, **options)
        self.activation = activation
        self.inner_activation = inner_activation
        self.in_dropout = nn.Dropout(1.0 - keep_in) if keep_in < 1.0 else nn.Identity()
        self.out_dropout = nn.Dropout(1.0 - keep_out) if keep_out < 1.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, T, F)
        lengths = (x.abs().amax(2) > 0).sum(1) if self.dynamic else None  # (N,) before dropout
        x = self.in_dropout(x)
        seq = self.rnn(x)[0] if self.fast else self._loop(x)  # (N, T, n_units)
        if self.dynamic:
            steps = torch.arange(seq.shape[1], device=seq.device)
            if self.return_seq:
                seq = seq * (steps[None, :] < lengths[:, None]).unsqueeze(-1).to(seq.dtype)
            else:
                last = (lengths - 1).clamp_min(0)
                seq = seq[torch.arange(seq.shape[0], device=seq.device), last]  # (N, n_units)
        elif not self.return_seq:
            seq = seq[:, -1]  # (N, n_units)
        return self.out_dropout(seq)

    def _loop(self, x: torch.Tensor) -> torch.Tensor:
        """The cell's equations step by step, for activations torch's modules do not offer."""
        rnn, act, inner = self.rnn, self.activation, self.inner_activation
        b_ih, b_hh = getattr(rnn, "bias_ih_l0", None), getattr(rnn, "bias_hh_l0", None)
        xw = F.linear(x, rnn.weight_ih_l0, b_ih)  # (N, T, gates * n_units)
        h = x.new_zeros(x.shape[0], rnn.hidden_size)  # (N, n_units)
        c = torch.zeros_like(h)
        outputs = []
        for t in range(x.shape[1]):
            hw = F.linear(h, rnn.weight_hh_l0, b_hh)  # (N, gates * n_units)
            if self.cell == "rnn":
                h = act(xw[:, t] + hw)
            elif self.cell == "lstm":
                i, f, g, o = (xw[:, t] + hw).chunk(4, 1)
                c = inner(f) * c + inner(i) * act(g)
                h = inner(o) * act(c)
            else:  # gru
                xr, xz, xn = xw[:, t].chunk(3, 1)
                hr, hz, hn = hw.chunk(3, 1)
                r, z = inner(xr + hr), inner(xz + hz)
                h = (1 - z) * act(xn + r * hn) + z * h
            outputs.append(h)
        return torch.stack(outputs, 1)  # (N, T, n_units)


def _keep_probs(dropout, where: str) -> tuple[float, float]:
    """TFlearn's ``dropout``: None, a keep probability, or ``(input_keep, output_keep)``."""
    if dropout is None:
        return 1.0, 1.0
    if isinstance(dropout, (list, tuple)) and len(dropout) == 2:
        keep = dropout
    elif isinstance(dropout, numbers.Real) and not isinstance(dropout, bool):
        keep = (dropout, dropout)
    else:
        fail(f"{where} dropout", "None, a keep probability or (input_keep_prob, output_keep_prob)", dropout,
             error=TypeError)
    return tuple(check_float(k, f"{where} dropout", minimum=0.0, maximum=1.0, min_inclusive=False) for k in keep)


def _init_parameters(rnn: nn.Module, cell: str, weights_init, activation, forget_bias: float, where: str) -> None:
    """Weights: ``weights_init``, or (None) Glorot-uniform inputs and orthogonal recurrent blocks.

    Biases: zeros; LSTM forget gate ``forget_bias``; GRU gates r, z start at 1 (as TensorFlow's GRUCell).
    """
    n = rnn.hidden_size
    with torch.no_grad():
        if weights_init is None:
            nn.init.xavier_uniform_(rnn.weight_ih_l0)
            for block in rnn.weight_hh_l0.split(n, 0):
                nn.init.orthogonal_(block)
        else:
            init_weight(rnn.weight_ih_l0, weights_init, activation, where)
            init_weight(rnn.weight_hh_l0, weights_init, activation, where)
        if getattr(rnn, "bias_ih_l0", None) is not None:
            rnn.bias_ih_l0.zero_()
            rnn.bias_hh_l0.zero_()
            if cell == "lstm":
                rnn.bias_ih_l0[n:2 * n] = forget_bias
            elif cell == "gru":
                rnn.bias_ih_l0[:2 * n] = 1.0


def _recurrent(cell, incoming, n_units, activation, inner_activation, dropout, bias, weights_init, forget_bias,
               return_seq, return_state, initial_state, dynamic, trainable, kind, name) -> Node:
    incoming = require_node(incoming, f"{kind} '{name}'")
    layer, out_shape = _build_recurrent(cell, incoming, n_units, activation, inner_activation, dropout, bias,
                                        weights_init, forget_bias, return_seq, return_state, initial_state, dynamic,
                                        trainable, layer_label(kind, incoming, name))
    return add_layer(incoming, layer, out_shape, name)


def _build_recurrent(cell, incoming, n_units, activation, inner_activation, dropout, bias, weights_init, forget_bias,
                     return_seq, return_state, initial_state, dynamic, trainable, where) -> tuple[Recurrent, list]:
    """The ``Recurrent`` module of a layer on ``incoming`` and its output shape (errors name ``where``)."""
    shape = list(incoming.shape)
    if len(shape) != 3:
        raise ValueError(f"{where}: expected a 3-D input [None, steps, features], got shape {shape}. "
                         f"Reshape it first (net = reshape(net, [-1, steps, features])), or use "
                         f"embedding(...) on integer sequences of shape [None, steps].")
    n_units = check_int(n_units, f"{where} n_units", minimum=1)
    if return_state:
        fail(f"{where} return_state", "False (deepscope layers return one node)", return_state,
             "Use return_seq=True to get every step's output.")
    if initial_state is not None:
        fail(f"{where} initial_state", "None (states start at zero)", initial_state)
    keep_in, keep_out = _keep_probs(dropout, where)
    act, act_name = build_activation(activation, n_units, where)
    inner, inner_name = build_activation(inner_activation, n_units, f"{where} inner")
    if getattr(act, "expansion", 1) != 1 or getattr(inner, "expansion", 1) != 1:
        fail(f"{where} activation", "an element-wise activation (maxout is not)", activation)
    if cell == "rnn":
        fast = act_name in ("tanh", "relu")
    else:
        fast = act_name == "tanh" and inner_name == "sigmoid"
    layer = Recurrent(cell, shape[2], n_units, act, inner, fast, act_name if fast and cell == "rnn" else "tanh",
                      bool(bias), keep_in, keep_out, bool(return_seq), bool(dynamic))
    layer.activation_name = act_name
    _init_parameters(layer.rnn, cell, weights_init, activation, float(forget_bias), where)
    if not trainable:
        layer.requires_grad_(False)
    out_shape = [None, shape[1], n_units] if return_seq else [None, n_units]
    return layer, out_shape


@layer_function("recurrent")
def simple_rnn(incoming, n_units, activation="sigmoid", dropout=None, bias=True, weights_init=None,
               return_seq=False, return_state=False, initial_state=None, dynamic=False, trainable=True,
               restore=True, reuse=False, scope=None, name="SimpleRNN") -> Node:
    """A simple recurrent layer ``h_t = activation(W x_t + U h_{t-1} + b)`` (TFlearn's arguments).

    Args:
        incoming: a node ``[None, steps, features]``.
        n_units: number of units.
        activation: any activation; ``'tanh'`` and ``'relu'`` use torch's fused ``nn.RNN``.
        dropout: keep probability, or ``(input_keep_prob, output_keep_prob)``.
        bias: whether to use biases.
        weights_init: initializer for both weight matrices (None: Glorot / orthogonal).
        return_seq: return ``[None, steps, n_units]`` instead of the last step.
        return_state, initial_state: unsupported (must be False / None).
        dynamic: inputs are zero-padded sequences: the output is the last non-zero step.
        trainable: False freezes the weights.
        restore, reuse, scope: accepted for TFlearn compatibility.
        name: layer name.

    Returns:
        The new node, ``[None, n_units]`` or ``[None, steps, n_units]``.
    """
    return _recurrent("rnn", incoming, n_units, activation, "sigmoid", dropout, bias, weights_init, 0.0,
                      return_seq, return_state, initial_state, dynamic, trainable, "simple_rnn", name)


@layer_function("recurrent")
def lstm(incoming, n_units, activation="tanh", inner_activation="sigmoid", dropout=None, bias=True,
         weights_init=None, forget_bias=1.0, return_seq=False, return_state=False, initial_state=None,
         dynamic=False, trainable=True, restore=True, reuse=False, scope=None, name="LSTM") -> Node:
    """Long short-term memory layer (TFlearn's arguments; see :func:`simple_rnn`).

    Args:
        activation: cell and output activation (tanh + sigmoid gates use torch's fused ``nn.LSTM``).
        inner_activation: gate activation.
        forget_bias: initial forget-gate bias.

    Returns:
        The new node, ``[None, n_units]`` or ``[None, steps, n_units]``.
    """
    return _recurrent("lstm", incoming, n_units, activation, inner_activation, dropout, bias, weights_init,
                      forget_bias, return_seq, return_state, initial_state, dynamic, trainable, "lstm", name)


@layer_function("recurrent")
def gru(incoming, n_units, activation="tanh", inner_activation="sigmoid", dropout=None, bias=True,
        weights_init=None, return_seq=False, return_state=False, initial_state=None, dynamic=False,
        trainable=True, restore=True, reuse=False, scope=None, name="GRU") -> Node:
    """Gated recurrent unit layer (TFlearn's arguments; see :func:`simple_rnn`).

    Returns:
        The new node, ``[None, n_units]`` or ``[None, steps, n_units]``.
    """
    return _recurrent("gru", incoming, n_units, activation, inner_activation, dropout, bias, weights_init, 0.0,
                      return_seq, return_state, initial_state, dynamic, trainable, "gru", name)


# ---------------------------------------------------------------------------------------------
# cells and bidirectional RNNs
# ---------------------------------------------------------------------------------------------
class _Cell:
    """A recurrent cell description (TFlearn's cell objects): which recurrence, its size and options.
    Stored in saved networks by its ``to_config()``; ``bidirectional_rnn`` builds the layer from it."""

    kind = "rnn"

    def __init__(self, num_units, input_size=None, activation="tanh", inner_activation="sigmoid", bias=True,
                 weights_init=None, forget_bias=1.0, trainable=True, restore=True, reuse=False):
        where = f"{type(self).__name__} num_units"
        self.num_units = check_int(num_units, where, minimum=1)
        self.activation, self.inner_activation = _activation_name(activation), _activation_name(inner_activation)
        self.bias, self.weights_init, self.trainable = bool(bias), weights_init, bool(trainable)
        self.forget_bias = check_float(forget_bias, f"{type(self).__name__} forget_bias")

    def to_config(self) -> dict:
        return {"num_units": self.num_units, "activation": self.activation, "inner_activation": self.inner_activation,
                "bias": self.bias, "weights_init": self.weights_init, "forget_bias": self.forget_bias,
                "trainable": self.trainable}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.num_units})"


class BasicRNNCell(_Cell):
    """A simple RNN cell (TFlearn's ``BasicRNNCell``: tanh)."""
    kind = "rnn"


class BasicLSTMCell(_Cell):
    """An LSTM cell (TFlearn's ``BasicLSTMCell``: tanh, sigmoid gates, ``forget_bias=1.0``)."""
    kind = "lstm"


class GRUCell(_Cell):
    """A GRU cell (TFlearn's ``GRUCell``)."""
    kind = "gru"


class DropoutWrapper(_Cell):
    """Dropout on a cell's inputs and outputs (TFlearn's ``DropoutWrapper``; never on its state).

    Args:
        cell: ``BasicLSTMCell(n)``, ``GRUCell(n)`` or ``BasicRNNCell(n)``.
        input_keep_prob, output_keep_prob: keep probabilities in (0, 1].
        seed: TensorFlow's; the fit's seed decides the dropout masks.
    """

    def __init__(self, cell, input_keep_prob=1.0, output_keep_prob=1.0, seed=None):
        if isinstance(cell, dict) and cell.get("__class__") in _CELLS:  # rebuilt from a saved network
            cell = _CELLS[cell["__class__"]](**cell.get("__config__", {}))
        if not isinstance(cell, _Cell) or isinstance(cell, DropoutWrapper):
            fail("DropoutWrapper cell", "a cell: BasicLSTMCell(n), GRUCell(n) or BasicRNNCell(n)",
                 type(cell).__name__, error=TypeError)
        self.cell = cell
        self.kind = cell.kind
        self.__dict__.update({k: v for k, v in vars(cell).items() if k != "kind"})
        self.dropout = _keep_probs((input_keep_prob, output_keep_prob), "DropoutWrapper")

    def to_config(self) -> dict:
        return {"cell": {"__class__": type(self.cell).__name__, "__config__": self.cell.to_config()},
                "input_keep_prob": self.dropout[0], "output_keep_prob": self.dropout[1]}

    def __repr__(self) -> str:
        return f"DropoutWrapper({self.cell!r}, {self.dropout[0]}, {self.dropout[1]})"


_CELLS = {"BasicRNNCell": BasicRNNCell, "BasicLSTMCell": BasicLSTMCell, "GRUCell": GRUCell}


def retrieve_seq_length_op(data) -> torch.Tensor:
    """The length of each zero-padded sequence ``(N, T, F)``: the number of steps with a non-zero feature."""
    data = torch.as_tensor(data)
    return torch.sign(data.abs().amax(dim=2)).sum(dim=1).to(torch.int32)  # (N,)


def advanced_indexing_op(input, index) -> torch.Tensor:  # noqa: A002 - TFlearn's argument name
    """Each sequence's output at its last step: ``input[n, index[n] - 1]`` of ``(N, T, F)`` -> ``(N, F)``."""
    values, index = torch.as_tensor(input), torch.as_tensor(index).long()
    return values[torch.arange(values.shape[0]), index - 1]


def _activation_name(activation):
    """Cells keep activation names (so they save as JSON); TensorFlow's tf.tanh-style functions map to names."""
    if activation is None or isinstance(activation, str):
        return activation
    name = getattr(activation, "__name__", None)
    if name in ("tanh", "sigmoid", "relu", "linear"):
        return name
    fail("cell activation", "an activation name such as 'tanh'", activation, error=TypeError)


class Bidirectional(nn.Module):
    """A forward and a backward recurrent layer on the same sequence; outputs concatenated on features.

    The backward layer reads the sequence reversed; with ``return_seq`` its outputs are reversed back,
    so step t holds both directions' outputs for step t.
    """

    def __init__(self, forward_layer: Recurrent, backward_layer: Recurrent):
        super().__init__()
        self.fw, self.bw = forward_layer, backward_layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, T, F) -> (N, [T,] units_fw + units_bw)
        fw = self.fw(x)
        bw = self.bw(x.flip(1))
        if self.bw.return_seq:
            bw = bw.flip(1)
        return torch.cat([fw, bw], dim=-1)


@layer_function("recurrent")
def bidirectional_rnn(incoming, rnncell_fw, rnncell_bw, return_seq=False, return_states=False,
                      initial_state_fw=None, initial_state_bw=None, dynamic=False, scope=None,
                      name="BiRNN") -> Node:
    """A bidirectional recurrent layer (TFlearn's arguments): one cell reads the sequence forwards, the
    other backwards; their outputs are concatenated.

    Args:
        incoming: a node ``[None, steps, features]``.
        rnncell_fw, rnncell_bw: cells (``BasicLSTMCell(128)``, ``GRUCell(64)``, ``BasicRNNCell(32)``).
        return_seq: every step's outputs ``[None, steps, units_fw + units_bw]``.
        return_states, initial_state_fw, initial_state_bw: unsupported (False / None).
        dynamic: zero-padded sequences (the forward cell's output is its last non-zero step).
        scope, name: as in TFlearn.

    Returns:
        The node ``[None, units_fw + units_bw]`` (or with steps).
    """
    incoming = require_node(incoming, f"bidirectional_rnn '{name}'")
    where = layer_label("bidirectional_rnn", incoming, name)
    for argument, cell in (("rnncell_fw", rnncell_fw), ("rnncell_bw", rnncell_bw)):
        if not isinstance(cell, _Cell):
            fail(f"{where} {argument}", "a cell: BasicLSTMCell(n), GRUCell(n) or BasicRNNCell(n)",
                 type(cell).__name__, error=TypeError)
    if return_states or initial_state_fw is not None or initial_state_bw is not None:
        fail(f"{where} return_states / initial_state_*", "False / None (states start at zero)",
             return_states or initial_state_fw or initial_state_bw)
    parts = [_build_recurrent(cell.kind, incoming, cell.num_units, cell.activation, cell.inner_activation,
                              getattr(cell, "dropout", None),
                              cell.bias, cell.weights_init, cell.forget_bias, return_seq, False, None,
                              dynamic and cell is rnncell_fw, cell.trainable, f"{where} {direction}")[0]
             for cell, direction in ((rnncell_fw, "forward"), (rnncell_bw, "backward"))]
    units = rnncell_fw.num_units + rnncell_bw.num_units
    shape = [None, incoming.shape[1], units] if return_seq else [None, units]
    return add_layer(incoming, Bidirectional(*parts), shape, name)
