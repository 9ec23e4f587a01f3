"""The TFlearn-style API end to end: build, fit, predict, evaluate, save, load, callbacks."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from torch import nn

import deepscope as tflearn
from deepscope.callbacks import Callback, EarlyStopping

OR = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
Y_OR = [[0.0], [1.0], [1.0], [1.0]]
Y_XOR = [[0.0], [1.0], [1.0], [0.0]]


def seed_or_network(hidden=None, seed=0):
    """The seed's OR network (004): one sigmoid unit, SGD with learning rate 2, mean square."""
    tflearn.set_seed(seed)
    net = tflearn.input_data(shape=[None, 2])
    if hidden:
        net = tflearn.fully_connected(net, hidden, activation="tanh")
    net = tflearn.fully_connected(net, 1, activation="sigmoid")
    return tflearn.regression(net, optimizer="sgd", learning_rate=2, loss="mean_square")


def test_seed_or_listing_learns_or(capsys):
    model = tflearn.DNN(seed_or_network())
    model.fit(OR, Y_OR, n_epoch=2000, snapshot_epoch=False)
    pred = model.predict(OR)
    assert pred.shape == (4, 1)
    assert pred[0, 0] < 0.1 and (pred[1:, 0] > 0.9).all()
    assert "Training Step: 2000" in capsys.readouterr().out
    assert isinstance(model.net, nn.Module)


def test_xor_needs_a_hidden_layer():
    single = tflearn.DNN(seed_or_network())
    single.fit(OR, Y_XOR, n_epoch=1000, snapshot_epoch=False)
    wrong = ((single.predict(OR) > 0.5) != np.array(Y_XOR, dtype=bool)).sum()
    assert wrong >= 1  # a single unit cannot separate XOR
    hidden = tflearn.DNN(seed_or_network(hidden=4))
    hidden.fit(OR, Y_XOR, n_epoch=1000, snapshot_epoch=False)
    np.testing.assert_array_equal(hidden.predict(OR) > 0.5, np.array(Y_XOR, dtype=bool))


def test_same_seed_gives_same_weights_and_training():
    a = tflearn.DNN(seed_or_network(hidden=3, seed=7))
    b = tflearn.DNN(seed_or_network(hidden=3, seed=7))
    for pa, pb in zip(a.net.parameters(), b.net.parameters()):
        assert torch.equal(pa, pb)
    a.fit(OR, Y_XOR, n_epoch=20, snapshot_epoch=False, batch_size=2, seed=3)
    b.fit(OR, Y_XOR, n_epoch=20, snapshot_epoch=False, batch_size=2, seed=3)
    for pa, pb in zip(a.net.parameters(), b.net.parameters()):
        assert torch.equal(pa, pb)
    c = tflearn.DNN(seed_or_network(hidden=3, seed=8))
    assert not torch.equal(next(c.net.parameters()), next(a.net.parameters()))


def classification_data(n=300, features=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (classes, features))
    labels = rng.integers(0, classes, n)
    X = (centers[labels] + rng.normal(0, 1, (n, features))).astype("float32")
    return X, tflearn.data_utils.to_categorical(labels, classes), labels


def mlp(features=8, classes=3, **regression_kwargs):
    net = tflearn.input_data(shape=[None, features])
    net = tflearn.fully_connected(net, 16, activation="relu", regularizer="L2", weight_decay=1e-4)
    net = tflearn.dropout(net, 0.8)
    net = tflearn.fully_connected(net, classes, activation="softmax")
    return tflearn.regression(net, **regression_kwargs)


@pytest.mark.parametrize("batch_size", [1, 32, 10_000])  # stochastic, mini-batch, full batch
def test_gradient_descent_flavours_learn(batch_size):
    X, Y, labels = classification_data()
    model = tflearn.DNN(mlp(learning_rate=0.01))
    n_epoch = 3 if batch_size == 1 else 40
    model.fit(X, Y, n_epoch=n_epoch, batch_size=batch_size, show_metric=True, snapshot_epoch=False)
    expected_steps = n_epoch * int(np.ceil(len(X) / min(batch_size, len(X))))
    assert model.step == expected_steps
    assert model.evaluate(X, Y)[0] > 0.9
    assert (model.predict_label(X)[:, 0] == labels).mean() > 0.9


def test_validation_history_run_folder_and_tensorboard(tmp_path):
    X, Y, _ = classification_data()
    model = tflearn.DNN(mlp(), tensorboard_dir=tmp_path)
    model.fit(X, Y, n_epoch=3, validation_set=0.2, show_metric=True, run_id="exp1")
    assert len(model.history) == 3
    assert set(model.history[-1]) >= {"loss", "acc", "val_loss", "val_acc"}
    run = tmp_path / "exp1"
    config = json.loads((run / "config.json").read_text())
    assert config["training"]["optimizer"] == "adam" and config["fit"]["n_epoch"] == 3
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert float(rows[-1]["val_acc"]) == pytest.approx(model.history[-1]["val_acc"])
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "train"))
    events.Reload()
    assert {"Loss", "Accuracy"} <= set(events.Tags()["scalars"])
    assert len(events.Scalars("Loss")) == 3


def test_fit_twice_continues_training():
    X, Y, _ = classification_data()
    model = tflearn.DNN(mlp())
    model.fit(X, Y, n_epoch=2, snapshot_epoch=False)
    first_loss = model.history[-1]["loss"]
    model.fit(X, Y, n_epoch=5, snapshot_epoch=False)
    assert model.epoch == 7 and len(model.history) == 7
    assert model.history[-1]["loss"] < first_loss


def test_save_and_load_round_trip(tmp_path):
    X, Y, _ = classification_data()
    model = tflearn.DNN(mlp())
    model.fit(X, Y, n_epoch=2, snapshot_epoch=False)
    path = tmp_path / "model.tflearn"
    model.save(path)
    rebuilt = tflearn.load(path)  # without the code that built the network
    np.testing.assert_array_equal(rebuilt.predict(X), model.predict(X))
    same_arch = tflearn.DNN(mlp())
    same_arch.load(path)
    np.testing.assert_array_equal(same_arch.predict(X), model.predict(X))
    assert rebuilt.step == model.step


def test_get_and_set_weights():
    net = tflearn.input_data(shape=[None, 2])
    fc = tflearn.fully_connected(net, 3)
    model = tflearn.DNN(tflearn.regression(fc, loss="mean_square"))
    weights = model.get_weights(fc.W)
    assert weights.shape == (3, 2)
    model.set_weights(fc.W, np.ones((3, 2)))
    assert (model.get_weights(fc.W) == 1).all()
    with pytest.raises(ValueError, match="shape"):
        model.set_weights(fc.W, np.ones((2, 3)))


def test_summary_lists_shapes_and_parameters():
    model = tflearn.DNN(mlp())
    text = model.summary(print_fn=None)
    assert "[None, 16]" in text and "FullyConnected_1" in text
    assert f"Total params: {8 * 16 + 16 + 16 * 3 + 3:,}" in text


def test_early_stopping_and_callback_events():
    X, Y, _ = classification_data()

    class Recorder(Callback):
        def __init__(self):
            self.events = []

        def on_train_begin(self, state):
            self.events.append("begin")

        def on_epoch_end(self, state):
            self.events.append(("epoch", state.epoch))

        def on_train_end(self, state):
            self.events.append("end")

    recorder = Recorder()
    stopper = EarlyStopping(monitor="val_loss", patience=0, min_delta=10.0)  # never "improves" by 10
    model = tflearn.DNN(mlp())
    model.fit(X, Y, n_epoch=50, validation_set=0.2, callbacks=[stopper, recorder])
    assert stopper.stopped_epoch == 2 and model.epoch == 2
    assert recorder.events == ["begin", ("epoch", 1), ("epoch", 2), "end"]


def test_stop_iteration_from_a_callback_stops_training():
    class StopAfterOne(Callback):
        def on_epoch_end(self, state):
            raise StopIteration

    X, Y, _ = classification_data()
    model = tflearn.DNN(mlp())
    model.fit(X, Y, n_epoch=10, callbacks=StopAfterOne(), snapshot_epoch=False)
    assert model.epoch == 1


def test_own_module_in_dnn():
    X, Y, labels = classification_data()
    module = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    model = tflearn.DNN(module, loss="softmax_categorical_crossentropy", optimizer="adam", learning_rate=0.01)
    model.fit(X, Y, n_epoch=30, snapshot_epoch=False)
    assert (model.predict(X).argmax(1) == labels).mean() > 0.9


def test_integer_labels_and_fused_loss_match_one_hot():
    X, Y, labels = classification_data()
    tflearn.set_seed(1)
    a = tflearn.DNN(mlp())
    tflearn.set_seed(1)
    b = tflearn.DNN(mlp())
    a.fit(X, Y, n_epoch=2, seed=5, snapshot_epoch=False)
    b.fit(X, labels, n_epoch=2, seed=5, snapshot_epoch=False)
    for pa, pb in zip(a.net.parameters(), b.net.parameters()):
        torch.testing.assert_close(pa, pb)


def test_regularizer_adds_to_the_loss():
    tflearn.set_seed(0)
    plain = tflearn.DNN(mlp())
    tflearn.set_seed(0)
    net = tflearn.input_data(shape=[None, 8])
    net = tflearn.fully_connected(net, 16, activation="relu", regularizer="L2", weight_decay=10.0)
    net = tflearn.dropout(net, 0.8)
    net = tflearn.fully_connected(net, 3, activation="softmax")
    heavy = tflearn.DNN(tflearn.regression(net))
    X, Y, _ = classification_data(n=20)
    x, y = heavy.prepare_data(X, Y, "X", "Y")
    _, loss_heavy = heavy.compute_loss(x, y)
    _, loss_plain = plain.compute_loss(x, y)
    w = heavy.net.layers["FullyConnected"].weight
    expected_penalty = 10.0 * (w**2).sum() / 2
    with torch.no_grad():
        assert float(loss_heavy - loss_plain) == pytest.approx(float(expected_penalty - 1e-4 * (w**2).sum() / 2), rel=1e-4)


def test_trainable_false_freezes_a_layer():
    net = tflearn.input_data(shape=[None, 2])
    frozen = tflearn.fully_connected(net, 4, activation="relu", trainable=False)
    out = tflearn.fully_connected(frozen, 1, activation="sigmoid")
    model = tflearn.DNN(tflearn.regression(out, optimizer="sgd", learning_rate=1.0, loss="mean_square"))
    before = frozen.W.detach().clone()
    model.fit(OR, Y_OR, n_epoch=5, snapshot_epoch=False)
    assert torch.equal(before, frozen.W.detach())


def test_checkpoint_path_and_max_checkpoints(tmp_path):
    X, Y, _ = classification_data()
    model = tflearn.DNN(mlp(), checkpoint_path=str(tmp_path / "ckpt" / "model"), max_checkpoints=2)
    model.fit(X, Y, n_epoch=4, batch_size=100)
    kept = sorted(p.name for p in (tmp_path / "ckpt").glob("model-*.safetensors"))
    assert kept == ["model-12.safetensors", "model-9.safetensors"]
    restored = tflearn.load(tmp_path / "ckpt" / "model-12.safetensors")
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))


def test_dry_run_names_the_miswired_layer_of_an_own_module():
    X, Y, _ = classification_data()
    module = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(32, 3))
    model = tflearn.DNN(module, loss="softmax_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"layer '2' \(Linear\) cannot take its input of shape \[2, 16\]"):
        model.fit(X, Y, n_epoch=1)
    wrong_width = tflearn.DNN(nn.Sequential(nn.Linear(8, 4)), loss="softmax_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"targets of shape \[4\] per sample"):
        wrong_width.fit(X, Y, n_epoch=1)


def test_tflearn_dict_inputs_and_targets():
    """TFlearn's examples feed dicts keyed by layer names: fit({'input': X}, {'target': Y})."""
    tflearn.set_seed(0)
    a = tflearn.input_data(shape=[None, 2], name="a")
    b = tflearn.input_data(shape=[None, 2], name="b")
    net = tflearn.merge([tflearn.fully_connected(a, 4, activation="tanh"),
                         tflearn.fully_connected(b, 4, activation="tanh")], "concat")
    net = tflearn.fully_connected(net, 1, activation="sigmoid")
    net = tflearn.regression(net, optimizer="sgd", learning_rate=2, loss="mean_square", name="target")
    model = tflearn.DNN(net)
    X = np.array(OR, dtype="float32")
    model.fit({"b": X[:, ::-1], "a": X}, {"target": Y_OR}, n_epoch=300, snapshot_epoch=False)
    np.testing.assert_array_equal(model.predict({"a": X, "b": X[:, ::-1]}) > 0.5, np.array(Y_OR, dtype=bool))
    with pytest.raises(ValueError, match="one array per input_data name"):
        model.fit({"a": X, "c": X}, Y_OR, n_epoch=1)
    with pytest.raises(ValueError, match="naming the regression layer"):
        model.fit({"a": X, "b": X}, {"y": Y_OR}, n_epoch=1)


def test_tflearn_linear_regression_example_with_single_unit():
    """TFlearn's own linear regression example: input_data(shape=[None]) -> single_unit."""
    X = [3.3, 4.4, 5.5, 6.71, 6.93, 4.168, 9.779, 6.182, 7.59, 2.167, 7.042, 10.791, 5.313, 7.997, 5.654, 9.27, 3.1]
    Y = [1.7, 2.76, 2.09, 3.19, 1.694, 1.573, 3.366, 2.596, 2.53, 1.221, 2.827, 3.465, 1.65, 2.904, 2.42, 2.94, 1.3]
    input_ = tflearn.input_data(shape=[None])
    linear = tflearn.single_unit(input_)
    regression = tflearn.regression(linear, optimizer="sgd", loss="mean_square", metric="R2", learning_rate=0.01)
    m = tflearn.DNN(regression)
    m.fit(X, Y, n_epoch=1000, show_metric=True, snapshot_epoch=False)
    slope, intercept = np.polyfit(X, Y, 1)  # the least-squares answer
    assert m.get_weights(linear.W)[0] == pytest.approx(slope, abs=0.05)
    assert m.get_weights(linear.b)[0] == pytest.approx(intercept, abs=0.3)
    assert m.predict([3.2, 3.3]).shape == (2,)
    assert m.history[-1]["r2"] > 0.6  # the R2 metric, as TFlearn shows it


def test_save_and_load_with_fitted_preprocessing_and_augmentation(tmp_path):
    """The preprocessing statistics computed by fit() travel with the model file."""
    rng = np.random.default_rng(0)
    X = rng.random((64, 8, 8, 3), dtype=np.float32) * 5 + 2
    Y = tflearn.data_utils.to_categorical(rng.integers(0, 2, 64), 2)
    prep = tflearn.ImagePreprocessing()
    prep.add_featurewise_zero_center()
    prep.add_featurewise_stdnorm(per_channel=True)
    aug = tflearn.ImageAugmentation()
    aug.add_random_flip_leftright()
    net = tflearn.input_data(shape=[None, 8, 8, 3], data_preprocessing=prep, data_augmentation=aug)
    net = tflearn.conv_2d(net, 4, 3, activation="relu")
    net = tflearn.fully_connected(net, 2, activation="softmax")
    model = tflearn.DNN(tflearn.regression(net))
    model.fit(X, Y, n_epoch=1, snapshot_epoch=False)
    model.save(tmp_path / "m.safetensors")
    loaded = tflearn.load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.net.inputs[0].module.preprocessing.is_fitted


def test_every_run_folder_holds_the_trained_model(tmp_path):
    X, Y, _ = classification_data()
    model = tflearn.DNN(mlp(), tensorboard_dir=tmp_path)
    model.fit(X, Y, n_epoch=2, run_id="kept", snapshot_epoch=False)
    again = tflearn.load(tmp_path / "kept" / "model.safetensors")
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    net = tflearn.input_data(shape=[None, 8])
    net = tflearn.fully_connected(net, 3, activation=lambda x: x.clamp(min=0))  # not JSON: the fit still works
    plain = tflearn.DNN(tflearn.regression(net), tensorboard_dir=tmp_path)
    with pytest.warns(RuntimeWarning, match="model file was not written"):
        plain.fit(X, Y, n_epoch=1, run_id="lambda", snapshot_epoch=False)
    assert not (tmp_path / "lambda" / "model.safetensors").exists()
