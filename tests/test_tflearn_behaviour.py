"""The behaviours TFlearn's own tests check (its tests/ folder), written for deepscope: a linear
regression that fits and survives save/load, character- and word-level sequence generators, an
embedding + LSTM classifier, convolution and reshape stacks, and bad feed dicts refused.
(TFlearn's files themselves run outside the repository; see the closing note of issue 12.)"""
from __future__ import annotations

import numpy as np
import pytest

import deepscope as tflearn

X_LIN = [3.3, 4.4, 5.5, 6.71, 6.93, 4.168, 9.779, 6.182, 7.59, 2.167, 7.042, 10.791, 5.313, 7.997, 5.654, 9.27, 3.1]
Y_LIN = [1.7, 2.76, 2.09, 3.19, 1.694, 1.573, 3.366, 2.596, 2.53, 1.221, 2.827, 3.465, 1.65, 2.904, 2.42, 2.94, 1.3]


def _linear():
    inp = tflearn.input_data(shape=[None])
    return tflearn.regression(tflearn.single_unit(inp), optimizer="sgd", loss="mean_square", metric="R2",
                              learning_rate=0.01)


def test_linear_regression_fits_saves_and_loads(tmp_path):
    m = tflearn.DNN(_linear())
    m.fit(X_LIN, Y_LIN, n_epoch=1000, show_metric=True, snapshot_epoch=False, diagnostics=False)
    assert 1.3 < m.predict([3.2])[0] < 1.8
    m.save(str(tmp_path / "test_dnn.tflearn"))
    again = tflearn.DNN(_linear())
    again.load(str(tmp_path / "test_dnn.tflearn"))
    assert 1.3 < again.predict([3.2])[0] < 1.8


def test_character_sequence_generator_saves_and_loads(tmp_path):
    text = "12345678910" * 6
    X, Y, char_idx = tflearn.data_utils.string_to_semi_redundant_sequences(text, seq_maxlen=5, redun_step=3)
    g = tflearn.input_data(shape=[None, 5, len(char_idx)])
    g = tflearn.dropout(tflearn.lstm(g, 32), 0.5)
    g = tflearn.regression(tflearn.fully_connected(g, len(char_idx), activation="softmax"), optimizer="adam",
                           loss="categorical_crossentropy", learning_rate=0.1)
    m = tflearn.SequenceGenerator(g, dictionary=char_idx, seq_maxlen=5, clip_gradients=5.0)
    m.fit(X, Y, validation_set=0.1, n_epoch=60, snapshot_epoch=False, diagnostics=False)
    first = m.generate(10, temperature=0.01, seq_seed="12345")
    assert first.startswith("12345678910")  # (TFlearn's test leaves this check commented out)
    m.save(str(tmp_path / "seqgen"))
    m.load(str(tmp_path / "seqgen"))
    assert m.generate(10, temperature=0.01, seq_seed="12345") == first


def test_word_sequence_generator_takes_and_returns_lists():
    word_idx = {"hello": 0, "world": 1}
    vec = [0, 1] * 100
    starts = range(0, len(vec) - 2, 3)
    X = np.zeros((len(starts), 2, 2), dtype=bool)
    Y = np.zeros((len(starts), 2), dtype=bool)
    for i, s in enumerate(starts):
        X[i, [0, 1], vec[s:s + 2]] = True
        Y[i, vec[s + 2]] = True
    g = tflearn.input_data(shape=[None, 2, 2])
    g = tflearn.dropout(tflearn.lstm(g, 32), 0.5)
    g = tflearn.regression(tflearn.fully_connected(g, 2, activation="softmax"), optimizer="adam",
                           loss="categorical_crossentropy", learning_rate=0.1)
    m = tflearn.SequenceGenerator(g, dictionary=word_idx, seq_maxlen=2, clip_gradients=5.0)
    m.fit(X, Y, validation_set=0.1, n_epoch=30, snapshot_epoch=False, diagnostics=False)
    res = m.generate(4, temperature=0.5, seq_seed=["hello", "world"])
    assert isinstance(res, list) and " ".join(res[-2:]) == "hello world"


def test_embedding_lstm_learns_the_sequences():
    X = [[1, 3, 5, 7], [2, 4, 8, 10], [1, 5, 9, 11], [2, 6, 8, 0]]
    Y = [[0., 1.], [1., 0.], [0., 1.], [1., 0.]]
    g = tflearn.input_data(shape=[None, 4])
    g = tflearn.lstm(tflearn.embedding(g, input_dim=12, output_dim=4), 6)
    g = tflearn.regression(tflearn.fully_connected(g, 2, activation="softmax"), optimizer="sgd", learning_rate=1.)
    m = tflearn.DNN(g)
    m.fit(X, Y, n_epoch=300, snapshot_epoch=False, diagnostics=False)
    assert m.predict([[5, 9, 11, 1]])[0][1] > 0.9


def test_layer_stacks_build_and_a_bad_feed_is_refused():
    net = tflearn.input_data(shape=[None, 2])
    net = tflearn.reshape(tflearn.flatten(net), new_shape=[-1])
    net = tflearn.single_unit(tflearn.dropout(tflearn.activation(net, "relu"), 0.5))
    assert list(net.shape) == [None] and tflearn.DNN(net).predict(np.ones((3, 2))).shape == (6,)
    g = tflearn.reshape(tflearn.input_data(shape=[None, 4], name="X_in"), new_shape=[-1, 2, 2, 1])
    g = tflearn.conv_2d_transpose(tflearn.conv_2d(tflearn.conv_2d(g, 4, 2), 4, 1), 4, 2, [2, 2])
    g = tflearn.max_pool_2d(g, 2)
    g = tflearn.regression(tflearn.fully_connected(g, 2, activation="softmax"), optimizer="sgd", learning_rate=1.)
    m = tflearn.DNN(g)
    X = [[0., 0., 0., 0.], [1., 1., 1., 1.]]
    with pytest.raises(ValueError, match="non_existent"):
        m.fit({"X_in": X, "non_existent": X}, [[1., 0.], [0., 1.]], n_epoch=1)
