"""Tutorial 0: simple multiplication, y = a * x, learned by one linear unit without bias.

A port of Newmu's Theano tutorial 0 in TFlearn style, running on deepscope (PyTorch).

    python examples/tutorials/00_multiplication.py           # full run (seconds)
    python examples/tutorials/00_multiplication.py --quick   # CI smoke test
"""
# %% [markdown]
# The "network" is a single weight `w` and the model is `y = w * x`. We generate points on
# the line `y = 2 x` with a little noise and let gradient descent find `w ~ 2`.

# %%
import argparse
import os
import time

import numpy as np

import deepscope as tflearn

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="fewer epochs (for CI)")
args, _ = parser.parse_known_args()  # parse_known_args: also works inside Jupyter
args.quick = args.quick or os.environ.get("DEEPSCOPE_QUICK") == "1"  # in a notebook: quick without sys.argv
tflearn.set_seed(0)

# %% Data: 101 points of y = 2 x + noise
TRUE_A = 2.0
X = np.linspace(-1, 1, 101, dtype=np.float32).reshape(-1, 1)
Y = (TRUE_A * X + np.random.default_rng(0).normal(0, 0.33, X.shape)).astype(np.float32)

# %% Model: one linear unit, no bias  (y = w * x)
net = tflearn.input_data(shape=[None, 1])
linear = tflearn.fully_connected(net, 1, activation='linear', bias=False)
net = tflearn.regression(linear, optimizer='sgd', learning_rate=0.05, loss='mean_square',
                         metric='R2', batch_size=1)

# %% Train (batch_size=1: one weight update per point, like the original tutorial)
model = tflearn.DNN(net)
start = time.perf_counter()
model.fit(X, Y, n_epoch=2 if args.quick else 20, show_metric=True, run_id='tutorial_multiplication')
train_time = time.perf_counter() - start

# %% What did it learn?
w = float(model.get_weights(linear.W).ravel()[0])
print(f"Learned a = {w:.4f} (true a = {TRUE_A})")
print(f"R^2 score: {model.evaluate(X, Y)[0]:.4f}  (a regression has no accuracy: R^2 = 1 is a perfect fit)")
print(f"Training time: {train_time:.1f} s")
