"""TFlearn semantics that used to be silently ignored: restore=False, scope/reuse, trainable_vars;
and the variables module, arithmetic on layer outputs, checkpoint names without their extension."""
from __future__ import annotations

import numpy as np
import pytest

import deepscope as tflearn
from deepscope import variables

RNG = np.random.default_rng(0)
X = RNG.random((64, 8)).astype("float32")
Y3 = np.eye(3, dtype="float32")[RNG.integers(0, 3, 64)]


def _body(name="body"):
    net = tflearn.input_data(shape=[None, 8])
    return tflearn.fully_connected(net, 16, activation="relu", name=name)


def test_restore_false_keeps_the_new_head_and_restores_the_body(tmp_path):
    source = tflearn.DNN(tflearn.regression(tflearn.fully_connected(_body(), 3, activation="softmax")))
    source.fit(X, Y3, n_epoch=2, diagnostics=False)
    source.save(tmp_path / "pretrained.safetensors")
    body = _body()
    head = tflearn.fully_connected(body, 5, activation="softmax", restore=False)  # another class count
    model = tflearn.DNN(tflearn.regression(head))
    fresh = model.get_weights(head.W).copy()
    model.load(tmp_path / "pretrained.safetensors")
    assert np.array_equal(model.get_weights(head.W), fresh)
    assert np.array_equal(model.get_weights(body.W), source.get_weights(source.net.layers["body"].weight))


def test_load_without_restore_false_says_how_to_fine_tune(tmp_path):
    source = tflearn.DNN(tflearn.regression(tflearn.fully_connected(_body(), 3, activation="softmax")))
    source.save(tmp_path / "pretrained.safetensors")
    model = tflearn.DNN(tflearn.regression(tflearn.fully_connected(_body(), 5, activation="softmax")))
    with pytest.raises(tflearn.ModelFileError, match="restore=False"):
        model.load(tmp_path / "pretrained.safetensors")


def test_reuse_shares_the_layer_and_the_shared_network_saves(tmp_path):
    a = tflearn.input_data(shape=[None, 8], name="a")
    b = tflearn.input_data(shape=[None, 8], name="b")
    left = tflearn.fully_connected(a, 4, scope="encoder")
    right = tflearn.fully_connected(b, 4, scope="encoder", reuse=True)
    assert left.module is right.module
    out = tflearn.fully_connected(tflearn.merge([left, right], "concat"), 3, activation="softmax")
    model = tflearn.DNN(tflearn.regression(out))
    model.fit([X, X[::-1].copy()], Y3, n_epoch=2, diagnostics=False)
    assert left.module.weight.grad is not None  # one set of weights, trained through both branches
    model.save(tmp_path / "siamese.safetensors")
    again = tflearn.load(tmp_path / "siamese.safetensors")
    np.testing.assert_allclose(again.predict([X, X]), model.predict([X, X]), atol=1e-6)


def test_reuse_needs_a_known_scope_of_the_same_shape():
    net = tflearn.input_data(shape=[None, 8])
    with pytest.raises(ValueError, match="scope made earlier"):
        tflearn.fully_connected(net, 4, scope="never_made", reuse=True)
    kept = tflearn.fully_connected(net, 4, scope="four")  # (a scope lives as long as its layer is used)
    with pytest.raises(ValueError, match="same layer"):
        tflearn.fully_connected(net, 6, scope="four", reuse=True)
    with pytest.raises(ValueError, match="scope"):
        tflearn.fully_connected(net, 4, reuse=True)
    assert tflearn.fully_connected(net, 4, scope="four", reuse=True).module is kept.module


def test_trainable_vars_trains_only_those(tmp_path):
    body = _body("frozen")
    head = tflearn.fully_connected(body, 3, activation="softmax", name="head")
    net = tflearn.regression(head, trainable_vars=variables.get_layer_variables_by_name("head"))
    model = tflearn.DNN(net)
    body_before, head_before = model.get_weights(body.W).copy(), model.get_weights(head.W).copy()
    model.fit(X, Y3, n_epoch=3, diagnostics=False)
    assert np.array_equal(model.get_weights(body.W), body_before)
    assert not np.array_equal(model.get_weights(head.W), head_before)
    model.save(tmp_path / "m.safetensors")  # stored as 'head.weight' / 'head.bias' names
    assert tflearn.load(tmp_path / "m.safetensors").trains_subset
    with pytest.raises(ValueError, match="trainable_vars"):
        tflearn.regression(head, trainable_vars=["no_such_layer.weight"])


def test_variables_read_and_set_values():
    dense = tflearn.fully_connected(tflearn.input_data(shape=[None, 3]), 2, name="dense_v")
    W, b = variables.get_layer_variables_by_name("dense_v")
    assert W is dense.W and b is dense.b
    variables.set_value(b, [1.0, 2.0])
    assert variables.get_value(b).tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="shape"):
        variables.set_value(b, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="name of a layer"):
        variables.get_layer_variables_by_name("nope")
    v = variables.variable("w", shape=[3, 4], initializer="truncated_normal")
    assert tuple(v.shape) == (3, 4) and v.requires_grad and float(v.detach().abs().sum()) > 0


def test_arithmetic_and_activations_on_layer_outputs_train_and_save(tmp_path):
    inp = tflearn.input_data(shape=[None, 8])
    a = tflearn.fully_connected(inp, 16)
    b = tflearn.fully_connected(inp, 16)
    mixed = tflearn.activations.relu(a + 0.17 * b) - b / 2.0
    assert list(mixed.shape) == [None, 16]
    out = tflearn.fully_connected(-mixed, 3, activation="softmax")
    model = tflearn.DNN(tflearn.regression(out))
    model.fit(X, Y3, n_epoch=1, diagnostics=False)
    # the same numbers by hand
    import torch
    xt = torch.from_numpy(X)
    ha, hb = torch.nn.functional.linear(xt, a.W, a.b), torch.nn.functional.linear(xt, b.W, b.b)
    expected = torch.softmax(torch.nn.functional.linear(-(torch.relu(ha + 0.17 * hb) - hb / 2), out.W, out.b), 1)
    np.testing.assert_allclose(model.predict(X), expected.detach().numpy(), atol=1e-5)
    model.save(tmp_path / "arith.safetensors")
    np.testing.assert_allclose(tflearn.load(tmp_path / "arith.safetensors").predict(X), model.predict(X), atol=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        a + tflearn.fully_connected(inp, 4)


def test_a_checkpoint_loads_by_the_name_tflearn_gives_it(tmp_path):
    model = tflearn.DNN(tflearn.regression(tflearn.fully_connected(_body(), 3, activation="softmax")),
                        checkpoint_path=str(tmp_path / "model.tfl.ckpt"))
    model.fit(X, Y3, n_epoch=1, batch_size=16, snapshot_step=2, diagnostics=False)
    model.load(str(tmp_path / "model.tfl.ckpt-2"))  # written as model.tfl.ckpt-2.safetensors
    model.save(str(tmp_path / "model.tfl"))
    model.load(str(tmp_path / "model.tfl"))
    with pytest.raises(tflearn.ModelFileError, match="does not exist"):
        model.load(str(tmp_path / "model.tfl.ckpt-999"))
