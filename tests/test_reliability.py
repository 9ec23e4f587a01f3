"""Runs you can trust, round two: one regression test per finding of the independent battery
(resume identity, concurrent study drivers, signals, flushed logs, damaged caches and files,
clear errors, Ctrl-C, orphan temporaries, reproducible bytes, recorded environment)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import deepscope as tflearn
from deepscope.callbacks import Callback
from deepscope.models import serialization
from deepscope.sweep import aggregate

REPO = Path(__file__).resolve().parents[1]
X = np.random.RandomState(0).rand(100, 4).astype(np.float32)
Y = np.eye(2, dtype=np.float32)[(X.sum(1) > 2).astype(int)]


def model(lr=0.1):
    tflearn.set_seed(0)
    net = tflearn.input_data([None, 4])
    net = tflearn.fully_connected(net, 8, activation="relu")
    net = tflearn.fully_connected(net, 2, activation="softmax")
    return tflearn.DNN(tflearn.regression(net, learning_rate=lr))


class Interrupt(Callback):
    def __init__(self, at):
        self.at = at

    def on_batch_end(self, state, snapshot=False):
        if state.step == self.at:
            raise KeyboardInterrupt


FIT = dict(n_epoch=4, batch_size=10, checkpoint_every=10, run_id="cnn")


# 1 ---------------------------------------------------------------------------------------------
def test_a_kill_before_the_first_checkpoint_resumes_in_the_same_folder(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        model().fit(X, Y, callbacks=Interrupt(2), resume=True, **FIT)
    with pytest.raises(KeyboardInterrupt):
        model().fit(X, Y, callbacks=Interrupt(25), resume=True, **FIT)  # no checkpoint yet: same folder
    resumed = model()
    resumed.fit(X, Y, resume=True, **FIT)
    runs = tmp_path / "runs"
    assert sorted(p.name for p in runs.iterdir()) == ["cnn"]
    assert resumed.step == 40
    reference = model()
    reference.fit(X, Y, **{**FIT, "run_id": "reference"})
    for a, b in zip(reference.net.state_dict().values(), resumed.net.state_dict().values()):
        assert torch.equal(a, b)


# 2 ---------------------------------------------------------------------------------------------
def test_a_reused_run_id_never_resumes_another_experiment(tmp_path):
    model(0.1).fit(X, Y, **FIT)  # experiment A completes in runs/cnn
    config_a = (tmp_path / "runs" / "cnn" / "config.json").read_text()
    with pytest.raises(KeyboardInterrupt):
        model(0.5).fit(X, Y, callbacks=Interrupt(15), **FIT)  # B: a new run, runs/cnn_1
    b = model(0.5)
    b.fit(X, Y, resume=True, **FIT)  # resumes B's folder, not A's
    assert b.last_run.path.name == "cnn_1" and b.step == 40
    assert (tmp_path / "runs" / "cnn" / "config.json").read_text() == config_a
    with pytest.raises(ValueError, match=r"learning_rate: 0\.5 there, 0\.3 now"):
        model(0.3).fit(X, Y, resume=True, **FIT)


# 3 ---------------------------------------------------------------------------------------------
def test_two_drivers_started_together_run_every_trial_once(tmp_path):
    """Two drivers of one study at once (say, two terminals): each trial is claimed in the journal,
    so the 6 trials run once in all, shared between the drivers, and both end."""
    script = Path(__file__).with_name("_sweep_trials.py")
    env = {**os.environ, "PID_DIR": str(tmp_path / "pids"), "PYTHONPATH": f"{REPO}:{script.parent}"}
    (tmp_path / "pids").mkdir()
    drivers = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "runs"), "shared", "1"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [d.communicate(timeout=300) for d in drivers]
    assert all(d.returncode == 0 and "DONE" in out for d, (out, _) in zip(drivers, outputs)), outputs
    events = [json.loads(x) for x in (tmp_path / "runs" / "shared" / "journal.jsonl").read_text().splitlines()]
    started = [e["trial"] for e in events if e["event"] == "started"]
    finished = [e["trial"] for e in events if e["event"] == "finished"]
    assert len(finished) == 6 and len(set(finished)) == 6 and sorted(started) == sorted(finished)
    assert len({e["owner"] for e in events if e["event"] == "started"}) == 2  # both drivers took trials


def test_two_bayesian_drivers_share_one_search(tmp_path):
    """Two drivers of one Bayesian study at once: optuna's journal storage in the study folder holds the
    points, asked under the study's lock, so 6 distinct points are tried in all, each trial once."""
    import optuna
    script = Path(__file__).with_name("_sweep_trials.py")
    env = {**os.environ, "PID_DIR": str(tmp_path / "pids"), "PYTHONPATH": f"{REPO}:{script.parent}"}
    (tmp_path / "pids").mkdir()
    drivers = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "runs"), "tpe", "1", "bayes"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [d.communicate(timeout=300) for d in drivers]
    assert all(d.returncode == 0 and "DONE" in out for d, (out, _) in zip(drivers, outputs)), outputs
    events = [json.loads(x) for x in (tmp_path / "runs" / "tpe" / "journal.jsonl").read_text().splitlines()]
    finished = [e["trial"] for e in events if e["event"] == "finished"]
    assert len(finished) == 6 and len(set(finished)) == 6  # 6 points x 1 seed, none twice
    assert sorted(e["trial"] for e in events if e["event"] == "started") == sorted(finished)
    assert len({e["owner"] for e in events if e["event"] == "started"}) == 2  # both drivers took points
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(
        str(tmp_path / "runs" / "tpe" / "optuna.journal")))
    trials = optuna.load_study(study_name="tpe", storage=storage).trials
    assert len(trials) == 6 and all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert len({json.dumps(t.params, sort_keys=True) for t in trials}) == 6


# 4 ---------------------------------------------------------------------------------------------
def test_sigterm_to_deepscope_resume_reaches_the_training_process(tmp_path):
    script = tmp_path / "train.py"
    pid_file = tmp_path / "child.pid"
    script.write_text(f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n")
    wrapper = subprocess.Popen([sys.executable, "-m", "deepscope.cli.main", "resume", str(script)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if pid_file.is_file() and pid_file.read_text():
            break
        time.sleep(0.05)
    child = int(pid_file.read_text())
    wrapper.send_signal(signal.SIGTERM)
    wrapper.wait(timeout=20)
    for _ in range(100):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the training process outlived the wrapper")


# 5 ---------------------------------------------------------------------------------------------
def test_a_checkpoint_flushes_the_tensorboard_events(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    seen = []

    class Look(Callback):
        def on_epoch_begin(self, state):
            if state.epoch == 3:  # the checkpoint at step 20 came after epoch 1's and 2's rows... epoch 1 logged
                folder = state.run.path
                events = EventAccumulator(str(folder / "train")).Reload()
                csv_rows = (folder / "metrics.csv").read_text().strip().splitlines()[1:]
                seen.append((len(events.Scalars("Loss")), len(csv_rows)))

    model().fit(X, Y, callbacks=Look(), **{**FIT, "n_epoch": 3})
    (n_events, n_rows), = seen
    assert n_rows >= 1 and n_events == n_rows


# 7 ---------------------------------------------------------------------------------------------
def test_a_diverged_seed_is_counted_not_dropped():
    rows = [{"params": {"a": 1}, "seed": 0, "status": "finished", "metrics": {"val_acc": 0.9}},
            {"params": {"a": 1}, "seed": 1, "status": "finished", "metrics": {"val_acc": "nan"}}]
    (cell,) = aggregate(rows, "val_acc")
    assert cell["n"] == 2 and cell["n_nonfinite"] == 1 and cell["n_failed"] == 0 and cell["mean"] == 0.9


# 8 ---------------------------------------------------------------------------------------------
def _tampered(path: Path, key: str, value: str) -> None:
    tensors, meta = serialization.read_file(path)
    meta = {**meta, key: value}
    meta.pop("sha256")
    meta["sha256"] = serialization.tensor_digest(tensors, meta)  # a tamperer can recompute it
    path.write_bytes(serialization.safetensors_bytes(tensors, meta))


@pytest.mark.parametrize("key, change", [
    ("network", lambda d: "[" * 100_000 + "]" * 100_000),
    ("training", lambda d: "[" * 100_000 + "]" * 100_000),
    ("training", lambda d: '{"step": "x"}'),
    ("network", lambda d: json.dumps({**d, "nodes": [{**d["nodes"][0]}, {**d["nodes"][1], "args": {
        **d["nodes"][1]["args"], "name": "../../../../tmp/evil"}}, *d["nodes"][2:]]})),
    ("network", lambda d: json.dumps({**d, "nodes": [{**d["nodes"][0], "args": {
        **d["nodes"][0]["args"], "shape": [None, 10 ** 9, 10 ** 9]}}, *d["nodes"][1:]]})),
])
def test_tampered_model_files_get_errors_that_name_the_file(tmp_path, key, change):
    path = tmp_path / "m.safetensors"
    model().save(path)
    description = json.loads(serialization.read_file(path)[1]["network"])
    _tampered(path, key, change(description))
    with pytest.raises(tflearn.ModelFileError, match="m.safetensors"):
        tflearn.load(path)


def test_a_tampered_checkpoint_through_fit_resume(tmp_path):
    model().fit(X, Y, **FIT)
    ckpt = sorted((tmp_path / "runs" / "cnn" / "checkpoints").iterdir())[-1]
    _tampered_checkpoint = serialization.read_file(ckpt, expected_format="deepscope-checkpoint")
    tensors, meta = _tampered_checkpoint
    meta = {**meta, "loop": "[" * 100_000 + "]" * 100_000}
    meta.pop("sha256")
    meta["sha256"] = serialization.tensor_digest(tensors, meta)
    ckpt.write_bytes(serialization.safetensors_bytes(tensors, meta))
    with pytest.raises(tflearn.ModelFileError, match=ckpt.name):
        model().fit(X, Y, resume=str(ckpt), **FIT)


# 9 ---------------------------------------------------------------------------------------------
def test_the_unclear_errors_are_clear_now(tmp_path):
    from deepscope.introspect import cka_matrix
    from deepscope.sweep import train_ensemble

    m = model()
    with pytest.raises(ValueError, match="at least 2 samples"):
        cka_matrix(m, X[:1])
    net = tflearn.input_data([None, 4])
    net = tflearn.regression(tflearn.fully_connected(net, 2, activation="softmax"))
    with pytest.raises(TypeError, match="a function build"):
        train_ensemble(net, X, Y, seeds=[0, 1])
    with pytest.raises(TypeError, match="evaluate Y"):
        m.evaluate(X, None)
    weight = m.net.layers["FullyConnected"].weight
    with pytest.raises(TypeError, match="set_weights weights.*numbers"):
        m.set_weights(weight, "zeros")
    prep = tflearn.ImagePreprocessing()
    prep.add_featurewise_zero_center(mean=[0.1, 0.2, 0.3])
    net = tflearn.input_data([None, 4], data_preprocessing=prep)
    bad = tflearn.DNN(tflearn.regression(tflearn.fully_connected(net, 2, activation="softmax")))
    with pytest.raises(ValueError, match="data_preprocessing"):
        bad.fit(X, Y, n_epoch=1)
    with pytest.raises(ValueError, match="layer name"):
        tflearn.fully_connected(tflearn.input_data([None, 4]), 2, name="a.b")


def test_cli_errors_name_the_file(tmp_path, capsys):
    from deepscope.cli.main import main

    runs = tmp_path / "runs"
    model().fit(X, Y, n_epoch=1, run_id="good")
    model().fit(X, Y, n_epoch=1, run_id="bad")
    (runs / "bad" / "config.json").write_text("{not json")
    assert main(["runs", "show", "bad", "--root", str(runs)]) != 0
    assert "config.json" in capsys.readouterr().err
    (runs / "bad" / "metrics.csv").write_bytes(b"epoch,step,loss\n1,1,\xff\xfe\n")
    assert main(["runs", "list", "--root", str(runs)]) == 0  # one damaged run does not hide the others
    assert "good" in capsys.readouterr().out
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x")
    assert main(["datasets", "download", "mnist", "--data-dir", str(a_file)]) != 0
    assert "is a file" in capsys.readouterr().err


# 10 --------------------------------------------------------------------------------------------
def test_ctrl_c_prints_one_line_with_the_checkpoint_and_the_resume_command(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(
        "import os, signal, numpy as np, deepscope as tflearn\n"
        "X = np.random.rand(400, 4).astype('float32'); Y = np.eye(2)[(X.sum(1) > 2).astype(int)]\n"
        "class Stop(tflearn.callbacks.Callback):\n"
        "    def on_batch_end(self, state, snapshot=False):\n"
        "        if state.step == 25: os.kill(os.getpid(), signal.SIGINT)\n"
        "net = tflearn.regression(tflearn.fully_connected(tflearn.input_data([None, 4]), 2, activation='softmax'))\n"
        "tflearn.DNN(net).fit(X, Y, n_epoch=5, batch_size=10, run_id='ctrlc', checkpoint_every=10, callbacks=Stop())\n")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                            env={**os.environ, "DEEPSCOPE_RUNS": str(tmp_path / "runs")})
    assert result.returncode != 0 and "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert "stopped (Ctrl-C) at step 25" in line and "ckpt-000000020" in line and f"deepscope resume {script}" in line


# 11 --------------------------------------------------------------------------------------------
def test_orphan_temporaries_are_removed_and_saves_are_byte_identical(tmp_path):
    path = tmp_path / "m.safetensors"
    orphan = tmp_path / ".m.safetensors.999999999.abc.tmp"  # a writer (pid gone) killed mid-save
    orphan.write_bytes(b"x" * 1000)
    live = tmp_path / f".m.safetensors.{os.getppid()}.abc.tmp"  # a writer that still runs
    live.write_bytes(b"y")
    m = model()
    m.save(path)
    assert not orphan.exists() and live.exists()
    first = path.read_bytes()
    m.save(tmp_path / "again.safetensors")
    assert (tmp_path / "again.safetensors").read_bytes() == first
    other = subprocess.run([sys.executable, "-c", (
        "import numpy as np, deepscope as tflearn, sys\n"
        "tflearn.set_seed(0)\n"
        "net = tflearn.input_data([None, 4]); net = tflearn.fully_connected(net, 8, activation='relu')\n"
        "net = tflearn.fully_connected(net, 2, activation='softmax')\n"
        "tflearn.DNN(tflearn.regression(net, learning_rate=0.1)).save(sys.argv[1])\n"), str(tmp_path / "p.safetensors")],
        capture_output=True, text=True, timeout=120)
    assert other.returncode == 0, other.stderr
    assert (tmp_path / "p.safetensors").read_bytes() == first  # another process: the same bytes


# 12 --------------------------------------------------------------------------------------------
def test_the_environment_is_recorded_and_a_changed_thread_count_warns(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        model().fit(X, Y, callbacks=Interrupt(15), **FIT)
    config = json.loads((tmp_path / "runs" / "cnn" / "config.json").read_text())
    assert config["environment"]["threads"] == torch.get_num_threads() and "numpy" in config["environment"]
    threads = torch.get_num_threads()
    torch.set_num_threads(threads + 1)
    try:
        with pytest.warns(RuntimeWarning, match="threads"):
            model().fit(X, Y, resume=True, **FIT)
    finally:
        torch.set_num_threads(threads)
