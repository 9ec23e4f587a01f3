"""Normalization layers: shapes, TensorFlow formulas (LRN, l2_normalize), batch-norm statistics, gradients."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import deepscope as tflearn
from deepscope.layers.normalization import L2Normalize, LocalResponseNorm
from deepscope.network import Network


def run(node, x, train=False):
    net = Network(node).train(train)
    with torch.no_grad():
        out = net(x)
    return out  # the network returns the user's layout (NHWC)


def tf_lrn(x, depth_radius, bias, alpha, beta):
    """TensorFlow's documented formula on NHWC numpy data (channels last)."""
    c = x.shape[-1]
    out = np.empty_like(x)
    for d in range(c):
        lo, hi = max(0, d - depth_radius), min(c, d + depth_radius + 1)
        sqr_sum = (x[..., lo:hi] ** 2).sum(-1)
        out[..., d] = x[..., d] / (bias + alpha * sqr_sum) ** beta
    return out


@pytest.mark.parametrize("shape", [[None, 6], [None, 5, 6], [None, 4, 3, 6]])
def test_batch_normalization_shapes_and_train_statistics(shape):
    net = tflearn.input_data(shape=shape)
    node = tflearn.batch_normalization(net, stddev=0.0)
    x = torch.randn(16, *shape[1:]) * 3 + 2
    out = run(node, x, train=True)
    assert list(out.shape[1:]) == node.shape[1:] == shape[1:]
    flat = out.reshape(-1, shape[-1])  # features / channels last in the user layout
    torch.testing.assert_close(flat.mean(0), torch.zeros(shape[-1]), atol=1e-5, rtol=0)
    torch.testing.assert_close(flat.var(0, unbiased=False), torch.ones(shape[-1]), atol=1e-3, rtol=0)


def test_batch_normalization_decay_beta_gamma():
    net = tflearn.input_data(shape=[None, 4])
    node = tflearn.batch_normalization(net, beta=0.5, gamma=2.0, decay=0.99, stddev=0.0, trainable=False)
    bn = node.module
    assert bn.momentum == pytest.approx(0.01)
    assert torch.all(bn.bias == 0.5) and torch.all(bn.weight == 2.0)
    assert not bn.weight.requires_grad
    node2 = tflearn.batch_normalization(net)  # gamma ~ N(1, 0.002)
    assert (node2.module.weight - 1).abs().max() < 0.02


@pytest.mark.parametrize("shape", [[None, 4, 5, 8], [None, 7, 8], [None, 8]])
@pytest.mark.parametrize("depth_radius,bias,alpha,beta", [(5, 1.0, 1e-4, 0.75), (2, 2.0, 0.5, 0.5), (0, 1.0, 1.0, 1.0)])
def test_local_response_normalization_matches_tensorflow_formula(shape, depth_radius, bias, alpha, beta):
    net = tflearn.input_data(shape=shape)
    node = tflearn.local_response_normalization(net, depth_radius, bias, alpha, beta)
    x = torch.randn(3, *shape[1:], dtype=torch.float64)
    Network(node).double()
    out = run(node, x)
    assert list(out.shape[1:]) == node.shape[1:]
    np.testing.assert_allclose(out.numpy(), tf_lrn(x.numpy(), depth_radius, bias, alpha, beta), rtol=1e-10)


def test_lrn_gradcheck():
    module = LocalResponseNorm(2, 1.0, 0.3, 0.75)
    x = torch.randn(2, 6, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(module, (x,))


@pytest.mark.parametrize("shape,dim", [([None, 6], 1), ([None, 4, 5, 3], 3), ([None, 4, 5, 3], [1, 2]),
                                       ([None, 5, 6], -1), ([None, 4, 5, 3], 1)])
def test_l2_normalize_matches_tensorflow(shape, dim):
    net = tflearn.input_data(shape=shape)
    node = tflearn.l2_normalize(net, dim)
    x = torch.randn(3, *shape[1:])
    out = run(node, x)
    axes = tuple(dim) if isinstance(dim, list) else dim
    expected = x / torch.sqrt(torch.clamp((x ** 2).sum(axes, keepdim=True), min=1e-12))
    torch.testing.assert_close(out, expected)
    assert list(out.shape[1:]) == node.shape[1:]


def test_l2_normalize_zero_vector_and_gradcheck():
    module = L2Normalize((1,), 1e-12)
    assert torch.all(module(torch.zeros(2, 3)) == 0)
    x = torch.randn(3, 4, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(L2Normalize((1, 2), 1e-12), (x,))


def test_normalization_errors():
    net = tflearn.input_data(shape=[None, 4])
    with pytest.raises(ValueError, match=r"l2_normalize 'l2_normalize' dim"):
        tflearn.l2_normalize(net, 2)
    with pytest.raises(ValueError, match="epsilon"):
        tflearn.batch_normalization(net, epsilon=0)
    with pytest.raises(ValueError, match="decay"):
        tflearn.batch_normalization(net, decay=1.5)
