"""Tutorial 3: a multilayer perceptron (one hidden layer of 512 ReLU units) on MNIST.

A port of Newmu's Theano tutorial 3 in TFlearn style, running on deepscope (PyTorch).

    python examples/tutorials/03_mlp.py           # full MNIST (~2 min on 2 cores)
    python examples/tutorials/03_mlp.py --quick   # 2,000 images, 1 epoch (CI)

Data: $DEEPSCOPE_DATA (`make` sets it to ../shared/datasets when present), else downloaded once.
"""
# %%
import argparse
import os
import time

import deepscope as tflearn
from deepscope.datasets import mnist

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="2,000 images and 1 epoch (for CI)")
args, _ = parser.parse_known_args()  # parse_known_args: also works inside Jupyter
args.quick = args.quick or os.environ.get("DEEPSCOPE_QUICK") == "1"  # in a notebook: quick without sys.argv
tflearn.set_seed(0)


# %% Data: 60,000 training and 10,000 test images, flattened to 784 pixels in [0, 1]
X, Y, testX, testY = mnist.load_data(one_hot=True,
                                     limit=2000 if args.quick else None)

# %% Model: 784 -> 512 ReLU -> 10 softmax
net = tflearn.input_data(shape=[None, 784])
net = tflearn.fully_connected(net, 512, activation='relu')
net = tflearn.fully_connected(net, 10, activation='softmax')
net = tflearn.regression(net, optimizer='adam', learning_rate=0.001, loss='categorical_crossentropy',
                         batch_size=128)

# %% Train
model = tflearn.DNN(net)
start = time.perf_counter()
model.fit(X, Y, n_epoch=1 if args.quick else 10, validation_set=(testX, testY), show_metric=True,
          run_id='tutorial_mlp')
train_time = time.perf_counter() - start

# %% Evaluate
print(f"Test accuracy: {model.evaluate(testX, testY)[0]:.4f}")
print(f"Training time: {train_time:.1f} s")
print(f"Run folder (metrics.csv, TensorBoard events): {model.last_run.path}")
