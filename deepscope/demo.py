"""The first thing to run (``make demo``): three small trainings that show what deepscope does.

1. The OR operator with one sigmoid unit (the network of "My First Weekend of Deep Learning").
2. XOR, which needs a hidden layer.
3. A small convolutional network on real images (the CIFAR-10 subset or MNIST found in
   ``$DEEPSCOPE_DATA`` / ``../shared/datasets``; random images if neither is there), followed by
   pictures of what it learned: first-layer filters, learning curves, test predictions.

Run ``python -m deepscope.demo`` (add ``--quick`` for a ~20 s version), or call ``main()``.
"""
from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import deepscope as tflearn

from . import introspect
from .data_utils import to_categorical
from .datasets import cifar10, info, mnist, toy
from ._io import save_figure
from .callbacks.run_folder import runs_root
from .runs import plot_runs

REPO_ROOT = Path(__file__).resolve().parents[1]
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


# ---------------------------------------------------------------------------------------------
# 1-2. Logic gates
# ---------------------------------------------------------------------------------------------
def logic_gate(gate: str, hidden_units: int = 0, n_epoch: int = 2000, seed: int = 0):
    """Train the seed's network on a logic gate and print its predictions like the seed.

    Args:
        gate: ``'or'``, ``'xor'``, ... (see ``deepscope.datasets.toy.logic_gate``).
        hidden_units: 0 for the seed's single sigmoid unit, else a tanh hidden layer of this size.
        n_epoch: epochs (the seed: 2000).
        seed: random seed.

    Returns:
        ``(model, predictions)``: the trained DNN and an array ``(4,)`` of outputs.
    """

    tflearn.set_seed(seed)
    X, Y = toy.logic_gate(gate)
    net = tflearn.input_data(shape=[None, 2])
    if hidden_units:
        net = tflearn.fully_connected(net, hidden_units, activation='tanh')
    net = tflearn.fully_connected(net, 1, activation='sigmoid')
    net = tflearn.regression(net, optimizer='sgd', learning_rate=2, loss='mean_square')
    model = tflearn.DNN(net)
    model.fit(X, Y, n_epoch=n_epoch, snapshot_epoch=False, run_id=f"demo_{gate}")
    print(f"Testing {gate.upper()} operator" + (f" (hidden layer of {hidden_units} units)" if hidden_units else ""))
    predictions = model.predict(X)
    for x, p in zip(X, predictions):
        print(f"{int(x[0])} {gate} {int(x[1])}:", np.round(p[None], 2))
    return model, predictions[:, 0]


# ---------------------------------------------------------------------------------------------
# 3. Images
# ---------------------------------------------------------------------------------------------
def data_dirs() -> list[str | None]:
    """Folders that may hold datasets: ``$DEEPSCOPE_SHARED_DATASETS``, ``<repo>/../shared/datasets``,
    then ``None`` (the library default: ``$DEEPSCOPE_DATA``, else ``~/.deepscope/datasets``)."""
    dirs: list[str | None] = []
    if os.environ.get("DEEPSCOPE_SHARED_DATASETS"):
        dirs.append(os.environ["DEEPSCOPE_SHARED_DATASETS"])
    shared = REPO_ROOT.parent / "shared" / "datasets"
    if shared.is_dir():
        dirs.append(str(shared))
    return dirs + [None]


def find_images(quick: bool):
    """Real images already on disk (never downloads): CIFAR-10, else MNIST, else random data.

    Returns:
        ``(name, X, Y, testX, testY, class_names)`` with X float32 NHWC in [0, 1], Y one-hot.
    """

    train_limit, test_limit = (1000, 500) if quick else (None, None)
    for folder in data_dirs():
        try:
            if any(f["cached"] for f in info("cifar10", folder)["files"]):
                with warnings.catch_warnings():  # the "only a subset" warning: the demo says it itself
                    warnings.simplefilter("ignore")
                    (X, Y), (tX, tY) = cifar10.load_data(one_hot=True, data_dir=folder, verbose=False)
                return ("CIFAR-10", X[:train_limit], Y[:train_limit], tX[:test_limit], tY[:test_limit],
                        CIFAR10_CLASSES)
            if info("mnist", folder)["cached"]:
                X, Y, tX, tY = mnist.load_data(one_hot=True, data_dir=folder, flatten=False, verbose=False,
                                               limit=None if quick else 10000)
                return ("MNIST", X[:train_limit], Y[:train_limit], tX[:test_limit], tY[:test_limit],
                        tuple(str(d) for d in range(10)))
        except Exception as err:  # a broken copy: say so and try the next folder
            print(f"(could not read the datasets in {folder or 'the default folder'}: {err})")
    print("No CIFAR-10 or MNIST found. Put them in ../shared/datasets next to the repository, set\n"
          "DEEPSCOPE_DATA=/path/to/datasets, or download once with:\n"
          "    python -c \"from deepscope.datasets import cifar10; cifar10.load_data()\"\n"
          "Using random images instead (the network can only memorize them).")
    rng = np.random.default_rng(0)
    n, nt = (512, 128) if quick else (2000, 500)
    labels = rng.integers(0, 10, n + nt)
    X = rng.random((n + nt, 32, 32, 3), dtype=np.float32)
    X[np.arange(n + nt), :, :, labels % 3] += 0.3 * (labels[:, None, None] / 10.0)  # a weak colour cue
    Y = to_categorical(labels, 10)
    return "random images", X[:n], Y[:n], X[n:], Y[n:], tuple(f"class {c}" for c in range(10))


def small_cnn(image_shape, quick: bool):
    """conv 32 -> BN -> pool -> conv 64 -> BN -> pool -> 128 -> BN -> 10, Adam with a one-cycle schedule
    (half the filters when ``quick``)."""

    img_prep = tflearn.ImagePreprocessing()
    img_prep.add_featurewise_zero_center(per_channel=True)
    img_prep.add_featurewise_stdnorm(per_channel=True)
    img_aug = tflearn.ImageAugmentation()
    if image_shape[-1] == 3:
        img_aug.add_random_flip_leftright()
    else:
        img_aug.add_random_shift(max_shift=0.1)
    net = tflearn.input_data(shape=[None, *image_shape], data_preprocessing=img_prep, data_augmentation=img_aug)
    conv1 = tflearn.conv_2d(net, 16 if quick else 32, 3, activation='relu', name='conv1')
    net = tflearn.batch_normalization(conv1)
    net = tflearn.max_pool_2d(net, 2)
    net = tflearn.conv_2d(net, 32 if quick else 64, 3, activation='relu', name='conv2')
    net = tflearn.batch_normalization(net)
    net = tflearn.max_pool_2d(net, 2)
    net = tflearn.fully_connected(net, 128, activation='relu')
    # normalized before dropout: without it 60-66% of these units died at this learning rate (the diagnosis
    # said so); with it about 8% are dead and test accuracy on the CIFAR subset rose from 0.55 to 0.62
    net = tflearn.batch_normalization(net)
    net = tflearn.dropout(net, 0.5)
    net = tflearn.fully_connected(net, 10, activation='softmax')
    adam = tflearn.optimizers.Adam(learning_rate=0.003, schedule='one_cycle')
    return tflearn.regression(net, optimizer=adam, loss='categorical_crossentropy', batch_size=64), conv1


def cifar_example(n_epoch: int = 3, seed: int = 0):
    """README's convolutional network on the CIFAR-10 subset, trained ``n_epoch`` epochs: what the README's later
    blocks start from, so each runs on its own (``model, (X, Y), (X_test, Y_test) = cifar_example()``).

    Args:
        n_epoch: training epochs (0: untrained).
        seed: the fit's seed.

    Returns:
        ``(model, (X, Y), (X_test, Y_test))`` with one-hot labels; layers named as in README (``Conv2D``,
        ``FullyConnected``, ``FullyConnected_1``).
    """
    (X, Y), (X_test, Y_test) = cifar10.load_data(one_hot=True)
    img_prep = tflearn.ImagePreprocessing()
    img_prep.add_featurewise_zero_center()
    img_prep.add_featurewise_stdnorm()
    img_aug = tflearn.ImageAugmentation()
    img_aug.add_random_flip_leftright()
    img_aug.add_random_rotation(max_angle=25.0)
    network = tflearn.input_data(shape=[None, 32, 32, 3], data_preprocessing=img_prep, data_augmentation=img_aug)
    network = tflearn.max_pool_2d(tflearn.conv_2d(network, 32, 3, activation="relu"), 2)
    network = tflearn.dropout(tflearn.fully_connected(network, 512, activation="relu"), 0.5)
    network = tflearn.fully_connected(network, 10, activation="softmax")
    network = tflearn.regression(network, optimizer="adam", loss="categorical_crossentropy", learning_rate=0.0001)
    model = tflearn.DNN(network)
    if n_epoch:
        model.fit(X, Y, n_epoch=n_epoch, validation_set=(X_test, Y_test), show_metric=True, batch_size=128,
                  seed=seed, run_id="cifar_example")
    return model, (X, Y), (X_test, Y_test)


# ---------------------------------------------------------------------------------------------
# Pictures of what was learned
# ---------------------------------------------------------------------------------------------
def save_predictions(images, labels, predictions, class_names, path: Path, n: int = 16) -> Path:
    """A grid of test images titled with the predicted class (green when right, red when wrong)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 8.6), layout="constrained")
    axes = fig.subplots(4, 4)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i >= min(n, len(images)):
            continue
        img = images[i]
        ax.imshow(img if img.shape[-1] == 3 else img[..., 0], cmap=None if img.shape[-1] == 3 else "gray")
        guess, truth = int(predictions[i].argmax()), int(labels[i].argmax())
        title = f"{class_names[guess]} ({predictions[i, guess]:.0%})"
        if guess != truth:
            title += f"\ntrue: {class_names[truth]}"
        ax.set_title(title, fontsize=9, color="green" if guess == truth else "red")
    fig.suptitle("test images: predicted class (confidence); red = wrong, with the true class", fontsize=10)
    return save_figure(fig, path)


def look_inside(model, images, out: Path, labels=None, class_names=None) -> dict:
    """Open the black box: unit health, feature maps, a saliency map and layer similarity (CKA)."""
    print("\nInside the network (on test images):")
    print(introspect.format_health(introspect.unit_health(model, images)))
    cka = introspect.cka_matrix(model, images, layers_a=["conv1", "conv2", "FullyConnected", "FullyConnected_1"])
    print("Representational similarity of the layers (linear CKA, 1 = same geometry):")
    print(f"  {'':>17} " + " ".join(f"{name[:8]:>8}" for name in cka.cols))
    for name, row in zip(cka.rows, cka.matrix):
        print(f"  {name:>17} " + " ".join(f"{v:8.2f}" for v in row))
    saliency = introspect.saliency(model, images[:1])
    probabilities = model.predict(images[:1])[0]
    guess = int(probabilities.argmax())
    names = list(class_names) if class_names is not None else [str(i) for i in range(len(probabilities))]
    truth = None if labels is None else int(np.asarray(labels)[0].argmax())
    verdict = "" if truth is None else (f", true {names[truth]}" + (" (misclassified)" if truth != guess else ""))
    return {
        "feature maps": introspect.plot_feature_maps(model, images[0], "conv1", out / "feature_maps.png", max_maps=16),
        "saliency": introspect.plot_attribution(images[0], saliency[0], out / "saliency.png",
                                                title=f"saliency for the predicted class {names[guess]} "
                                                      f"({probabilities[guess]:.0%}){verdict}"),
        "similarity": introspect.plot_similarity_matrix(cka, None, out / "layer_similarity.png",
                                                        title="linear CKA between layers"),
    }


def save_curves(run_path, path: Path) -> Path:
    """Learning curves of the run (``deepscope.runs.plot_runs``)."""
    return plot_runs([run_path], path, metrics=("loss", "acc"), layout="metrics")


# ---------------------------------------------------------------------------------------------
def main(quick: bool = False, out: str | os.PathLike | None = None) -> dict:
    """Run the demo.

    Args:
        quick: a ~20 s version (fewer images and epochs, smaller network).
        out: folder for the pictures (default ``<runs folder>/demo``).

    Returns:
        A dict of what it found: ``or_predictions``, ``xor_predictions``, ``dataset``,
        ``test_accuracy``, ``out`` (the folder), ``files`` (the PNG paths), ``runs`` (run folders).
    """

    start = time.perf_counter()
    root = runs_root()
    out = Path(out) if out is not None else root / "demo"
    out.mkdir(parents=True, exist_ok=True)
    runs = []

    print("=" * 70 + "\n1. The OR operator, one sigmoid unit (seed: SGD, learning rate 2, 2000 epochs)\n" + "=" * 70)
    or_model, or_pred = logic_gate("or")
    runs.append(or_model.last_run.path)

    print("\n" + "=" * 70 + "\n2. XOR: one unit cannot separate it; a hidden layer can\n" + "=" * 70)
    xor_model, xor_pred = logic_gate("xor", hidden_units=4, n_epoch=1000 if quick else 2000)
    runs.append(xor_model.last_run.path)

    print("\n" + "=" * 70 + "\n3. A small convolutional network on real images\n" + "=" * 70)
    name, X, Y, tX, tY, class_names = find_images(quick)
    print(f"Data: {name}, {len(X)} training / {len(tX)} test images of shape {X.shape[1:]}"
          + (" (the 4,000/1,000 subset of CIFAR-10)" if name == "CIFAR-10" and len(X) == 4000 else ""))
    tflearn.set_seed(0)
    network, conv1 = small_cnn(X.shape[1:], quick)
    model = tflearn.DNN(network)
    n_epoch = 2 if quick else (8 if name == "CIFAR-10" else 4)
    t0 = time.perf_counter()
    model.fit(X, Y, n_epoch=n_epoch, validation_set=(tX, tY), show_metric=True, run_id="demo_cnn")
    train_time = time.perf_counter() - t0
    runs.append(model.last_run.path)
    accuracy = model.evaluate(tX, tY)[0]
    predictions = model.predict(tX)
    truth = tY.argmax(1)
    per_class = [(predictions[truth == c].argmax(1) == c).mean() if (truth == c).any() else float("nan")
                 for c in range(len(class_names))]
    print(f"\nTest accuracy: {accuracy:.3f} after {n_epoch} epochs ({train_time:.0f} s); "
          f"chance is {1 / len(class_names):.2f}")
    print("Per class (share of its test images recognized):")
    for c in np.argsort(per_class)[::-1]:
        print(f"  {class_names[c]:>11} {per_class[c]:5.0%} " + "#" * int(round(20 * per_class[c])))

    files = {
        "filters": introspect.plot_filters(model, out / "filters.png", layer="conv1"),
        "curves": save_curves(model.last_run.path, out / "learning_curves.png"),
        "predictions": save_predictions(tX, tY, predictions, class_names, out / "predictions.png"),
        **look_inside(model, tX[:200], out, labels=tY[:200], class_names=class_names),
    }
    print("\nWhat it learned, as pictures:")
    for label, path in files.items():
        print(f"  {label:<13} {path}")
    print("\nRun folders (config.json, metrics.csv, TensorBoard events):")
    for path in runs:
        print(f"  {path}")
    print("\nNext, from a new shell in this folder: `source .venv/bin/activate` (the environment `make` made),")
    print(f"then  tensorboard --logdir {root}   (or: deepscope tensorboard),  deepscope runs compare demo_or demo_xor "
          "demo_cnn,  deepscope report runs/demo_cnn -o report.html")
    print(f"Demo done in {time.perf_counter() - start:.0f} s.")
    return {"or_predictions": or_pred, "xor_predictions": xor_pred, "dataset": name, "test_accuracy": accuracy,
            "out": out, "files": {k: Path(v) for k, v in files.items()}, "runs": [Path(p) for p in runs]}


if __name__ == "__main__":
    main(quick="--quick" in sys.argv[1:])
