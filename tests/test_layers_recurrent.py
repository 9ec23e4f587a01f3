"""Recurrent layers and embedding: shapes, equations of the step-by-step path, options, learning."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import deepscope as tflearn
from deepscope.network import Network

CELLS = [tflearn.simple_rnn, tflearn.lstm, tflearn.gru]


def run(node, x, train=False):
    with torch.no_grad():
        return Network(node).train(train)(x)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("return_seq", [False, True])
@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("dynamic", [False, True])
def test_recurrent_shapes(cell, return_seq, activation, dynamic):
    net = tflearn.input_data(shape=[None, 6, 3])
    node = cell(net, 5, activation=activation, return_seq=return_seq, dynamic=dynamic)
    out = run(node, torch.randn(4, 6, 3))
    assert list(out.shape[1:]) == node.shape[1:] == ([6, 5] if return_seq else [5])


def test_fast_path_choice():
    net = tflearn.input_data(shape=[None, 6, 3])
    assert not tflearn.simple_rnn(net, 4).module.fast  # TFlearn's default: sigmoid
    assert tflearn.simple_rnn(net, 4, activation="relu").module.fast
    assert tflearn.lstm(net, 4).module.fast and tflearn.gru(net, 4).module.fast
    assert not tflearn.lstm(net, 4, inner_activation="softsign").module.fast


@pytest.mark.parametrize("cell,kwargs", [(tflearn.simple_rnn, {"activation": "tanh"}),
                                         (tflearn.simple_rnn, {"activation": "relu"}),
                                         (tflearn.lstm, {}), (tflearn.gru, {}), (tflearn.lstm, {"bias": False})])
def test_step_by_step_equations_match_torch(cell, kwargs):
    net = tflearn.input_data(shape=[None, 7, 3])
    layer = cell(net, 5, **kwargs).module.double()
    x = torch.randn(4, 7, 3, dtype=torch.float64)
    torch.testing.assert_close(layer._loop(x), layer.rnn(x)[0])


@pytest.mark.parametrize("cell", CELLS)
def test_step_by_step_gradcheck(cell):
    net = tflearn.input_data(shape=[None, 4, 2])
    layer = cell(net, 3, activation="sigmoid", return_seq=True).module.double()
    assert not layer.fast
    x = torch.randn(2, 4, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))


def test_lstm_forget_bias_and_gru_gate_bias():
    net = tflearn.input_data(shape=[None, 5, 2])
    rnn = tflearn.lstm(net, 4, forget_bias=1.5).module.rnn
    assert torch.all(rnn.bias_ih_l0[4:8] == 1.5) and torch.all(rnn.bias_ih_l0[:4] == 0)
    assert torch.all(rnn.bias_hh_l0 == 0)
    rnn = tflearn.gru(net, 4).module.rnn
    assert torch.all(rnn.bias_ih_l0[:8] == 1.0) and torch.all(rnn.bias_ih_l0[8:] == 0)


def test_dropout_forms():
    net = tflearn.input_data(shape=[None, 5, 2])
    layer = tflearn.lstm(net, 4, dropout=(0.8, 0.5)).module
    assert layer.in_dropout.p == pytest.approx(0.2) and layer.out_dropout.p == pytest.approx(0.5)
    layer = tflearn.lstm(net, 4, dropout=0.7).module
    assert layer.in_dropout.p == pytest.approx(0.3) and layer.out_dropout.p == pytest.approx(0.3)
    node = tflearn.lstm(net, 4, dropout=0.5)
    x = torch.randn(3, 5, 2)
    torch.testing.assert_close(run(node, x), run(node, x))  # eval: no dropout
    with pytest.raises(ValueError, match="dropout"):
        tflearn.lstm(net, 4, dropout=(0.0, 1.0))


def test_dynamic_returns_last_real_step():
    net = tflearn.input_data(shape=[None, 6, 2])
    node = tflearn.lstm(net, 3, dynamic=True)
    seq_node = tflearn.lstm(net, 3, dynamic=True, return_seq=True)
    x = torch.randn(2, 6, 2)
    x[0, 4:] = 0  # length 4
    short = tflearn.input_data(shape=[None, 4, 2])
    ref = tflearn.lstm(short, 3)
    ref.module.load_state_dict(node.module.state_dict())
    torch.testing.assert_close(run(node, x)[0], run(ref, x[:1, :4])[0])
    seq = run(seq_node, x)
    assert torch.all(seq[0, 4:] == 0) and torch.all(seq[1] != 0)


def test_recurrent_errors():
    flat = tflearn.input_data(shape=[None, 10])
    with pytest.raises(ValueError, match=r"lstm 'LSTM'.*3-D.*embedding"):
        tflearn.lstm(flat, 4)
    net = tflearn.input_data(shape=[None, 5, 2])
    with pytest.raises(ValueError, match="return_state"):
        tflearn.gru(net, 4, return_state=True)
    with pytest.raises(ValueError, match="activation"):
        tflearn.simple_rnn(net, 4, activation="maxout")


def test_lstm_learns_sign_of_sum():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((512, 8, 1)).astype(np.float32)
    Y = np.eye(2, dtype=np.float32)[(X.sum((1, 2)) > 0).astype(int)]
    net = tflearn.input_data(shape=[None, 8, 1])
    net = tflearn.lstm(net, 16)
    net = tflearn.fully_connected(net, 2, activation="softmax")
    net = tflearn.regression(net, optimizer="adam", learning_rate=0.02, batch_size=64)
    model = tflearn.DNN(net, device="cpu")
    model.fit(X, Y, n_epoch=15)
    accuracy = (model.predict(X).argmax(1) == Y.argmax(1)).mean()
    assert accuracy > 0.9


# --------------------------------------------------------------------------------------------
# embedding
# --------------------------------------------------------------------------------------------
def test_embedding_shapes_and_integer_input():
    net = tflearn.input_data(shape=[None, 7])
    node = tflearn.embedding(net, input_dim=20, output_dim=4)
    assert net.integer_input is True
    assert list(node.shape) == [None, 7, 4]
    x = torch.randint(0, 20, (3, 7))
    out = run(node, x)
    assert list(out.shape[1:]) == node.shape[1:]
    torch.testing.assert_close(out, node.W[x].detach())
    torch.testing.assert_close(run(node, x.float()), out)  # float indices are cast
    assert node.W.std() < 0.05  # truncated normal, stddev 0.02


def test_embedding_out_of_range_is_a_clear_error():
    net = tflearn.input_data(shape=[None, 3])
    node = tflearn.embedding(net, input_dim=5, output_dim=2)
    with pytest.raises(ValueError, match=r"embedding 'Embedding'.*\[0, 4\].*input_dim"):
        run(node, torch.tensor([[0, 1, 5]]))
    with pytest.raises(ValueError, match=r"embedding.*\[None, steps\]"):
        tflearn.embedding(tflearn.input_data(shape=[None, 3, 2]), 5, 2)


def test_embedding_lstm_text_model_trains():
    rng = np.random.default_rng(1)
    X = rng.integers(1, 30, (64, 10))
    X[:, 7:] = 0  # zero padding, as TFlearn's pad_sequences produces
    Y = np.eye(2)[(X[:, 0] > 15).astype(int)]
    net = tflearn.input_data(shape=[None, 10])
    net = tflearn.embedding(net, input_dim=30, output_dim=8)
    net = tflearn.lstm(net, 8, dropout=0.8)
    net = tflearn.fully_connected(net, 2, activation="softmax")
    net = tflearn.regression(net)
    model = tflearn.DNN(net, device="cpu")
    model.fit(X, Y, n_epoch=1)
    assert model.predict(X[:2]).shape == (2, 2)


def test_bidirectional_rnn_reads_both_ways_and_saves(tmp_path):
    from deepscope.layers.recurrent import BasicLSTMCell, GRUCell, bidirectional_rnn

    rng = np.random.default_rng(0)
    x = rng.random((6, 7, 3)).astype("float32")
    inp = tflearn.input_data(shape=[None, 7, 3])
    seq = bidirectional_rnn(inp, BasicLSTMCell(4), GRUCell(5), return_seq=True)
    assert list(seq.shape) == [None, 7, 9]
    model = tflearn.DNN(seq)
    out = model.predict(x)
    layer = model.net.layers[seq.name]
    xt = torch.from_numpy(x)
    fw = layer.fw.rnn(xt)[0].detach().numpy()
    bw = layer.bw.rnn(xt.flip(1))[0].flip(1).detach().numpy()
    np.testing.assert_allclose(out, np.concatenate([fw, bw], -1), atol=1e-6)
    last = bidirectional_rnn(inp, BasicLSTMCell(4), BasicLSTMCell(4))
    clf = tflearn.DNN(tflearn.regression(tflearn.fully_connected(last, 2, activation="softmax")))
    clf.fit(x, np.eye(2)[[0, 1, 0, 1, 0, 1]], n_epoch=1, diagnostics=False)
    clf.save(tmp_path / "bi.safetensors")
    np.testing.assert_allclose(tflearn.load(tmp_path / "bi.safetensors").predict(x), clf.predict(x), atol=1e-6)
    with pytest.raises(TypeError, match="BasicLSTMCell"):
        bidirectional_rnn(inp, 4, 4)
