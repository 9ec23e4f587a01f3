"""A vectorized study for the kill test (tests/test_stacking.py).

    python tests/_stack_driver.py ROOT NAME kill|run

4 trials (2 learning rates x 2 seeds) of one stack, 4 epochs, a stack checkpoint every 3 steps; with
``kill`` the process dies (os._exit(9)) right after the first checkpoint written inside epoch 2.
"""
import os
import sys

import numpy as np

import deepscope as tflearn
from deepscope.sweep import Fit, Study
from deepscope.sweep import stack_checkpoint

root, name, mode = sys.argv[1:4]
rng = np.random.default_rng(0)
X = rng.random((200, 6)).astype("float32")
Y = np.eye(2, dtype="float32")[(X[:, 0] + X[:, 1] > 1).astype(int)]


def build(lr):
    net = tflearn.input_data(shape=[None, 6])
    net = tflearn.fully_connected(net, 8, activation="relu", regularizer="L2", weight_decay=0.01)
    net = tflearn.dropout(net, 0.8)
    net = tflearn.fully_connected(net, 2, activation="softmax")
    return tflearn.regression(net, optimizer="adam", learning_rate=lr, batch_size=32)


stack_checkpoint.EVERY_STEPS = 3  # (7 steps an epoch: the first checkpoint of epoch 2 is inside it, at step 9)
if mode == "kill":
    save = stack_checkpoint.save

    def save_then_die(trainer, path, position=None):
        save(trainer, path, position)
        if trainer.epoch == 2:
            os._exit(9)
    stack_checkpoint.save = save_then_die

Study(name, Fit(build, X, Y, n_epoch=4, validation_set=(X, Y)), {"lr": [0.01, 0.05]}, seeds=(0, 1), root=root).run()
print("DONE")
