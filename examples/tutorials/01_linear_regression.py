"""Tutorial 1: linear regression, y = slope * x + intercept, on a noisy line.

A port of Newmu's Theano tutorial 1 in TFlearn style, running on deepscope (PyTorch).

    python examples/tutorials/01_linear_regression.py           # full run (seconds)
    python examples/tutorials/01_linear_regression.py --quick   # CI smoke test
"""
# %% [markdown]
# One linear unit with a bias: `y = W x + b`. The data come from `toy.noisy_line`
# (`y = 2 x + 1 + noise`), so training should find `W ~ 2` and `b ~ 1`.

# %%
import argparse
import os
import time

import deepscope as tflearn
from deepscope.datasets import toy

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="fewer epochs (for CI)")
args, _ = parser.parse_known_args()  # parse_known_args: also works inside Jupyter
args.quick = args.quick or os.environ.get("DEEPSCOPE_QUICK") == "1"  # in a notebook: quick without sys.argv
tflearn.set_seed(0)

# %% Data: y = 2 x + 1 + N(0, 0.1^2); a separate draw (another seed) for testing
X, Y = toy.noisy_line(n_samples=200, slope=2.0, intercept=1.0, noise=0.1, seed=0)
testX, testY = toy.noisy_line(n_samples=100, slope=2.0, intercept=1.0, noise=0.1, seed=1)

# %% Model: y = W x + b
net = tflearn.input_data(shape=[None, 1])
linear = tflearn.fully_connected(net, 1, activation='linear')
net = tflearn.regression(linear, optimizer='sgd', learning_rate=0.1, loss='mean_square',
                         metric='R2', batch_size=20)

# %% Train
model = tflearn.DNN(net)
start = time.perf_counter()
model.fit(X, Y, n_epoch=10 if args.quick else 50, validation_set=(testX, testY), show_metric=True,
          run_id='tutorial_linear_regression')
train_time = time.perf_counter() - start

# %% What did it learn?
W = float(model.get_weights(linear.W).ravel()[0])
b = float(model.get_weights(linear.b).ravel()[0])
print(f"Learned y = {W:.3f} x + {b:.3f}   (true: y = 2 x + 1)")
print(f"R^2 score (test): {model.evaluate(testX, testY)[0]:.4f}  (1 = perfect fit; the noise limits it)")
print(f"Training time: {train_time:.1f} s")
