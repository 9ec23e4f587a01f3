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


def _branch(g, units=16):
    net = tflearn.fully_connected(g, units, activation="tanh")
    return tflearn.fully_connected(net, 1, activation="sigmoid")


def test_several_regression_layers_learn_their_own_targets(tmp_path):
    """TFlearn's logical.py: XOR = NAND * OR, each branch trained on its own targets."""
    tflearn.set_seed(1)
    X = [[0., 0.], [0., 1.], [1., 0.], [1., 1.]]
    Y_nand, Y_or = [[1.], [1.], [1.], [0.]], [[0.], [1.], [1.], [1.]]
    g = tflearn.input_data(shape=[None, 2])
    g_nand = tflearn.regression(_branch(g), optimizer="sgd", learning_rate=2., loss="binary_crossentropy",
                                name="nand")
    g_or = tflearn.regression(_branch(g), optimizer="sgd", learning_rate=2., loss="binary_crossentropy", name="or")
    model = tflearn.DNN(tflearn.merge([g_nand, g_or], mode="elemwise_mul"))
    model.fit(X, [Y_nand, Y_or], n_epoch=300, diagnostics=False)
    np.testing.assert_allclose(model.predict(X).ravel(), [0, 1, 1, 0], atol=0.1)
    # the loss is the sum of the two binary cross-entropies (fused from logits)
    import torch
    xs, y = model.prepare_data(X, {g_nand: Y_nand, "or": Y_or}, "X", "Y")
    _, loss = model.compute_loss(xs, y)
    nand_out = tflearn.DNN(g_nand).predict(X)
    or_out = tflearn.DNN(g_or).predict(X)
    bce = torch.nn.functional.binary_cross_entropy
    expected = bce(torch.tensor(nand_out), torch.tensor(Y_nand)) + bce(torch.tensor(or_out), torch.tensor(Y_or))
    assert abs(float(loss.detach()) - float(expected)) < 1e-4
    model.fit(X, {"nand": Y_nand, "or": Y_or}, n_epoch=1, validation_set=(X, [Y_nand, Y_or]), show_metric=True)
    assert model.history[-1]["val_acc"] == 1.0
    with pytest.raises(ValueError, match="2 target arrays"):
        model.fit(X, Y_nand, n_epoch=1)
    with pytest.raises(ValueError, match="targets for every regression layer"):
        model.fit(X, {"nand": Y_nand}, n_epoch=1)


def test_several_regression_layers_need_one_optimizer():
    g = tflearn.input_data(shape=[None, 2])
    a = tflearn.regression(_branch(g), optimizer="sgd", learning_rate=1.0)
    b = tflearn.regression(_branch(g), optimizer="adam", learning_rate=0.01)
    with pytest.raises(ValueError, match="same optimizer"):
        tflearn.DNN(tflearn.merge([a, b], "concat"))


def test_feeds_keyed_by_input_layer_objects():
    a = tflearn.input_data(shape=[None, 8])
    b = tflearn.input_data(shape=[None, 8])
    out = tflearn.fully_connected(tflearn.merge([a, b], "concat"), 3, activation="softmax")
    reg = tflearn.regression(out, name="target")
    model = tflearn.DNN(reg)
    model.fit({a: X, b: X}, {reg: Y3}, n_epoch=1, diagnostics=False)
    np.testing.assert_allclose(model.predict({a: X, b: X}), model.predict([X, X]))


def test_torch_activations_called_on_layer_outputs_become_layers():
    import torch
    from deepscope.utils import repeat

    net = tflearn.input_data(shape=[None, 8])
    out = repeat(net, 3, lambda n: torch.nn.LeakyReLU(0.3)(tflearn.fully_connected(n, 8)))
    assert out.module.activation.negative_slope == pytest.approx(0.3)
    assert torch.nn.Tanh()(out).module.activation_name == "tanh"
    assert tflearn.activations.get("relu")(out).module.activation_name == "relu"
    with pytest.raises(TypeError, match="symbolic"):
        torch.exp(out)


def test_scope_names_the_layer_and_weights_only_leaves_buffers(tmp_path):
    inp = tflearn.input_data(shape=[None, 8])
    fc = tflearn.fully_connected(inp, 4, scope="block/fc6")  # TFlearn: the scope overrides the name
    assert fc.name == "block_fc6"
    norm = tflearn.batch_normalization(fc)
    model = tflearn.DNN(tflearn.regression(tflearn.fully_connected(norm, 3, activation="softmax")))
    model.fit(X, Y3, n_epoch=2, diagnostics=False)
    model.save(tmp_path / "m.safetensors")
    inp2 = tflearn.input_data(shape=[None, 8])
    norm2 = tflearn.batch_normalization(tflearn.fully_connected(inp2, 4, scope="block/fc6"))
    other = tflearn.DNN(tflearn.regression(tflearn.fully_connected(norm2, 3, activation="softmax")))
    running = other.net.layers[norm2.name].running_mean.clone() if hasattr(other.net.layers[norm2.name], "running_mean") \
        else [b.clone() for b in other.net.layers[norm2.name].buffers()][0]
    other.load(tmp_path / "m.safetensors", weights_only=True)
    assert np.array_equal(other.get_weights(other.net.layers["block_fc6"].weight),
                          model.get_weights(model.net.layers["block_fc6"].weight))
    after = [b for b in other.net.layers[norm2.name].buffers()][0]
    assert np.array_equal(after.numpy(), running.numpy()) and other.step == 0  # buffers and step untouched
    other.load(tmp_path / "m.safetensors")
    assert other.step == model.step


def test_custom_layer_runs_a_user_function_and_saves_once_registered(tmp_path):
    from deepscope.layers.core import CUSTOM_FUNCTIONS, custom_layer, register_custom_function

    def squash(x, factor=2.0):  # TFlearn's layout: (N, H, W, C)
        return (factor * x[..., :2]) ** 2

    inp = tflearn.input_data(shape=[None, 4, 4, 3])
    net = custom_layer(inp, squash, factor=0.5)
    assert list(net.shape) == [None, 4, 4, 2]
    model = tflearn.DNN(tflearn.regression(tflearn.fully_connected(net, 2, activation="softmax")))
    x = np.random.default_rng(0).random((3, 4, 4, 3)).astype("float32")
    inner = tflearn.DNN(net).predict(x)
    np.testing.assert_allclose(inner, (0.5 * x[..., :2]) ** 2, atol=1e-6)
    with pytest.raises(ValueError, match="register_custom_function"):
        model.save(tmp_path / "m.safetensors")
    register_custom_function(squash, "squash_for_test")
    assert "squash_for_test" in CUSTOM_FUNCTIONS
    model.save(tmp_path / "m.safetensors")
    np.testing.assert_allclose(tflearn.load(tmp_path / "m.safetensors").predict(x), model.predict(x), atol=1e-6)
    with pytest.raises(ValueError, match="runs on a batch"):
        custom_layer(inp, lambda x: x.reshape(-1, 5, 5))  # 48 values per sample do not make 5x5 rows
    with pytest.raises(ValueError, match="batch first"):
        custom_layer(inp, lambda x: x.sum())
