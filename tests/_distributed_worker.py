"""Trains a small network with DNN.fit, as one process of a torchrun-style job (or alone), and
saves the weights: tests/test_distributed.py compares 2 processes with 1.

    python tests/_distributed_worker.py OUT_FILE RUNS_DIR
"""
import sys

import numpy as np

import deepscope as tflearn

out, runs = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(0)
X = rng.normal(size=(64, 6)).astype("float32")
Y = tflearn.data_utils.to_categorical((X[:, 0] - X[:, 1] > 0).astype(int), 2)
tflearn.set_seed(0)
net = tflearn.input_data(shape=[None, 6])
net = tflearn.fully_connected(net, 16, activation="tanh")
net = tflearn.fully_connected(net, 2, activation="softmax")
net = tflearn.regression(net, optimizer="sgd", learning_rate=0.5, batch_size=32)
model = tflearn.DNN(net, tensorboard_dir=runs, clip_gradients=None)
model.fit(X, Y, n_epoch=5, shuffle=True, snapshot_epoch=False, run_id="job", seed=1)
np.savez(out, *[p.detach().numpy() for p in model.net.parameters()], loss=model.history[-1]["loss"])
