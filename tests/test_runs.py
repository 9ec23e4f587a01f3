"""Listing, showing, comparing and plotting run folders (deepscope.runs)."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch

import deepscope as tflearn
from deepscope.runs import compare_runs, list_runs, plot_runs, read_metrics, resolve_run, show_run
from deepscope.runs.compare import flatten_config
from deepscope.runs.render import format_value, plain_table, print_table

X = np.array([[0., 0.], [0., 1.], [1., 0.], [1., 1.]] * 2, dtype=np.float32)
Y = np.array([[0.], [1.], [1.], [1.]] * 2, dtype=np.float32)


def fit_or(root, run_id, learning_rate=1.0, n_epoch=3, hidden=4):
    torch.manual_seed(0)
    net = tflearn.input_data(shape=[None, 2])
    net = tflearn.fully_connected(net, hidden, activation="tanh")
    net = tflearn.fully_connected(net, 1, activation="sigmoid")
    net = tflearn.regression(net, optimizer="sgd", learning_rate=learning_rate, loss="mean_square")
    model = tflearn.DNN(net, tensorboard_dir=root)
    model.fit(X, Y, n_epoch=n_epoch, batch_size=4, validation_set=(X, Y), show_metric=True, run_id=run_id)
    return model


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    fit_or(root, "alpha", learning_rate=1.0, n_epoch=3)
    fit_or(root, "beta", learning_rate=0.1, n_epoch=4, hidden=6)
    (root / "not_a_run").mkdir()
    return root


def test_list_runs(root):
    runs = list_runs(root)
    assert [r["id"] for r in runs] == ["alpha", "beta"]
    assert [r["epochs"] for r in runs] == [3, 4] and [r["steps"] for r in runs] == [6, 8]
    assert set(runs[0]["final"]) == {"loss", "acc", "val_loss", "val_acc"}
    assert list_runs(root / "missing") == []


def test_final_metrics_match_history(tmp_path):
    model = fit_or(tmp_path, "one")
    (run,) = list_runs(tmp_path)
    assert run["final"] == pytest.approx(model.history[-1])


def test_read_metrics_types(root):
    rows = read_metrics("alpha", root)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert isinstance(rows[0]["step"], int) and isinstance(rows[0]["loss"], float)


def test_show_run(root):
    info = show_run("alpha", root)
    assert info["config"]["training"]["learning_rate"] == 1.0
    assert info["config"]["fit"]["n_epoch"] == 3
    files = info["files"]
    assert files["config"].endswith("config.json") and files["metrics"].endswith("metrics.csv")
    assert {Path(f).parent.name for f in files["events"]} == {"train", "validation", "hparams"}  # Keras' layout
    assert files["checkpoints"] == []


def test_resolve_run_by_id_part_and_path(root):
    assert resolve_run("alpha", root) == root / "alpha"
    assert resolve_run("alp", root).name == "alpha"
    assert resolve_run("eta", root).name == "beta"
    assert resolve_run(root / "beta").name == "beta"
    with pytest.raises(FileNotFoundError, match="runs there: alpha, beta"):
        resolve_run("gamma", root)
    assert resolve_run("a", root).name == "alpha"  # a unique start wins


def test_resolve_run_ambiguous(tmp_path):
    for name in ("exp_1", "exp_2"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="matches 2: exp_1, exp_2"):
        resolve_run("exp", tmp_path)
    assert resolve_run("_2", tmp_path).name == "exp_2"
    assert show_run("exp_1", tmp_path)["final"] == {}


def test_resolve_run_uses_environment_root(root, monkeypatch):
    monkeypatch.setenv("DEEPSCOPE_RUNS", str(root))
    assert show_run("beta")["id"] == "beta"


def test_compare_runs_shows_metrics_and_differing_config(root):
    table = compare_runs(["alpha", "beta"], root=root)
    assert table.columns[:5] == ["run", "loss", "acc", "val_loss", "val_acc"]
    assert "lr" in table.differing and "epochs" in table.differing and "layers" in table.differing
    assert "optimizer" not in table.differing and "batch" not in table.differing
    full = compare_runs(["alpha", "beta"], root=root, all_settings=True)
    assert "training.learning_rate" in full.differing and "fit.n_epoch" in full.differing
    assert "net.FullyConnected.n_units" in full.differing
    assert "device" not in full.differing and "training.optimizer" not in full.differing
    rows = table.to_dicts()
    assert [r["lr"] for r in rows] == [1.0, 0.1]
    assert "alpha" in str(table) and "fc4 > fc1" in str(table) and max(map(len, str(table).splitlines())) < 100


def test_compare_runs_sorts_by_one_metric(root):
    finals = {r["id"]: r["final"]["loss"] for r in list_runs(root)}
    table = compare_runs(["alpha", "beta"], metric="loss", root=root)
    assert table.columns[:2] == ["run", "loss"]
    assert [row[0] for row in table.rows] == sorted(finals, key=finals.get)
    with pytest.raises(ValueError, match="val_acc"):
        compare_runs(["alpha"], metric="nope", root=root)


def test_flatten_config():
    config = {"network": {"nodes": [{"name": "fc", "fn": "fully_connected", "args": {"n_units": 3, "name": "fc"}}]},
              "training": {"optimizer": "adam", "extra": {}}, "fit": {"shape": [1, 2]}}
    assert flatten_config(config) == {"net.fc": "fully_connected", "net.fc.n_units": 3,
                                      "training.optimizer": "adam", "fit.shape": "[1, 2]"}


@pytest.mark.parametrize("suffix, layout", [(".png", "runs"), (".svg", "metrics")])
def test_plot_runs(root, tmp_path, suffix, layout):
    path = plot_runs(["alpha", "beta"], tmp_path / f"curves{suffix}", root=root, layout=layout)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in data
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically


def test_plot_runs_errors(root, tmp_path):
    with pytest.raises(ValueError, match="png"):
        plot_runs(["alpha"], tmp_path / "curves.jpg", root=root)
    with pytest.raises(ValueError, match="acc"):
        plot_runs(["alpha"], tmp_path / "curves.png", metrics=["r2"], root=root)


def test_tables_plain_and_rich():
    rows = [["a", 0.5, None], ["bb", 0.000123, 3]]
    text = plain_table(["run", "loss", "n"], rows)
    assert text.splitlines()[0].split() == ["run", "loss", "n"]
    assert "0.5000" in text and "0.000123" in text and "-" in text
    assert format_value(12345.6) == "1.235e+04"

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    print_table(["run", "loss"], [["a", 0.5]], title="Runs", file=out)
    assert "━" in out.getvalue() or "─" in out.getvalue()
    plain = io.StringIO()
    print_table(["run", "loss"], [["a", 0.5]], file=plain)
    assert plain.getvalue().startswith("run")


def test_a_wide_comparison_fits_in_100_columns(tmp_path):
    """The demo's three runs (OR, XOR, a CNN): metrics, then the differing settings wrapped per run."""
    X = np.random.rand(32, 8, 8, 1).astype(np.float32)
    Y = np.eye(2, dtype=np.float32)[np.arange(32) % 2]
    for run_id, layers in (("or", 0), ("xor", 1), ("cnn", 2)):
        net = tflearn.input_data([None, 8, 8, 1])
        if layers == 2:
            for width in (16, 32):
                net = tflearn.conv_2d(net, width, 3, activation="relu")
                net = tflearn.batch_normalization(net)
                net = tflearn.max_pool_2d(net, 2)
            net = tflearn.fully_connected(net, 128, activation="relu")
            net = tflearn.dropout(net, 0.5)
        elif layers == 1:
            net = tflearn.fully_connected(net, 4, activation="tanh")
        net = tflearn.fully_connected(net, 2, activation="softmax")
        tflearn.DNN(tflearn.regression(net), tensorboard_dir=tmp_path).fit(X, Y, n_epoch=1, run_id=run_id)
    text = str(compare_runs(["or", "xor", "cnn"], root=tmp_path))
    assert max(map(len, text.splitlines())) <= 100 and "conv16" in text and "tanh" in text


def test_terminal_progress_fits_80_to_100_columns_and_keeps_the_bar():
    import types

    from deepscope.callbacks.base import TrainingState
    from deepscope.callbacks.progress import FIXED_COLUMNS, ProgressCallback
    progress = ProgressCallback(show_metric=True, metric=types.SimpleNamespace(name="acc"))
    state = TrainingState(model=None, n_epoch=3, steps_per_epoch=100, batch_size=16, n_samples=1600, epoch=3,
                          step=300, epoch_logs={"loss": 1.10949, "acc": 0.3544, "val_loss": 1.1387, "val_acc": 0.3325})
    progress.start, progress.first_step = 0.0, 0
    for width, kept in ((80, "val_loss"), (100, "val_acc"), (200, "val_acc")):
        progress.live = types.SimpleNamespace(console=types.SimpleNamespace(width=width))
        info = progress._info(state, now=10.0)
        assert FIXED_COLUMNS + len(info) <= min(width, 100)  # the bar's columns and the metrics, within the line
        assert info.startswith("loss 1.10949") and kept in info and " | " in info


def test_a_reused_run_id_says_where_the_run_went(tmp_path, capsys):
    from deepscope.callbacks.run_folder import Run
    first, second = Run(tmp_path, "exp"), Run(tmp_path, "exp")
    assert first.path.name == "exp" and second.path.name == "exp_1"
    said = capsys.readouterr().out
    assert "run 'exp' exists" in said and "this run is 'exp_1'" in said
