"""Recording layer outputs with forward hooks in a context manager."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import deepscope as tflearn
from deepscope.introspect import Recorder, activations, layer_modules


def small_cnn():
    tflearn.set_seed(0)
    net = tflearn.input_data(shape=[None, 8, 8, 3])
    conv = tflearn.conv_2d(net, 4, 3, activation="relu")
    pool = tflearn.max_pool_2d(conv, 2)
    out = tflearn.fully_connected(pool, 5, activation="softmax")
    return tflearn.DNN(tflearn.regression(out)), conv, pool


def test_activations_are_in_the_user_layout_and_match_the_graph_shapes():
    model, conv, pool = small_cnn()
    X = np.random.default_rng(0).random((6, 8, 8, 3), dtype=np.float32)
    acts = activations(model, X)
    assert acts["Conv2D"].shape == (6, *conv.shape[1:]) and acts["MaxPool2D"].shape == (6, *pool.shape[1:])
    np.testing.assert_allclose(acts["FullyConnected"], model.predict(X), rtol=1e-5, atol=1e-6)
    assert (acts["Conv2D"] >= 0).all()  # after the ReLU
    only = activations(model, X, layers=["MaxPool2D"])
    assert list(only) == ["MaxPool2D"]


def test_recorder_concatenates_passes_and_removes_its_hooks():
    model, _, _ = small_cnn()
    X = np.random.default_rng(1).random((4, 8, 8, 3), dtype=np.float32)
    with Recorder(model, ["Conv2D"]) as rec:
        model.predict(X[:2])
        model.predict(X[2:])
    assert rec["Conv2D"].shape == (4, 8, 8, 4)
    module = layer_modules(model)["Conv2D"]
    assert not module._forward_hooks


def test_recorder_keep_device_stays_in_the_graph():
    model, _, _ = small_cnn()
    x = torch.rand(2, 8, 8, 3, requires_grad=True)
    with Recorder(model, ["Conv2D"], keep="device") as rec:
        model.net(x)
    rec["Conv2D"].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_plain_modules_and_clear_errors():
    module = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    acts = activations(module, np.ones((5, 3), dtype=np.float32))
    assert set(acts) == {"0", "1", "2"} and acts["2"].shape == (5, 2)
    model, _, _ = small_cnn()
    with pytest.raises(ValueError, match="names of the network's layers"):
        Recorder(model, ["Conv3D"])
    with Recorder(model, ["Conv2D"]) as rec:
        pass
    with pytest.raises(ValueError, match="nothing recorded"):
        rec["Conv2D"]
    with pytest.raises(TypeError, match="DNN or a torch.nn.Module"):
        activations("model", np.ones((1, 3)))
