"""Convolution and pooling layers: shape inference, TensorFlow padding, clear errors, CIFAR net."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deepscope as tflearn
from deepscope.network import Network


def run(node, *inputs):
    """Forward random (or given) data through the network ending at ``node``; user layout out."""
    net = Network(node).eval()
    if not inputs:
        inputs = [torch.randn(2, *n.shape[1:]) for n in net.inputs]
    with torch.no_grad():
        out = net(*inputs)
    return out  # the network returns the user's layout (NHWC)


def user_shape(node):
    return list(node.shape[1:])


def tf_out(size, k, s, padding):
    return math.ceil(size / s) if padding == "same" else (size - k) // s + 1


# --------------------------------------------------------------------------------------------
# shape agreement
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("padding", ["same", "valid", "SAME"])
@pytest.mark.parametrize("filter_size", [1, 2, 3, 4, [3, 5], [1, 3, 3, 1]])
@pytest.mark.parametrize("strides", [1, 2, 3, [1, 2], [1, 2, 2, 1]])
def test_conv_2d_shapes(padding, filter_size, strides):
    net = tflearn.input_data(shape=[None, 11, 10, 3])
    node = tflearn.conv_2d(net, 5, filter_size, strides=strides, padding=padding, activation="relu")
    out = run(node)
    assert list(out.shape[1:]) == user_shape(node)
    assert node.shape[3] == 5


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("filter_size,strides", [(1, 1), (3, 1), (4, 2), (5, 3), ([2], [1, 2, 1])])
def test_conv_1d_shapes(padding, filter_size, strides):
    net = tflearn.input_data(shape=[None, 13, 4])
    node = tflearn.conv_1d(net, 6, filter_size, strides=strides, padding=padding, activation="tanh")
    out = run(node)
    assert list(out.shape[1:]) == user_shape(node)
    k = filter_size[0] if isinstance(filter_size, list) else filter_size
    s = strides[1] if isinstance(strides, list) else strides
    assert node.shape[1] == tf_out(13, k, s, padding)


@pytest.mark.parametrize("fn", [tflearn.max_pool_2d, tflearn.avg_pool_2d])
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("kernel_size,strides", [(2, None), (3, None), (3, 2), (3, 1), ([2, 3], [1, 2, 1, 1])])
def test_pool_2d_shapes(fn, padding, kernel_size, strides):
    net = tflearn.input_data(shape=[None, 9, 8, 2])
    node = fn(net, kernel_size, strides=strides, padding=padding)
    assert list(run(node).shape[1:]) == user_shape(node)


@pytest.mark.parametrize("fn", [tflearn.max_pool_1d, tflearn.avg_pool_1d])
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("kernel_size,strides", [(2, None), (3, None), (3, 2), (4, 1)])
def test_pool_1d_shapes(fn, padding, kernel_size, strides):
    net = tflearn.input_data(shape=[None, 11, 3])
    node = fn(net, kernel_size, strides=strides, padding=padding)
    assert list(run(node).shape[1:]) == user_shape(node)


def test_max_pool_default_strides_is_kernel_size():
    net = tflearn.input_data(shape=[None, 32, 32, 3])
    assert list(tflearn.max_pool_2d(net, 2).shape) == [None, 16, 16, 3]
    assert list(tflearn.max_pool_2d(net, 3).shape) == [None, 11, 11, 3]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(h=st.integers(1, 12), w=st.integers(1, 12), k=st.integers(1, 6), s=st.integers(1, 4),
       padding=st.sampled_from(["same", "valid"]), kind=st.sampled_from(["conv", "max", "avg"]))
def test_property_conv_pool_shape_or_clear_error(h, w, k, s, padding, kind):
    net = tflearn.input_data(shape=[None, h, w, 2])
    try:
        if kind == "conv":
            node = tflearn.conv_2d(net, 3, k, strides=s, padding=padding)
        else:
            fn = tflearn.max_pool_2d if kind == "max" else tflearn.avg_pool_2d
            node = fn(net, k, strides=s, padding=padding)
    except ValueError as error:
        assert padding == "valid" and min(h, w) < k
        assert "W2 = (W1 - F + 2P)/S + 1" in str(error)
        return
    assert node.shape[1:3] == [tf_out(h, k, s, padding), tf_out(w, k, s, padding)]
    assert list(run(node).shape[1:]) == user_shape(node)


# --------------------------------------------------------------------------------------------
# values: TensorFlow 'same' padding (asymmetric), average excludes padding, layout
# --------------------------------------------------------------------------------------------
def test_conv_same_asymmetric_padding_matches_reference():
    net = tflearn.input_data(shape=[None, 6, 6, 2])
    node = tflearn.conv_2d(net, 3, 2, strides=2, padding="same", bias=False)  # total pad 0
    node2 = tflearn.conv_2d(net, 3, 4, strides=1, padding="same", bias=False)  # pad (1, 2): extra at end
    x = torch.randn(2, 6, 6, 2)
    w = node2.W.detach()
    expected = F.conv2d(F.pad(x.permute(0, 3, 1, 2), (1, 2, 1, 2)), w).permute(0, 2, 3, 1)
    torch.testing.assert_close(run(node2, x), expected)
    assert list(run(node, x).shape) == [2, 3, 3, 3]


def test_avg_pool_same_excludes_padding_like_tensorflow():
    net = tflearn.input_data(shape=[None, 3, 3, 1])
    node = tflearn.avg_pool_2d(net, 2, strides=2, padding="same")  # pads one row/col at the end
    x = torch.arange(9.0).reshape(1, 3, 3, 1)
    out = run(node, x)[0, :, :, 0]
    expected = torch.tensor([[(0 + 1 + 3 + 4) / 4, (2 + 5) / 2], [(6 + 7) / 2, 8.0]])
    torch.testing.assert_close(out, expected)


def test_max_pool_same_pads_with_minus_infinity():
    net = tflearn.input_data(shape=[None, 3, 3, 1])
    node = tflearn.max_pool_2d(net, 2, strides=2, padding="same")
    x = -torch.arange(1.0, 10.0).reshape(1, 3, 3, 1)  # all negative: zero padding would win
    out = run(node, x)[0, :, :, 0]
    torch.testing.assert_close(out, torch.tensor([[-1.0, -3.0], [-7.0, -9.0]]))


def test_conv_input_is_nhwc_channels():
    net = tflearn.input_data(shape=[None, 4, 4, 3])
    node = tflearn.conv_2d(net, 1, 1, bias=False)
    with torch.no_grad():
        node.W.copy_(torch.tensor([1.0, 10.0, 100.0]).view(1, 3, 1, 1))
    x = torch.zeros(1, 4, 4, 3)
    x[..., 2] = 1.0
    assert torch.all(run(node, x) == 100.0)


def test_global_pools_and_upsample():
    net = tflearn.input_data(shape=[None, 5, 4, 3])
    x = torch.randn(2, 5, 4, 3)
    torch.testing.assert_close(run(tflearn.global_avg_pool(net), x), x.mean((1, 2)))
    torch.testing.assert_close(run(tflearn.global_max_pool(net), x), x.amax((1, 2)))
    up = tflearn.upsample_2d(net, 2)
    assert list(up.shape) == [None, 10, 8, 3]
    assert list(run(up, x).shape[1:]) == user_shape(up)
    seq = tflearn.input_data(shape=[None, 7, 3])
    assert list(tflearn.global_avg_pool(seq).shape) == [None, 3]


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("k,s,out_hw", [(3, 2, [8, 8]), (2, 2, [8, 8]), (3, 1, [7, 7]), (4, 3, [9, 10])])
def test_conv_2d_transpose_shapes(padding, k, s, out_hw):
    h, w = (tf_out(o, k, s, padding) for o in out_hw)
    net = tflearn.input_data(shape=[None, h, w, 4])
    node = tflearn.conv_2d_transpose(net, 2, k, out_hw, strides=s, padding=padding)
    assert list(run(node).shape[1:]) == user_shape(node) == out_hw + [2]


def test_conv_2d_transpose_is_adjoint_of_conv_2d():
    """<conv(x), y> == <x, conv_transpose(y)> with the same weights (TensorFlow's definition)."""
    for padding in ("same", "valid"):
        image = tflearn.input_data(shape=[None, 7, 7, 2])
        conv = tflearn.conv_2d(image, 3, 3, strides=2, padding=padding, bias=False)
        small = tflearn.input_data(shape=[None] + conv.shape[1:])
        tconv = tflearn.conv_2d_transpose(small, 2, 3, [7, 7], strides=2, padding=padding, bias=False)
        with torch.no_grad():
            tconv.W.copy_(conv.W)  # conv (out=3, in=2) is conv_transpose (in=3, out=2)
        x, y = torch.randn(1, 7, 7, 2), torch.randn(1, *conv.shape[1:])
        torch.testing.assert_close((run(conv, x) * y).sum(), (x * run(tconv, y)).sum(), rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------------------------
# clear errors
# --------------------------------------------------------------------------------------------
def test_valid_conv_too_small_error_names_layer_and_formula():
    net = tflearn.input_data(shape=[None, 2, 2, 1])
    tflearn.conv_2d(net, 4, 1)
    tflearn.conv_2d(net, 4, 1)
    tflearn.conv_2d(net, 4, 1)
    with pytest.raises(ValueError) as info:
        tflearn.conv_2d(net, 4, 3, padding="valid")
    message = str(info.value)
    assert "conv_2d 'Conv2D_3'" in message
    assert "input is 2x2" in message and "filter_size=3" in message and "at least 3x3" in message
    assert "W2 = (W1 - F + 2P)/S + 1" in message and "padding='same'" in message


def test_valid_pool_too_small_error():
    net = tflearn.input_data(shape=[None, 3, 3, 1])
    with pytest.raises(ValueError, match=r"max_pool_2d 'MaxPool2D'.*kernel_size=4.*W2 = \(W1 - F \+ 2P\)/S \+ 1"):
        tflearn.max_pool_2d(net, 4, padding="valid")
    seq = tflearn.input_data(shape=[None, 2, 3])
    with pytest.raises(ValueError, match=r"conv_1d 'Conv1D'.*2 steps.*at least 3 steps"):
        tflearn.conv_1d(seq, 4, 3, padding="valid")


def test_rank_errors_suggest_reshape():
    net = tflearn.input_data(shape=[None, 784])
    with pytest.raises(ValueError, match=r"conv_2d 'Conv2D'.*4-D.*reshape\(net, \[-1, 28, 28, 1\]\)"):
        tflearn.conv_2d(net, 32, 3)
    with pytest.raises(ValueError, match=r"max_pool_2d.*4-D.*reshape"):
        tflearn.max_pool_2d(net, 2)
    with pytest.raises(ValueError, match=r"conv_1d.*3-D"):
        tflearn.conv_1d(net, 4, 3)


def test_bad_arguments():
    net = tflearn.input_data(shape=[None, 8, 8, 3])
    with pytest.raises(ValueError, match="padding"):
        tflearn.conv_2d(net, 4, 3, padding="full")
    with pytest.raises(TypeError, match="filter_size"):
        tflearn.conv_2d(net, 4, [3, 3, 3])
    with pytest.raises(ValueError, match="nb_filter"):
        tflearn.conv_2d(net, 0, 3)
    with pytest.raises(TypeError, match="incoming"):
        tflearn.conv_2d(np.zeros((2, 8, 8, 3)), 4, 3)


def test_regularizer_and_trainable():
    net = tflearn.input_data(shape=[None, 8, 8, 3])
    node = tflearn.conv_2d(net, 4, 3, regularizer="L2", weight_decay=0.01, trainable=False)
    assert node.module.regularizers[0][0] == "weight"
    assert not node.W.requires_grad


# --------------------------------------------------------------------------------------------
# the seed's CIFAR-10 network builds and trains one epoch
# --------------------------------------------------------------------------------------------
def cifar_net():
    net = tflearn.input_data(shape=[None, 32, 32, 3])
    net = tflearn.conv_2d(net, 32, 3, activation="relu")
    net = tflearn.max_pool_2d(net, 2)
    net = tflearn.conv_2d(net, 64, 3, activation="relu")
    net = tflearn.conv_2d(net, 64, 3, activation="relu")
    net = tflearn.max_pool_2d(net, 2)
    net = tflearn.fully_connected(net, 512, activation="relu")
    net = tflearn.dropout(net, 0.5)
    net = tflearn.fully_connected(net, 10, activation="softmax")
    return tflearn.regression(net, optimizer="adam", loss="categorical_crossentropy", learning_rate=0.001)


def test_cifar10_network_builds_and_trains_one_step():
    net = cifar_net()
    shapes = [list(n.shape) for n in Network(net).nodes]
    assert [None, 8, 8, 64] in shapes and shapes[-1] == [None, 10]
    rng = np.random.default_rng(0)
    X = rng.random((64, 32, 32, 3), dtype=np.float32)
    Y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 64)]
    model = tflearn.DNN(net, device="cpu")
    before = model.net.layers["Conv2D"].weight.detach().clone()
    model.fit(X, Y, n_epoch=1)
    assert not torch.equal(before, model.net.layers["Conv2D"].weight.detach().cpu())
    assert model.predict(X[:3]).shape == (3, 10)


def test_save_and_load_rebuilds_conv_pool_norm_merge(tmp_path):
    net = tflearn.input_data(shape=[None, 9, 9, 3])
    a = tflearn.conv_2d(net, 4, 3, strides=2, activation="relu")
    b = tflearn.avg_pool_2d(net, 2, strides=2)  # asymmetric 'same' padding: scale buffer not saved
    m = tflearn.merge([a, b], "concat", axis=3)
    m = tflearn.batch_normalization(m)
    m = tflearn.conv_2d_transpose(m, 2, 3, [9, 9], strides=2)
    m = tflearn.global_avg_pool(m)
    m = tflearn.regression(tflearn.fully_connected(m, 2, activation="softmax"))
    model = tflearn.DNN(m, device="cpu")
    X = np.random.default_rng(0).random((4, 9, 9, 3), dtype=np.float32)
    path = model.save(tmp_path / "model.safetensors")
    np.testing.assert_allclose(tflearn.load(path, device="cpu").predict(X), model.predict(X), rtol=1e-6)
