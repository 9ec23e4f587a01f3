"""Tutorial 7: how does the network's internal representation look?

Seed 000 ends with the question this lab exists for: "what has happened to the network? How did it
learn? How does its internal representation look like?" A small CNN is trained on MNIST with three
seeds; then, layer by layer: what a linear read-out can decode (against chance, with a permutation
test), how many dimensions the representation uses, how alike the layers and the seeds are (CKA and
the Procrustes shape distance), which units prefer which digit, a t-SNE map of the last hidden layer,
attribution (Grad-CAM, integrated gradients), each class unit's synthesized image and an atlas of a
layer's units, and one call that compares every layer with the human and monkey IT data of the 92
object images.

    python examples/tutorials/07_representations.py           # 12,000 images, 2 epochs x 3 seeds (~2 min)
    python examples/tutorials/07_representations.py --quick   # 2,000 images, 1 epoch, 400 test digits (CI)

Data: $DEEPSCOPE_DATA (`make` sets it to ../shared/datasets): mnist and kriegeskorte92.
"""
# %%
import argparse
import os
from pathlib import Path

import numpy as np

import deepscope as tflearn
from deepscope import brain, introspect
from deepscope.datasets import kriegeskorte92, mnist

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="2,000 images, 1 epoch (CI)")
parser.add_argument("--out", default="representations_tutorial", help="folder for the figures")
args, _ = parser.parse_known_args()  # parse_known_args: also works inside Jupyter
args.quick = args.quick or os.environ.get("DEEPSCOPE_QUICK") == "1"
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)

# %% Data: MNIST digits to train on, held-out digits to look at the representations with
X, Y, testX, testY = mnist.load_data(one_hot=True)
n_train, n_probe = (2000, 400) if args.quick else (12000, 1000)
X, Y = X[:n_train].reshape(-1, 28, 28, 1), Y[:n_train]
probe, probe_labels = testX[:n_probe].reshape(-1, 28, 28, 1), testY[:n_probe].argmax(1)


# %% The same small CNN trained with three seeds
def build():
    net = tflearn.input_data(shape=[None, 28, 28, 1])
    net = tflearn.conv_2d(net, 16, 3, activation="relu", name="conv1")
    net = tflearn.max_pool_2d(net, 2, name="pool1")
    net = tflearn.conv_2d(net, 32, 3, activation="relu", name="conv2")
    net = tflearn.max_pool_2d(net, 2, name="pool2")
    net = tflearn.fully_connected(net, 64, activation="relu", name="hidden")
    net = tflearn.fully_connected(net, 10, activation="softmax", name="output")
    return tflearn.regression(net, optimizer="adam", learning_rate=0.002)


models = []
for seed in (0, 1, 2):
    tflearn.set_seed(seed)
    model = tflearn.DNN(build())
    model.fit(X, Y, n_epoch=1 if args.quick else 2, batch_size=64, validation_set=(probe, testY[:n_probe]),
              show_metric=True, run_id=f"representations_seed{seed}")
    models.append(model)
layers = ["conv1", "conv2", "hidden", "output"]
model = models[0]

# %% [markdown]
# **Decoding.** A logistic-regression probe, cross-validated over 5 stratified folds, reads the digit
# from each layer. Chance is the majority class; the permutation test decodes shuffled labels.

# %%
decoding = introspect.layer_decoding(model, probe, probe_labels, layers=layers, n_permutations=0 if args.quick else 5)
for row in decoding.table():
    print(f"decoding {row['layer']:<7} accuracy {row['accuracy']:.3f} (chance {row['chance']:.3f})")
introspect.plot_decoding(decoding, out / "decoding.png")

# %% [markdown]
# **Dimensionality.** The participation ratio and effective dimensionality of each layer's
# covariance spectrum, the spectrum's power-law exponent, and the TwoNN intrinsic dimension.

# %%
dims = introspect.layer_dimensionality(model, probe, layers=layers)
for row in dims.table():
    print(f"dimensionality {row['layer']:<7} participation ratio {row['participation_ratio']:.1f}, "
          f"TwoNN {row['two_nn']:.1f}")
introspect.plot_dimensionality(dims, out / "dimensionality.png")

# %% [markdown]
# **Layers and seeds.** Linear CKA between the layers of seed 0 and seed 1, and the Procrustes shape
# distance of each layer across the three seeds: do networks trained from different starts end with
# the same representation?

# %%
cka = introspect.cka_matrix(models[0], probe, layers, model_b=models[1], layers_b=layers)
introspect.plot_similarity_matrix(cka.matrix, (cka.rows, cka.cols), out / "cka_seeds.png",
                                  title="linear CKA: seed 0 (rows) vs seed 1 (columns)")
feats = [introspect.layer_features(m, probe, layers) for m in models]
for layer in layers:
    distances = [introspect.procrustes_distance(feats[a][layer], feats[b][layer]) for a, b in ((0, 1), (0, 2), (1, 2))]
    print(f"across seeds {layer:<7} CKA(seed 0, seed 1) {cka.matrix[layers.index(layer), layers.index(layer)]:.3f}, "
          f"Procrustes angle {np.mean(distances):.3f} rad")

# %% [markdown]
# **Selectivity.** Each hidden unit's d' for its preferred digit, and how sparse the code is.

# %%
selectivity = introspect.layer_selectivity(model, probe, probe_labels, layers=["hidden", "output"])
for row in selectivity.table():
    print(f"selectivity {row['layer']:<7} mean d' {row['d_prime']:.2f}, {100 * row['selective']:.0f}% of units d' > 1, "
          f"lifetime sparseness {row['lifetime']:.2f}")
introspect.plot_selectivity(selectivity, out / "selectivity.png")

# %% [markdown]
# **t-SNE** of the last hidden layer, coloured by digit.

# %%
points = introspect.embed(feats[0]["hidden"][:500], "tsne", seed=0)
introspect.plot_embedding(points, probe_labels[:500], out / "tsne_hidden.png",
                          title=f"t-SNE of layer 'hidden' ({len(points)} test digits)")

# %% [markdown]
# **Why did it say that, and what does a unit want?** Grad-CAM of the last convolution and integrated
# gradients for a few digits; each class unit's synthesized image (kept in the pixel range [0, 1]) and
# how sure the network is of it; an atlas of conv2's units beside the digits that drive them most.

# %%
few = probe[:6]
cam = introspect.grad_cam(model, few, "conv2")
ig = introspect.integrated_gradients(model, few, steps=32)
for i in range(2):
    introspect.plot_attribution(few[i], cam[i][..., None], out / f"gradcam_{i}.png", title=f"Grad-CAM, digit {i}")
    introspect.plot_attribution(few[i], ig[i], out / f"ig_{i}.png", title=f"integrated gradients, digit {i}")
classes = [introspect.maximize_activation(model, None, digit, steps=60 if args.quick else 200) for digit in range(10)]
confidence = [model.predict(image[None])[0][digit] for digit, image in enumerate(classes)]
introspect.plot_images(classes, out / "class_images.png", titles=[f"{d}: p={p:.2f}" for d, p in enumerate(confidence)])
print(f"synthesized class images: pixels {min(c.min() for c in classes):.2f}-{max(c.max() for c in classes):.2f}, "
      f"the network's confidence {min(confidence):.2f}-{max(confidence):.2f}")
introspect.layer_atlas(model, "conv2", probe, out / "atlas_conv2.png", units=range(6), k=5,
                       steps=30 if args.quick else 100)

# %% [markdown]
# **The brain, in one call.** The 92 object images through the digit network (grey, 28 x 28): RSA
# with human and monkey IT (noise ceiling, bootstrap), decoding animate vs inanimate. A network
# trained on digits is not expected to explain IT; the point is the call.

# %%
data = kriegeskorte92.load_data()
stimuli = brain.stimuli_for(model, data.images)
comparison = brain.compare(model, stimuli, rdms={"human IT": data.human_it_subjects_rdms(),
                                                 "monkey IT": data.monkey_it},
                           labels=data.animate, layers=layers, n_bootstrap=100 if args.quick else 1000)
print(comparison)
comparison.plot(out / "compare.png")
comparison.report(out / "compare.html")
print(f"figures in {out}")
