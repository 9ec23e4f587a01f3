"""Study(backend='ray'): the trials of a study as Ray tasks on a local Ray instance with 2 worker CPUs
started by the test (the optional extra ``ray``; skipped where it is not installed)."""
from __future__ import annotations

import json

import numpy as np
import pytest

ray = pytest.importorskip("ray")

import deepscope as tflearn  # noqa: E402
from deepscope.sweep import Study  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.random((96, 6)).astype("float32")
Y = np.eye(2, dtype="float32")[(X[:, 0] + X[:, 1] > 1).astype(int)]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_backend_runs_every_trial_once_with_the_serial_results(tmp_path, local_ray):
    import os
    import torch

    def train_fn(params, seed, run_id):  # a closure: Ray ships it by value (processes could not)
        net = tflearn.input_data(shape=[None, 6])
        net = tflearn.fully_connected(net, params["units"], activation="tanh")
        net = tflearn.fully_connected(net, 2, activation="softmax")
        model = tflearn.DNN(tflearn.regression(net, optimizer="sgd", learning_rate=0.5, batch_size=16))
        model.fit(X, Y, n_epoch=2, validation_set=(X, Y), run_id=run_id)
        return {**model.history[-1], "pid": os.getpid(),
                "first_weight": float(model.get_weights(model.net.layers["FullyConnected"].weight)[0, 0])}

    space = {"units": [3, 5]}
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # the serial reference with the tasks' thread count
    try:
        serial = Study("serial", train_fn, space, seeds=(0, 1), root=tmp_path, verbose=False).run()
    finally:
        torch.set_num_threads(previous)
    study = Study("on_ray", train_fn, space, seeds=(0, 1), root=tmp_path, verbose=False, backend="ray")
    rows = study.run()
    a, b = ({r["trial"]: r for r in x} for x in (serial, rows))
    assert set(a) == set(b) and all(r["status"] == "finished" for r in b.values())
    for trial in a:
        assert b[trial]["metrics"]["first_weight"] == a[trial]["metrics"]["first_weight"]
        assert b[trial]["metrics"]["pid"] != os.getpid()  # ran in a Ray worker
        assert (tmp_path / b[trial]["run_id"] / "model.safetensors").is_file()  # written by the worker
        assert b[trial]["record"]  # the driver read the trial's diagnosis
    events = [json.loads(x) for x in (tmp_path / "on_ray" / "journal.jsonl").read_text().splitlines()]
    assert sorted(e["trial"] for e in events if e["event"] == "started") == sorted(b)  # once each
    # a failing trial is recorded, the others go on
    def failing(params, seed, run_id):
        if seed == 1:
            raise RuntimeError("this seed fails")
        return {"val_acc": 1.0}
    rows = Study("fails", failing, space, seeds=(0, 1), root=tmp_path, verbose=False, backend="ray").run()
    assert sorted(r["status"] for r in rows) == ["failed", "failed", "finished", "finished"]
    assert all("this seed fails" in r["error"] for r in rows if r["status"] == "failed")


def test_a_vectorized_study_on_ray_splits_its_stacks_over_the_tasks(tmp_path, local_ray):
    from deepscope.sweep import Fit

    def build(units):  # a closure: travels by value
        net = tflearn.input_data(shape=[None, 6])
        net = tflearn.fully_connected(net, units, activation="tanh")
        net = tflearn.fully_connected(net, 2, activation="softmax")
        return tflearn.regression(net, optimizer="sgd", learning_rate=0.5, batch_size=16)

    fit = Fit(build, X, Y, n_epoch=2, validation_set=(X, Y))
    space = {"units": [3, 5]}
    reference = {r["trial"]: r for r in Study("here", fit, space, seeds=(0, 1), root=tmp_path, verbose=False).run()}
    rows = Study("stacks_on_ray", fit, space, seeds=(0, 1), root=tmp_path, verbose=False, backend="ray").run()
    assert len(rows) == 4 and all(r["status"] == "finished" for r in rows)
    for r in rows:
        assert r["metrics"]["val_loss"] == pytest.approx(reference[r["trial"]]["metrics"]["val_loss"], abs=1e-5)
        assert (tmp_path / r["run_id"] / "diagnosis.json").is_file()  # written in the task
    events = [json.loads(x) for x in (tmp_path / "stacks_on_ray" / "journal.jsonl").read_text().splitlines()]
    assert sorted(e.get("vectorized") for e in events if e["event"] == "finished") == [1, 1, 1, 1]


def test_ray_backend_refuses_bayes():
    with pytest.raises(ValueError, match="backend"):
        Study("x", lambda p, s, r: {}, {"a": [1.0, 2.0]}, method="bayes", n_trials=2, backend="ray")
