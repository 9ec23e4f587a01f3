"""A sweep driver for the kill tests (tests/test_sweep.py, scripts/fault_battery.py).

    python tests/_sweep_driver.py kill|resume RUNS_ROOT CALLS_LOG [KILL_TRIAL KILL_EPOCH]

2 x 2 points x 2 seeds = 8 trials on the moons set; with ``kill`` the process dies (os._exit(9))
at the end of epoch KILL_EPOCH of the KILL_TRIAL-th trial it runs (default: trial 3, epoch 2).
"""
import os
import sys

import numpy as np

import deepscope as tflearn
from deepscope.models.fit_state import resuming_named_runs
from deepscope.datasets import toy
from deepscope.sweep import Study

mode, root, log = sys.argv[1], sys.argv[2], sys.argv[3]
kill_trial, kill_epoch = (int(a) for a in (sys.argv[4:6] if len(sys.argv) > 5 else (3, 2)))
X, Y = toy.moons(64, seed=0)
Y = np.eye(2, dtype=np.float32)[Y]
calls = []


class KillInATrial(tflearn.callbacks.Callback):
    def on_epoch_end(self, state):
        if mode == "kill" and len(calls) == kill_trial and state.epoch >= kill_epoch:
            os._exit(9)


def train_fn(params, seed, run_id):
    calls.append(run_id)
    with open(log, "a") as f:
        f.write(f"{mode} {run_id} {'1' if resuming_named_runs() else '-'}\n")
    net = tflearn.input_data(shape=[None, 2])
    net = tflearn.fully_connected(net, params["units"], activation="tanh")
    net = tflearn.fully_connected(net, 2, activation="softmax")
    net = tflearn.regression(net, optimizer="sgd", learning_rate=params["lr"], batch_size=32)
    model = tflearn.DNN(net)
    model.fit(X, Y, n_epoch=3, validation_set=(X, Y), run_id=run_id, checkpoint_every=2,
              callbacks=[KillInATrial()])
    return model.history[-1]


Study("killed", train_fn, {"units": [2, 4], "lr": [0.1, 0.5]}, seeds=(0, 1), root=root).run()
print("DONE")
