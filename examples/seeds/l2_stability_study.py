"""Seed 000's parameter study, faithful to the course it followed, with what happened to each network.

The seed's 784-50-25-10 MLP on notMNIST, an L2 factor per hidden layer (4 x 4 grid), reached ~92%
at some factors and exactly 10% (chance) at others, "depending also on the learning rate, and even
on the initialization". Here the grid runs twice, every cell with several seeds:

- **course**: the setup of the TensorFlow Udacity notebooks 2 and 3 the seed followed: plain SGD at
  learning rate 0.5, batch 128, 3,000 steps, weights ``truncated_normal(stddev=1.0)`` (TensorFlow's
  default stddev), zero biases, pixels ``(x - 127.5) / 255``, L2 as ``beta * sum(W^2) / 2``, **no
  gradient clipping**;
- **defaults**: the same, but with deepscope's defaults for initialization (``'auto'``: He for ReLU)
  and gradient clipping (TFlearn's 5.0).

Every trial's run folder keeps its step-level diagnostics and diagnosis (``deepscope.diagnostics``);
the study records them without ``train_fn`` doing anything, and ``study.summary`` says which cells
collapsed, for which seeds, and why.

Data: only **notMNIST_small** (18,724 images) is available offline here, split 80/20 (14,980 training
and 3,744 test images); the course used notMNIST_large (~200,000 training images, deduplicated).
With 14,980 images, 3,000 steps of 128 are ~26 epochs instead of ~2, and the test set is smaller and
from the same small set: accuracies are not comparable with the seed's (his ~92%), but the collapse is.

    python examples/seeds/l2_stability_study.py              # both setups, 4x4 x 5 seeds, 3,000 steps
    python examples/seeds/l2_stability_study.py --setup course --seeds 8
    python examples/seeds/l2_stability_study.py --quick      # 2x2 factors, 2 seeds, 150 steps, 2,000 images

Each setup's 80 trials train as one vectorized run (``Fit`` + ``Study``: every trial exactly as its
own ``model.fit`` would, with its own run folder and diagnosis); ``--one-by-one`` trains them one after
another and gives the same table. Kill it any time and run the same command again: each study trains
only what is missing (a killed vectorized run continues from its last finished epoch).
"""
# %%
import argparse
import time

import deepscope as tflearn
from deepscope.datasets import mnist, notmnist
from deepscope.sweep import Fit, Study, stability_map, stability_table

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="2x2 factors, 2 seeds, 150 steps, 2,000 images (CI)")
parser.add_argument("--setup", choices=("course", "defaults", "both"), default="both")
parser.add_argument("--dataset", choices=("notmnist", "mnist"), default="notmnist", help="the seed used notMNIST")
parser.add_argument("--seeds", type=int, default=5, help="training seeds per pair of factors")
parser.add_argument("--steps", type=int, default=3000, help="SGD steps per training (the course: 3,001)")
parser.add_argument("--learning-rate", type=float, default=0.5, help="the course's GradientDescentOptimizer(0.5)")
parser.add_argument("--collapse", type=float, default=0.11, help="accuracy at or below this = collapsed (chance 10%%)")
parser.add_argument("--one-by-one", action="store_true", help="train the trials one after another (not vectorized)")
args, _ = parser.parse_known_args()  # parse_known_args: also works inside Jupyter

# %% Data: pixels (x - 127.5) / 255 as in the course (the loaders give x / 255)
loader = notmnist if args.dataset == "notmnist" else mnist
X, Y, testX, testY = loader.load_data(one_hot=True, limit=2000 if args.quick else None)
X, testX = X.reshape(-1, 784) - 0.5, testX.reshape(-1, 784) - 0.5
factors = [1e-4, 5e-3] if args.quick else [1e-4, 5e-4, 1e-3, 5e-3]
seeds = list(range(2 if args.quick else args.seeds))
steps = 150 if args.quick else args.steps
setups = ["course", "defaults"] if args.setup == "both" else [args.setup]
print(f"{args.dataset}: {len(X)} training / {len(testX)} test images; L2 factors {factors}; seeds {seeds}; "
      f"{steps} steps of 128 at learning rate {args.learning_rate}")


# %% The seed's network: 784 -> 50 ReLU -> 25 ReLU -> 10 softmax, an L2 factor per hidden layer
def mlp(l2_first, l2_second, setup):
    course = setup == "course"
    init = tflearn.initializations.truncated_normal(stddev=1.0) if course else "auto"
    bias = "zeros"
    net = tflearn.input_data(shape=[None, 784])
    net = tflearn.fully_connected(net, 50, activation="relu", weights_init=init, bias_init=bias,
                                  regularizer="L2", weight_decay=l2_first)
    net = tflearn.fully_connected(net, 25, activation="relu", weights_init=init, bias_init=bias,
                                  regularizer="L2", weight_decay=l2_second)
    net = tflearn.fully_connected(net, 10, activation="softmax", weights_init=init, bias_init=bias)
    return tflearn.regression(net, optimizer="sgd", learning_rate=args.learning_rate,
                              loss="categorical_crossentropy", batch_size=128)


def trial_training(setup):
    """How every trial trains: the network of its pair of factors, fit for ``steps`` SGD steps of 128, the
    test accuracy as ``val_acc``. Described with ``Fit``, the study trains all trials of a setup together
    in one vectorized run (each exactly as its own ``model.fit`` would); ``--one-by-one`` trains them one
    after another instead."""
    clip = None if setup == "course" else 5.0  # the course clips nothing; TFlearn's default is 5.0
    return Fit(lambda l2_first, l2_second: mlp(l2_first, l2_second, setup), X, Y, max_steps=steps, batch_size=128,
               validation_set=(testX, testY), clip_gradients=clip)


# %% The studies (every pair of factors x every seed, each once, even across kills and restarts)
studies = {}
for setup in setups:
    start = time.perf_counter()
    name = f"seed000_{setup}" + ("_quick" if args.quick else "")
    study = Study(name, trial_training(setup), {"l2_first": factors, "l2_second": factors}, seeds=seeds,
                  metric="val_acc", verbose=not args.quick, vectorize=not args.one_by_one)
    study.run()
    studies[setup] = study
    print(f"{setup}: {len(study.results())} trainings in {time.perf_counter() - start:.0f} s")

# %% The seed's table for each setup (rows: L2 factor of hidden layer 1, columns: of hidden layer 2)
for setup, study in studies.items():
    print(f"\n== {setup} setup: test accuracy, mean over {len(seeds)} seeds; * = some seed collapsed "
          f"(<= {args.collapse:.0%})")
    print(stability_table(study, "l2_first", "l2_second", collapse=args.collapse, corner="L1\\L2", show_std=True))
    path = study.folder / "stability.png"
    grid = stability_map(study, "l2_first", "l2_second", path=path, collapse=args.collapse,
                         title=f"Seed 000, {setup} setup: L2 factor of hidden layer 1 (rows) vs 2 (columns)")
    print(f"stability map: {path}")

# %% What happened: which cells collapsed, for which seeds, and why (from each trial's diagnosis)
for setup, study in studies.items():
    print(f"\n== {setup} setup: what happened")
    print(study.summary("l2_first", "l2_second", collapse=args.collapse))

# %% A short reading, from the numbers above
reading = []
for setup, study in studies.items():
    rows = study.results()
    collapsed = [r for r in rows if r["status"] == "finished" and r["metrics"].get("val_acc", 1) <= args.collapse]
    text = f"{setup}: {len(collapsed)} of {len(rows)} trainings collapsed to chance (<= {args.collapse:.0%})."
    died = []  # per collapsed trial: the first step at which one of its layers died
    for r in collapsed:
        steps = [d["step"] for d in r["record"].get("diagnoses", []) if d["code"] == "dead_layer"]
        if steps:
            died.append(min(steps))
    early = sorted(s for s in died if s <= 10)
    if died:
        text += (f" In {len(died)} of them a hidden layer died; in {len(early)} within the first 10 steps"
                 + (f" (median step {early[len(early) // 2]})" if early else "") + ".")
    falling = sum(any(d["code"] == "penalty_dominates" for d in r["record"].get("diagnoses", [])) for r in collapsed)
    if collapsed:
        text += f" In {falling} the loss kept falling only because the L2 term decayed."
    reading.append(text)
print("\nReading:\n  " + "\n  ".join(reading))
if len(studies) == 2:
    print("  The deaths happen in the first steps, before the L2 term matters: the course's initialization\n"
          "  (stddev 1.0) gives first logits in the hundreds, and unclipped steps at learning rate 0.5 push the\n"
          "  second hidden layer's units negative. With deepscope's defaults (He initialization, clipping at 5.0)\n"
          "  the same grid does not collapse. Compare the cells of the course table: see study.summary above.")
