"""Filters, feature maps and embeddings (deepscope.introspect.visualize)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import deepscope as tflearn
from deepscope.introspect.visualize import (embed, feature_maps, filters, layer_embedding, plot_embedding,
                                            plot_feature_maps, plot_filters)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    assert path.exists() and path.stat().st_size > 0
    assert path.read_bytes()[:8] == PNG_MAGIC


def small_cnn(channels=3):
    net = tflearn.input_data([None, 8, 8, channels])
    conv = tflearn.conv_2d(net, 5, 3, activation="relu", name="conv1")
    pool = tflearn.max_pool_2d(conv, 2, name="pool1")
    fc = tflearn.fully_connected(pool, 6, activation="relu", name="fc1")
    out = tflearn.fully_connected(fc, 2, activation="softmax", name="out")
    return tflearn.DNN(tflearn.regression(out)), {"conv1": conv, "pool1": pool, "fc1": fc}


@pytest.fixture
def images():
    return np.random.default_rng(0).random((12, 8, 8, 3), dtype=np.float32)


def test_filters_are_the_weights_permuted():
    model, _ = small_cnn()
    w = model.net.layers["conv1"].weight.detach().numpy()  # (out, in, kh, kw)
    f = filters(model)  # first conv by default
    assert f.shape == (5, 3, 3, 3)
    np.testing.assert_array_equal(f, w.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(filters(model, "conv1"), f)
    f[:] = 0  # a copy: the network is untouched
    assert np.abs(model.net.layers["conv1"].weight.detach().numpy()).sum() > 0


def test_filters_errors():
    model, _ = small_cnn()
    with pytest.raises(TypeError, match="2-D convolution layer"):
        filters(model, "fc1")
    with pytest.raises(ValueError, match="unknown"):
        filters(model, "nope")
    dense = tflearn.DNN(tflearn.fully_connected(tflearn.input_data([None, 4]), 2))
    with pytest.raises(TypeError, match="convolution"):
        filters(dense)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_plot_filters_writes_png(tmp_path, channels):
    model, _ = small_cnn(channels)
    assert_png(plot_filters(model, tmp_path / "sub" / "f.png", max_filters=4))


def test_feature_maps_shape_and_plot(tmp_path, images):
    model, nodes = small_cnn()
    for name in ("conv1", "pool1"):
        maps = feature_maps(model, images, name)
        assert maps.shape == (len(images), *nodes[name].shape[1:])
    with pytest.raises(ValueError, match="2-D feature maps"):
        feature_maps(model, images, "fc1")
    assert_png(plot_feature_maps(model, images[0], "conv1", tmp_path / "maps.png", max_maps=3))
    with pytest.raises(ValueError, match="one image"):
        plot_feature_maps(model, images, "conv1", tmp_path / "bad.png")


def test_feature_maps_on_a_plain_module():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3))  # plain torch: NCHW input, NHWC recorded
    maps = feature_maps(net, torch.zeros(2, 3, 6, 6), "0")
    assert maps.shape == (2, 4, 4, 4)
    assert filters(net).shape == (4, 3, 3, 3)


def test_pca_of_points_on_a_line():
    rng = np.random.default_rng(1)
    t = rng.normal(size=50)
    x = np.outer(t, [1.0, -2.0, 0.5, 3.0]) + 7.0  # (50, 4) on a line
    p = embed(x)
    assert p.shape == (50, 2)
    assert np.abs(p[:, 1]).max() < 1e-9
    u, s, _ = np.linalg.svd(x - x.mean(0), full_matrices=False)
    ref = u[:, 0] * s[0]
    assert np.allclose(p[:, 0], ref) or np.allclose(p[:, 0], -ref)


def test_pca_matches_svd_up_to_sign_and_mds_matches_pca():
    x = np.random.default_rng(2).normal(size=(30, 2, 3))  # flattened per sample -> (30, 6)
    p = embed(x, n_components=3)
    u, s, _ = np.linalg.svd(x.reshape(30, -1) - x.reshape(30, -1).mean(0), full_matrices=False)
    ref = u[:, :3] * s[:3]
    np.testing.assert_allclose(np.abs(p), np.abs(ref), atol=1e-9)
    m = embed(x, "mds", n_components=3)  # classical MDS on Euclidean distances = PCA up to sign
    np.testing.assert_allclose(np.abs(m), np.abs(ref), atol=1e-6)


def test_embed_errors():
    with pytest.raises(ValueError, match="'pca', 'mds'"):
        embed(np.zeros((5, 3)), method="isomap")
    with pytest.raises(ValueError, match="identical samples"):
        embed(np.zeros((5, 3)), method="tsne")
    with pytest.raises(ValueError, match="finite"):
        embed(np.full((5, 3), np.nan))
    with pytest.raises(ValueError, match="<= 3"):
        embed(np.zeros((5, 3)), n_components=4)


def test_plot_embedding_and_layer_embedding(tmp_path, images):
    pts = np.random.default_rng(3).normal(size=(20, 2))
    labels = np.arange(20) % 3
    assert_png(plot_embedding(pts, labels, tmp_path / "e.png", class_names=["a", "b", "c"]))
    assert_png(plot_embedding(pts, np.eye(3)[labels], tmp_path / "onehot.png"))
    assert_png(plot_embedding(pts, None, tmp_path / "none.png"))
    with pytest.raises(ValueError, match="20 labels"):
        plot_embedding(pts, labels[:5], tmp_path / "bad.png")
    model, _ = small_cnn()
    y = np.arange(len(images)) % 2
    points = layer_embedding(model, images, "fc1", y, tmp_path / "layer.png")
    assert points.shape == (len(images), 2)
    assert_png(tmp_path / "layer.png")
