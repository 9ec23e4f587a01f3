"""CIFAR-10 experiments of seed 004 ("My First Weekend of Deep Learning"), with its exact networks.

Each experiment trains a few variants of one network and saves their learning curves side by
side (training solid, validation dashed) as a PNG, plus a table of final numbers:

    layers         one set of layers vs three sets (conv/pool/fully connected)
    dropout        the three-set network without / with a dropout layer
    l2             the three-set network without / with L2 regularization
    batch_size     small (64) vs large (2000) batches
    learning_rate  small (0.0001), medium (0.001), large (0.01) Adam learning rates
    resnet         "try copying some of the methods" of TFlearn's example repository: the residual
                   network of its examples/images/residual_network_cifar10.py (n blocks per stage,
                   --resnet-n, default 2 here, 5 there) beside the three-set network, same epochs
    inside         (not in "all") the three-set network trained, then opened: Grad-CAM and integrated
                   gradients of test images, each class unit's synthesized image with the network's
                   confidence, an atlas of the first convolution, the run report with the atlas

    python examples/seeds/cifar10_experiments.py                        # all, 4000/1000 images, 5 epochs
    python examples/seeds/cifar10_experiments.py --experiment inside    # look inside the seed's network
    python examples/seeds/cifar10_experiments.py --experiment dropout   # one experiment
    python examples/seeds/cifar10_experiments.py --epochs 50            # the seed's length
    python examples/seeds/cifar10_experiments.py --quick                # 300 images, 1 epoch (CI)

Data: CIFAR-10 from $DEEPSCOPE_DATA, else ../shared/datasets next to the repository (the
4000/1000-image subset if that is all there is), else downloaded once. With only 4000 training
images and a few epochs the absolute accuracies are far below the seed's (50,000 images, 50
epochs), but the comparisons already show the effects. Outputs go to --out (default
runs/seed004_cifar10): <experiment>.png, <experiment>.txt and the run folders (TensorBoard:
``tensorboard --logdir runs/seed004_cifar10/runs``).
"""
# %%
import argparse
import time
import warnings
from pathlib import Path

import deepscope as tflearn
from deepscope import (conv_2d, dropout, fully_connected, input_data, max_pool_2d, regression, residual_block,
                       ImageAugmentation, ImagePreprocessing)
from deepscope.datasets import cifar10
from deepscope.runs import compare_runs, plot_runs

EXPERIMENTS = ("layers", "dropout", "l2", "batch_size", "learning_rate", "resnet")


# %% The seed's networks
def image_input():
    """Input layer with the seed's preprocessing (zero-center, std-normalize) and augmentation."""
    img_prep = ImagePreprocessing()
    img_prep.add_featurewise_zero_center()
    img_prep.add_featurewise_stdnorm()
    img_aug = ImageAugmentation()
    img_aug.add_random_flip_leftright()
    img_aug.add_random_rotation(max_angle=25.)
    return input_data(shape=[None, 32, 32, 3], data_preprocessing=img_prep, data_augmentation=img_aug)


def one_layer_set(learning_rate=0.001):
    network = image_input()
    network = conv_2d(network, 32, 3, activation='relu')
    network = max_pool_2d(network, 2)
    network = fully_connected(network, 512, activation='relu')
    network = fully_connected(network, 10, activation='softmax')
    return regression(network, optimizer='adam', loss='categorical_crossentropy', learning_rate=learning_rate)


def three_layer_sets(use_dropout=False, regularizer=None, learning_rate=0.001):
    network = image_input()
    network = conv_2d(network, 32, 3, activation='relu', regularizer=regularizer)
    network = max_pool_2d(network, 2)
    network = conv_2d(network, 64, 3, activation='relu', regularizer=regularizer)
    network = conv_2d(network, 64, 3, activation='relu', regularizer=regularizer)
    network = max_pool_2d(network, 2)
    network = fully_connected(network, 512, activation='relu', regularizer=regularizer)
    if use_dropout:
        network = dropout(network, 0.5)
    network = fully_connected(network, 10, activation='softmax')
    return regression(network, optimizer='adam', loss='categorical_crossentropy', learning_rate=learning_rate)


def residual_network(n=2, learning_rate=0.1):
    """TFlearn's examples/images/residual_network_cifar10.py architecture (there n = 5: 32 layers):
    per-channel zero-centering, random flips and 4-pixel crops, 3 stages of pre-activation residual
    blocks (16, 32, 64 filters), global average pooling, Momentum 0.9 with lr 0.1."""
    img_prep = ImagePreprocessing()
    img_prep.add_featurewise_zero_center(per_channel=True)
    img_aug = ImageAugmentation()
    img_aug.add_random_flip_leftright()
    img_aug.add_random_crop([32, 32], padding=4)
    net = input_data(shape=[None, 32, 32, 3], data_preprocessing=img_prep, data_augmentation=img_aug)
    net = conv_2d(net, 16, 3, regularizer='L2', weight_decay=0.0001)
    net = residual_block(net, n, 16)
    net = residual_block(net, 1, 32, downsample=True)
    net = residual_block(net, n - 1, 32)
    net = residual_block(net, 1, 64, downsample=True)
    net = residual_block(net, n - 1, 64)
    net = tflearn.activation(tflearn.batch_normalization(net), 'relu')
    net = tflearn.global_avg_pool(net)
    net = fully_connected(net, 10, activation='softmax')
    return regression(net, optimizer=tflearn.Momentum(learning_rate), loss='categorical_crossentropy')


# %% Training one variant, and comparing variants
def train(network, data, run_id, settings, batch_size=64, clip_gradients=5.0):
    """Fit one variant; returns ``(run folder, training seconds)``."""
    (X, Y), (X_test, Y_test) = data
    model = tflearn.DNN(network, tensorboard_dir=settings.out / "runs", clip_gradients=clip_gradients)
    start = time.perf_counter()
    model.fit(X, Y, n_epoch=settings.epochs, shuffle=True, validation_set=(X_test, Y_test),
              show_metric=True, batch_size=batch_size, run_id=run_id)
    seconds = time.perf_counter() - start
    last = model.history[-1]
    print(f"  {run_id}: acc {last.get('acc', float('nan')):.3f}, "
          f"val_acc {last.get('val_acc', float('nan')):.3f} ({seconds:.0f} s)")
    return model.last_run.path, seconds


def compare(name, title, variants, data, settings):
    """Train ``variants`` ({label: (network function, kwargs for fit)}); save the PNG and the table.

    Returns:
        The table rows: one dict per variant (final loss, acc, val_loss, val_acc, seconds).
    """
    print(f"\n== {title} ==")
    results = []
    for label, (make, fit_args) in variants.items():
        tflearn.set_seed(settings.seed)  # the same initial weights for the same network in every experiment
        results.append((label, *train(make(), data, f"cifar_{name}_{label}", settings, **fit_args)))
    paths = [path for _, path, _ in results]
    png = plot_runs(paths, settings.out / f"{name}.png", metrics=("acc", "loss"), layout="runs")
    finals = compare_runs(paths, metric=["loss", "acc", "val_loss", "val_acc"], sort=False).to_dicts()
    rows = [{"variant": label, **{k: final[k] for k in ("loss", "acc", "val_loss", "val_acc")},
             "seconds": seconds} for (label, _, seconds), final in zip(results, finals)]
    lines = [f"{title} ({settings.epochs} epochs, {len(data[0][0])} training images)",
             f"| {'variant':<20} | {'loss':>7} | {'acc':>6} | {'val_loss':>8} | {'val_acc':>7} | {'time (s)':>8} |",
             f"|{'-' * 22}|{'-' * 9}|{'-' * 8}|{'-' * 10}|{'-' * 9}|{'-' * 10}|"]
    lines += [f"| {r['variant']:<20} | {r['loss']:7.3f} | {r['acc']:6.3f} | {r['val_loss']:8.3f} | "
              f"{r['val_acc']:7.3f} | {r['seconds']:8.0f} |" for r in rows]
    text = "\n".join(lines) + "\n"
    (settings.out / f"{name}.txt").write_text(text)
    print(text + f"learning curves: {png}")
    return rows


# %% The five experiments
def experiment_layers(data, settings):
    return compare("layers", "One vs three sets of layers", {
        "one_set": (one_layer_set, {}),
        "three_sets": (three_layer_sets, {})}, data, settings)


def experiment_dropout(data, settings):
    return compare("dropout", "Three sets of layers without / with dropout", {
        "no_dropout": (three_layer_sets, {}),
        "dropout": (lambda: three_layer_sets(use_dropout=True), {})}, data, settings)


def experiment_l2(data, settings):
    return compare("l2", "Three sets of layers without / with L2 regularization", {
        "no_l2": (three_layer_sets, {}),
        "l2": (lambda: three_layer_sets(regularizer='L2'), {})}, data, settings)


def experiment_batch_size(data, settings):
    return compare("batch_size", "Small vs large batch size", {
        "small_batch_64": (lambda: three_layer_sets(use_dropout=True), {"batch_size": 64}),
        "large_batch_2000": (lambda: three_layer_sets(use_dropout=True), {"batch_size": 2000})},
        data, settings)


def experiment_learning_rate(data, settings):
    return compare("learning_rate", "Small, medium and large learning rate", {
        f"lr_{lr:g}": (lambda lr=lr: three_layer_sets(use_dropout=True, learning_rate=lr), {})
        for lr in (0.0001, 0.001, 0.01)}, data, settings)


def experiment_resnet(data, settings):
    return compare("resnet", "The seed's three sets of layers vs TFlearn's residual network", {
        "three_sets": (lambda: three_layer_sets(use_dropout=True), {}),
        f"resnet_n{settings.resnet_n}": (lambda: residual_network(settings.resnet_n),
                                         {"batch_size": 128, "clip_gradients": 0.0})}, data, settings)


# %% Inside the network: why it said that, and what its units want (issue 24)
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def experiment_inside(data, settings):
    """Train the seed's three sets of layers (with dropout), then look inside: Grad-CAM of the last convolution and
    integrated gradients for a few test images, each class unit's synthesized image (in the pixel range [0, 1],
    with the network's confidence in it), an atlas of the first convolution's units beside the test images that
    drive them most, and the run report with the atlas as a section."""
    from deepscope import introspect
    print("\n== Inside the seed's network: attribution, class images, an atlas ==")
    (X, Y), (X_test, Y_test) = data
    tflearn.set_seed(settings.seed)
    model = tflearn.DNN(three_layer_sets(use_dropout=True), tensorboard_dir=settings.out / "runs")
    model.fit(X, Y, n_epoch=settings.epochs, validation_set=(X_test, Y_test), show_metric=True, run_id="cifar_inside")
    few = X_test[:4]
    cam = introspect.grad_cam(model, few, "Conv2D_2")  # the last convolution
    ig = introspect.integrated_gradients(model, few, steps=32)
    truth, guess = Y_test[:4].argmax(1), model.predict(few).argmax(1)
    for i in range(len(few)):
        label = f"{CLASSES[truth[i]]} (said {CLASSES[guess[i]]})"
        introspect.plot_attribution(few[i], cam[i][..., None], settings.out / f"inside_gradcam_{i}.png",
                                    title=f"Grad-CAM of the last convolution: {label}")
        introspect.plot_attribution(few[i], ig[i], settings.out / f"inside_ig_{i}.png",
                                    title=f"integrated gradients: {label}")
    steps = 30 if settings.quick else 200
    classes = [introspect.maximize_activation(model, None, c, steps=steps, rotate=5, scale=0.05) for c in range(10)]
    confidence = [float(model.predict(image[None])[0][c]) for c, image in enumerate(classes)]
    introspect.plot_images(classes, settings.out / "inside_classes.png",
                           titles=[f"{name}: p={p:.2f}" for name, p in zip(CLASSES, confidence)])
    atlas = introspect.layer_atlas(model, "Conv2D", X_test[:500], settings.out / "inside_atlas.png",
                                   units=range(8), k=5, steps=20 if settings.quick else 100)
    report = tflearn.report(model, settings.out / "inside_report.html", sections=[atlas])
    pixels = (min(float(c.min()) for c in classes), max(float(c.max()) for c in classes))
    text = (f"Inside the seed's network ({settings.epochs} epochs, {len(X)} training images)\n"
            f"Grad-CAM and integrated gradients of {len(few)} test images: inside_gradcam_*.png, inside_ig_*.png\n"
            f"class images (inside_classes.png): pixels {pixels[0]:.2f}-{pixels[1]:.2f}, the network's confidence "
            f"{min(confidence):.2f}-{max(confidence):.2f} (median {sorted(confidence)[5]:.2f})\n"
            f"atlas of the first convolution: inside_atlas.png; the run report: {report.path}\n")
    (settings.out / "inside.txt").write_text(text)
    print(text)
    return confidence


# %% Main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", choices=EXPERIMENTS + ("all", "inside"), default="all",
                        help="one experiment, all five (and the residual network), or 'inside': attribution, class "
                             "images and an atlas of the seed's network")
    parser.add_argument("--quick", action="store_true", help="300 images, 1 epoch (CI smoke test)")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per variant (seed: 50)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first LIMIT images of each split")
    parser.add_argument("--out", type=Path, default=Path("runs") / "seed004_cifar10", help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resnet-n", type=int, default=2, help="residual blocks per stage (TFlearn's example: 5)")
    settings, _ = parser.parse_known_args(argv)  # parse_known_args: also works inside Jupyter
    settings.quick = bool(settings.quick)
    if settings.quick:
        settings.epochs, settings.limit = 1, settings.limit or 300
    settings.out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # the subset warning: said once here instead
        warnings.simplefilter("ignore")
        data = cifar10.load_data(one_hot=True, limit=settings.limit)
    print(f"CIFAR-10: {len(data[0][0])} training / {len(data[1][0])} validation images, "
          f"{settings.epochs} epoch(s) per variant")
    names = EXPERIMENTS if settings.experiment == "all" else (settings.experiment,)
    start = time.perf_counter()
    for name in names:
        globals()[f"experiment_{name}"](data, settings)
    print(f"\nAll done in {time.perf_counter() - start:.0f} s; figures and tables in {settings.out}")


if __name__ == "__main__":
    main()
