"""Seed 000's small parameter study: L2 factors per hidden layer of a 784-50-25-10 MLP.

"The factors L1 and L2 give the scaling of the L2 regularization loss term of the respective
layers. If the loss for the (smaller) second hidden layer is weighted more strongly than for the
first (L2 >> L1), the system is likely to become unstable and to settle to random assignment of
the ten categories (= 10% success rate)." The seed used notMNIST (Udacity's deep-learning class);
this script trains the same network for every pair of factors and prints the accuracy table.

    python examples/seeds/l2_stability.py                 # notMNIST_small, 3x3 grid (~1-2 min)
    python examples/seeds/l2_stability.py --dataset mnist
    python examples/seeds/l2_stability.py --quick         # 1,000 images, 2x2 grid, 1 epoch (CI)
"""
# %%
import argparse
import time

import deepscope as tflearn
from deepscope.datasets import mnist, notmnist

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="1,000 images, 2x2 grid, 1 epoch (CI)")
parser.add_argument("--dataset", choices=("notmnist", "mnist"), default="notmnist")
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--learning-rate", type=float, default=0.1,
                    help="plain SGD as in the Udacity notebooks (0.5 kills most ReLUs here: ~10%% everywhere)")
args, _ = parser.parse_known_args()  # parse_known_args: also works inside Jupyter


# %% Data
loader = notmnist if args.dataset == "notmnist" else mnist
X, Y, testX, testY = loader.load_data(one_hot=True, limit=1000 if args.quick else None)
factors = (1e-4, 5e-3) if args.quick else (1e-4, 1e-3, 5e-3)
n_epoch = 1 if args.quick else args.epochs
print(f"{args.dataset}: {len(X)} training / {len(testX)} test images; L2 factors {factors}; {n_epoch} epochs")


# %% The seed's network: 784 -> 50 ReLU -> 25 ReLU -> 10 softmax, L2 factor per hidden layer
def mlp(l2_first, l2_second):
    net = tflearn.input_data(shape=[None, 784])
    net = tflearn.fully_connected(net, 50, activation='relu', regularizer='L2', weight_decay=l2_first)
    net = tflearn.fully_connected(net, 25, activation='relu', regularizer='L2', weight_decay=l2_second)
    net = tflearn.fully_connected(net, 10, activation='softmax')
    return tflearn.regression(net, optimizer='sgd', learning_rate=args.learning_rate,
                              loss='categorical_crossentropy', batch_size=128)


# %% The grid
start = time.perf_counter()
table = {}
for l2_first in factors:
    for l2_second in factors:
        tflearn.set_seed(0)
        model = tflearn.DNN(mlp(l2_first, l2_second))
        model.fit(X, Y, n_epoch=n_epoch, validation_set=(testX, testY), run_id=f"l2_{l2_first:g}_{l2_second:g}")
        table[l2_first, l2_second] = model.evaluate(testX, testY)[0]

# %% The accuracy table (rows: factor of the first hidden layer, columns: of the second)
print("\nTest accuracy (rows: L2 factor of hidden layer 1, columns: of hidden layer 2)")
print("L1 \\ L2  " + "".join(f"{f:>9g}" for f in factors))
for l2_first in factors:
    print(f"{l2_first:<9g}" + "".join(f"{table[l2_first, s]:9.1%}" for s in factors))
print(f"\n{len(table)} trainings in {time.perf_counter() - start:.0f} s")
