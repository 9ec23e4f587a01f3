"""The ``deepscope`` command, run in-process through ``main([...])`` (plus one real subprocess)."""
from __future__ import annotations

import subprocess
import sys
import types

import numpy as np
import pytest
import torch

import deepscope as tflearn
from deepscope.cli import commands
from deepscope.cli.main import main

X = np.array([[0., 0.], [0., 1.], [1., 0.], [1., 1.]], dtype=np.float32)
Y = np.array([[0.], [1.], [1.], [1.]], dtype=np.float32)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for run_id, lr in (("first", 1.0), ("second", 0.5)):
        torch.manual_seed(0)
        net = tflearn.input_data(shape=[None, 2])
        net = tflearn.fully_connected(net, 1, activation="sigmoid")
        net = tflearn.regression(net, optimizer="sgd", learning_rate=lr, loss="mean_square")
        tflearn.DNN(net, tensorboard_dir=root).fit(X, Y, n_epoch=2, validation_set=(X, Y), run_id=run_id)
    return root


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_everywhere(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("demo", "tutorial", "datasets", "runs", "tensorboard"):
        assert command in out
        assert run(capsys, command, "--help")[0] == 0
    for argv in (("runs", "compare", "--help"), ("datasets", "download", "--help"), ("tutorial", "run", "--help")):
        code, out, _ = run(capsys, *argv)
        assert code == 0 and "usage: deepscope" in out


def test_bad_usage_exits_2(capsys):
    assert run(capsys, )[0] == 2
    assert run(capsys, "nope")[0] == 2
    assert run(capsys, "runs")[0] == 2  # no action: prints the help
    code, _, err = run(capsys, "runs", "compare")
    assert code == 2 and "required" in err


def test_runs_list_show_compare(capsys, root, tmp_path):
    code, out, _ = run(capsys, "runs", "list", "--root", str(root))
    assert code == 0 and "first" in out and "second" in out and "val_loss" in out
    code, out, _ = run(capsys, "runs", "show", "first", "--root", str(root))
    assert code == 0 and "learning_rate: 1.0" in out and "metrics.csv" in out and "final metrics" in out
    events = next(line for line in out.splitlines() if line.strip().startswith("events:"))
    assert "train/ (1 file)" in events and "hparams/ (1 file)" in events and len(events) <= 100
    plot = tmp_path / "curves.png"
    code, out, _ = run(capsys, "runs", "compare", "first", "second", "--root", str(root), "--plot", str(plot))
    assert code == 0 and " lr" in out and "training.learning_rate" not in out and plot.stat().st_size > 0
    code, out, _ = run(capsys, "runs", "compare", "first", "second", "--root", str(root), "--metric", "val_loss")
    assert code == 0 and out.splitlines()[1].split()[:2] == ["run", "val_loss"]


def test_runs_errors(capsys, root, tmp_path):
    code, _, err = run(capsys, "runs", "show", "missing", "--root", str(root))
    assert code == 2 and "no such run" in err and "first" in err
    code, _, err = run(capsys, "runs", "compare", "first", "--metric", "bogus", "--root", str(root))
    assert code == 2 and "bogus" in err
    code, out, _ = run(capsys, "runs", "list", "--root", str(tmp_path / "empty"))
    assert code == 0 and "no runs" in out


def test_tensorboard_dry_run(capsys, root, tmp_path):
    code, out, _ = run(capsys, "tensorboard", "--dry-run", "--logdir", str(root), "--port", "6010")
    assert code == 0
    assert "-m tensorboard.main --logdir" in out and str(root) in out and "--port 6010" in out
    code, _, err = run(capsys, "tensorboard", "--logdir", str(tmp_path / "nothing"))
    assert code == 2 and "does not exist" in err


def test_datasets(capsys, tmp_path, monkeypatch):
    code, out, _ = run(capsys, "datasets", "list", "--data-dir", str(tmp_path))
    assert code == 0 and "mnist" in out and "cifar10" in out
    assert "kriegeskorte92" in out and "local copy only" in out  # the neural data are listed too
    code, out, _ = run(capsys, "datasets", "where")
    assert code == 0 and "datasets folder:" in out and "because:" in out
    code, out, _ = run(capsys, "datasets", "info", "mnist", "--data-dir", str(tmp_path))
    assert code == 0 and "train-images-idx3-ubyte.gz" in out and "sha256" in out
    code, _, err = run(capsys, "datasets", "info", "mnistt")
    assert code == 2 and "fashion_mnist" in err

    def offline(name, data_dir=None, verbose=True):
        raise tflearn.datasets.DownloadError("no server answered", unreachable=True)

    monkeypatch.setattr(tflearn.datasets, "download", offline)
    code, _, err = run(capsys, "datasets", "download", "mnist", "--data-dir", str(tmp_path))
    assert code == 1 and "no server answered" in err


@pytest.fixture
def tutorials(tmp_path, monkeypatch):
    folder = tmp_path / "tutorials"
    folder.mkdir()
    (folder / "00_hello.py").write_text('"""Tutorial 0: hello."""\nimport sys\n'
                                        f'open({str(tmp_path / "argv.txt")!r}, "w").write(" ".join(sys.argv[1:]))\n')
    (folder / "01_second_step.py").write_text('"""Tutorial 1: second."""\n')
    (folder / "helper.py").write_text("")
    monkeypatch.setenv("DEEPSCOPE_TUTORIALS", str(folder))
    return tmp_path


def test_tutorials_list_and_run(capsys, tutorials):
    code, out, _ = run(capsys, "tutorial", "list")
    assert max(len(line) for line in out.splitlines()) <= 100  # (titles cut at a word to fit)
    cut = commands._shorten("a long tutorial title " * 8, 60)
    assert len(cut) <= 60 and cut.endswith("...") and commands._shorten("short", 60) == "short"
    assert code == 0 and "00" in out and "hello" in out and "Tutorial 1: second." in out and "helper" not in out
    code, out, _ = run(capsys, "tutorial", "run", "0", "--quick")
    assert code == 0 and (tutorials / "argv.txt").read_text() == "--quick"
    assert main(["tutorial", "run", "hello"]) == 0 and (tutorials / "argv.txt").read_text() == ""
    assert commands._match_tutorial("second", commands.find_tutorials())["number"] == 1
    code, _, err = run(capsys, "tutorial", "run", "nothing")
    assert code == 2 and "00_hello, 01_second_step" in err


def test_repository_tutorials_are_found(monkeypatch):
    monkeypatch.delenv("DEEPSCOPE_TUTORIALS", raising=False)
    folder = commands.tutorials_dir()
    assert folder.name == "tutorials" and folder.parent.name == "examples"
    if not folder.is_dir():
        pytest.skip("no examples/tutorials next to the package")
    assert all(t["title"] for t in commands.find_tutorials())


def test_demo(capsys, monkeypatch):
    calls = []
    fake = types.ModuleType("deepscope.demo")
    fake.main = lambda quick=False, **options: calls.append((quick, options)) or {"out": "x"}
    monkeypatch.setitem(sys.modules, "deepscope.demo", fake)
    assert run(capsys, "demo", "--quick")[0] == 0 and calls == [(True, {})]
    assert run(capsys, "demo", "--out", "pics")[0] == 0 and calls[-1] == (False, {"out": "pics"})
    monkeypatch.setitem(sys.modules, "deepscope.demo", None)  # as if deepscope/demo.py were missing
    code, _, err = run(capsys, "demo")
    assert code == 1 and "not part of this installation" in err


def test_python_m_deepscope_help():
    result = subprocess.run([sys.executable, "-m", "deepscope", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage: deepscope" in result.stdout and "tensorboard" in result.stdout


TRAIN_SCRIPT = '''
import os, sys
import numpy as np
import deepscope as tflearn
from deepscope.callbacks import Callback
from deepscope.models.fit_state import resuming_named_runs

class CrashAfter(Callback):  # the "kill": the first run dies at the end of epoch 3
    def on_epoch_end(self, state):
        if state.epoch == 3 and not resuming_named_runs():
            os._exit(9)

tflearn.set_seed(0)
net = tflearn.input_data(shape=[None, 4])
net = tflearn.fully_connected(net, 8, activation="relu")
net = tflearn.fully_connected(net, 2, activation="softmax")
model = tflearn.DNN(tflearn.regression(net), tensorboard_dir=sys.argv[1])
X = np.random.RandomState(0).rand(64, 4).astype("float32")
Y = np.eye(2)[(X.sum(1) > 2).astype(int)]
model.fit(X, Y, n_epoch=6, batch_size=16, run_id="killed", checkpoint_every=4, callbacks=CrashAfter())
model.save(os.path.join(sys.argv[1], "final.safetensors"))
'''


def test_resume_command_continues_a_killed_script(tmp_path, capsys):
    script = tmp_path / "train.py"
    script.write_text(TRAIN_SCRIPT)
    first = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True)
    assert first.returncode == 9
    assert not (tmp_path / "final.safetensors").exists()
    code = main(["resume", str(script), str(tmp_path)])
    assert code == 0
    assert "deepscope.cli.resume_script" in capsys.readouterr().out
    rows = (tmp_path / "killed" / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3", "4", "5", "6"]  # one folder, no repeats
    model = tflearn.load(tmp_path / "final.safetensors")
    assert model.step == 24 and model.epoch == 6


def test_resume_command_needs_a_script(capsys):
    code, _, err = run(capsys, "resume", "no_such_script.py")
    assert code == 2 and "no script" in err


def test_runs_list_shows_a_studys_trials_with_their_values(tmp_path):
    from deepscope.sweep import Fit, Study

    x = np.random.default_rng(0).normal(size=(40, 4)).astype("float32")
    y = np.eye(2, dtype="float32")[np.arange(40) % 2]

    def build(lr):
        net = tflearn.input_data(shape=[None, 4])
        return tflearn.regression(tflearn.fully_connected(net, 2, activation="softmax"), learning_rate=lr)

    Study("grid", Fit(build, x, y, n_epoch=1), {"lr": [0.01, 0.1]}, seeds=(0, 1), root=tmp_path / "runs",
          verbose=False).run()
    for folder in (tmp_path / "runs", tmp_path / "runs" / "grid"):
        out = subprocess.run([sys.executable, "-m", "deepscope", "runs", "list", str(folder)], capture_output=True,
                             text=True, check=True).stdout
        assert "lr=0.01_seed=0-" in out and "lr=0.1_seed=1-" in out and "no runs" not in out  # (folder names)
        assert max(len(line) for line in out.splitlines()) <= 100
