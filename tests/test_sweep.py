"""deepscope.sweep: search spaces, crash-safe studies (journal, kill and restart), stability maps."""
from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import deepscope as tflearn
from deepscope.datasets import toy
from deepscope.sweep import (Choice, Fit, IntRange, LogUniform, Study, Uniform, grid, sample, stability_map,
                             stability_table)

REPO_ROOT = Path(__file__).resolve().parents[1]
X, Y = toy.moons(64, seed=0)
Y1 = np.eye(2, dtype=np.float32)[Y]


def tiny_net(units, lr):
    net = tflearn.input_data(shape=[None, 2])
    net = tflearn.fully_connected(net, units, activation="tanh")
    net = tflearn.fully_connected(net, 2, activation="softmax")
    return tflearn.regression(net, optimizer="sgd", learning_rate=lr, loss="categorical_crossentropy", batch_size=32)


def tiny_train(params, seed, run_id):
    model = tflearn.DNN(tiny_net(params["units"], params["lr"]))
    model.fit(X, Y1, n_epoch=2, validation_set=(X, Y1), run_id=run_id)
    return model.history[-1]


SPACE = {"units": [2, 4], "lr": [0.1, 0.5]}


def events(study):
    return [json.loads(line) for line in study.journal.path.read_text().splitlines() if line.strip()]


# -- spaces ------------------------------------------------------------------------------------
def test_grid_is_every_combination_in_order():
    points = grid({"a": [1, 2], "b": ["x", "y", "z"]})
    assert len(points) == 6
    assert points[0] == {"a": 1, "b": "x"} and points[-1] == {"a": 2, "b": "z"}
    assert grid({"a": [np.float64(0.5)]}) == [{"a": 0.5}] and type(grid({"a": [np.float64(0.5)]})[0]["a"]) is float


def test_sample_is_reproducible_and_in_range():
    space = {"lr": LogUniform(1e-4, 1e-1), "d": Uniform(0, 0.5), "n": IntRange(1, 3), "act": Choice(["relu", "tanh"]),
             "opt": ["sgd", "adam"]}
    a, b = sample(space, 50, seed=1), sample(space, 50, seed=1)
    assert a == b and a != sample(space, 50, seed=2)
    assert all(1e-4 <= p["lr"] < 1e-1 and 0 <= p["d"] < 0.5 and p["n"] in (1, 2, 3) for p in a)
    assert {p["n"] for p in a} == {1, 2, 3} and {p["act"] for p in a} == {"relu", "tanh"}
    assert {p["opt"] for p in a} == {"sgd", "adam"}
    json.dumps(a)  # JSON-able


@pytest.mark.parametrize("space, message", [
    ({}, "at least one parameter"),
    ({"a": []}, "at least one value"),
    ({"a": 3}, "a list of values"),
    ({"a": "abc"}, "a list of values"),
    ({"a": [object()]}, "numbers, strings"),
    ([1, 2], "a dict"),
    ({"a": Uniform(0, 1)}, "method='random'"),
])
def test_bad_grid_spaces_say_what_is_wrong(space, message):
    with pytest.raises((ValueError, TypeError), match=message):
        grid(space)


def test_bad_distributions():
    with pytest.raises(ValueError, match="lo < hi"):
        Uniform(1, 1)
    with pytest.raises(ValueError, match="> 0"):
        LogUniform(0, 1)
    with pytest.raises(ValueError, match="lo <= hi"):
        IntRange(3, 1)
    with pytest.raises(ValueError, match="at least one value"):
        Choice([])
    with pytest.raises(ValueError, match="n_trials"):
        Study("s", tiny_train, {"a": Uniform(0, 1)}, method="random")
    with pytest.raises(ValueError, match="folder name"):
        Study("a/b", tiny_train, SPACE)


# -- studies -----------------------------------------------------------------------------------
def test_grid_study_runs_every_point_and_seed_once(tmp_path):
    study = Study("moons", tiny_train, SPACE, seeds=(0, 1), root=tmp_path / "runs", verbose=False)
    rows = study.run()
    assert len(rows) == 8 and all(r["status"] == "finished" for r in rows)
    assert {(json.dumps(r["params"], sort_keys=True), r["seed"]) for r in rows} == {
        (json.dumps(p, sort_keys=True), s) for p in grid(SPACE) for s in (0, 1)}
    folder = tmp_path / "runs" / "moons"
    run_folders = sorted(p.name for p in folder.iterdir() if p.is_dir())
    # one run folder per trial, named by its swept values and seed, then the start of its id
    assert run_folders == sorted(f"lr={r['params']['lr']:.4g}_units={r['params']['units']}_seed={r['seed']}-"
                                 f"{r['trial'][:8]}" for r in rows)
    assert sorted(str(r["run_id"]) for r in rows) == [f"moons/{name}" for name in run_folders], rows[0]
    assert all((tmp_path / "runs" / r["run_id"] / "metrics.csv").is_file() for r in rows)
    listed = tflearn.runs.list_runs(folder)  # the study folder is a runs root of its own
    assert len(listed) == 8
    # the journal: one started + one finished per trial
    ev = events(study)
    assert [e["event"] for e in ev].count("started") == 8 and [e["event"] for e in ev].count("finished") == 8
    # a second run() trains nothing
    calls = []
    again = Study("moons", lambda p, s, r: calls.append(r), SPACE, seeds=(0, 1), root=tmp_path / "runs", verbose=False)
    again.run()
    assert calls == [] and again.counts["skipped"] == 8
    table = study.table("val_acc")
    assert len(table) == 4 and all(t["n"] == 2 for t in table)
    values = [r["metrics"]["val_acc"] for r in rows if r["params"] == table[0]["params"]]
    assert table[0]["mean"] == pytest.approx(np.mean(values)) and table[0]["std"] == pytest.approx(np.std(values))
    # the same seed gives the same result (trials are seeded)
    rerun = Study("moons2", tiny_train, {"units": [2], "lr": [0.1]}, seeds=(1,), root=tmp_path / "runs", verbose=False)
    same = [r for r in rows if r["params"] == {"units": 2, "lr": 0.1} and r["seed"] == 1][0]
    assert rerun.run()[0]["metrics"]["val_acc"] == pytest.approx(same["metrics"]["val_acc"])


def test_a_failing_trial_is_recorded_and_the_others_finish(tmp_path):
    def train(params, seed, run_id):
        if params["units"] == 4 and seed == 0:
            raise RuntimeError("boom at 4 units")
        return {"val_acc": 0.5 + params["units"] / 100}

    study = Study("fails", train, {"units": [2, 4, 8]}, seeds=(0, 1), root=tmp_path, verbose=False)
    rows = study.run()
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(rows) == 6 and len(failed) == 1
    assert failed[0]["error"] == "RuntimeError: boom at 4 units" and failed[0]["params"] == {"units": 4}
    table = {t["params"]["units"]: t for t in study.table()}
    assert table[4]["n"] == 1 and table[4]["n_failed"] == 1 and table[8]["mean"] == pytest.approx(0.58)
    assert "boom" in [e for e in events(study) if e["event"] == "failed"][0]["traceback"]
    Study("fails", train, {"units": [2, 4, 8]}, seeds=(0, 1), root=tmp_path, verbose=False).run()
    assert len(events(study)) == 12  # a failed trial is done: not retried


@pytest.mark.parametrize("vectorize", ["auto", False])
def test_a_quiet_study_prints_nothing_and_a_verbose_one_shows_its_fits(tmp_path, capsys, vectorize):
    """verbose=False: no progress line and no diagnosis from any trial's fit, stacked or one by one (the
    diagnosis is still in each run folder); verbose=True: the fits' progress shows."""
    def train(params, seed, run_id):  # a user's own function: DNN.fit inside (a learning rate of 1e-7: a diagnosis)
        model = tflearn.DNN(tiny_net(2, 1e-7))
        model.fit(X, Y1, n_epoch=2, run_id=run_id)
        return model.history[-1]
    build = Fit(lambda units: tiny_net(units, 1e-7), X, Y1, n_epoch=2)
    for fn in (train, build):
        Study("quiet", fn, {"units": [2]}, seeds=(0, 1), root=tmp_path / fn.__class__.__name__, verbose=False,
              vectorize=vectorize).run()
        assert capsys.readouterr().out == ""
    assert len(list(tmp_path.glob("*/quiet/*/diagnosis.json"))) == 4
    Study("loud", train, {"units": [2]}, seeds=(0,), root=tmp_path, verbose=True, vectorize=vectorize).run()
    assert "Training Step: 4" in capsys.readouterr().out


@pytest.mark.filterwarnings("ignore:.*damaged line")
def test_torn_last_line_is_tolerated(tmp_path):
    def train(params, seed, run_id):
        return {"val_acc": 0.9}

    study = Study("torn", train, {"a": [1, 2]}, root=tmp_path, verbose=False)
    study.run()
    with open(study.journal.path, "ab") as f:  # a kill in the middle of writing an event
        f.write(b'{"event": "started", "trial": "abc", "par')
    assert len(study.results()) == 2
    Study("torn", train, {"a": [1, 2, 3]}, root=tmp_path, verbose=False).run()
    lines = study.journal.path.read_text().splitlines()
    assert lines[-3].startswith('{"event": "started", "trial": "abc"')  # the torn line was closed
    with pytest.warns(UserWarning, match="damaged"):
        rows = study.results()
    assert len(rows) == 3 and all(r["status"] == "finished" for r in rows)


DRIVER = Path(__file__).with_name("_sweep_driver.py")


def test_killed_driver_restarted_completes_every_trial_exactly_once(tmp_path):
    script, log, root = DRIVER, tmp_path / "calls.log", tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("DEEPSCOPE_RESUME", None)
    killed = subprocess.run([sys.executable, str(script), "kill", str(root), str(log)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert killed.returncode == 9, killed.stderr[-2000:]
    journal = [json.loads(x) for x in (root / "killed" / "journal.jsonl").read_text().splitlines()]
    assert [e["event"] for e in journal] == ["started", "finished"] * 2 + ["started"]
    interrupted, interrupted_run = journal[-1]["trial"], journal[-1]["run_id"]
    interrupted_folder = root / interrupted_run
    assert any((interrupted_folder / "checkpoints").iterdir())  # it got past its first checkpoint

    done = subprocess.run([sys.executable, str(script), "resume", str(root), str(log)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "DONE" in done.stdout, done.stderr[-2000:]
    journal = [json.loads(x) for x in (root / "killed" / "journal.jsonl").read_text().splitlines()]
    finished = [e["trial"] for e in journal if e["event"] == "finished"]
    assert len(finished) == 8 and len(set(finished)) == 8  # every (point, seed) exactly once
    assert not [e for e in journal if e["event"] == "failed"]
    starts = [e for e in journal if e["event"] == "started"]
    assert [e["trial"] for e in starts].count(interrupted) == 2  # the interrupted one ran again ...
    assert starts[3]["trial"] == interrupted and starts[3]["resume"] is True and starts[3]["attempt"] == 2
    calls = log.read_text().splitlines()
    resumed = [c.split() for c in calls if c.startswith("resume")]
    assert len(resumed) == 6  # ... the two finished ones did not
    assert resumed[0] == ["resume", interrupted_run, "1"]  # resuming (resume_named_runs) only for it
    assert all(c[2] == "-" for c in resumed[1:])
    finished_folders = {e["run_id"].split("/", 1)[1] for e in journal if e["event"] == "finished"}
    assert sorted(p.name for p in (root / "killed").iterdir() if p.is_dir()) == sorted(finished_folders)
    import csv
    with open(interrupted_folder / "metrics.csv") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["1", "2", "3"]  # resumed, no duplicate rows


def test_bayes_runs_n_trials_with_optuna_and_replays_after_restart(tmp_path):
    seen = []

    def train(params, seed, run_id):
        seen.append(params)
        return {"loss": (params["x"] - 0.3) ** 2 + 0.01 * params["k"]}

    space = {"x": Uniform(-1, 1), "k": IntRange(0, 3), "act": ["a", "b"]}
    study = Study("bayes", train, space, method="bayes", n_trials=4, metric="loss", mode="min", root=tmp_path,
                  verbose=False)
    rows = study.run()
    assert len(rows) == 4 and len(seen) == 4 and all(r["status"] == "finished" for r in rows)
    assert len(study.optuna_study.trials) == 4
    assert all(-1 <= p["x"] <= 1 and p["k"] in range(4) and p["act"] in "ab" for p in seen)
    more = Study("bayes", train, space, method="bayes", n_trials=6, metric="loss", mode="min", root=tmp_path,
                 verbose=False)
    assert len(more.run()) == 6 and len(seen) == 6  # the 4 done were replayed, not re-run
    assert len(more.optuna_study.trials) == 6


def test_bayes_with_a_pruner_stops_hopeless_points(tmp_path):
    """MedianPruner on the per-epoch val_loss of each point's first seed: a point far worse than the median
    is stopped early, its other seeds are not run, and the journal says 'pruned'."""
    import optuna
    X = np.random.default_rng(0).random((64, 4)).astype("float32")
    Y = np.eye(2, dtype="float32")[(X[:, 0] > 0.5).astype(int)]
    epochs_run = []

    def train(params, seed, run_id):
        net = tflearn.input_data(shape=[None, 4])
        net = tflearn.fully_connected(net, 2, activation="softmax")
        model = tflearn.DNN(tflearn.regression(net, optimizer="sgd", learning_rate=params["lr"], batch_size=16))
        model.fit(X, Y, n_epoch=6, validation_set=(X, Y), run_id=run_id)
        epochs_run.append(len(model.history))
        return model.history[-1]

    study = Study("pruned", train, {"lr": LogUniform(1e-4, 1.0)}, method="bayes", n_trials=8, seeds=(0, 1),
                  metric="val_loss", mode="min", root=tmp_path, verbose=False,
                  pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1))
    rows = study.run()
    states = [t.state for t in study.optuna_study.trials]
    pruned = [r for r in rows if r["status"] == "pruned"]
    assert len(states) == 8 and optuna.trial.TrialState.PRUNED in states
    assert pruned and min(epochs_run) < 6  # stopped early
    n_pruned_points = states.count(optuna.trial.TrialState.PRUNED)
    assert len(rows) == 16 and len(pruned) == 2 * n_pruned_points  # both seeds of a pruned point
    assert len(epochs_run) == 16 - n_pruned_points  # the second seed of a pruned point never ran
    with pytest.raises(ValueError, match="bayes"):
        Study("p", train, {"lr": [0.1]}, pruner=optuna.pruners.MedianPruner())


def _pruned_point(lr):
    net = tflearn.input_data(shape=[None, 4])
    net = tflearn.fully_connected(net, 2, activation="softmax")
    return tflearn.regression(net, optimizer="sgd", learning_rate=lr, batch_size=16)


def test_a_pruner_prunes_vectorized_points(tmp_path, capsys):
    """The same search with a Fit: each point's seeds train as one stack; the pruner's verdict on the first
    seed stops both at that epoch; points are still judged, told and journaled as pruned."""
    import optuna
    from deepscope.sweep import Fit

    X = np.random.default_rng(0).random((64, 4)).astype("float32")
    Y = np.eye(2, dtype="float32")[(X[:, 0] > 0.5).astype(int)]
    study = Study("pruned_vec", Fit(_pruned_point, X, Y, n_epoch=6, validation_set=(X, Y)),
                  {"lr": LogUniform(1e-4, 1.0)}, method="bayes", n_trials=8, seeds=(0, 1), metric="val_loss",
                  mode="min", root=tmp_path, pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1))
    rows = study.run()
    out = capsys.readouterr().out
    assert "2 trials in 1 vectorized run" in out
    states = [t.state for t in study.optuna_study.trials]
    assert len(states) == 8 and optuna.trial.TrialState.PRUNED in states
    assert optuna.trial.TrialState.COMPLETE in states and optuna.trial.TrialState.FAIL not in states
    by_point: dict = {}
    for r in rows:
        by_point.setdefault(r["params"]["lr"], []).append(r)
    for point in by_point.values():  # both seeds of a point share its fate, pruned ones stopped early
        assert len(point) == 2 and point[0]["status"] == point[1]["status"]
        if point[0]["status"] == "pruned":
            epochs = [len((tmp_path / r["run_id"] / "metrics.csv").read_text().splitlines()) - 1 for r in point]
            assert epochs[0] == epochs[1] < 6


def test_random_study(tmp_path):
    study = Study("rand", lambda p, s, r: {"val_acc": p["lr"]}, {"lr": LogUniform(1e-3, 1e-1)}, method="random",
                  n_trials=3, seeds=(0, 1), root=tmp_path, verbose=False)
    rows = study.run()
    assert len(rows) == 6 and len({r["params"]["lr"] for r in rows}) == 3


# -- stability ---------------------------------------------------------------------------------
def fake_rows():
    rng = np.random.default_rng(0)
    rows = []
    for a in (1e-4, 1e-3):
        for b in (1e-4, 5e-3):
            for seed in range(3):
                acc = 0.1 if (b > a and seed < 2) else float(rng.uniform(0.85, 0.95))
                rows.append({"params": {"l1": a, "l2": b}, "seed": seed, "status": "finished",
                             "metrics": {"val_acc": acc}})
    rows.append({"params": {"l1": 1e-4, "l2": 1e-4}, "seed": 9, "status": "failed", "metrics": {}, "error": "x"})
    return rows


def test_stability_map_writes_a_png_and_returns_the_means(tmp_path):
    rows = fake_rows()
    g = stability_map(rows, "l1", "l2", path=tmp_path / "map.png", collapse=0.11)
    assert (tmp_path / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image
    width, height = Image.open(tmp_path / "map.png").size
    assert width <= 1100 < height  # one column of panels: shown at a report's width, the cell text keeps its size
    assert g.x_values == [1e-4, 1e-3] and g.y_values == [1e-4, 5e-3]
    for i, a in enumerate(g.x_values):
        for j, b in enumerate(g.y_values):
            v = [r["metrics"]["val_acc"] for r in rows if r["params"] == {"l1": a, "l2": b} and r["status"] == "finished"]
            assert g.mean[i, j] == pytest.approx(np.mean(v)) and g.std[i, j] == pytest.approx(np.std(v))
            assert g.collapsed[i, j] == pytest.approx(np.mean(np.array(v) <= 0.11)) and g.n[i, j] == 3
    assert g.collapsed[0, 1] == pytest.approx(2 / 3) and g.n_failed[0, 0] == 1
    stability_map(rows, "l1", "l2", path=tmp_path / "map.svg")
    assert b"<svg" in (tmp_path / "map.svg").read_bytes()[:400]
    text = stability_table(rows, "l1", "l2", collapse=0.11)
    assert text.splitlines()[0].split() == ["l1\\l2", "0.0001", "0.005"]
    assert f"{100 * g.mean[1, 0]:.1f}%" in text.splitlines()[2] and "*" in text.splitlines()[1]
    with pytest.raises(ValueError, match="a parameter of the study"):
        stability_map(rows, "l1", "nope")


# -- the seed example --------------------------------------------------------------------------
def test_l2_stability_study_example_quick(shared_datasets, monkeypatch, capsys, tmp_path):
    """Seed 000's recipe, quick: the course setup collapses, and its diagnosis names the layer that
    died in the first steps, the constant prediction and the penalty-only loss decrease."""
    monkeypatch.setenv("DEEPSCOPE_DATA", str(shared_datasets))
    monkeypatch.chdir(tmp_path)
    path = REPO_ROOT / "examples" / "seeds" / "l2_stability_study.py"
    monkeypatch.setattr(sys, "argv", [str(path), "--quick"])
    runpy.run_path(str(path), run_name="__main__")
    out = capsys.readouterr().out
    assert "L1\\L2" in out and out.count("%") >= 8 and "Reading:" in out
    for setup in ("course", "defaults"):
        folder = tmp_path / "runs" / f"seed000_{setup}_quick"
        assert (folder / "stability.png").read_bytes()[:4] == b"\x89PNG"
        events = [json.loads(line) for line in (folder / "journal.jsonl").read_text().splitlines()]
        finished = [e for e in events if e["event"] == "finished"]
        assert len(finished) == 8 and all(e["record"]["diagnoses"] is not None for e in finished)
        collapsed = [e for e in finished if e["metrics"]["val_acc"] <= 0.11]
        if setup == "defaults":
            assert not collapsed
            continue
        assert collapsed
        for e in collapsed:
            codes = {d["code"]: d for d in e["record"]["diagnoses"]}
            assert "constant_prediction" in codes and codes["dead_layer"]["step"] <= 10
            assert codes["dead_layer"]["layer"] == "FullyConnected_1"
        assert any("penalty_dominates" in [d["code"] for d in e["record"]["diagnoses"]] for e in collapsed)


def test_parallel_workers_run_every_trial_once_with_the_serial_results(tmp_path):
    """Study(workers=2): trials in two spawned processes (one thread each); the driver journals them;
    the results equal a serial run's (same seeds, same data order)."""
    import torch
    from _sweep_trials import train_fn

    space = {"units": [3, 5], "lr": [0.1, 0.5]}
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # the serial reference with the workers' thread count: bit-identical sums
    try:
        serial = Study("serial", train_fn, space, seeds=(0, 1), root=tmp_path, verbose=False).run()
    finally:
        torch.set_num_threads(previous)
    parallel_study = Study("parallel", train_fn, space, seeds=(0, 1), root=tmp_path, verbose=False, workers=2,
                           threads=1)
    parallel = parallel_study.run()
    by_trial = lambda rows: {r["trial"]: r for r in rows}  # noqa: E731
    a, b = by_trial(serial), by_trial(parallel)
    assert set(a) == set(b) and len(b) == 8 and all(r["status"] == "finished" for r in b.values())
    for trial in a:
        assert a[trial]["metrics"]["first_weight"] == b[trial]["metrics"]["first_weight"]
        assert a[trial]["metrics"]["val_loss"] == pytest.approx(b[trial]["metrics"]["val_loss"], abs=1e-7)
    events = [json.loads(x) for x in (tmp_path / "parallel" / "journal.jsonl").read_text().splitlines()]
    assert sorted(e["trial"] for e in events if e["event"] == "started") == sorted(b)  # once each
    assert sum(e["event"] == "finished" for e in events) == 8
    assert all(r["record"] for r in b.values())  # the driver read each trial's diagnosis
    assert Study("parallel", train_fn, space, seeds=(0, 1), root=tmp_path, verbose=False, workers=2).run() and \
        len((tmp_path / "parallel" / "journal.jsonl").read_text().splitlines()) == len(events)  # nothing rerun


def test_stacks_split_over_worker_processes(tmp_path, capsys):
    """A Fit study with workers=2: each stack is split into two parts, one per worker process; the results
    equal the one-by-one study's."""
    from _sweep_trials import X, Y, build

    from deepscope.sweep import Fit
    fit = Fit(build, X, Y, n_epoch=2, validation_set=(X, Y))
    space = {"units": [3], "lr": [0.1, 0.5]}
    one_by_one = {r["trial"]: r for r in Study("one", fit, space, seeds=(0, 1), root=tmp_path, verbose=False,
                                                 vectorize=False).run()}
    rows = Study("split", fit, space, seeds=(0, 1), root=tmp_path, workers=2, threads=1).run()
    assert "4 trials in 1 vectorized run" in capsys.readouterr().out
    assert len(rows) == 4 and all(r["status"] == "finished" for r in rows)
    for r in rows:
        assert r["metrics"]["val_loss"] == pytest.approx(one_by_one[r["trial"]]["metrics"]["val_loss"], abs=1e-5)
    events = [json.loads(x) for x in (tmp_path / "split" / "journal.jsonl").read_text().splitlines()]
    assert [e["vectorized"] for e in events if e["event"] == "finished"] == [2, 2, 2, 2]  # two parts of 2


def test_parallel_workers_keep_failures_and_refuse_what_they_cannot_run(tmp_path):
    from _sweep_trials import failing_fn

    rows = Study("f", failing_fn, {"units": [3], "lr": [0.1]}, seeds=(0, 1), root=tmp_path, verbose=False,
                 workers=2, threads=1).run()
    assert sorted(r["status"] for r in rows) == ["failed", "finished"]
    assert "this seed fails" in next(r["error"] for r in rows if r["status"] == "failed")
    with pytest.raises(TypeError, match="module level"):
        Study("g", lambda p, s, r: {}, {"units": [3]}, root=tmp_path, verbose=False, workers=2).run()
    with pytest.raises(ValueError, match="bayes"):
        Study("h", failing_fn, {"units": [3]}, root=tmp_path, method="bayes", n_trials=2, workers=2)


def test_a_killed_parallel_driver_takes_its_workers_along_and_a_restart_finishes_once(tmp_path):
    import signal
    import time

    script = Path(__file__).with_name("_sweep_trials.py")
    env = {**os.environ, "PID_DIR": str(tmp_path / "pids"), "PYTHONPATH": f"{REPO_ROOT}:{script.parent}"}
    (tmp_path / "pids").mkdir()
    journal = tmp_path / "runs" / "killed" / "journal.jsonl"
    driver = subprocess.Popen([sys.executable, str(script), str(tmp_path / "runs")], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and not (journal.is_file() and '"finished"' in journal.read_text()):
        time.sleep(0.2)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    time.sleep(1.5)
    workers = [int(p.name) for p in (tmp_path / "pids").iterdir()]
    assert workers
    for pid in workers:  # the workers died with their driver
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "runs")], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0 and "DONE" in done.stdout, done.stderr[-2000:]
    events = [json.loads(x) for x in journal.read_text().splitlines()]
    finished = [e["trial"] for e in events if e["event"] == "finished"]
    assert len(finished) == 6 and len(set(finished)) == 6


def test_vectorized_bayes_tells_optuna_each_points_value(tmp_path):
    """Before: run_trials returned only the trials left to the ordinary path, so every stacked point was
    told FAIL and the search learned nothing."""
    import optuna
    from deepscope.sweep import Fit

    X = np.random.default_rng(0).random((64, 4)).astype("float32")
    Y = np.eye(2, dtype="float32")[(X[:, 0] > 0.5).astype(int)]
    study = Study("bayes_vec", Fit(_pruned_point, X, Y, n_epoch=2, validation_set=(X, Y)), {"lr": LogUniform(1e-3, 1.0)},
                  method="bayes", n_trials=4, seeds=(0, 1), metric="val_loss", mode="min", root=tmp_path, verbose=False)
    rows = study.run()
    trials = study.optuna_study.trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 4
    for t in trials:
        losses = [r["metrics"]["val_loss"] for r in rows if r["params"]["lr"] == t.params["lr"]]
        assert t.value == pytest.approx(sum(losses) / len(losses))


def test_importance_is_not_claimed_for_differences_within_seed_noise():
    from deepscope.sweep.importance import param_importances, within_seed_noise

    rng = np.random.default_rng(0)
    seeds = np.array([-1.0, 0.2, 1.0, -0.4])  # every point gets the same seed effects, shuffled, plus a trace
    noise_rows = [{"params": {"a": a, "b": b}, "seed": int(s), "status": "finished",
                   "metrics": {"val_acc": 0.8 + 0.01 * v + 1e-4 * rng.normal()}}
                  for a in (1, 2) for b in (1, 2, 3) for s, v in enumerate(rng.permutation(seeds))]
    importances, note = param_importances(noise_rows, ["a", "b"], "val_acc")
    assert importances is None and note.startswith("no parameter explains val_acc beyond seed noise")
    signal_rows = [{**r, "metrics": {"val_acc": r["metrics"]["val_acc"] + 0.1 * r["params"]["a"]}} for r in noise_rows]
    assert within_seed_noise(signal_rows, ["a", "b"], "val_acc") is None
    importances, _ = param_importances(signal_rows, ["a", "b"], "val_acc")
    assert importances is not None and max(importances, key=importances.get) == "a"


def test_collapse_is_judged_against_the_tasks_own_chance_level(tmp_path):
    from deepscope.sweep import Fit

    x = np.random.default_rng(0).normal(size=(30, 4)).astype("float32")
    three = np.eye(3, dtype="float32")[np.arange(30) % 3]

    def build(lr):
        net = tflearn.input_data(shape=[None, 4])
        return tflearn.regression(tflearn.fully_connected(net, 3, activation="softmax"), learning_rate=lr)

    study = Study("chance", Fit(build, x, three, n_epoch=1), {"lr": [0.1]}, root=tmp_path, verbose=False)
    assert study.collapse_level() == pytest.approx(1 / 3 + 0.01, abs=1e-3)  # not 0.11: near-chance of 3 classes
    assert study.collapse_level(0.5) == 0.5 and study.collapse_level(None) is None
    assert Study("loss", Fit(build, x, three), {"lr": [0.1]}, root=tmp_path, metric="val_loss",
                 mode="min").collapse_level() is None


def test_runs_list_and_compare_read_a_study_folder(tmp_path, capsys):
    from deepscope.cli.main import main
    study = Study("moons", tiny_train, {"units": [2, 4], "lr": [0.1]}, seeds=(0, 1), root=tmp_path, verbose=False)
    study.run()
    capsys.readouterr()
    table = tflearn.runs.compare_runs([tmp_path / "moons"], metric="val_loss")
    assert table.columns[:2] == ["run", "val_loss"] and {"units", "seed"} <= set(table.columns)
    assert sorted((row[table.columns.index("units")], row[table.columns.index("seed")]) for row in table.rows) == [
        (2, 0), (2, 1), (4, 0), (4, 1)]
    assert main(["runs", "list", str(tmp_path / "moons")]) == 0
    header = capsys.readouterr().out.splitlines()[1]
    assert header.split()[:2] == ["run", "date"]  # the folder names say the swept values and seed: no repeat
