"""Seed 000's parameter study with the Study API: L2 factors per hidden layer x seeds, and how stable it is.

The seed's 784-50-25-10 MLP with an L2 factor on each hidden layer reached ~92% at some factors
and 10% (chance) at others, "depending also on the initialization". Here every pair of factors
is trained with several seeds; the table shows the mean accuracy over seeds and the stability
map (mean ± std, and the fraction of seeds that collapsed to chance) shows where it is unstable.
The study is crash-safe: kill it and run the same command again; it trains only what is missing.

    python examples/seeds/l2_stability_study.py                # 4x4 factors x 3 seeds, MNIST
    python examples/seeds/l2_stability_study.py --seeds 5 --epochs 5 --dataset notmnist
    python examples/seeds/l2_stability_study.py --quick        # 2x2 factors, 1 seed, 2,000 images, 1 epoch
"""
# %%
import argparse
import time

import deepscope as tflearn
from deepscope.datasets import mnist, notmnist
from deepscope.sweep import Study, stability_map, stability_table

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="2x2 factors, 1 seed, 2,000 images, 1 epoch (CI)")
parser.add_argument("--dataset", choices=("mnist", "notmnist"), default="mnist",
                    help="the seed used notMNIST (Udacity's class); MNIST by default")
parser.add_argument("--seeds", type=int, default=3, help="training seeds per pair of factors")
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--learning-rate", type=float, default=0.1, help="plain SGD as in the Udacity notebooks")
parser.add_argument("--collapse", type=float, default=0.11, help="accuracy at or below this = collapsed (chance 10%%)")
args, _ = parser.parse_known_args()  # parse_known_args: also works inside Jupyter


# %% Data
loader = notmnist if args.dataset == "notmnist" else mnist
X, Y, testX, testY = loader.load_data(one_hot=True, limit=2000 if args.quick else None)
factors = [1e-4, 5e-3] if args.quick else [1e-4, 5e-4, 1e-3, 5e-3]
seeds = [0] if args.quick else list(range(args.seeds))
n_epoch = 1 if args.quick else args.epochs
print(f"{args.dataset}: {len(X)} training / {len(testX)} test images; L2 factors {factors}; seeds {seeds}; {n_epoch} epochs")


# %% The seed's network: 784 -> 50 ReLU -> 25 ReLU -> 10 softmax, an L2 factor per hidden layer
def mlp(l2_first, l2_second):
    net = tflearn.input_data(shape=[None, 784])
    net = tflearn.fully_connected(net, 50, activation='relu', regularizer='L2', weight_decay=l2_first)
    net = tflearn.fully_connected(net, 25, activation='relu', regularizer='L2', weight_decay=l2_second)
    net = tflearn.fully_connected(net, 10, activation='softmax')
    return tflearn.regression(net, optimizer='sgd', learning_rate=args.learning_rate,
                              loss='categorical_crossentropy', batch_size=128)


def train_fn(params, seed, run_id):
    """One trial: the study has seeded the random generators with ``seed`` already."""
    model = tflearn.DNN(mlp(params["l2_first"], params["l2_second"]))
    model.fit(X, Y, n_epoch=n_epoch, validation_set=(testX, testY), run_id=run_id)
    return {"val_acc": model.evaluate(testX, testY)[0]}


# %% The study (every pair of factors x every seed, each once, even across kills and restarts)
start = time.perf_counter()
study = Study("l2_stability_quick" if args.quick else "l2_stability", train_fn,
              {"l2_first": factors, "l2_second": factors}, seeds=seeds, metric="val_acc")
study.run()

# %% The seed's table (rows: factor of the first hidden layer, columns: of the second), mean over seeds
print(f"\nTest accuracy, mean over {len(seeds)} seed(s); * = some seed collapsed to <= {args.collapse:.0%}")
print(stability_table(study, "l2_first", "l2_second", collapse=args.collapse, corner="L1\\L2"))

# %% The stability map: mean ± std over seeds, and the fraction of seeds that collapsed
path = study.folder / "stability.png"
grid = stability_map(study, "l2_first", "l2_second", path=path, collapse=args.collapse,
                     title="Seed 000: L2 factor of hidden layer 1 (rows) vs 2 (columns)")
print(f"\n{int(grid.n.sum())} trainings ({study.counts['run']} run now) in {time.perf_counter() - start:.0f} s; "
      f"{int((grid.collapsed > 0).sum())} of {grid.mean.size} cells with a collapsed seed; map: {path}")
