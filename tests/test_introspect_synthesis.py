"""Synthesis: activation maximization, DeepDream (stopping after the target layer), image grids."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import deepscope as tflearn
from deepscope.introspect import activations
from deepscope.introspect.synthesis import deep_dream, layer_output, maximize_activation, plot_images


def edge_model():
    """One 3x3 conv filter set by hand to a vertical edge detector, then a classifier."""
    tflearn.set_seed(0)
    net = tflearn.input_data(shape=[None, 12, 12, 1])
    net = tflearn.conv_2d(net, 2, 3, activation="relu")
    net = tflearn.fully_connected(net, 3, activation="softmax")
    model = tflearn.DNN(tflearn.regression(net))
    conv = model.net.layers["Conv2D"]
    kernel = np.zeros((2, 1, 3, 3), dtype=np.float32)
    kernel[0, 0] = [[-1, 0, 1]] * 3  # responds to intensity rising from left to right
    kernel[1, 0] = np.random.default_rng(0).normal(size=(3, 3))
    model.set_weights(conv.weight, kernel)
    model.set_weights(conv.bias, np.zeros(2, dtype=np.float32))
    return model


def dream_model():
    tflearn.set_seed(3)
    net = tflearn.input_data(shape=[None, 16, 16, 3])
    net = tflearn.conv_2d(net, 4, 3, activation="relu")
    net = tflearn.max_pool_2d(net, 2)
    net = tflearn.conv_2d(net, 6, 3, activation="relu")
    net = tflearn.fully_connected(net, 8, activation="relu")
    net = tflearn.fully_connected(net, 5, activation="softmax")
    return tflearn.DNN(tflearn.regression(net))


def unit_mean(model, x, layer, unit):
    return activations(model, x[None], [layer])[layer][0, ..., unit].mean()


def left_as_found(model):
    return (all(m.training for m in model.net.modules())
            and all(p.grad is None for p in model.net.parameters())
            and not any(m._forward_hooks for m in model.net.modules()))


def test_maximizing_a_vertical_edge_filter_draws_vertical_structure():
    model = edge_model()
    model.net.train()
    img = maximize_activation(model, "Conv2D", 0, steps=120)
    assert img.shape == (12, 12, 1) and np.isfinite(img).all()
    assert img.min() >= 0.0 and img.max() <= 1.0  # in the data's range at every step
    assert left_as_found(model)
    rng = np.random.default_rng(1)
    best_random = max(unit_mean(model, rng.random((12, 12, 1)).astype(np.float32), "Conv2D", 0) for _ in range(20))
    assert unit_mean(model, img, "Conv2D", 0) > 2 * best_random
    horizontal = (np.diff(img[..., 0], axis=1) ** 2).sum()  # changes along the width
    vertical = (np.diff(img[..., 0], axis=0) ** 2).sum()
    assert horizontal > 3 * vertical
    robust = maximize_activation(model, "Conv2D", 0, steps=120, rotate=10, scale=0.1)  # Lucid's transforms
    assert 0 <= robust.min() and robust.max() <= 1 and unit_mean(model, robust, "Conv2D", 0) > 1.5 * best_random
    free = maximize_activation(model, "Conv2D", 0, steps=120, value_range=None)  # the classic, unbounded form
    assert free.min() < 0 or free.max() > 1
    assert unit_mean(model, free, "Conv2D", 0) > 4 * best_random


def test_maximizing_a_class_and_a_hidden_unit():
    model = dream_model()
    random = np.random.default_rng(2).random((16, 16, 3)).astype(np.float32)
    img = maximize_activation(model, None, 4, steps=40, jitter=0)  # the classifier is position-specific
    logits = lambda x: model.net.logits(torch.as_tensor(x[None])).detach().numpy()[0]  # noqa: E731
    assert np.isfinite(img).all() and logits(img)[4] > logits(random)[4] + 3
    smooth = maximize_activation(model, None, 4, steps=40, jitter=0, parametrization="fourier")  # Lucid's
    assert 0 <= smooth.min() and smooth.max() <= 1 and logits(smooth)[4] > logits(random)[4] + 3
    with pytest.raises(ValueError, match="maximize_activation parametrization"):
        maximize_activation(model, None, 4, parametrization="wavelet")
    hidden = maximize_activation(model, "FullyConnected", 1, steps=40, jitter=0, blur_every=0)
    assert unit_mean(model, hidden, "FullyConnected", 1) > unit_mean(model, random, "FullyConnected", 1) + 1
    assert all(p.grad is None for p in model.net.parameters())


def test_deep_dream_stops_after_the_layer_at_any_size():
    model = dream_model()
    image = np.random.default_rng(3).uniform(0.2, 0.8, (16, 16, 3)).astype(np.float32)
    dream = deep_dream(model, image, "Conv2D_1", steps=8, octaves=3)  # octaves of 8x8, 11x11, 16x16
    assert dream.shape == image.shape and dream.min() >= 0 and dream.max() <= 1
    norm = lambda x: np.linalg.norm(activations(model, x[None], ["Conv2D_1"])["Conv2D_1"])  # noqa: E731
    assert norm(dream) > 1.2 * norm(image)
    big = np.random.default_rng(4).random((1, 24, 20, 3)).astype(np.float32)
    with pytest.raises(RuntimeError), torch.no_grad():
        model.net(torch.as_tensor(big))  # the fully connected layers need 16x16
    model.net.train()  # (activations, like predict, leaves the network in eval mode)
    assert deep_dream(model, big, "Conv2D_1", steps=2, octaves=2).shape == big.shape
    assert layer_output(model.net, torch.as_tensor(big), "Conv2D_1").shape == (1, 12, 10, 6)
    assert left_as_found(model)


def test_deep_dream_in_the_data_range_with_jitter_and_a_silent_layer():
    model = dream_model()
    image = np.random.default_rng(3).uniform(-0.5, 0.5, (16, 16, 3)).astype(np.float32)
    dream = deep_dream(model, image, "Conv2D_1", steps=8, octaves=2, value_range=(-1.0, 1.0), jitter=2)
    assert -1.0 <= dream.min() and dream.max() <= 1.0 and dream.min() < 0  # the data's own range, not [0, 1]
    norm = lambda x: np.linalg.norm(activations(model, x[None], ["Conv2D_1"])["Conv2D_1"])  # noqa: E731
    assert norm(dream) > 1.2 * norm(np.clip(image, -1, 1))
    conv = model.net.layers["Conv2D"]
    with torch.no_grad():
        conv.bias.fill_(-100.0)  # every unit of the first layer silent: no gradient reaches the image
    with pytest.warns(RuntimeWarning, match="no gradient"):
        same = deep_dream(model, image, "Conv2D", steps=3, octaves=1, value_range=(-1.0, 1.0))
    np.testing.assert_allclose(same, image, atol=1e-6)
    with pytest.raises(ValueError, match="value_range"):
        deep_dream(model, image, "Conv2D", value_range=(1.0, 0.0))


def test_clear_errors_and_plot(tmp_path):
    model = dream_model()
    with pytest.raises(ValueError, match=r"an integer in \[0, 5\] \(the layer has 6"):
        maximize_activation(model, "Conv2D_1", 6, steps=1)
    with pytest.raises(ValueError, match=r"an integer in \[0, 4\]"):
        maximize_activation(model, None, -1, steps=1)
    with pytest.raises(ValueError, match="unknown"):
        maximize_activation(model, "Conv9", 0, steps=1)
    with pytest.raises(ValueError, match="octaves=1"):
        deep_dream(model, np.zeros((16, 16, 3)), "FullyConnected", steps=1, octaves=2)
    with pytest.raises(ValueError, match="one image"):
        deep_dream(model, np.zeros((2, 16, 16, 3)), "Conv2D", steps=1)
    assert not any(m._forward_hooks for m in model.net.modules())
    assert all(p.grad is None for p in model.net.parameters())
    imgs = [np.random.default_rng(i).random((16, 16, 3)) for i in range(3)] + [np.zeros((16, 16, 1))]
    path = plot_images(imgs, tmp_path / "grid.png", titles=["a", "b", "c", "blank"], ncols=2)
    assert open(path, "rb").read(4) == b"\x89PNG"
    with pytest.raises(ValueError, match="titles"):
        plot_images(imgs, tmp_path / "x.png", titles=["a"])


def test_layer_atlas_pairs_each_units_image_with_its_strongest_inputs(tmp_path):
    from deepscope.introspect import layer_atlas, top_images, unit_responses

    model = dream_model()
    x = np.random.default_rng(0).random((40, 16, 16, 3)).astype(np.float32)
    responses = unit_responses(model, x, "Conv2D")
    acts = activations(model, x, ["Conv2D"])["Conv2D"]
    np.testing.assert_allclose(responses, acts.reshape(40, -1, acts.shape[-1]).mean(1), atol=1e-6)
    top = top_images(model, x, "Conv2D", unit=2, k=5)
    assert list(top) == list(np.argsort(-responses[:, 2])[:5])
    atlas = layer_atlas(model, "Conv2D", x, tmp_path / "atlas.png", units=[0, 2], k=3, steps=10)
    assert atlas.units == [0, 2] and list(atlas.top[2]) == list(top[:3])
    assert all(0 <= img.min() and img.max() <= 1 for img in atlas.images.values())
    assert (tmp_path / "atlas.png").stat().st_size > 5000
    only = layer_atlas(model, "Conv2D", steps=5, max_units=3)  # no dataset: synthesized images only
    assert only.units == [0, 1, 2] and not only.top
    with pytest.raises(ValueError, match="top_images unit"):
        top_images(model, x, "Conv2D", unit=99)


def test_several_images_of_a_unit_with_a_diversity_term():
    model = dream_model()

    def mean_similarity(images):
        features = activations(model, images, ["Conv2D_1"])["Conv2D_1"].reshape(len(images), -1)
        features = features / np.linalg.norm(features, axis=1, keepdims=True)
        similarity = features @ features.T
        return (similarity.sum() - np.trace(similarity)) / (len(images) * (len(images) - 1))

    alike = maximize_activation(model, "Conv2D_1", 2, steps=60, n_images=4, seed=0)
    diverse = maximize_activation(model, "Conv2D_1", 2, steps=60, n_images=4, seed=0, diversity=2.0)
    assert alike.shape == diverse.shape == (4, 16, 16, 3) and 0 <= diverse.min() and diverse.max() <= 1
    assert mean_similarity(diverse) < mean_similarity(alike) - 0.02  # the term makes the images differ
    rng = np.random.default_rng(1)
    random_best = max(unit_mean(model, rng.random((16, 16, 3)).astype(np.float32), "Conv2D_1", 2) for _ in range(10))
    assert all(unit_mean(model, image, "Conv2D_1", 2) > random_best for image in diverse)  # each still drives it
    with pytest.raises(ValueError, match="n_images >= 2"):
        maximize_activation(model, "Conv2D_1", 2, steps=2, diversity=1.0)
