"""Logic gates with the smallest networks: OR, AND, NOT with one sigmoid unit; XOR both ways.

Seed 004 ("My First Weekend of Deep Learning"): the OR network, trained 2000 epochs with plain
SGD (learning rate 2) on the mean square error, and its suggested experiments: AND and NOT,
then XOR, which a single unit cannot learn (it is not linearly separable) and one hidden
layer can.

    python examples/seeds/logic_gates.py           # all gates (a few seconds)
    python examples/seeds/logic_gates.py --quick   # same (it is already fast), fewer epochs for XOR
"""
# %%
import argparse
import time

import numpy as np

import deepscope as tflearn
from deepscope.datasets import toy

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="CI mode")
args, _ = parser.parse_known_args()  # parse_known_args: also works inside Jupyter


def single_unit(n_inputs):
    """Seed 004's network: one sigmoid unit, SGD with learning rate 2, mean square loss."""
    net = tflearn.input_data(shape=[None, n_inputs])
    net = tflearn.fully_connected(net, 1, activation='sigmoid')
    return tflearn.regression(net, optimizer='sgd', learning_rate=2, loss='mean_square')


def with_hidden_layer(n_inputs, n_hidden=4):
    """The same, with a hidden layer of ``n_hidden`` tanh units before the sigmoid unit."""
    net = tflearn.input_data(shape=[None, n_inputs])
    net = tflearn.fully_connected(net, n_hidden, activation='tanh')
    net = tflearn.fully_connected(net, 1, activation='sigmoid')
    return tflearn.regression(net, optimizer='sgd', learning_rate=2, loss='mean_square')


def train(gate, network, n_epoch=2000, seed=0):
    """Train ``network`` on the truth table of ``gate``; print and return the predictions."""
    tflearn.set_seed(seed)
    X, Y = toy.logic_gate(gate)
    model = tflearn.DNN(network(len(X[0])))
    start = time.perf_counter()
    model.fit(X, Y, n_epoch=n_epoch, snapshot_epoch=False, run_id=f'logic_{gate}')
    print(f"Testing {gate.upper()} operator ({time.perf_counter() - start:.1f} s)")
    predictions = []
    for x in X:
        p = model.predict([x])
        inputs = f" {gate} ".join(str(int(v)) for v in x) if len(x) > 1 else f"{gate} {int(x[0])}"
        print(f"{inputs}:", np.round(p, 4))
        predictions.append(float(p[0, 0]))
    learned = all(round(p) == y[0] for p, y in zip(predictions, Y))
    print(f"{gate.upper()} learned: {learned}\n")
    return np.array(predictions), learned


# %% OR, AND, NOT: one sigmoid unit is enough (each is linearly separable)
results = {}
for gate in ('or', 'and', 'not'):
    results[gate] = train(gate, single_unit)

# %% XOR with one unit: no line separates {01, 10} from {00, 11}, so it fails (all ~0.5)
results['xor_single'] = train('xor', single_unit)

# %% XOR with a hidden layer: the hidden units carve the plane, the output unit combines them
results['xor_hidden'] = train('xor', with_hidden_layer, n_epoch=1000 if args.quick else 2000)

# %% Summary
print("Summary: OR %s, AND %s, NOT %s, XOR with one unit %s (predictions %s), XOR with a hidden layer %s" % (
    results['or'][1], results['and'][1], results['not'][1], results['xor_single'][1],
    np.round(results['xor_single'][0], 2).tolist(), results['xor_hidden'][1]))
