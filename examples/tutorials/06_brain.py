"""Tutorial 6: compare a trained network with the brain.

Seed 002 asks whether deep networks are model systems of the visual hierarchy. Here a small CNN is
trained on the CIFAR-10 subset and its layers are compared with real neural data: the RDMs of
human IT (fMRI, 4 subjects) and monkey IT (674 neurons) for the 92 object images of Kriegeskorte et
al. (2008), with the noise ceiling and bootstrap intervals. Then an encoding model predicts a
**simulated** V1 population (Gabor units with Poisson noise: no recordings of the 92 images are
available offline) from each layer, and a receptive field is mapped by reverse correlation.

    python examples/tutorials/06_brain.py           # 4,000 CIFAR images, 8 epochs, 1,000 bootstraps (~3 min)
    python examples/tutorials/06_brain.py --quick   # 1,000 images, 1 epoch, 100 bootstraps (CI)

Data: $DEEPSCOPE_DATA (`make` sets it to ../shared/datasets): cifar10_subset and kriegeskorte92.
"""
# %%
import argparse
import os
from pathlib import Path

import numpy as np

import deepscope as tflearn
from deepscope import brain, introspect
from deepscope.datasets import cifar10, kriegeskorte92

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="1,000 images, 1 epoch, 100 bootstrap samples (CI)")
parser.add_argument("--epochs", type=int, default=8)
parser.add_argument("--out", default="brain_tutorial", help="folder for the figures")
args, _ = parser.parse_known_args()  # parse_known_args: also works inside Jupyter
args.quick = args.quick or os.environ.get("DEEPSCOPE_QUICK") == "1"  # in a notebook: quick without sys.argv
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
tflearn.set_seed(0)

# %% Data: CIFAR-10 to train on; the 92 images and their brain RDMs to compare with
(X, Y), (testX, testY) = cifar10.load_data(one_hot=True, limit=1000 if args.quick else None)
data = kriegeskorte92.load_data()
human_it = data.human_it_subjects_rdms()  # (4 subjects, 92, 92), sessions averaged
print(f"CIFAR-10: {len(X)} training images; 92 stimuli; human IT RDMs {human_it.shape}, monkey IT {data.monkey_it.shape}")

# %% A small CNN, with a tracker that records its representation of the 92 images every epoch
net = tflearn.input_data(shape=[None, 32, 32, 3])
net = tflearn.conv_2d(net, 32, 3, activation="relu")
net = tflearn.max_pool_2d(net, 2)
net = tflearn.conv_2d(net, 64, 3, activation="relu")
net = tflearn.max_pool_2d(net, 2)
net = tflearn.fully_connected(net, 128, activation="relu")
net = tflearn.fully_connected(net, 10, activation="softmax")
net = tflearn.regression(net, optimizer="adam", learning_rate=0.001)
model = tflearn.DNN(net)
stimuli = brain.stimuli_for(model, data.images)  # the 92 images at 32 x 32, values in [0, 1]
tracker = brain.RepresentationTracker(stimuli, brain_rdm=human_it)
model.fit(X, Y, n_epoch=1 if args.quick else args.epochs, validation_set=(testX, testY), show_metric=True,
          batch_size=64, callbacks=tracker, run_id="tutorial_brain")

# %% [markdown]
# **RSA.** Each layer's RDM of the 92 images (1 - Pearson r between the images' activation
# patterns) is correlated (Spearman) with each subject's brain RDM; the grey band is the noise
# ceiling: no model can be expected above its upper edge, and a model at its lower edge explains
# as much as the other subjects do. Bars: 95% bootstrap intervals over stimuli and subjects.

# %% RSA against human and monkey IT
result = brain.layer_rsa(model, stimuli, {"human IT (fMRI)": human_it, "monkey IT (cells)": data.monkey_it},
                         n_bootstrap=100 if args.quick else 1000)
print(result.table())
brain.plot_layer_rsa(result, out / "rsa.png", title="CIFAR-trained CNN vs IT for the 92 images")
best = result.best_layer("human IT (fMRI)")
first = result.layers[0]
if best != first:
    test = result.compare_layers("human IT (fMRI)", best, first)
    print(f"{best} fits human IT better than {first} by {test['difference']:.3f} "
          f"(95% interval {test['ci'][0]:.3f} to {test['ci'][1]:.3f}; bootstrap p = {test['p_one_sided']:.3f})")

# %% How the representation changed during training (RSA with human IT per layer and epoch)
trajectory = brain.load_trajectory(model.last_run.path)
brain.plot_trajectory(trajectory, out / "trajectory.png", title="Layers vs human IT over training")
print("RSA with human IT before and after training:",
      {name: (round(float(trajectory.brain_rsa[0, i]), 3), round(float(trajectory.brain_rsa[-1, i]), 3))
       for i, name in enumerate(trajectory.layers)})

# %% [markdown]
# **Encoding model on a SIMULATED population.** 212 simulated V1-like neurons (Gabor filters,
# rectified, Poisson spike counts over 4 repeats) respond to the 92 images. Each layer's
# activations predict every neuron with cross-validated ridge regression; the score is the
# held-out correlation divided by the neuron's noise ceiling (split-half reliability of its
# repeats). Because the data are simulated, the true ceiling is known and checks the estimate.

# %% Encoding a simulated V1 population (labelled as simulated everywhere)
population = brain.simulate_v1(data.images, seed=0)
print(f"simulated V1: {population.responses.shape} (stimuli, repeats, units); true noise ceiling "
      f"(median corr. of true rate with mean response) {np.median(population.true_ceiling):.3f}, estimated "
      f"{np.nanmedian(np.sqrt(brain.reliability(population.responses))):.3f}")
encoding = brain.layer_encoding(model, stimuli, {"simulated V1": population.responses})
print(encoding.table())
brain.plot_encoding(encoding, out / "encoding.png", title="Encoding a SIMULATED V1 population from each layer")

# %% A receptive field by reverse correlation (white noise, spike-triggered average)
introspect.plot_receptive_fields(model, "Conv2D", [0, 1, 2, 3], out / "receptive_fields.png",
                                 n_samples=1000 if args.quick else 8000)
print(f"figures in {out}/: rsa.png, trajectory.png, encoding.png, receptive_fields.png")
