"""The trial of benchmarks/study_workers.py (module level, so worker processes can import it)."""
import numpy as np

import deepscope as tflearn
from benchmarks.common import mnist

_DATA = {}


def _data():
    if not _DATA:
        X, Y, testX, testY = mnist()
        _DATA["d"] = (np.ascontiguousarray(X[:12800]), np.ascontiguousarray(Y[:12800]), testX[:2000], testY[:2000])
    return _DATA["d"]


def train_fn(params, seed, run_id):
    X, Y, testX, testY = _data()
    net = tflearn.input_data(shape=[None, 784])
    net = tflearn.fully_connected(net, 50, activation="relu", regularizer="L2", weight_decay=params["l2_first"])
    net = tflearn.fully_connected(net, 25, activation="relu", regularizer="L2", weight_decay=params["l2_second"])
    net = tflearn.fully_connected(net, 10, activation="softmax")
    model = tflearn.DNN(tflearn.regression(net, optimizer="sgd", learning_rate=0.1, batch_size=128))
    model.fit(X, Y, n_epoch=params["epochs"], validation_set=(testX, testY), run_id=run_id)
    return model.history[-1]
