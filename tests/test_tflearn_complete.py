"""TFlearn 0.5's remaining public names (issue 26): each checked against an independent computation (torch's own
ops, TensorFlow's documented formulas written out here) or against TFlearn's own test expectations."""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepscope as tflearn
from deepscope.layers.conv import bilinear_ramp
from deepscope.models.serialization import WeightsNotFoundError

SHARED = Path(os.environ.get("DEEPSCOPE_SHARED_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))


def _quiet_fit(model, X, Y, **kwargs):
    kwargs.setdefault("n_epoch", 1)
    model.fit(X, Y, diagnostics=False, **kwargs)


# ----------------------------------------------------------------------------------- variable scopes
def _scoped_model(scope=None):
    def build():
        net = tflearn.input_data(shape=[None, 4], name="input")
        net = tflearn.fully_connected(net, 3, activation="softmax", name="dense")
        return tflearn.DNN(tflearn.regression(net, name="target"))
    if scope is None:
        return build()
    with tflearn.variable_scope(scope):
        return build()


def test_a_scoped_regression_is_fed_by_its_scoped_name_and_loads_into_another_scope(tmp_path):
    rng = np.random.default_rng(0)
    X, Y = rng.random((32, 4), dtype=np.float32), np.eye(3)[rng.integers(0, 3, 32)]
    scoped = _scoped_model("scopeQ")
    assert [n.name for n in scoped.net.nodes] == ["scopeQ/input", "scopeQ/dense", "scopeQ/target"]
    _quiet_fit(scoped, {"scopeQ/input": X}, {"scopeQ/target": Y})  # TFlearn's weights_loading_scope.py
    scoped.save(str(tmp_path / "q.tfl"))
    again = tflearn.load(str(tmp_path / "q.tfl"))  # the scope is part of the saved description
    assert [n.name for n in again.net.nodes] == [n.name for n in scoped.net.nodes]
    np.testing.assert_allclose(again.predict(X), scoped.predict(X), rtol=1e-6)

    other = _scoped_model("scopeA")
    with pytest.raises(WeightsNotFoundError, match="missing"):  # TensorFlow's NotFoundError
        other.load(str(tmp_path / "q.tfl"))
    other.load(str(tmp_path / "q.tfl"), variable_name_map=("^scopeA/", "scopeQ/"))
    np.testing.assert_allclose(other.predict(X), scoped.predict(X), rtol=1e-6)

    plain = _scoped_model()
    plain.load(str(tmp_path / "q.tfl"), variable_name_map=lambda name: "scopeQ/" + name)
    plain.save(str(tmp_path / "plain.tfl"))
    into_b = _scoped_model("scopeB")
    with pytest.raises(WeightsNotFoundError, match="scope_for_restore='scopeB'"):
        into_b.load(str(tmp_path / "plain.tfl"))
    into_b.load(str(tmp_path / "plain.tfl"), scope_for_restore="scopeB", weights_only=True)
    np.testing.assert_allclose(into_b.predict(X), scoped.predict(X), rtol=1e-6)


def test_bad_scopes_and_maps_get_clear_errors():
    with pytest.raises(ValueError, match="variable_scope name"):
        with tflearn.variable_scope("a/b"):
            pass
    with pytest.raises(TypeError, match="variable_name_map"):
        _scoped_model().load("x", variable_name_map=3)


def test_feed_dict_keys_as_tensorflow_names_and_unknown_keys():
    X, Y = np.random.rand(8, 4).astype(np.float32), np.eye(3)[np.arange(8) % 3]
    model = _scoped_model()
    _quiet_fit(model, {"input:0": X}, Y)
    second = tflearn.input_data(shape=[None, 4], name="other")
    merged = tflearn.merge([model.net.nodes[0], second], "concat")
    two = tflearn.DNN(tflearn.regression(tflearn.fully_connected(merged, 3, activation="softmax")))
    with pytest.raises(ValueError, match="Feed dict asks for variable named 'non_existent' but no such variable"):
        _quiet_fit(two, {"input": X, "non_existent": X}, Y)
    assert tflearn.input_data(placeholder=second) is second


# ----------------------------------------------------------------------------------- layers
def test_conv_3d_and_pooling_match_torch():
    torch.manual_seed(0)
    net = tflearn.input_data(shape=[None, 4, 6, 6, 2])
    conv = tflearn.conv_3d(net, 3, 3, strides=1, padding="same", activation="relu")
    pooled = tflearn.max_pool_3d(conv, 2, strides=2)
    avg = tflearn.avg_pool_3d(pooled, 2, strides=2, padding="valid")
    assert conv.shape == [None, 4, 6, 6, 3] and pooled.shape == [None, 2, 3, 3, 3] and avg.shape == [None, 1, 1, 1, 3]
    model = tflearn.DNN(avg)
    x = torch.rand(2, 4, 6, 6, 2)
    layer = conv.module
    expected = F.relu(F.conv3d(x.permute(0, 4, 1, 2, 3), layer.weight, layer.bias, padding=1))
    expected = F.max_pool3d(expected, 2, 2)  # 'same' needs no padding for even sizes
    expected = F.avg_pool3d(expected[:, :, :2, :2, :2], 2, 2).permute(0, 2, 3, 4, 1)
    np.testing.assert_allclose(model.predict(x.numpy()), expected.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_conv_3d_transpose_and_upscore_3d_shapes_and_refusals():
    net = tflearn.input_data(shape=[None, 2, 4, 4, 3])
    assert tflearn.conv_3d_transpose(net, 5, 3, [4, 8, 8], strides=2).shape == [None, 4, 8, 8, 5]
    assert tflearn.upscore_layer3d(net, 3).shape == [None, 3, 7, 7, 3]  # TFlearn's (n - 1) * s + 1
    with pytest.raises(ValueError, match="output_shape"):
        tflearn.conv_3d_transpose(net, 5, 3, [9, 8, 8], strides=2)
    with pytest.raises(ValueError, match="num_classes"):
        tflearn.upscore_layer3d(net, 4)
    with pytest.raises(ValueError, match="5-D input"):
        tflearn.conv_3d(tflearn.input_data(shape=[None, 4, 4, 3]), 2, 3)


def test_atrous_conv_2d_is_a_dilated_convolution_with_tensorflow_padding():
    net = tflearn.input_data(shape=[None, 9, 9, 2])
    same = tflearn.atrous_conv_2d(net, 4, 3, rate=2)
    valid = tflearn.atrous_conv_2d(net, 4, 3, rate=2, padding="valid")
    assert same.shape == [None, 9, 9, 4] and valid.shape == [None, 5, 5, 4]
    x = torch.rand(3, 9, 9, 2)
    layer = valid.module
    expected = F.conv2d(x.permute(0, 3, 1, 2), layer.weight, layer.bias, dilation=2).permute(0, 2, 3, 1)
    np.testing.assert_allclose(tflearn.DNN(valid).predict(x.numpy()), expected.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_upscore_layer_starts_as_tflearns_bilinear_filter():
    def tflearn_formula(width):  # written from TFlearn's get_deconv_filter
        f = math.ceil(width / 2.0)
        c = (2 * f - 1 - f % 2) / (2.0 * f)
        return np.array([[(1 - abs(x / f - c)) * (1 - abs(y / f - c)) for y in range(width)] for x in range(width)])
    for width in (2, 3, 4, 5):
        ramp = bilinear_ramp(width).numpy()
        np.testing.assert_allclose(np.outer(ramp, ramp), tflearn_formula(width), atol=1e-6)
    net = tflearn.input_data(shape=[None, 4, 4, 3])
    up = tflearn.upscore_layer(net, 2, kernel_size=4, strides=2, shape=[8, 8])
    assert up.shape == [None, 8, 8, 2]
    weight = up.module.weight.detach()  # (in, out, k, k): channel i -> class i only
    assert torch.count_nonzero(weight[2]) == 0 and torch.count_nonzero(weight[0, 1]) == 0
    constant = tflearn.DNN(up).predict(np.ones((1, 4, 4, 3), np.float32))[0, 2:6, 2:6, 0]
    np.testing.assert_allclose(constant, 1.0, atol=1e-6)  # bilinear upsampling keeps a flat image flat inside


def test_highway_conv_1d_and_deconv_2d_name():
    net = tflearn.input_data(shape=[None, 10, 3])
    out = tflearn.highway_conv_1d(net, 5, 3)
    assert out.shape == [None, 10, 5]
    assert tflearn.DNN(out).predict(np.random.rand(2, 10, 3)).shape == (2, 10, 5)
    assert tflearn.deconv_2d is tflearn.upsample_2d


def test_time_distributed_shares_one_layer_over_steps_and_saves(tmp_path):
    net = tflearn.input_data(shape=[None, 5, 8])
    steps = tflearn.time_distributed(net, tflearn.fully_connected, [3])
    assert steps.shape == [None, 5, 3]
    model = tflearn.DNN(tflearn.regression(tflearn.fully_connected(tflearn.flatten(steps), 2, activation="softmax")))
    inner = steps.module.network
    x = torch.rand(4, 5, 8)
    per_step = torch.stack([inner(x[:, t]) for t in range(5)], 1)
    np.testing.assert_allclose(inner(x.reshape(20, 8)).reshape(4, 5, 3).detach(), per_step.detach(), atol=1e-6)
    assert sum(p.numel() for p in steps.module.parameters()) == 8 * 3 + 3  # one set of weights for all steps
    model.save(str(tmp_path / "td"))
    np.testing.assert_allclose(tflearn.load(str(tmp_path / "td")).predict(x.numpy()), model.predict(x.numpy()),
                               rtol=1e-6)


def test_one_hot_encoding_of_arrays_and_nodes():
    encoded = tflearn.one_hot_encoding([0, 2, 1], 3, on_value=2.0, off_value=-1.0)
    assert encoded.tolist() == [[2, -1, -1], [-1, -1, 2], [-1, 2, -1]]
    labels = tflearn.input_data(shape=[None])
    model = tflearn.DNN(tflearn.one_hot_encoding(labels, 4))
    np.testing.assert_array_equal(model.predict(np.array([3, 1])), np.eye(4)[[3, 1]])
    with pytest.raises(ValueError, match="labels must lie in"):
        model.predict(np.array([4]))


def test_multi_target_data_is_refused_with_what_to_do():
    with pytest.raises(NotImplementedError, match="TensorFlow-only.*one regression layer per output"):
        tflearn.multi_target_data(["a", "b"], shape=[None, 2])


def test_dropout_wrapper_in_a_bidirectional_rnn(tmp_path):
    net = tflearn.input_data(shape=[None, 6, 4])
    cell = tflearn.DropoutWrapper(tflearn.BasicLSTMCell(5), input_keep_prob=0.8, output_keep_prob=0.9)
    out = tflearn.bidirectional_rnn(net, cell, tflearn.GRUCell(3))
    model = tflearn.DNN(tflearn.regression(tflearn.fully_connected(out, 2, activation="softmax")))
    model.save(str(tmp_path / "birnn"))
    x = np.random.rand(3, 6, 4).astype(np.float32)
    np.testing.assert_allclose(tflearn.load(str(tmp_path / "birnn")).predict(x), model.predict(x), rtol=1e-6)
    with pytest.raises(TypeError, match="DropoutWrapper cell"):
        tflearn.DropoutWrapper("lstm")
    padded = torch.tensor([[[1.0], [2.0], [0.0]], [[3.0], [0.0], [0.0]]])
    lengths = tflearn.layers.recurrent.retrieve_seq_length_op(padded)
    assert lengths.tolist() == [2, 1]
    assert tflearn.layers.recurrent.advanced_indexing_op(padded, lengths).tolist() == [[2.0], [3.0]]


# ----------------------------------------------------------------------------------- activations, losses, metrics
def test_activation_on_a_plain_tensor_gives_tflearns_values():  # TFlearn's tests/test.py expectations
    x = torch.tensor(-0.25)
    assert tflearn.activation(x, "linear").item() == -0.25 and tflearn.activation(x, "relu").item() == 0
    assert tflearn.activation(x, "leaky_relu").item() == pytest.approx(-0.025)
    assert tflearn.activation(x, "tanh").item() == pytest.approx(-0.2449, abs=1e-4)
    assert tflearn.activation(x, lambda v: tflearn.leaky_relu(v, alpha=0.2)).item() == pytest.approx(-0.05)
    values = torch.tensor([-3.0, -1.0, 0.0, 2.0, 3.0])
    np.testing.assert_allclose(tflearn.activations.hard_sigmoid(values), np.clip(0.2 * values + 0.5, 0, 1))
    np.testing.assert_allclose(tflearn.activations.mish(values), values * torch.tanh(F.softplus(values)), rtol=1e-6)


def test_metric_build_as_in_tflearns_test_metrics():
    binary = tflearn.metrics.accuracy()
    binary.build(torch.tensor([[1.0], [-1], [1], [1], [-1], [-1]]), torch.tensor([[1.0], [0], [1], [0], [0], [1]]))
    assert binary.tensor.m_name == "binary_acc" and binary.tensor.item() == pytest.approx(4 / 6)
    categorical = tflearn.metrics.accuracy()
    categorical.build(torch.tensor([[1.0, -1], [-1, 1], [0.5, 0]]), torch.tensor([[1.0, 0], [0, 1], [0, 1]]))
    assert categorical.tensor.m_name == "acc" and categorical.get_tensor().item() == pytest.approx(2 / 3)
    y = torch.tensor([1.0, 2.0, 4.0])
    p = torch.tensor([1.0, 2.0, 3.0])
    assert tflearn.metrics.r2_op(p, y).item() == pytest.approx(1 - 1 / ((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 +
                                                                      (4 - 7 / 3) ** 2))
    counts = tflearn.metrics.Prediction_Counts(tflearn.metrics.Accuracy())
    counts.build(torch.eye(3)[[0, 1, 1]], torch.eye(3)[[0, 1, 2]])
    assert counts.counts == {0: 1, 1: 2}


def test_weak_cross_entropy_2d_and_other_objectives():
    rng = np.random.default_rng(1)
    pred = rng.random((3, 5, 5, 2)).astype(np.float32)
    true = np.eye(2)[rng.integers(0, 2, 75)].reshape(3, 5, 5, 2)
    loss = tflearn.objectives.weak_cross_entropy_2d(pred, true).item()
    logits = pred.reshape(-1, 2) + 1e-4
    log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    assert loss == pytest.approx(-(true.reshape(-1, 2) * log_softmax).sum(1).mean(), rel=1e-5)
    assert 0 < loss < 1  # TFlearn's own test
    d, same = torch.tensor([0.5, 2.0]), torch.tensor([1.0, 0.0])
    assert tflearn.objectives.contrastive_loss(d, same).item() == pytest.approx((0.25 + 0.0) / 2)
    a, pos, neg = torch.zeros(2), torch.ones(2), torch.full((2,), 2.0)
    assert tflearn.objectives.triplet_loss(a, pos, neg).item() == 0.0
    assert tflearn.objectives.roc_auc_score(torch.tensor([0.9, 0.1]), torch.tensor([1.0, 0.0])).item() == 0.0
    assert tflearn.objectives.get("mean_square") is not None


# ----------------------------------------------------------------------------------- optimizers
def test_ftrl_follows_tensorflows_update_rule():
    w = torch.nn.Parameter(torch.tensor([0.5, -0.3, 0.0]))
    optimizer, _ = tflearn.Ftrl(learning_rate=0.1, l1_regularization_strength=0.01,
                                l2_regularization_strength=0.02).build([w])
    ref_w, n, z = w.detach().numpy().copy(), np.full(3, 0.1), np.zeros(3)
    for g in ([0.2, -0.1, 0.3], [0.1, 0.4, -0.2]):
        w.grad = torch.tensor(g)
        optimizer.step()
        g = np.array(g)
        n_new = n + g * g
        z += g - (np.sqrt(n_new) - np.sqrt(n)) / 0.1 * ref_w
        n = n_new
        ref_w = np.where(np.abs(z) > 0.01, (np.sign(z) * 0.01 - z) / (np.sqrt(n) / 0.1 + 2 * 0.02), 0.0)
        np.testing.assert_allclose(w.detach().numpy(), ref_w, rtol=1e-6)


def test_proximal_adagrad_without_penalties_is_adagrad_without_epsilon():
    a = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    b = torch.nn.Parameter(a.detach().clone())
    mine, _ = tflearn.ProximalAdaGrad(learning_rate=0.1).build([a])
    reference = torch.optim.Adagrad([b], lr=0.1, initial_accumulator_value=0.1, eps=0.0)
    for g in ([0.3, -0.2], [0.1, 0.5]):
        a.grad, b.grad = torch.tensor(g), torch.tensor(g)
        mine.step()
        reference.step()
    torch.testing.assert_close(a.detach(), b.detach())
    assert tflearn.optimizers.get("proximaladagrad") is tflearn.ProximalAdaGrad and tflearn.optimizers.ftrl is \
        tflearn.Ftrl


# ----------------------------------------------------------------------------------- helpers and DNN methods
def test_trainer_and_trainop_train_a_loss_of_your_own_tensors(tmp_path):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.random((256, 6), dtype=np.float32)
    Y = np.eye(3)[X[:, :3].argmax(1)].astype(np.float32)
    W = tflearn.variable("W", shape=[6, 3], initializer="xavier")
    b = tflearn.variable("b", shape=[3])
    penalty = tflearn.add_weights_regularizer(W, "L2", weight_decay=0.001)
    assert penalty.item() == pytest.approx(0.001 * (W.detach() ** 2).sum().item() / 2, rel=1e-5)
    loss = lambda feed: F.cross_entropy(feed["X"] @ W + b, feed["Y"].argmax(1))  # noqa: E731
    accuracy = lambda feed: ((feed["X"] @ W + b).argmax(1) == feed["Y"].argmax(1)).float().mean()  # noqa: E731
    op = tflearn.TrainOp(loss=loss, optimizer=tflearn.SGD(0.5), metric=accuracy, batch_size=32, trainable_vars=[W, b])
    tflearn.summarize_variables([W])
    trainer = tflearn.Trainer(op, tensorboard_dir=str(tmp_path / "tb"), checkpoint_path=str(tmp_path / "ckpt"))
    history = trainer.fit({"X": X, "Y": Y}, n_epoch=8, val_feed_dicts={"X": X, "Y": Y}, show_metric=True,
                          run_id="run")
    assert history[-1]["TrainOp/loss"] < history[0]["TrainOp/loss"]
    assert history[-1]["TrainOp/val_acc"] > 0.6  # chance: 1/3
    assert list((tmp_path / "tb" / "run").glob("**/events.out.tfevents.*"))
    saved = trainer.save(str(tmp_path / "final"))
    kept = W.detach().clone()
    with torch.no_grad():
        W.zero_()
    trainer.restore(saved)
    assert torch.equal(W.detach(), kept)
    mean_acc, mean_loss = tflearn.Evaluator([accuracy]).evaluate({"X": X, "Y": Y}, [accuracy, loss], batch_size=50)
    assert mean_acc == pytest.approx(accuracy({"X": torch.tensor(X), "Y": torch.tensor(Y)}).item(), rel=1e-5)
    with pytest.raises(TypeError, match="TrainOp loss"):
        tflearn.TrainOp(loss=3.0, optimizer="sgd", trainable_vars=[W])


def test_add_weights_regularizer_on_a_layer_trains_with_the_penalty():
    net = tflearn.input_data(shape=[None, 4])
    dense = tflearn.fully_connected(net, 2)
    model = tflearn.DNN(tflearn.regression(dense, loss="mean_square"))
    assert model.net.regularization_loss() is None
    tflearn.add_weights_regularizer(dense.W, "L2", weight_decay=0.01)
    model = tflearn.DNN(tflearn.regression(dense, loss="mean_square"))
    expected = 0.01 * (dense.W.detach() ** 2).sum() / 2
    assert model.net.regularization_loss().item() == pytest.approx(expected.item(), rel=1e-5)


def test_dnn_fit_batch_get_train_vars_and_preprocessing():
    prep = tflearn.ImagePreprocessing()
    prep.add_featurewise_zero_center(mean=0.5)
    net = tflearn.input_data(shape=[None, 4], data_preprocessing=prep, name="x")
    model = tflearn.DNN(tflearn.regression(tflearn.fully_connected(net, 2, activation="softmax")))
    X, Y = np.random.rand(16, 4).astype(np.float32), np.eye(2)[np.arange(16) % 2]
    before = [p.detach().clone() for p in model.get_train_vars()]
    first = model.fit_batch(X, Y)
    assert model.step == 1 and math.isfinite(first)
    assert any(not torch.equal(a, p) for a, p in zip(before, model.get_train_vars()))
    augmentation, preprocessing = model.retrieve_data_preprocessing_and_augmentation()
    assert augmentation == {} and preprocessing == {"x": prep}


def test_training_mode_switches_the_layers_built():
    net = tflearn.dropout(tflearn.fully_connected(tflearn.input_data(shape=[None, 3]), 4), 0.5)
    tflearn.is_training(True)
    assert tflearn.get_training_mode() and net.module.training
    tflearn.config.init_training_mode()
    assert not tflearn.get_training_mode() and not net.module.training


# ----------------------------------------------------------------------------------- data utilities and datasets
def test_vocabulary_processor_round_trip(tmp_path):
    docs = ["the cat sat", "the dog sat down", "a bird"]
    processor = tflearn.data_utils.VocabularyProcessor(4, min_frequency=2)
    rows = np.array(list(processor.fit_transform(docs)))
    assert rows.shape == (3, 4) and rows[0].tolist() == [1, 0, 2, 0] and rows[2].tolist() == [0, 0, 0, 0]
    assert list(processor.reverse([rows[0]]))[0] == "the <UNK> sat <UNK>"
    processor.save(str(tmp_path / "vocab.json"))
    again = tflearn.data_utils.VocabularyProcessor.restore(str(tmp_path / "vocab.json"))
    assert np.array_equal(np.array(list(again.transform(docs))), rows)


def test_image_folder_helpers(tmp_path):
    from PIL import Image
    for label in ("cats", "dogs"):
        (tmp_path / label).mkdir()
        for i in range(2):
            Image.fromarray(np.full((6, 8, 3), 40 * i, np.uint8)).save(tmp_path / label / f"{i}.png")
    paths, labels = tflearn.data_utils.directory_to_samples(str(tmp_path), flags=[".png"])
    assert labels == [0, 0, 1, 1] and all(p.endswith(".png") for p in paths)
    image = tflearn.data_utils.resize_image(tflearn.data_utils.load_image(paths[1]), 4, 3)
    array = tflearn.data_utils.pil_to_nparray(image)
    assert array.shape == (3, 4, 3) and array.max() == 40 and tflearn.data_utils.get_img_channel(paths[0]) == 3
    X, Y = tflearn.data_utils.build_image_dataset_from_dir(str(tmp_path), str(tmp_path / "cache"), categorical_Y=True)
    assert X.shape == (4, 6, 8, 3) and Y.shape == (4, 2) and (tmp_path / "cache.npz").is_file()
    preloader = tflearn.data_utils.Preloader([1, 2, 3], lambda v: v * 10)
    assert preloader[1] == 20 and preloader[0:2] == [10, 20] and len(preloader) == 3
    assert tflearn.data_utils.get_num_classes([0, 4, 2]) == 5 and tflearn.data_utils.get_num_features(X) == 3


@pytest.mark.skipif(not (SHARED / "mnist" / "t10k-images-idx3-ubyte.gz").is_file(), reason="shared MNIST absent")
def test_mnist_extract_images_and_dataset_batches():
    from deepscope.datasets import mnist
    images = mnist.extract_images(str(SHARED / "mnist" / "t10k-images-idx3-ubyte.gz"))
    labels = mnist.extract_labels(str(SHARED / "mnist" / "t10k-labels-idx1-ubyte.gz"), one_hot=True)
    assert images.shape == (10000, 28, 28, 1) and images.dtype == np.uint8 and labels.shape == (10000, 10)
    data = mnist.DataSet(images[:100], labels[:100])
    first, _ = data.next_batch(60)
    assert first.shape == (60, 784) and 0.0 <= first.min() and first.max() <= 1.0
    data.next_batch(60)
    assert data.epochs_completed == 1


# ----------------------------------------------------------------------------------- internals
def test_chain_callback_and_model_saver(tmp_path):
    from deepscope.callbacks import Callback, ChainCallback, ModelSaver

    class Count(Callback):
        def __init__(self):
            self.epochs = 0

        def on_epoch_end(self, state):
            self.epochs += 1
    counter = Count()
    model = _scoped_model()
    saver = ModelSaver(model.save, str(tmp_path / "snap"), best_snapshot_path=str(tmp_path / "best"))
    X, Y = np.random.rand(16, 4).astype(np.float32), np.eye(3)[np.arange(16) % 3]
    model.fit(X, Y, n_epoch=2, validation_set=0.25, show_metric=True, diagnostics=False,
              callbacks=[ChainCallback([counter, saver])])
    assert counter.epochs == 2
    assert sorted(p.name for p in tmp_path.glob("snap-*")) == ["snap-1", "snap-2"]
    np.testing.assert_allclose(tflearn.load(str(tmp_path / "snap-2")).predict(X), model.predict(X), rtol=1e-6)
    with pytest.raises(TypeError, match="ChainCallback callback"):
        ChainCallback(["not a callback"])


def test_utils_helpers_of_tflearn():
    from deepscope import utils
    assert utils.make_batches(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert utils.autoformat_kernel_2d(3) == [1, 3, 3, 1] and utils.autoformat_filter_conv3d(2, 3, 4) == [2, 2, 2, 3, 4]
    assert utils.autoformat_padding("same") == "SAME" and utils.format_scope_name("a", "p", "s") == "p/a/s"
    assert utils.to_list(3) == [3] and utils.del_duplicated([1, 2, 1]) == [1, 2]
    X, ndim = utils.prepare_X(np.zeros((4, 3, 1)), 2)
    assert X.shape == (4, 3) and ndim == 3
    net = tflearn.input_data(shape=[None, 3], name="in")
    out = tflearn.fully_connected(tflearn.fully_connected(net, 4), 2)
    assert utils.get_tensor_parents_placeholders(out) == [net] and len(utils.get_all_tensor_parents(out)) == 2
    with pytest.raises(NotImplementedError, match="records its parents, not its children"):
        utils.get_tensor_children(out)
    with pytest.raises(NotImplementedError, match="TensorFlow-only"):
        __import__("deepscope.data_flow").data_flow.ArrayFlow(X)


def test_read_tensor_in_checkpoint(tmp_path):
    from deepscope.utils import read_tensor_in_checkpoint
    model = _scoped_model()
    model.save(str(tmp_path / "m"))
    weight = read_tensor_in_checkpoint("layers.dense.weight", str(tmp_path / "m"))
    np.testing.assert_array_equal(weight, model.net.layers["dense"].weight.detach().numpy())
    with pytest.raises(ValueError, match="tensor_name"):
        read_tensor_in_checkpoint("nope", str(tmp_path / "m"))


def test_estimators_at_tflearns_paths():
    pytest.importorskip("sklearn")
    from deepscope.estimators.cluster.kmeans import MiniBatchKMeans
    from deepscope.estimators.ensemble.forest import RandomForestRegressor
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0], [5.0, 5.0]])
    X = np.concatenate([c + rng.normal(0, 0.3, (30, 2)) for c in centers])
    labels = MiniBatchKMeans(2, random_state=0).fit(X).predict(X)
    assert len(set(labels[:30])) == 1 and len(set(labels[30:])) == 1 and labels[0] != labels[-1]
    y = X[:, 0] * 2.0
    assert RandomForestRegressor(20, random_state=0).fit(X, y).evaluate(X, y) > 0.9


def test_cifar_binary_batches_and_pickles(tmp_path):
    from deepscope.datasets import cifar10
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 3, 32, 32), dtype=np.uint8)  # CHW, as the binary records store them
    records = b"".join(bytes([label]) + image.tobytes() for label, image in zip([7, 0, 3], images))
    (tmp_path / "data_batch_1.bin").write_bytes(records)
    data, labels = cifar10.load_batch(str(tmp_path / "data_batch_1.bin"))
    assert labels == [7, 0, 3] and data.shape == (3, 3072)
    np.testing.assert_array_equal(data, images.reshape(3, -1))
    (tmp_path / "data_batch_1").write_bytes(b"\x80\x04" + b"\x00" * 10)
    with pytest.raises(ValueError, match="never unpickles"):
        cifar10.load_batch(str(tmp_path / "data_batch_1"))


def test_imdb_prepare_data_and_svhn_labels():
    from deepscope.datasets import imdb, svhn
    x, mask, labels = imdb.prepare_data([[1, 2, 3], [4], [5, 6, 7, 8, 9]], [0, 1, 1], maxlen=5)
    assert x.shape == (3, 2) and x[:, 0].tolist() == [1, 2, 3] and mask[:, 1].tolist() == [1, 0, 0]
    assert labels == [0, 1]
    assert svhn.label_to_one_hot_y(10, 10).argmax() == 9 and svhn.label_to_one_hot_y(1, 10).argmax() == 0


def test_the_tensorflow_stand_in_of_the_harness_evaluates_like_a_session():
    import sys as _sys
    _sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "tflearn_programs"))
    try:
        from tf_standin import Session, placeholder
    finally:
        _sys.path.pop(0)
    x = placeholder(torch.float32, shape=())
    y = tflearn.leaky_relu(x, alpha=0.2)  # a symbol: computed when the session runs
    assert Session().run(y, feed_dict={x: -5}) == pytest.approx(-1.0)
    p, t = placeholder(shape=[None, 1]), placeholder(shape=[None, 1])
    metric = tflearn.metrics.accuracy()
    metric.build(p, t)
    value = Session().run(metric.tensor, feed_dict={p: [[1.0], [-1.0]], t: [[1.0], [1.0]]})
    assert metric.tensor.m_name == "binary_acc" and value == pytest.approx(0.5)


# ----------------------------------------------------------------------------------- export (issue 25)
def _cnn():
    prep = tflearn.ImagePreprocessing()
    prep.add_featurewise_zero_center(mean=0.5)
    net = tflearn.input_data(shape=[None, 12, 12, 1], data_preprocessing=prep)
    net = tflearn.conv_2d(net, 4, 3, activation="relu")
    net = tflearn.max_pool_2d(net, 2)
    net = tflearn.dropout(net, 0.5)
    return tflearn.DNN(tflearn.regression(tflearn.fully_connected(net, 3, activation="softmax")))


def test_export_to_torch_export_matches_predict(tmp_path):
    model = _cnn()
    model.net.train()
    result = model.export(str(tmp_path / "model.pt2"))
    assert model.net.training  # exported in evaluation mode, the model's own mode given back
    assert result.format == "torch.export" and result.max_abs_difference <= 1e-5
    program = torch.export.load(str(tmp_path / "model.pt2")).module()
    x = np.random.rand(7, 12, 12, 1).astype(np.float32)  # another batch size than the traced one
    np.testing.assert_allclose(program(torch.from_numpy(x)).detach().numpy(), model.predict(x), atol=1e-5)
    with pytest.raises(ValueError, match="export path"):
        model.export(str(tmp_path / "model.txt"))


def test_export_to_onnx_matches_predict(tmp_path):
    pytest.importorskip("onnxscript")
    onnxruntime = pytest.importorskip("onnxruntime")
    model = _cnn()
    result = model.export(str(tmp_path / "model.onnx"))
    assert result.format == "onnx" and result.max_abs_difference <= 1e-5
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    x = np.random.rand(5, 12, 12, 1).astype(np.float32)
    out = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(out, model.predict(x), atol=1e-5)
    assert not list(tmp_path.glob(".*part*"))  # the file is written atomically
