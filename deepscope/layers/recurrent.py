"""Recurrent layers, as in ``tflearn.layers.recurrent``: ``simple_rnn``, ``lstm``, ``gru``.

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
    where = layer_label(kind, incoming, name)
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
    return add_layer(incoming, layer, out_shape, name)


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
