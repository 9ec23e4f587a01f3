"""Property-based tests (hypothesis) over layer arguments and shapes: every layer call either
raises a clear error or infers exactly the shape its module produces."""
from __future__ import annotations

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deepscope as tflearn
from deepscope.network import Network

RAW = ("mat1 and mat2", "size mismatch", "Calculated padded input size", "Kernel size can't be greater",
       "Expected", "output size is too small")
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(build, input_shape):
    """Build ``build(input_data(...))``; a clear error is fine, else the inferred shape must be real."""
    try:
        node = build(tflearn.input_data(shape=[None, *input_shape]))
    except (ValueError, TypeError) as error:
        assert not any(raw in str(error) for raw in RAW), str(error)
        assert "expected" in str(error) or "needs" in str(error), str(error)
        return
    net = Network(node).eval()
    x = torch.rand(2, *input_shape)
    with torch.no_grad():
        out = net(x)
    assert list(out.shape[1:]) == list(node.shape[1:]), (node.shape, tuple(out.shape))


size = st.integers(1, 12)
padding = st.sampled_from(["same", "valid", "SAME", "full"])


@SETTINGS
@given(h=size, w=size, c=st.integers(1, 3), nb=st.integers(0, 4), k=st.integers(0, 6), s=st.integers(0, 4),
       pad=padding)
def test_conv_2d(h, w, c, nb, k, s, pad):
    _check(lambda n: tflearn.conv_2d(n, nb, k, strides=s, padding=pad, activation="relu"), [h, w, c])


@SETTINGS
@given(t=size, f=st.integers(1, 3), nb=st.integers(1, 4), k=st.integers(1, 6), s=st.integers(1, 3), pad=padding)
def test_conv_1d(t, f, nb, k, s, pad):
    _check(lambda n: tflearn.conv_1d(n, nb, k, strides=s, padding=pad), [t, f])


@SETTINGS
@given(h=size, w=size, k=st.integers(0, 6), s=st.one_of(st.none(), st.integers(0, 4)), pad=padding,
       kind=st.sampled_from(["max_pool_2d", "avg_pool_2d"]))
def test_pool_2d(h, w, k, s, pad, kind):
    _check(lambda n: getattr(tflearn, kind)(n, k, strides=s, padding=pad), [h, w, 2])


@SETTINGS
@given(dims=st.lists(st.integers(1, 5), min_size=1, max_size=3), units=st.integers(-1, 6),
       act=st.sampled_from(["relu", "tanh", "softmax", "linear", "maxout", "prelu"]))
def test_fully_connected(dims, units, act):
    _check(lambda n: tflearn.fully_connected(n, units, activation=act), dims)


@SETTINGS
@given(h=st.integers(2, 10), w=st.integers(2, 10), k1=st.integers(1, 4), k2=st.integers(1, 4), s=st.integers(1, 3),
       pad=st.sampled_from(["same", "valid"]))
def test_conv_pool_stack(h, w, k1, k2, s, pad):
    def build(n):
        n = tflearn.conv_2d(n, 3, k1, strides=s, padding=pad, activation="relu")
        n = tflearn.max_pool_2d(n, k2, padding=pad)
        n = tflearn.conv_2d(n, 2, k1, padding=pad)
        return tflearn.fully_connected(n, 3)

    _check(build, [h, w, 1])


@SETTINGS
@given(t=st.integers(1, 6), f=st.integers(1, 4), units=st.integers(0, 5), seq=st.booleans(),
       kind=st.sampled_from(["lstm", "gru", "simple_rnn"]))
def test_recurrent(t, f, units, seq, kind):
    _check(lambda n: getattr(tflearn, kind)(n, units, return_seq=seq), [t, f])
