"""TFlearn's own example programs run unchanged after ``import deepscope as tflearn``
(data shrunk so the suite stays fast)."""
from __future__ import annotations

import numpy as np
import pytest

import deepscope as tflearn
import deepscope.datasets.mnist as mnist
from deepscope.data_utils import pad_sequences, to_categorical
from deepscope.layers.conv import conv_2d, max_pool_2d
from deepscope.layers.core import dropout, fully_connected, input_data
from deepscope.layers.estimator import regression
from deepscope.layers.normalization import local_response_normalization
from deepscope.layers.recurrent import lstm
from deepscope.layers.embedding_ops import embedding


def test_convnet_mnist_example(shared_datasets, tmp_path):
    """examples/images/convnet_mnist.py of TFlearn."""
    X, Y, testX, testY = mnist.load_data(one_hot=True, data_dir=shared_datasets, limit=1024, verbose=False)
    X = X.reshape([-1, 28, 28, 1])
    testX = testX.reshape([-1, 28, 28, 1])

    network = input_data(shape=[None, 28, 28, 1], name='input')
    network = conv_2d(network, 32, 3, activation='relu', regularizer="L2")
    network = max_pool_2d(network, 2)
    network = local_response_normalization(network)
    network = conv_2d(network, 64, 3, activation='relu', regularizer="L2")
    network = max_pool_2d(network, 2)
    network = local_response_normalization(network)
    network = fully_connected(network, 128, activation='tanh')
    network = dropout(network, 0.8)
    network = fully_connected(network, 256, activation='tanh')
    network = dropout(network, 0.8)
    network = fully_connected(network, 10, activation='softmax')
    network = regression(network, optimizer='adam', learning_rate=0.01,
                         loss='categorical_crossentropy', name='target')

    model = tflearn.DNN(network, tensorboard_verbose=0, tensorboard_dir=tmp_path)
    model.fit({'input': X}, {'target': Y}, n_epoch=2,
              validation_set=({'input': testX}, {'target': testY}),
              snapshot_step=100, show_metric=True, run_id='convnet_mnist')
    assert model.history[-1]["val_acc"] > 0.6


def test_lstm_sentiment_example(tmp_path):
    """examples/nlp/lstm.py of TFlearn (IMDB replaced by a synthetic task: does word 7 occur?)."""
    rng = np.random.default_rng(0)
    sequences = [list(rng.integers(1, 50, rng.integers(5, 40))) for _ in range(600)]
    labels = [int(7 in s) for s in sequences]
    trainX = pad_sequences(sequences[:500], maxlen=40, value=0.)
    testX = pad_sequences(sequences[500:], maxlen=40, value=0.)
    trainY = to_categorical(labels[:500], nb_classes=2)
    testY = to_categorical(labels[500:], nb_classes=2)

    net = tflearn.input_data([None, 40])
    net = tflearn.embedding(net, input_dim=50, output_dim=32)
    net = tflearn.lstm(net, 32, dropout=0.8)
    net = tflearn.fully_connected(net, 2, activation='softmax')
    net = tflearn.regression(net, optimizer='adam', learning_rate=0.01, loss='categorical_crossentropy')

    model = tflearn.DNN(net, tensorboard_verbose=0, tensorboard_dir=tmp_path)
    model.fit(trainX, trainY, n_epoch=8, validation_set=(testX, testY), show_metric=True, batch_size=32)
    assert model.history[-1]["val_acc"] > 0.8
    assert embedding is tflearn.embedding and lstm is tflearn.lstm


def test_logical_example_with_custom_optimizer(tmp_path):
    """examples/basics/logical.py of TFlearn: OR with an SGD object carrying its own decay."""
    X = [[0., 0.], [0., 1.], [1., 0.], [1., 1.]]
    Y_or = [[0.], [1.], [1.], [1.]]
    g = tflearn.input_data(shape=[None, 2])
    g = tflearn.fully_connected(g, 128, activation='linear')
    g = tflearn.fully_connected(g, 128, activation='linear')
    g = tflearn.fully_connected(g, 1, activation='sigmoid')
    sgd = tflearn.SGD(learning_rate=2., lr_decay=0.96, decay_step=100)
    g = tflearn.regression(g, optimizer=sgd, loss='mean_square')
    m = tflearn.DNN(g, tensorboard_dir=tmp_path)
    m.fit(X, Y_or, n_epoch=100, snapshot_epoch=False)
    np.testing.assert_array_equal(m.predict(X) > 0.5, np.array(Y_or, dtype=bool))
    assert m.optimizer.param_groups[0]["lr"] == pytest.approx(2.0 * 0.96 ** (100 / 100), rel=1e-3)
