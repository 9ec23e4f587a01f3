"""Tutorial 5: a convolutional network (with batch normalization) on MNIST.

A port of Newmu's Theano tutorial 5 in TFlearn style, running on deepscope (PyTorch).

    python examples/tutorials/05_cnn.py           # full MNIST, 6 epochs (~9 min on 2 cores)
    python examples/tutorials/05_cnn.py --quick   # 2,000 images, 1 epoch (CI)

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
parser.add_argument("--epochs", type=int, default=6, help="epochs of the full run")
args, _ = parser.parse_known_args()  # parse_known_args: also works inside Jupyter
args.quick = args.quick or os.environ.get("DEEPSCOPE_QUICK") == "1"  # in a notebook: quick without sys.argv
tflearn.set_seed(0)


# %% Data: 60,000 training and 10,000 test images, as (N, 28, 28, 1) images in [0, 1]
X, Y, testX, testY = mnist.load_data(one_hot=True, flatten=False,
                                     limit=2000 if args.quick else None)

# %% [markdown]
# The classic pattern INPUT -> [CONV -> RELU -> POOL] * 3 -> FC -> RELU -> FC, with small
# 3x3 filters: small enough to train on a laptop CPU in minutes. Batch normalization after each
# convolution keeps the activations well scaled, so Adam can use a large learning rate
# (one-cycle schedule: warm up, then anneal). Small random shifts of the training images
# (augmentation) and dropout fight overfitting.

# %% Model
n_epoch = 1 if args.quick else args.epochs
img_aug = tflearn.ImageAugmentation()
img_aug.add_random_shift(max_shift=0.1)

net = tflearn.input_data(shape=[None, 28, 28, 1], data_augmentation=img_aug)
for n_filters in (32, 64, 64):
    net = tflearn.conv_2d(net, n_filters, 3, activation='relu')
    net = tflearn.batch_normalization(net)
    net = tflearn.max_pool_2d(net, 2)                     # 28x28 -> 14x14 -> 7x7 -> 4x4
net = tflearn.fully_connected(net, 256, activation='relu')
net = tflearn.dropout(net, 0.75)
net = tflearn.fully_connected(net, 10, activation='softmax')
adam = tflearn.optimizers.Adam(learning_rate=0.003, schedule='one_cycle')
net = tflearn.regression(net, optimizer=adam, loss='categorical_crossentropy', batch_size=128)

# %% Train
model = tflearn.DNN(net)
model.summary()
start = time.perf_counter()
model.fit(X, Y, n_epoch=n_epoch, validation_set=(testX, testY), show_metric=True,
          run_id='tutorial_cnn')
train_time = time.perf_counter() - start

# %% Evaluate
print(f"Test accuracy: {model.evaluate(testX, testY)[0]:.4f}")
print(f"Training time: {train_time:.1f} s")
print(f"Run folder (metrics.csv, TensorBoard events): {model.last_run.path}")
