"""Unit health (dead / saturated units) and the HealthMonitor callback."""
from __future__ import annotations

import csv
import warnings

import numpy as np
import pytest
import torch

import deepscope as tflearn
from deepscope.introspect.health import HealthMonitor, format_health, unit_health


def build(n_in=10):
    """Input -> relu (healthy) -> sigmoid (huge weights) -> relu (biases -1000) -> tanh (tiny) -> softmax."""
    net = tflearn.input_data(shape=[None, n_in])
    net = tflearn.fully_connected(net, 16, activation="relu")
    net = tflearn.fully_connected(net, 12, activation="sigmoid")
    net = tflearn.fully_connected(net, 8, activation="relu")
    net = tflearn.fully_connected(net, 6, activation="tanh")
    net = tflearn.fully_connected(net, 3, activation="softmax")
    model = tflearn.DNN(tflearn.regression(net, learning_rate=0.01))
    layers = model.net.layers
    with torch.no_grad():
        layers["FullyConnected"].bias.fill_(0.1)  # positive bias: every unit fires on some sample
        layers["FullyConnected_1"].weight.mul_(1000.0)  # sigmoid pushed to 0 or 1
        layers["FullyConnected_2"].bias.fill_(-1000.0)  # relu never above 0: dead
        layers["FullyConnected_3"].weight.mul_(1e-3)  # tanh near 0: not saturated
    return model


def data(n=200, n_in=10):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, n_in)).astype(np.float32), np.eye(3)[rng.integers(0, 3, n)].astype(np.float32)


def test_dead_saturated_and_healthy_layers():
    model = build()
    X, _ = data()
    report = unit_health(model, X)
    assert list(report) == ["FullyConnected", "FullyConnected_1", "FullyConnected_2", "FullyConnected_3"]
    healthy, sig, dead, tanh = report.values()
    assert healthy.dead_fraction == 0.0 and healthy.saturated_fraction is None
    assert dead.dead_fraction == 1.0 and dead.mean_activation == 0.0
    assert sig.dead_fraction is None and sig.saturated_fraction >= 0.9
    assert tanh.saturated_fraction == 0.0
    assert healthy.unit_mean.shape == (16,) and healthy.n_units == 16
    np.testing.assert_allclose(healthy.unit_max, np.maximum(0, X @ model.net.layers["FullyConnected"].weight
                                                            .detach().numpy().T + 0.1).max(0), rtol=1e-5)
    table = format_health(report)
    assert "FullyConnected_2" in table and "100.0%" in table and "relu" in table


def test_conv_channels_and_training_mode_restored():
    net = tflearn.input_data(shape=[None, 8, 8, 2])
    net = tflearn.conv_2d(net, 4, 3, activation="relu")
    model = tflearn.DNN(tflearn.regression(tflearn.fully_connected(net, 2, activation="softmax")))
    with torch.no_grad():
        model.net.layers["Conv2D"].bias.copy_(torch.tensor([-1000.0, 1.0, -1000.0, 1.0]))
    model.net.train()
    report = unit_health(model, np.random.rand(5, 8, 8, 2).astype(np.float32), layers=["Conv2D"])
    assert model.net.training
    assert report["Conv2D"].n_units == 4 and report["Conv2D"].dead_fraction == 0.5
    assert list(report["Conv2D"].unit_max[[0, 2]]) == [0.0, 0.0]


def test_clear_errors():
    model = build()
    X, _ = data(20)
    with pytest.raises(ValueError, match="unknown"):
        unit_health(model, X, layers=["NoSuchLayer"])
    with pytest.raises(ValueError, match="saturation"):
        unit_health(model, X, saturation=1.5)
    with pytest.raises(ValueError, match="X_probe"):
        HealthMonitor()


def test_monitor_logs_every_epoch_and_warns_once():
    model = build()
    X, Y = data()
    monitor = HealthMonitor(X[:64], every=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, Y, n_epoch=3, batch_size=50, callbacks=monitor)
    dead_warnings = [w for w in caught if "are dead" in str(w.message)]
    assert len(dead_warnings) == 1 and "FullyConnected_2" in str(dead_warnings[0].message)
    assert [h["epoch"] for h in monitor.history] == [1, 2, 3]
    assert all(h["dead/FullyConnected_2"] == 1.0 for h in monitor.history)
    assert "saturated/FullyConnected_1" in monitor.history[0]
    assert model.history[-1]["dead/FullyConnected_2"] == 1.0  # in the epoch logs
    with open(model.last_run.path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and float(rows[-1]["dead/FullyConnected_2"]) == 1.0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(model.last_run.path / "train"))
    events.Reload()  # the run logger runs after the user's callbacks: the monitor's values reach TensorBoard
    assert [e.value for e in events.Scalars("dead/FullyConnected_2")] == [1.0, 1.0, 1.0]


def test_monitor_every_and_layers():
    model = build()
    X, Y = data(100)
    monitor = HealthMonitor(X[:32], every=2, layers=["FullyConnected"])
    model.fit(X, Y, n_epoch=4, batch_size=50, callbacks=monitor)
    assert [h["epoch"] for h in monitor.history] == [2, 4]
    assert set(monitor.history[0]) == {"epoch", "dead/FullyConnected"}
    with pytest.raises(ValueError, match="unknown"):
        model.fit(X, Y, n_epoch=1, callbacks=HealthMonitor(X[:8], layers=["Nope"]))
