"""The residual family and highway layers: shapes, the arithmetic they stand for, training, save/load."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import deepscope as tflearn
from deepscope.layers.conv import (densenet_block, grouped_conv_2d, highway_conv_2d, residual_block,
                                   residual_bottleneck, resnext_block)
from deepscope.layers.core import highway

RNG = np.random.default_rng(0)
X = RNG.random((16, 8, 8, 3)).astype("float32")
Y = np.eye(4, dtype="float32")[RNG.integers(0, 4, 16)]

BLOCKS = {
    "residual_block": (lambda n: residual_block(n, 2, 16, downsample=True), [None, 2, 2, 16]),
    "residual_bottleneck": (lambda n: residual_bottleneck(n, 1, 4, 16, downsample=True), [None, 4, 4, 16]),
    "resnext_block": (lambda n: resnext_block(n, 1, 16, 2, downsample=True), [None, 4, 4, 16]),
    "densenet_block": (lambda n: densenet_block(n, 2, 6), [None, 4, 4, 6]),
    "highway_conv_2d": (lambda n: highway_conv_2d(n, 8, 3, activation="relu"), [None, 8, 8, 8]),
    "grouped_conv_2d": (lambda n: grouped_conv_2d(n, 2, 3), [None, 8, 8, 16]),
}


@pytest.mark.parametrize("kind", sorted(BLOCKS))
def test_block_shapes_train_save_and_load(kind, tmp_path):
    build, shape = BLOCKS[kind]
    net = tflearn.conv_2d(tflearn.input_data(shape=[None, 8, 8, 3]), 8, 3)
    net = build(net)
    assert list(net.shape) == shape
    net = tflearn.fully_connected(tflearn.global_avg_pool(net), 4, activation="softmax")
    model = tflearn.DNN(tflearn.regression(net))
    model.fit(X, Y, n_epoch=2, batch_size=8, diagnostics=False)
    assert np.isfinite(model.predict(X)).all()
    model.save(tmp_path / "m.safetensors")
    np.testing.assert_allclose(tflearn.load(tmp_path / "m.safetensors").predict(X), model.predict(X), atol=1e-5)


def test_residual_block_adds_the_identity_and_pads_new_channels():
    """With its convolutions zeroed, a block outputs its (pooled, zero-padded) input."""
    inp = tflearn.input_data(shape=[None, 4, 4, 2])
    out = residual_block(inp, 1, 6, downsample=True, batch_norm=False)
    model = tflearn.DNN(out)
    for layer in model.net.layers.values():
        if hasattr(layer, "weight") and layer.weight is not None and layer.weight.dim() == 4:
            torch.nn.init.zeros_(layer.weight)
    x = RNG.random((3, 4, 4, 2)).astype("float32")
    pooled = x.reshape(3, 2, 2, 2, 2, 2).mean((2, 4))  # 2x2 average pooling, NHWC
    expected = np.concatenate([np.zeros((3, 2, 2, 2)), pooled, np.zeros((3, 2, 2, 2))], axis=3)
    np.testing.assert_allclose(model.predict(x), expected, atol=1e-6)


def test_highway_carries_the_input_when_the_gate_is_closed():
    inp = tflearn.input_data(shape=[None, 5])
    out = highway(inp, 5, activation="relu")
    model = tflearn.DNN(out)
    layer = model.net.layers[out.name]
    with torch.no_grad():
        layer.gate_bias.fill_(-50.0)  # T = sigmoid(-50) ~ 0: y = x
        layer.gate_weight.zero_()
    x = RNG.random((4, 5)).astype("float32")
    np.testing.assert_allclose(model.predict(x), x, atol=1e-6)
    with pytest.raises(ValueError, match="carries its input"):
        highway(inp, 7)


def test_block_arguments_are_checked():
    net = tflearn.input_data(shape=[None, 8, 8, 3])
    with pytest.raises(ValueError, match="cardinality"):
        resnext_block(net, 1, 16, 3)
    with pytest.raises(ValueError, match="4-D input"):
        residual_block(tflearn.input_data(shape=[None, 8]), 1, 4)
    with pytest.raises(ValueError, match="reuse"):
        residual_block(net, 1, 4, reuse=True, scope="r")
    with pytest.raises(ValueError, match="out_channels >="):
        residual_block(tflearn.input_data(shape=[None, 8, 8, 6]), 1, 4)
