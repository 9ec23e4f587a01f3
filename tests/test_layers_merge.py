"""merge / merge_outputs: every mode, TFlearn axes on NHWC nodes, shapes, errors, gradients."""
from __future__ import annotations

import pytest
import torch

import deepscope as tflearn
from deepscope.layers.merge_ops import MODES, Merge
from deepscope.network import Network


def inputs(*shapes):
    """One input_data per shape, with distinct names (see the note in the report on Graph names)."""
    return [tflearn.input_data(shape=s, name=f"in{i}") for i, s in enumerate(shapes)]


def run(node, *xs):
    with torch.no_grad():
        out = Network(node).eval()(*xs)
    return out  # the network returns the user's layout (NHWC)


def reference(mode, xs, axis):
    """TFlearn's definitions on user-layout tensors."""
    if mode == "elemwise_sum":
        return sum(xs[1:], xs[0])
    if mode == "elemwise_mul":
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out
    cat = torch.cat(xs, axis)
    ops = {"concat": lambda t: t, "sum": lambda t: t.sum(axis), "mean": lambda t: t.mean(axis),
           "prod": lambda t: t.prod(axis), "max": lambda t: t.amax(axis), "min": lambda t: t.amin(axis),
           "and": lambda t: (t != 0).all(axis).float(), "or": lambda t: (t != 0).any(axis).float()}
    return ops[mode](cat)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape,axis", [([None, 5], 1), ([None, 4, 5], 2), ([None, 4, 5], 1), ([None, 3, 4, 2], 3),
                                        ([None, 3, 4, 2], 1), ([None, 3, 4, 2], -2)])
def test_merge_modes_match_tflearn(mode, shape, axis):
    a, b = inputs(shape, shape)
    node = tflearn.merge([a, b], mode, axis=axis)
    xa, xb = torch.randn(3, *shape[1:]), torch.randn(3, *shape[1:])
    if mode in ("and", "or"):
        xa, xb = (xa > 0).float(), (xb > 0).float()
    out = run(node, xa, xb)
    expected = reference(mode, [xa, xb], axis)
    assert list(out.shape[1:]) == node.shape[1:]
    torch.testing.assert_close(out, expected)


def test_concat_channels_of_conv_branches():
    net = tflearn.input_data(shape=[None, 8, 8, 3])
    b1 = tflearn.conv_2d(net, 4, 1)
    b2 = tflearn.conv_2d(net, 6, 3)
    b3 = tflearn.max_pool_2d(net, 3, strides=1)
    node = tflearn.merge([b1, b2, b3], "concat", axis=3)
    assert list(node.shape) == [None, 8, 8, 13]
    out = run(node, torch.randn(2, 8, 8, 3))
    assert list(out.shape[1:]) == [8, 8, 13]
    node = tflearn.fully_connected(node, 2, activation="softmax")
    node = tflearn.regression(node)
    model = tflearn.DNN(node, device="cpu")
    model.fit(torch.randn(16, 8, 8, 3).numpy(), torch.eye(2)[torch.randint(0, 2, (16,))].numpy(), n_epoch=1)


def test_merge_outputs_concatenates_axis_1():
    a, b = inputs([None, 3], [None, 4])
    node = tflearn.merge_outputs([a, b])
    assert list(node.shape) == [None, 7]
    xa, xb = torch.randn(2, 3), torch.randn(2, 4)
    torch.testing.assert_close(run(node, xa, xb), torch.cat([xa, xb], 1))


def test_merge_errors():
    a, b = inputs([None, 3], [None, 4])
    with pytest.raises(ValueError, match=r"merge 'Merge'.*same shape.*elemwise_sum"):
        tflearn.merge([a, b], "elemwise_sum")
    c, d = inputs([None, 3, 4], [None, 5, 4])
    with pytest.raises(ValueError, match="same rank"):
        tflearn.merge([a, c], "concat")
    with pytest.raises(ValueError, match="agree except on axis 2"):
        tflearn.merge([c, d], "concat", axis=2)
    with pytest.raises(ValueError, match="batch"):
        tflearn.merge([a, b], "concat", axis=0)
    with pytest.raises(ValueError, match="one of 'concat'"):
        tflearn.merge([a, b], "stack")
    with pytest.raises(TypeError, match=r"tensors_list\[1\]"):
        tflearn.merge([a, torch.zeros(2, 3)], "concat")


@pytest.mark.parametrize("mode", [m for m in MODES if m not in ("and", "or", "max", "min")])
def test_merge_gradcheck(mode):
    xs = [torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    assert torch.autograd.gradcheck(lambda *t: Merge(mode, 1)(list(t)), xs)


@pytest.mark.parametrize("mode", ["max", "min"])
def test_merge_gradcheck_max_min(mode):
    xs = [torch.randperm(24, dtype=torch.float64).reshape(2, 3, 4).requires_grad_() + 0 for _ in range(2)]
    xs = [(x + 0.1 * i).detach().requires_grad_() for i, x in enumerate(xs)]  # no ties
    assert torch.autograd.gradcheck(lambda *t: Merge(mode, 2)(list(t)), xs)
