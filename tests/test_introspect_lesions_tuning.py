"""Lesions (silencing units) and tuning curves (orientation tuning of hand-set conv filters)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import deepscope as tflearn
from deepscope.introspect.lesions import lesion, lesion_study, lesion_top_k
from deepscope.introspect.tuning import oriented_gratings, plot_tuning_curves, tuning_curves


def mlp(n_in=4, hidden=6, n_out=2):
    net = tflearn.input_data(shape=[None, n_in])
    net = tflearn.fully_connected(net, hidden, activation="relu")
    net = tflearn.fully_connected(net, n_out, activation="softmax")
    return tflearn.DNN(tflearn.regression(net))


def test_lesion_matches_zeroing_by_hand_and_restores():
    model = mlp()
    X = np.random.default_rng(0).standard_normal((30, 4)).astype(np.float32)
    fc, out = (model.net.layers[n] for n in ("FullyConnected", "FullyConnected_1"))
    before = model.predict(X)
    with lesion(model, "FullyConnected", [1, 4]) as units:
        lesioned = model.predict(X)
    assert units == [1, 4]
    with torch.no_grad():
        h = torch.relu(torch.from_numpy(X) @ fc.weight.T + fc.bias)  # (N, 6)
        h[:, [1, 4]] = 0
        expected = torch.softmax(h @ out.weight.T + out.bias, 1).numpy()
    np.testing.assert_allclose(lesioned, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(lesioned, before)
    np.testing.assert_array_equal(model.predict(X), before)  # hook removed


def test_conv_lesion_equals_zeroed_filter():
    net = tflearn.input_data(shape=[None, 6, 6, 1])
    net = tflearn.conv_2d(net, 3, 3, activation="relu")
    model = tflearn.DNN(tflearn.regression(tflearn.fully_connected(net, 2, activation="softmax")))
    X = np.random.default_rng(1).random((5, 6, 6, 1)).astype(np.float32)
    with lesion(model, "Conv2D", 2):
        lesioned = model.predict(X)
    conv = model.net.layers["Conv2D"]
    with torch.no_grad():
        conv.weight[2] = 0
        conv.bias[2] = 0
    np.testing.assert_allclose(lesioned, model.predict(X), rtol=1e-5, atol=1e-6)


def test_lesion_errors():
    model = mlp()
    with pytest.raises(ValueError, match=r"0\.\.5"):
        with lesion(model, "FullyConnected", [2, 99]):
            pass
    with pytest.raises(ValueError, match=">= 0"):
        with lesion(model, "FullyConnected", -1):
            pass
    with pytest.raises(ValueError, match="unknown"):
        with lesion(model, "Hidden", [0]):
            pass
    with pytest.raises(ValueError, match=r"0\.\.5"):
        lesion_study(model, np.zeros((4, 4), np.float32), np.eye(2)[[0, 1, 0, 1]], "FullyConnected", units=[6])


def test_lesion_study_finds_the_informative_unit():
    model = mlp()
    fc, out = (model.net.layers[n] for n in ("FullyConnected", "FullyConnected_1"))
    with torch.no_grad():  # only hidden unit 3 sees x0; the others output a constant 1
        fc.weight.zero_()
        fc.weight[3, 0] = 1.0
        fc.bias.fill_(1.0)
        fc.bias[3] = 0.0
        out.weight.zero_()
        out.weight[1, 3] = 10.0  # class 1 iff x0 > 0
        out.bias.copy_(torch.tensor([1e-3, 0.0]))
    X = np.random.default_rng(2).standard_normal((400, 4)).astype(np.float32)
    Y = np.eye(2, dtype=np.float32)[(X[:, 0] > 0).astype(int)]
    study = lesion_study(model, X, Y, "FullyConnected")
    assert study.baseline == pytest.approx(1.0)
    assert study.units[0] == 3 and study.drops[0] > 0.4
    np.testing.assert_allclose(study.drops[1:], 0.0, atol=1e-9)
    with lesion_top_k(model, study, 1):
        assert model.evaluate(X, Y)[0] == pytest.approx(1 - study.drops[0])
    output_study = lesion_study(model, X, Y, "FullyConnected_1", units=[1])  # output layer: predictions
    assert output_study.drops[0] > 0.4


def edge_model():
    """Conv filter 0 detects vertical edges, filter 1 horizontal edges (set by hand)."""
    net = tflearn.input_data(shape=[None, 28, 28, 1])
    net = tflearn.conv_2d(net, 2, 3, activation="relu", padding="valid")
    model = tflearn.DNN(tflearn.regression(tflearn.fully_connected(net, 2, activation="softmax")))
    edge = torch.tensor([[-1.0, 0.0, 1.0]] * 3)  # (kh, kw): changes along x
    with torch.no_grad():
        conv = model.net.layers["Conv2D"]
        conv.weight[0, 0] = edge
        conv.weight[1, 0] = edge.T
        conv.bias.zero_()
    return model


def test_gratings():
    g = oriented_gratings(0, size=16, phases=4)
    assert g.shape == (4, 16, 16, 1) and g.dtype == np.float32 and 0 <= g.min() and g.max() <= 1
    np.testing.assert_allclose(g[:, 0, :], g[:, 9, :], atol=1e-6)  # vertical stripes: constant down a column
    h = oriented_gratings(90, size=16, phases=4)
    np.testing.assert_allclose(h[:, :, 0], h[:, :, 9], atol=1e-6)


def test_vertical_edge_filter_prefers_vertical_gratings(tmp_path):
    model = edge_model()
    angles = np.arange(0, 180, 22.5)
    curves, preferred = tuning_curves(model, oriented_gratings, angles, "Conv2D")
    assert curves.shape == (8, 2)
    assert preferred[0] == 0 and preferred[1] == 90
    assert curves[0, 0] > 5 * curves[4, 0]  # vertical >> horizontal for the vertical edge detector
    one, pref_one = tuning_curves(model, oriented_gratings, angles, "Conv2D", units=[1])
    np.testing.assert_allclose(one[:, 0], curves[:, 1])
    for name in ("tuning.png", "tuning.svg"):
        path = plot_tuning_curves(curves, angles, tmp_path / name, xlabel="angle (deg)")
        assert path.is_file() and path.stat().st_size > 1000
    with pytest.raises(ValueError, match="png"):
        plot_tuning_curves(curves, angles, tmp_path / "tuning.txt")
    with pytest.raises(ValueError, match=r"0\.\.1"):
        tuning_curves(model, oriented_gratings, angles, "Conv2D", units=[2])
    with pytest.raises(ValueError, match="unknown"):
        tuning_curves(model, oriented_gratings, angles, "Conv9")
