"""DNN(..., compile=True): the training forward through torch.compile, equal to eager training; where torch
cannot compile, training goes on in eager mode after one warning that says why."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import deepscope as tflearn
from deepscope.callbacks.run_folder import runs_dir

X = np.random.RandomState(0).rand(64, 6).astype("float32")
Y = np.eye(3, dtype="float32")[np.arange(64) % 3]


def net():
    net = tflearn.input_data(shape=[None, 6])
    net = tflearn.fully_connected(net, 16, activation="relu", regularizer="L2", weight_decay=1e-3)
    net = tflearn.fully_connected(net, 3, activation="softmax")
    return tflearn.regression(net, optimizer="adam", learning_rate=0.01, batch_size=16)


def trained(tmp_path, compile: bool):
    tflearn.set_seed(0)
    model = tflearn.DNN(net(), compile=compile)
    with runs_dir(tmp_path):
        model.fit(X, Y, n_epoch=2, diagnostics=False)
    return model


def test_a_compiled_fit_equals_the_eager_one(tmp_path):
    eager, compiled = trained(tmp_path, False), trained(tmp_path, True)
    assert compiled._compiled is not None  # (its forward went through CompiledForward)
    np.testing.assert_allclose(compiled.predict(X), eager.predict(X), atol=1e-5)
    assert compiled.last_run.config["compile"] is True


def test_where_torch_cannot_compile_the_fit_goes_on_and_says_why(tmp_path, monkeypatch):
    def no_compiler(fn):
        def compiled(*args):
            raise RuntimeError("InductorError: no C++ compiler found\nmore lines")
        return compiled
    monkeypatch.setattr(torch, "compile", no_compiler)
    with pytest.warns(RuntimeWarning, match=r"could not compile this network \(RuntimeError: InductorError: no C\+\+ "
                                            r"compiler found\); training goes on without it"):
        fallen = trained(tmp_path, True)
    np.testing.assert_allclose(fallen.predict(X), trained(tmp_path, False).predict(X), atol=1e-6)


def test_compile_takes_a_bool():
    with pytest.raises(TypeError, match="DNN compile: expected True or False"):
        tflearn.DNN(net(), compile="yes")
