"""TensorBoard verbose levels and hyperparameters, read back with TensorBoard's own reader."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

import deepscope as tflearn
from deepscope.callbacks.tensorboard import TensorBoardDetails, hyperparameters, probe_activations

X = np.array([[0., 0.], [0., 1.], [1., 0.], [1., 1.]] * 4, dtype=np.float32)
Y = np.array([[0.], [1.], [1.], [1.]] * 4, dtype=np.float32)


def or_model(tmp_path, verbose=0, dropout=False, learning_rate=1.0):
    torch.manual_seed(0)
    net = tflearn.input_data(shape=[None, 2])
    net = tflearn.fully_connected(net, 8, activation="relu")
    if dropout:
        net = tflearn.dropout(net, 0.5)
    net = tflearn.fully_connected(net, 1, activation="sigmoid")
    net = tflearn.regression(net, optimizer="sgd", learning_rate=learning_rate, loss="mean_square")
    return tflearn.DNN(net, tensorboard_dir=tmp_path / "runs", tensorboard_verbose=verbose)


def read(path) -> EventAccumulator:
    acc = EventAccumulator(str(path), size_guidance={"histograms": 0, "scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def kinds(acc: EventAccumulator) -> set[str]:
    return {tag.split("/")[0] for tag in acc.Tags()["histograms"]}


@pytest.mark.parametrize("verbose, expected", [
    (0, set()), (1, {"Gradients"}), (2, {"Gradients", "Weights"}), (3, {"Gradients", "Weights", "Activations"}),
])
def test_verbose_levels_write_their_histograms(tmp_path, verbose, expected):
    model = or_model(tmp_path, verbose)
    model.fit(X, Y, n_epoch=3, batch_size=4, validation_set=(X, Y), show_metric=True)
    acc = read(model.last_run.path / "train")
    assert kinds(acc) == expected
    scalars = set(acc.Tags()["scalars"])
    assert {"Loss", "Accuracy"} <= scalars and "Loss/Validation" not in scalars  # (validation: its own run)
    assert any(t.startswith("Sparsity/") for t in scalars) == (verbose == 3)
    assert len(list((model.last_run.path / "train").glob("events.out.tfevents.*"))) == 1  # one shared event file


def test_gradients_are_the_last_batch_and_recorded_first_and_last(tmp_path):
    model = or_model(tmp_path, verbose=1)
    model.fit(X, Y, n_epoch=5, batch_size=4)  # 4 steps an epoch; tiny epochs: rate-limited
    acc = read(model.last_run.path / "train")
    events = acc.Histograms("Gradients/FullyConnected/weight")
    assert [e.step for e in events] == [4, 20]  # first epoch, then the final state
    grad = model.net.layers["FullyConnected"].weight.grad  # the loop leaves the last step's gradients
    histo = events[-1].histogram_value
    assert histo.num == grad.numel()
    assert histo.sum == pytest.approx(float(grad.sum()), rel=1e-5, abs=1e-7)


def test_details_callback_every_epoch_and_own_writer(tmp_path):
    model = or_model(tmp_path, verbose=0)
    details = TensorBoardDetails(verbose=2, min_interval=0)
    model.fit(X, Y, n_epoch=3, batch_size=8, callbacks=details)
    train = model.last_run.path / "train"
    acc = read(train)  # a second event file in the run folder's training events
    assert [e.step for e in acc.Histograms("Weights/FullyConnected_1/bias")] == [2, 4, 6]
    assert len(list(train.glob("events.out.tfevents.*"))) == 2
    model.fit(X, Y, n_epoch=1, batch_size=8, callbacks=details)  # the callback can be reused
    assert [e.step for e in read(model.last_run.path / "train").Histograms("Weights/FullyConnected_1/bias")] == [8]


def test_activations_and_sparsity_match_a_probe_forward(tmp_path):
    model = or_model(tmp_path, verbose=3)
    model.fit(X, Y, n_epoch=2, batch_size=16, shuffle=False)
    acc = read(model.last_run.path / "train")
    outputs = probe_activations(model.net, [torch.as_tensor(X)])
    assert set(outputs) == {"FullyConnected", "FullyConnected_1"}  # the input layer is left out
    relu = outputs["FullyConnected"]
    assert acc.Scalars("Sparsity/FullyConnected")[-1].value == pytest.approx(float((relu == 0).float().mean()))
    assert acc.Histograms("Activations/FullyConnected")[-1].histogram_value.num == relu.numel()
    assert model.net.training is False


def test_details_do_not_change_training(tmp_path):
    predictions = []
    for verbose in (0, 3):
        model = or_model(tmp_path, verbose, dropout=True)
        model.fit(X, Y, n_epoch=4, batch_size=4, seed=1)
        predictions.append(model.predict(X))
    np.testing.assert_array_equal(predictions[0], predictions[1])


def test_verbose_zero_adds_no_batch_events(tmp_path):
    from deepscope.callbacks.run_logger import RunLogger

    model = or_model(tmp_path, verbose=0)
    logger = RunLogger(model, "x", {})
    assert logger.details is None
    assert logger.get_writer() is logger.get_writer()
    logger.get_writer().close()


def test_custom_module_network_records_activations(tmp_path):
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    model = tflearn.DNN(module, loss="mean_square", optimizer="sgd", metric=None, learning_rate=0.1,
                        tensorboard_dir=tmp_path / "runs", tensorboard_verbose=3)
    model.fit(X, Y, n_epoch=2, batch_size=8)
    tags = set(read(model.last_run.path / "train").Tags()["histograms"])
    assert {"Activations/0", "Activations/1", "Gradients/0/weight", "Weights/2/bias"} <= tags


def test_hparams_readable_by_tensorboard(tmp_path):
    model = or_model(tmp_path, verbose=0)
    model.fit(X, Y, n_epoch=2, batch_size=8, validation_set=(X, Y), show_metric=True)
    content = read(model.last_run.path / "hparams").PluginTagToContent("hparams")
    # no experiment summary: TensorBoard then builds the experiment from every run (values, metrics)
    assert set(content) == {"_hparams_/session_start_info", "_hparams_/session_end_info"}
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hp = start.session_start_info.hparams
    assert hp["optimizer"].string_value == "sgd"
    assert hp["learning_rate"].number_value == 1.0
    assert hp["batch_size"].number_value == 8 and hp["n_epoch"].number_value == 2
    assert hp["loss"].string_value == "mean_square"
    assert hp["shuffle"].WhichOneof("kind") == "bool_value" and hp["shuffle"].bool_value is True  # typed
    assert start.session_start_info.group_name == model.last_run.path.name  # one session per run
    hparams_run = read(model.last_run.path / "hparams")
    assert set(hparams_run.Tags()["scalars"]) == {"final/Loss", "final/Accuracy", "final/Loss/Validation",
                                                  "final/Accuracy/Validation"}
    assert hparams_run.Scalars("final/Loss/Validation")[0].value == pytest.approx(model.history[-1]["val_loss"])


def test_the_hparams_dashboard_lists_the_final_metrics_not_the_diagnostics(tmp_path):
    """TensorBoard's own HParams backend, on two runs with step diagnostics: one row per run, the
    hyperparameter that differs, and the final metrics only (every scalar under a session's folder is
    a metric: the sessions live in <run>/hparams, apart from the training events)."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import backend_context

    for learning_rate in (0.1, 1.0):
        model = or_model(tmp_path, verbose=0, learning_rate=learning_rate)
        model.fit(X, Y, n_epoch=2, batch_size=8, validation_set=(X, Y), show_metric=True, diagnostics=True,
                  run_id=f"lr{learning_rate}")
        assert any(t.startswith("diagnostics/") for t in read(model.last_run.path / "train").Tags()["scalars"])
    logdir = str(tmp_path / "runs")
    events = plugin_event_multiplexer.EventMultiplexer()
    events.AddRunsFromDirectory(logdir)
    events.Reload()
    provider = data_provider.MultiplexerDataProvider(events, logdir)
    hparams = backend_context.Context(base_plugin.TBContext(logdir=logdir, multiplexer=events, data_provider=provider))
    request = context.RequestContext()
    experiment = hparams.experiment_from_metadata(request, "", True, hparams.hparams_metadata(request, ""),
                                                  hparams.hparams_from_data_provider(request, "", None))
    metrics = {(m.name.tag, m.name.group) for m in experiment.metric_infos}
    assert metrics == {("final/Loss", ""), ("final/Accuracy", ""), ("final/Loss/Validation", ""),
                       ("final/Accuracy/Validation", "")}
    rates = next(h for h in experiment.hparam_infos if h.name == "learning_rate")
    assert (rates.domain_interval.min_value, rates.domain_interval.max_value) == (0.1, 1.0)  # numbers: a range


def test_hyperparameters_flatten_config():
    config = {"training": {"optimizer": "adam", "learning_rate": 0.01, "n_classes": None, "extra": {"beta1": 0.9}},
              "fit": {"n_epoch": 3, "batch_size": 32, "shuffle": True}, "clip_gradients": 5.0, "network": {"nodes": []}}
    assert hyperparameters(config) == {"optimizer": "adam", "learning_rate": 0.01,  # (n_classes None: left out)
                                       "extra.beta1": 0.9, "n_epoch": 3, "batch_size": 32, "shuffle": True,
                                       "clip_gradients": 5.0}
    config["trial"] = {"params": {"l2": 0.001, "units": 64}, "seed": 2}  # a study trial: its point and seed first
    assert list(hyperparameters(config))[:3] == ["l2", "units", "seed"] and hyperparameters(config)["seed"] == 2


def test_layer_settings_are_hyperparameters(tmp_path):
    net = tflearn.input_data(shape=[None, 2])
    net = tflearn.fully_connected(net, 8, activation="relu", regularizer="L2", weight_decay=0.01, name="hidden")
    net = tflearn.dropout(net, 0.8, name="drop")
    net = tflearn.fully_connected(net, 1, activation="sigmoid", name="out")
    model = tflearn.DNN(tflearn.regression(net, loss="binary_crossentropy"), tensorboard_dir=str(tmp_path))
    model.fit(X, Y, n_epoch=1, diagnostics=False)
    content = read(model.last_run.path / "hparams").PluginTagToContent("hparams")
    hp = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info.hparams
    assert hp["hidden.n_units"].number_value == 8 and hp["hidden.activation"].string_value == "relu"
    assert hp["hidden.regularizer"].string_value == "L2" and hp["hidden.weight_decay"].number_value == 0.01
    assert hp["drop.keep_prob"].number_value == 0.8 and "out.weight_decay" not in hp  # no penalty, no decay


def test_bad_verbose_is_a_clear_error():
    with pytest.raises(ValueError, match="verbose"):
        TensorBoardDetails(verbose=4)


def test_explicit_probe_batch(tmp_path):
    model = or_model(tmp_path, verbose=0)
    details = TensorBoardDetails(verbose=3, min_interval=0, probe=X[:3])
    model.fit(X, Y, n_epoch=2, batch_size=16, callbacks=[details])
    acc = read(model.last_run.path / "train")
    assert [e.histogram_value.num for e in acc.Histograms("Activations/FullyConnected")] == [24, 24]


def test_the_fast_record_writer_writes_the_same_bytes_as_tensorboards(tmp_path):
    """The C CRC-32C (google-crc32c) frames records exactly as tensorboard's pure-Python writer."""
    import io

    from tensorboard.summary.writer.record_writer import RecordWriter

    from deepscope.callbacks.tb_writer import FastRecordWriter

    for data in (b"", b"x", bytes(range(256)) * 7, b"event" * 999):
        fast, slow = io.BytesIO(), io.BytesIO()
        FastRecordWriter(fast).write(data)
        RecordWriter(slow).write(data)
        assert fast.getvalue() == slow.getvalue()


def test_validation_curves_are_a_sibling_run_with_the_training_tags(tmp_path):
    """Keras' layout: <run>/validation holds Loss and Accuracy, so TensorBoard overlays them."""
    model = or_model(tmp_path, verbose=0)
    model.fit(X, Y, n_epoch=3, batch_size=8, validation_set=(X, Y), show_metric=True)
    train = read(model.last_run.path / "train")
    validation = read(model.last_run.path / "validation")
    assert {"Loss", "Accuracy"} <= set(validation.Tags()["scalars"])
    assert len(validation.Scalars("Loss")) == len(train.Scalars("Loss")) == 3
    assert [e.value for e in validation.Scalars("Loss")] == pytest.approx([row["val_loss"] for row in model.history])
    assert [e.value for e in train.Scalars("Loss")] == pytest.approx([row["loss"] for row in model.history])
