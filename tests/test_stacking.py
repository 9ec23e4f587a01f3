"""deepscope.sweep.stacking and vectorized studies: many models trained at once, each exactly as its
own ``DNN.fit`` would train it (per-model seed, data order, L2 factors, learning rate, clipping)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import deepscope as tflearn
from deepscope.callbacks.run_folder import runs_dir
from deepscope.models.guard import NonFiniteError
from deepscope.sweep import Fit, Study, stacking
from deepscope.sweep.stack_training import StackFit, train_stack
from deepscope.sweep.stacking import Stack, new_member, stack_groups, stack_key
from deepscope.utils import set_seed

rng = np.random.RandomState(0)
X = rng.randn(160, 12).astype("float32")
Y = np.eye(4, dtype="float32")[(X[:, 0] > 0) * 2 + (X[:, 1] > 0)]
VX, VY = X[-40:], Y[-40:]
X, Y = X[:-40], Y[:-40]


def mlp(l2=1e-3, lr=0.3, optimizer="sgd", keep=None, units=16):
    net = tflearn.input_data(shape=[None, 12])
    net = tflearn.fully_connected(net, units, activation="relu", regularizer="L2", weight_decay=l2)
    if keep is not None:
        net = tflearn.dropout(net, keep)
    net = tflearn.fully_connected(net, 8, activation="tanh", regularizer="L2", weight_decay=2 * l2)
    net = tflearn.fully_connected(net, 4, activation="softmax")
    return tflearn.regression(net, optimizer=optimizer, learning_rate=lr, batch_size=16)


def small_cnn(l2=1e-3, lr=0.01):
    net = tflearn.input_data(shape=[None, 4, 3, 1])
    net = tflearn.conv_2d(net, 3, 2, activation="relu", regularizer="L2", weight_decay=l2)
    net = tflearn.fully_connected(net, 4, activation="softmax")
    return tflearn.regression(net, optimizer="adam", learning_rate=lr, batch_size=16)


def separate_fit(build, seed, clip, **fit_args):
    set_seed(seed)
    model = tflearn.DNN(build(), clip_gradients=clip)
    model.fit(**fit_args)
    return model


def stacked(builds, seeds, clip, fit: StackFit):
    members = []
    for build, seed in zip(builds, seeds):
        set_seed(seed)
        members.append(new_member(tflearn.DNN(build(), clip_gradients=clip)))
    stacks, singles = stack_groups(members)
    assert len(stacks) == 1 and not singles
    train_stack(*stacks[0], fit, write_runs=False)
    return members


def assert_stack_equals_fits(builds, seeds, x, y, folder, **fit):
    """Each model of a stack of ``builds`` (seeded ``seeds``) equals its own separate fit; the stack's members."""
    with runs_dir(folder):
        expected = [separate_fit(b, s, 5.0, X_inputs=x, Y_targets=y, n_epoch=2, **fit) for b, s in zip(builds, seeds)]
        got = stacked(builds, seeds, 5.0, StackFit(x, y, n_epoch=2, **fit))
    for a, m in zip(expected, got):
        assert_same_models(a, m.dnn)
    return got


def assert_same_models(a, b, atol=2e-5):
    for key in a.history[-1]:
        assert b.history[-1][key] == pytest.approx(a.history[-1][key], abs=atol), key
    for (name, p), q in zip(a.net.named_parameters(), b.net.parameters()):
        torch.testing.assert_close(q, p, atol=atol, rtol=0, msg=name)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])  # a per-model lr: gradient scale / update scale
def test_stack_equals_separate_fits(tmp_path, optimizer):
    """Seeds (init and data order), L2 factors per layer, learning rates and clipping per model."""
    cells = [(seed, l2, lr) for seed in (0, 1) for l2 in (1e-3, 1e-1) for lr in (0.05, 0.2)]
    if optimizer == "adam":
        cells = [(s, l2, lr / 10) for s, l2, lr in cells]
    builds = [lambda l2=l2, lr=lr: mlp(l2, lr, optimizer) for _, l2, lr in cells]
    seeds = [c[0] for c in cells]
    with runs_dir(tmp_path):
        expected = [separate_fit(b, s, 0.5, X_inputs=X, Y_targets=Y, n_epoch=3, validation_set=(VX, VY))
                    for b, s in zip(builds, seeds)]
        members = stacked(builds, seeds, 0.5, StackFit(X, Y, n_epoch=3, validation_set=(VX, VY)))
    for a, m in zip(expected, members):
        assert m.failed is None
        assert_same_models(a, m.dnn)
        assert [f.code for f in a.diagnosis.findings] == [f.code for f in m.dnn.diagnosis.findings]
    assert len({m.data_seed for m in members}) == 2  # one data order per seed, shared within it


@pytest.fixture(params=["one after another", "vmap"])
def cpu_convolution_engine(request, monkeypatch):
    """Both ways a CPU stack of convolutional networks can run (a GPU takes vmap)."""
    monkeypatch.setattr(stacking, "CPU_CONVOLUTIONS_ONE_AFTER_ANOTHER", request.param == "one after another")
    return request.param


def test_vmap_engine_equals_separate_fits(tmp_path, cpu_convolution_engine):
    x = rng.randn(64, 4, 3, 1).astype("float32")
    y = np.eye(4, dtype="float32")[rng.randint(0, 4, 64)]
    builds = [lambda l2=l2, lr=lr: small_cnn(l2, lr) for l2, lr in ((1e-3, 0.01), (1e-1, 0.02), (1e-2, 0.01))]
    seeds = [0, 1, 2]
    members = [new_member(_built(b, s)) for b, s in zip(builds, seeds)]
    assert stack_key(members[0].dnn)[1] == "vmap"
    assert Stack(members, "vmap").per_model_forward == (cpu_convolution_engine == "one after another")
    assert_stack_equals_fits(builds, seeds, x, y, tmp_path, validation_set=0.25)


def _built(build, seed):
    set_seed(seed)
    return tflearn.DNN(build())


def test_a_diverging_model_stops_alone(tmp_path):
    """One learning rate far too high: that model fails at the step its own fit would, the others go on."""
    def linear(lr):
        net = tflearn.input_data(shape=[None, 12])
        net = tflearn.fully_connected(net, 4)
        return tflearn.regression(net, optimizer="sgd", loss="mean_square", learning_rate=lr, batch_size=16)
    builds = [lambda: linear(0.01), lambda: linear(50.0), lambda: linear(0.02)]
    seeds = [0, 0, 1]
    with runs_dir(tmp_path):
        ok = separate_fit(builds[0], 0, None, X_inputs=X, Y_targets=Y, n_epoch=5)
        with pytest.raises(NonFiniteError) as bad:
            separate_fit(builds[1], 0, None, X_inputs=X, Y_targets=Y, n_epoch=5)
        members = stacked(builds, seeds, None, StackFit(X, Y, n_epoch=5))
    assert members[0].failed is None and members[2].failed is None
    assert members[1].failed is not None and members[1].failed_step == bad.value.step
    codes = members[1].dnn.diagnosis.codes  # the cause first (as its own fit's diagnosis), then the NaN it caused
    assert codes[0] == "learning_rate_too_large" and "non_finite" in codes
    assert_same_models(ok, members[0].dnn)


def test_dropout_rate_per_model():
    """Each model's masks drop its own rate (a model that keeps everything draws nothing)."""
    members = [new_member(_built(lambda k=k: mlp(keep=k), 0)) for k in (0.5, 0.999999, 0.25)]
    stacks, singles = stack_groups(members)
    assert len(stacks) == 1 and stacks[0][1] == "dense"  # one stack despite different rates
    stack = Stack(*stacks[0])
    h = torch.ones(3, 4000, 16)
    out = stack._dropout(h, [0.5, 0.999999, 0.25])
    zeros = [float((out[i] == 0).float().mean()) for i in range(3)]
    assert zeros[0] == pytest.approx(0.5, abs=0.03) and zeros[1] < 0.01 and zeros[2] == pytest.approx(0.75, abs=0.03)
    assert float(out[0][out[0] > 0].mean()) == pytest.approx(2.0)  # kept units scaled by 1 / keep


def test_dropout_stack_equals_separate_fits(tmp_path):
    """Every model draws its masks from its own generator, as its own fit does: equal within float tolerance."""
    cells = [(0, 0.5), (1, 0.5), (0, 0.8), (2, 0.999999)]
    builds = [lambda k=k: mlp(keep=k, lr=0.1) for _, k in cells]
    seeds = [c[0] for c in cells]
    with runs_dir(tmp_path):
        expected = [separate_fit(b, s, 5.0, X_inputs=X, Y_targets=Y, n_epoch=3, validation_set=(VX, VY))
                    for b, s in zip(builds, seeds)]
        members = stacked(builds, seeds, 5.0, StackFit(X, Y, n_epoch=3, validation_set=(VX, VY)))
    for a, m in zip(expected, members):
        assert_same_models(a, m.dnn)


def test_a_model_does_not_depend_on_its_neighbours(tmp_path):
    """Adding a diverging model (and another seed) to a stack with dropout changes none of the others."""
    good = [lambda: mlp(keep=0.5, lr=0.1), lambda: mlp(keep=0.7, lr=0.05)]
    diverging = lambda: mlp(keep=0.5, lr=1e6)  # noqa: E731
    with runs_dir(tmp_path):
        alone = stacked(good, [0, 1], None, StackFit(X, Y, n_epoch=3))
        crowd = stacked([diverging, good[0], lambda: mlp(keep=0.6, lr=0.1), good[1]], [0, 0, 3, 1], None,
                        StackFit(X, Y, n_epoch=3))
    assert crowd[0].failed is not None and all(m.failed is None for m in crowd[1:])
    assert_same_models(alone[0].dnn, crowd[1].dnn)
    assert_same_models(alone[1].dnn, crowd[3].dnn)


def conv_dropout(keep=0.5, lr=0.01):
    net = tflearn.input_data(shape=[None, 4, 3, 1])
    net = tflearn.dropout(tflearn.conv_2d(net, 3, 2, activation="relu"), keep)
    net = tflearn.fully_connected(net, 6, activation="relu")
    net = tflearn.dropout(net, keep)
    return tflearn.regression(tflearn.fully_connected(net, 4, activation="softmax"), optimizer="adam",
                              learning_rate=lr, batch_size=16)


def test_convolutional_networks_with_dropout_stack_and_equal_separate_fits(tmp_path, cpu_convolution_engine):
    """Outside the dense engine, dropout runs each model through its own modules with its own generator as the
    default one (whatever the CPU engine setting): each model's rate and masks as its own fit draws them, and a
    neighbour at a learning rate of 1e6 changes nothing."""
    x = rng.randn(64, 4, 3, 1).astype("float32")
    y = np.eye(4, dtype="float32")[rng.randint(0, 4, 64)]
    cells = [(0, 0.5, 0.01), (1, 0.5, 0.01), (0, 0.8, 0.02), (2, 0.999999, 0.01)]
    builds = [lambda k=k, lr=lr: conv_dropout(k, lr) for _, k, lr in cells]
    seeds = [c[0] for c in cells]
    members = [new_member(_built(b, s)) for b, s in zip(builds, seeds)]
    assert stack_key(members[0].dnn)[1] == "vmap" and Stack(members, "vmap").per_model_forward
    with runs_dir(tmp_path):
        expected = [separate_fit(b, s, 5.0, X_inputs=x, Y_targets=y, n_epoch=2, validation_set=0.25)
                    for b, s in zip(builds, seeds)]
        got = stacked(builds, seeds, 5.0, StackFit(x, y, n_epoch=2, validation_set=0.25))
        crowd = stacked([lambda: conv_dropout(0.5, 1e6)] + builds[:2], [0, 0, 1], 5.0,
                        StackFit(x, y, n_epoch=2, validation_set=0.25))
    for a, m in zip(expected, got):
        assert_same_models(a, m.dnn)
    assert not torch.equal(got[0].dnn.net.layers["FullyConnected"].weight,
                           got[2].dnn.net.layers["FullyConnected"].weight)  # (not trivially equal)
    assert all(m.failed is None for m in crowd[1:])
    for a, m in zip(expected[:2], crowd[1:]):
        assert_same_models(a, m.dnn)


def test_a_damaged_stack_checkpoint_is_refused_and_the_restart_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    from safetensors import safe_open
    from safetensors.torch import save_file

    from deepscope.sweep import stack_checkpoint

    builds = [lambda: mlp(keep=0.5, lr=0.1), lambda: mlp(keep=0.7, lr=0.05)]
    with runs_dir(tmp_path):
        whole = stacked(builds, [0, 1], 5.0, StackFit(X, Y, n_epoch=4))
    original = stack_checkpoint.save
    monkeypatch.setattr(stack_checkpoint, "EVERY_SECONDS", 0.0)

    def save_then_die(trainer, path, position=None):
        original(trainer, path, position)
        if trainer.epoch == 2 and position is None:
            raise KeyboardInterrupt

    for damage in ("truncate", "nan", "missing", "metadata"):
        path = tmp_path / f"{damage}.safetensors"
        monkeypatch.setattr(stack_checkpoint, "save", save_then_die)
        with runs_dir(tmp_path), pytest.raises(KeyboardInterrupt):
            members = []
            for build, seed in zip(builds, [0, 1]):
                set_seed(seed)
                members.append(new_member(tflearn.DNN(build(), clip_gradients=5.0)))
            train_stack(members, "dense", StackFit(X, Y, n_epoch=4), write_runs=False, checkpoint=path)
        monkeypatch.setattr(stack_checkpoint, "save", original)
        with safe_open(str(path), "pt") as f:
            meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
        if damage == "truncate":
            path.write_bytes(path.read_bytes()[:-100])
        elif damage == "nan":
            name = next(k for k in tensors if k.startswith("param."))
            tensors[name] = torch.full_like(tensors[name], float("nan"))
            save_file(tensors, str(path), metadata=meta)
        elif damage == "missing":
            tensors.pop("rng.model.1")
            save_file(tensors, str(path), metadata=meta)
        else:
            meta["deepscope"] = meta["deepscope"][:-30]
            save_file(tensors, str(path), metadata=meta)
        members = []
        for build, seed in zip(builds, [0, 1]):
            set_seed(seed)
            members.append(new_member(tflearn.DNN(build(), clip_gradients=5.0)))
        set_seed(12345)  # whatever the driver's generator holds
        with runs_dir(tmp_path):
            stack = train_stack(members, "dense", StackFit(X, Y, n_epoch=4), write_runs=False, checkpoint=path)
        assert stack.resumed_epoch is None, damage  # refused: trained again from the start
        for a, m in zip(whole, members):
            assert_same_models(a.dnn, m.dnn)


def test_what_cannot_be_stacked_says_why():
    def frozen():
        net = tflearn.input_data(shape=[None, 12])
        net = tflearn.fully_connected(net, 8, trainable=False)
        return tflearn.regression(tflearn.fully_connected(net, 4, activation="softmax"))
    assert "frozen layers" in stack_key(_built(frozen, 0))[1]
    a, b = new_member(_built(lambda: mlp(units=16), 0)), new_member(_built(lambda: mlp(units=8), 0))
    stacks, singles = stack_groups([a, b])  # different widths: no stack
    assert not stacks and len(singles) == 2
    c = new_member(_built(lambda: mlp(optimizer="adam"), 0))  # another optimizer: not the same settings
    assert stack_key(a.dnn)[0] != stack_key(c.dnn)[0]

    def scaled(stddev):  # the initialization's scale is a per-model value: one stack
        net = tflearn.input_data(shape=[None, 12])
        init = tflearn.initializations.truncated_normal(stddev=stddev)
        net = tflearn.fully_connected(net, 4, activation="softmax", weights_init=init)
        return tflearn.regression(net)
    small, large = _built(lambda: scaled(0.01), 0), _built(lambda: scaled(1.0), 0)
    assert stack_key(small)[0] == stack_key(large)[0]
    std = [float(m.net.layers["FullyConnected"].weight.detach().std()) for m in (small, large)]
    assert std[1] > 10 * std[0]


def build_cell(l2_first, l2_second):
    net = tflearn.input_data(shape=[None, 12])
    net = tflearn.fully_connected(net, 16, activation="relu", regularizer="L2", weight_decay=l2_first)
    net = tflearn.fully_connected(net, 8, activation="relu", regularizer="L2", weight_decay=l2_second)
    net = tflearn.fully_connected(net, 4, activation="softmax")
    return tflearn.regression(net, optimizer="sgd", learning_rate=0.5, batch_size=16)


def test_vectorized_study_same_table_as_one_by_one(tmp_path, capsys):
    space = {"l2_first": [1e-4, 1e-2], "l2_second": [1e-4, 1e-1]}
    fit = Fit(build_cell, X, Y, n_epoch=2, validation_set=(VX, VY))
    vectorized = Study("vec", fit, space, seeds=(0, 1), root=tmp_path)
    vectorized.run()
    out = capsys.readouterr().out
    assert "8 trials in 1 vectorized run (8 models, dense)" in out and "1 of 8 vectorized" in out
    one_by_one = Study("seq", fit, space, seeds=(0, 1), root=tmp_path, vectorize=False, verbose=False)
    one_by_one.run()
    rows = {(str(r["params"]), r["seed"]): r for r in one_by_one.results()}
    for row in vectorized.results():
        other = rows[(str(row["params"]), row["seed"])]
        assert row["status"] == other["status"] == "finished"
        for key, value in other["metrics"].items():
            assert row["metrics"][key] == pytest.approx(value, abs=1e-5)
        # the trial record (read from the trial's run folder) is there, as for a one-by-one trial
        assert row["record"]["final_metrics"] and [d["code"] for d in row["record"]["diagnoses"]] == [
            d["code"] for d in other["record"]["diagnoses"]]
        folder = tmp_path / row["run_id"]
        assert (folder / "model.safetensors").is_file() and (folder / "steps.csv").is_file()
        tflearn.load(folder / "model.safetensors")  # the trained model of that trial
        config = json.loads((folder / "config.json").read_text())  # the trial's swept values and seed, as a fit's
        assert config["trial"] == {"params": row["params"], "seed": row["seed"]} == json.loads(
            (tmp_path / other["run_id"] / "config.json").read_text())["trial"]
    summary = vectorized.summary("l2_first", "l2_second")
    # (these L2 factors change val_acc less than the seeds do: no importance is claimed for noise)
    assert "No parameter explains val_acc beyond seed noise" in summary and "What explains" not in summary
    for a, b in zip(vectorized.table(), one_by_one.table()):
        assert a["mean"] == pytest.approx(b["mean"], abs=1e-6) and a["n"] == b["n"] == 2
    events = [json.loads(x) for x in (tmp_path / "vec" / "journal.jsonl").read_text().splitlines()]
    assert [e.get("vectorized") for e in events if e["event"] == "finished"] == [8] * 8
    # run again: every trial is done, nothing trains
    assert len(Study("vec", fit, space, seeds=(0, 1), root=tmp_path, verbose=False).run()) == 8


def test_unstackable_trials_run_one_by_one(tmp_path, capsys):
    def build(units):
        net = tflearn.input_data(shape=[None, 12])
        net = tflearn.fully_connected(net, units, activation="relu")
        return tflearn.regression(tflearn.fully_connected(net, 4, activation="softmax"), batch_size=32)
    study = Study("widths", Fit(build, X, Y, n_epoch=1), {"units": [4, 8]}, seeds=(0, 1), root=tmp_path,
                  metric="loss", mode="min")
    study.run()
    out = capsys.readouterr().out
    assert "4 trials in 2 vectorized runs" in out  # one stack per width
    assert all(r["status"] == "finished" for r in study.results())
    study = Study("one", Fit(build, X, Y, n_epoch=1), {"units": [4]}, seeds=(0,), root=tmp_path, metric="loss")
    study.run()
    assert study.results()[0]["status"] == "finished"


def test_bad_arguments():
    with pytest.raises(TypeError, match="Fit"):
        Study("x", lambda p, s, r: {}, {"a": [1]}, vectorize=True)
    with pytest.raises(ValueError, match="vectorize"):
        Study("x", lambda p, s, r: {}, {"a": [1]}, vectorize="yes")
    with pytest.raises(TypeError, match="build"):
        Fit(mlp(), X, Y)
    with pytest.raises(TypeError, match="by name"):
        Fit(build_cell, X, Y).model({"l2": 1.0})
    with pytest.raises(TypeError, match="Fit Y"):
        Fit(build_cell, X, None)
    with pytest.raises(TypeError, match="validation_set"):
        Fit(build_cell, X, Y, validation_set=VX)
    with pytest.raises(ValueError, match="n_epoch"):
        Fit(build_cell, X, Y, n_epoch=0)
    with pytest.raises(TypeError, match="Member"):
        train_stack([], "dense", StackFit(X, Y))


def test_a_stack_that_cannot_train_falls_back_to_one_by_one(tmp_path, capsys, monkeypatch):
    """Anything the stacked run cannot do (here: a forced error) leaves the trials to the general path."""
    import deepscope.sweep.execution as execution

    def broken(*args, **kwargs):
        raise RuntimeError("not here")
    monkeypatch.setattr(execution, "train_stack", broken)
    study = Study("fallback", Fit(build_cell, X, Y, n_epoch=1), {"l2_first": [1e-4], "l2_second": [1e-4, 1e-2]},
                  seeds=(0,), root=tmp_path, metric="loss", mode="min")
    rows = study.run()
    assert "they run one by one instead" in capsys.readouterr().out
    assert len(rows) == 2 and all(r["status"] == "finished" for r in rows)


def test_a_killed_vectorized_study_continues_its_stack_from_the_last_epoch(tmp_path):
    """Killed right after a stack checkpoint written inside epoch 2, the restarted study continues the stack
    from there (weights, optimizer, dropout generators, histories, step records, the position in the epoch)
    and ends as an uninterrupted run."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).with_name("_stack_driver.py")
    repo = str(Path(__file__).resolve().parents[1])
    run = lambda name, mode: subprocess.run([sys.executable, str(script), str(tmp_path), name, mode],  # noqa: E731
                                            capture_output=True, text=True, timeout=300,
                                            env={**__import__("os").environ, "PYTHONPATH": repo})
    killed = run("study", "kill")
    assert killed.returncode == 9 and "DONE" not in killed.stdout
    assert len(list((tmp_path / "study" / "stacks").glob("*.safetensors"))) == 1
    resumed = run("study", "run")
    assert resumed.returncode == 0 and "DONE" in resumed.stdout, resumed.stderr
    assert resumed.stdout.count("vectorized, resumed") == 4  # every trial continued from the checkpoint
    assert not list((tmp_path / "study" / "stacks").glob("*.safetensors"))  # removed once journaled
    whole = run("reference", "run")
    assert whole.returncode == 0, whole.stderr
    rows = {r["trial"]: r for r in Study("study", lambda p, s, r: {}, {"lr": [0.01, 0.05]}, seeds=(0, 1),
                                         root=tmp_path).results()}
    reference = {r["trial"]: r for r in Study("reference", lambda p, s, r: {}, {"lr": [0.01, 0.05]}, seeds=(0, 1),
                                              root=tmp_path).results()}
    assert set(rows) == set(reference) and all(r["status"] == "finished" for r in rows.values())
    for trial, row in rows.items():
        for key, value in reference[trial]["metrics"].items():
            assert row["metrics"][key] == pytest.approx(value, abs=1e-6), key
        metrics = (tmp_path / row["run_id"] / "metrics.csv").read_text().splitlines()
        assert len(metrics) == 5  # header + 4 epochs: the restored histories and the new ones
        steps = (tmp_path / row["run_id"] / "steps.csv").read_text().splitlines()
        assert steps[1].startswith("1,1,")  # the step records of epochs 1-2 came back too


class EpochLog(tflearn.callbacks.Callback):
    """Records what its trial's fit shows at each epoch; stops the trial after ``stop_after`` epochs."""

    def __init__(self, log, key, stop_after=None):
        self.log, self.key, self.stop_after = log, key, stop_after

    def on_train_begin(self, state):
        self.log.setdefault(self.key, []).append("begin")

    def on_epoch_begin(self, state):
        self.log.setdefault(self.key, []).append(("epoch", state.epoch))

    def on_epoch_end(self, state):
        self.log.setdefault(self.key, []).append((state.epoch, round(state.epoch_logs["val_acc"], 6),
                                                  round(state.epoch_logs["loss"], 5)))
        if self.stop_after is not None and state.epoch >= self.stop_after:
            state.stop_training = True

    def on_train_end(self, state):
        self.log.setdefault(self.key, []).append(("end", state.epoch))


def test_callbacks_in_a_vectorized_study_see_their_own_trial_and_can_stop_it(tmp_path, capsys):
    """Each trial's callbacks get its own epochs and metrics, as in its own fit; stopping one trial early
    leaves it as its fit would leave it (and the others untouched)."""
    space = {"l2_first": [1e-4, 1e-2], "l2_second": [1e-4]}
    logs = {"vec": {}, "seq": {}}

    def callbacks(which):
        return lambda params, seed: [EpochLog(logs[which], (params["l2_first"], seed),
                                              stop_after=2 if params["l2_first"] == 1e-2 and seed == 1 else None)]

    results = {}
    for which, vectorize in (("vec", "auto"), ("seq", False)):
        fit = Fit(build_cell, X, Y, n_epoch=4, validation_set=(VX, VY), callbacks=callbacks(which))
        study = Study(which, fit, space, seeds=(0, 1), root=tmp_path, vectorize=vectorize)
        study.run()
        results[which] = {(r["params"]["l2_first"], r["seed"]): r for r in study.results()}
    out = capsys.readouterr().out
    assert "4 trials in 1 vectorized run" in out
    lines = [line for line in out.splitlines() if line.startswith("stack of 4 models: epoch")]
    assert [line.split("|")[0].strip() for line in lines] == [f"stack of 4 models: epoch {e}/4" for e in (1, 2, 3, 4)]
    assert all("best val_acc" in line and len(line) <= 100 for line in lines), [len(x) for x in lines]  # <= 100 columns
    assert all("s left" in line for line in lines[:-1]) and "s left" not in lines[-1]  # the time left, until the end
    assert logs["vec"] == logs["seq"] and len(logs["vec"]) == 4
    assert logs["vec"][(1e-2, 1)][-1] == ("end", 2) and logs["vec"][(1e-4, 0)][-1] == ("end", 4)
    for key, row in results["vec"].items():
        for name, value in results["seq"][key]["metrics"].items():
            assert row["metrics"][name] == pytest.approx(value, abs=1e-5), (key, name)


def test_a_trainer_subclass_runs_one_by_one_and_says_why(tmp_path, capsys):
    class Plain(tflearn.models.Trainer):
        pass

    fit = Fit(build_cell, X, Y, n_epoch=1, trainer=Plain)
    rows = Study("own", fit, {"l2_first": [1e-4, 1e-2], "l2_second": [1e-4]}, seeds=(0,), root=tmp_path).run()
    out = capsys.readouterr().out
    assert "2 trials not vectorized: a trainer= subclass (Plain" in out and "vectorized run" not in out
    assert all(r["status"] == "finished" for r in rows)
    with pytest.raises(TypeError, match="Fit trainer"):
        Fit(build_cell, X, Y, trainer=object)
    with pytest.raises(TypeError, match="Fit callbacks"):
        Fit(build_cell, X, Y, callbacks=[object()])


def conv_bn_dropout(keep):
    net = tflearn.input_data(shape=[None, 4, 3, 1])
    net = tflearn.batch_normalization(tflearn.conv_2d(net, 3, 2, activation="relu"))
    net = tflearn.dropout(tflearn.fully_connected(net, 6, activation="relu"), keep)
    return tflearn.regression(tflearn.fully_connected(net, 4, activation="softmax"), optimizer="adam",
                              learning_rate=0.01, batch_size=16)


@pytest.mark.parametrize("every,network", [(None, "dense"), (4, "dense"), (4, "convolution, BN, dropout")])
def test_a_stack_killed_inside_an_epoch_resumes_there(tmp_path, monkeypatch, every, network):
    """Checkpoints by steps (4) or by time (every step, 0 s): killed after a checkpoint written inside an
    epoch, the restarted stack continues from that batch and ends equal to an uninterrupted one (the dense
    engine, and a network whose models train one after another: running statistics, dropout generators)."""
    from deepscope.sweep import stack_checkpoint

    if network == "dense":
        builds = [lambda: mlp(keep=0.5, lr=0.1), lambda: mlp(keep=0.8, lr=0.05)]
        fit = StackFit(X, Y, n_epoch=3, validation_set=(VX, VY))  # 120 samples, batch 16: 8 steps an epoch
    else:
        builds = [lambda: conv_bn_dropout(0.5), lambda: conv_bn_dropout(0.8)]
        x = rng.randn(128, 4, 3, 1).astype("float32")
        fit = StackFit(x, np.eye(4, dtype="float32")[rng.randint(0, 4, 128)], n_epoch=3, validation_set=0.0625)
    engine = "dense" if network == "dense" else "vmap"

    def members():
        made = []
        for build, seed in zip(builds, [0, 1]):
            set_seed(seed)
            made.append(new_member(tflearn.DNN(build(), clip_gradients=5.0)))
        return made

    with runs_dir(tmp_path):
        whole = members()
        train_stack(whole, engine, fit, write_runs=False)
    monkeypatch.setattr(stack_checkpoint, "EVERY_STEPS", every)
    monkeypatch.setattr(stack_checkpoint, "EVERY_SECONDS", 0.0)
    original, written = stack_checkpoint.save, []

    def save_then_die(trainer, path, position=None):
        original(trainer, path, position)
        written.append((trainer.step, position is not None))
        if trainer.step == 12:  # inside epoch 2 (steps 9-16)
            raise KeyboardInterrupt

    path = tmp_path / "stack.safetensors"
    monkeypatch.setattr(stack_checkpoint, "save", save_then_die)
    with runs_dir(tmp_path), pytest.raises(KeyboardInterrupt):
        train_stack(members(), engine, fit, write_runs=False, checkpoint=path)
    monkeypatch.setattr(stack_checkpoint, "save", original)
    assert written[-1] == (12, True)
    set_seed(999)  # whatever the generator holds now
    with runs_dir(tmp_path):
        resumed = members()
        stack = train_stack(resumed, engine, fit, write_runs=False, checkpoint=path)
    assert stack.resumed_epoch == 2 and stack.per_model_forward == (network != "dense")
    for a, b in zip(whole, resumed):
        assert len(a.history) == len(b.history) == 3
        assert_same_models(a.dnn, b.dnn)
        for (name, mine), theirs in zip(b.dnn.net.named_buffers(), a.dnn.net.buffers()):
            torch.testing.assert_close(mine.float(), theirs.float(), atol=2e-5, rtol=0, msg=name)


@pytest.mark.parametrize("killed,finished", [(2, 1), (1, 2)])
def test_a_study_killed_under_one_partition_and_finished_under_another_equals_an_uninterrupted_one(
        tmp_path, killed, finished):
    """With dropout in the network: killed under workers=2 and finished under workers=1 (and the reverse),
    every trial equals the uninterrupted study's, whatever stack or worker it trained in."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).with_name("_workers_driver.py")
    repo = str(Path(__file__).resolve().parents[1])
    run = lambda name, workers, mode: subprocess.run(  # noqa: E731
        [sys.executable, str(script), str(tmp_path), name, str(workers), mode], capture_output=True, text=True,
        timeout=300, env={**__import__("os").environ, "PYTHONPATH": repo})
    first = run("study", killed, "kill")
    assert first.returncode == 9 and "DONE" not in first.stdout, first.stderr
    second = run("study", finished, "run")
    assert second.returncode == 0 and "DONE" in second.stdout, second.stderr
    whole = run("whole", 1, "run")
    assert whole.returncode == 0, whole.stderr
    space = {"units": [4, 6], "lr": [0.1, 0.3]}
    rows = {r["trial"]: r for r in Study("study", lambda p, s, r: {}, space, seeds=(0, 1), root=tmp_path).results()}
    reference = {r["trial"]: r for r in Study("whole", lambda p, s, r: {}, space, seeds=(0, 1), root=tmp_path).results()}
    assert set(rows) == set(reference) and len(rows) == 8
    for trial, row in rows.items():
        assert row["status"] == reference[trial]["status"] == "finished"
        for key, value in reference[trial]["metrics"].items():
            assert row["metrics"][key] == pytest.approx(value, abs=1e-5), (trial, key)


def bn_cnn(lr=0.01):
    net = tflearn.input_data(shape=[None, 4, 3, 1])
    net = tflearn.conv_2d(net, 3, 2, activation="relu")
    net = tflearn.batch_normalization(net)
    net = tflearn.fully_connected(net, 6, activation="relu")
    net = tflearn.batch_normalization(net)
    net = tflearn.fully_connected(net, 4, activation="softmax")
    return tflearn.regression(net, optimizer="adam", learning_rate=lr, batch_size=16)


def test_batch_normalization_stack_equals_separate_fits(tmp_path, cpu_convolution_engine):
    """Each model's running statistics are its own (stacked buffers updated in place under vmap)."""
    x = rng.randn(64, 4, 3, 1).astype("float32")
    y = np.eye(4, dtype="float32")[rng.randint(0, 4, 64)]
    builds = [lambda lr=lr: bn_cnn(lr) for lr in (0.01, 0.02, 0.01)]
    seeds = [0, 1, 2]
    assert stack_key(_built(builds[0], 0))[1] == "vmap"
    with runs_dir(tmp_path):
        expected = [separate_fit(b, s, 5.0, X_inputs=x, Y_targets=y, n_epoch=2, validation_set=0.25)
                    for b, s in zip(builds, seeds)]
        got = stacked(builds, seeds, 5.0, StackFit(x, y, n_epoch=2, validation_set=0.25))
    for a, m in zip(expected, got):
        assert_same_models(a, m.dnn)
        for (name, mine), theirs in zip(m.dnn.net.named_buffers(), a.net.buffers()):
            torch.testing.assert_close(mine.float(), theirs.float(), atol=2e-5, rtol=0, msg=name)
    assert not torch.equal(got[0].dnn.net.layers["BatchNormalization"].running_mean,
                           got[1].dnn.net.layers["BatchNormalization"].running_mean)  # each model its own


def recurrent(kind, lr=0.01):
    net = tflearn.input_data(shape=[None, 5, 3])
    if kind == "bidirectional":
        net = tflearn.bidirectional_rnn(net, tflearn.BasicLSTMCell(6), tflearn.BasicLSTMCell(6))
    else:
        net = getattr(tflearn, kind)(net, 6)
    net = tflearn.fully_connected(net, 4, activation="softmax")
    return tflearn.regression(net, optimizer="adam", learning_rate=lr, batch_size=16)


@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn", "bidirectional"])
def test_recurrent_stacks_equal_separate_fits(tmp_path, kind):
    """torch has no vmap rule for its fused recurrent kernels (train_ensemble raised 'Batching rule not
    implemented for aten::lstm.input'): recurrent networks train one model after another in their stack."""
    x = rng.randn(48, 5, 3).astype("float32")
    y = np.eye(4, dtype="float32")[rng.randint(0, 4, 48)]
    builds = [lambda lr=lr: recurrent(kind, lr) for lr in (0.01, 0.02, 0.01)]
    seeds = [0, 1, 2]
    members = [new_member(_built(b, s)) for b, s in zip(builds, seeds)]
    assert Stack(members, stack_key(members[0].dnn)[1]).per_model_forward
    assert_stack_equals_fits(builds, seeds, x, y, tmp_path, validation_set=0.25)


def test_a_network_vmap_cannot_batch_trains_one_model_after_another(tmp_path):
    """The embedding layer checks its indices with .item(), which vmap refuses ('vmap: It looks like you're calling
    .item()'): a first call on two samples finds it, and the stack trains its models one after another."""
    x = rng.randint(0, 20, (48, 6)).astype("float32")
    y = np.eye(4, dtype="float32")[rng.randint(0, 4, 48)]

    def embedded(lr=0.01):
        net = tflearn.embedding(tflearn.input_data(shape=[None, 6]), 20, 8)
        return tflearn.regression(tflearn.fully_connected(net, 4, activation="softmax"), optimizer="adam",
                                  learning_rate=lr, batch_size=16)
    builds = [lambda lr=lr: embedded(lr) for lr in (0.01, 0.02)]
    members = [new_member(_built(b, s)) for b, s in zip(builds, [0, 1])]
    assert not Stack(members, stack_key(members[0].dnn)[1]).per_model_forward  # (decided at the first call)
    assert_stack_equals_fits(builds, [0, 1], x, y, tmp_path)
    result = tflearn.sweep.train_ensemble(embedded, x, y, seeds=[0, 1], n_epoch=1)  # (raised before)
    assert np.isfinite(result.final["loss"]).all()


def test_a_study_says_how_its_stack_runs(tmp_path, capsys):
    x = rng.randn(32, 4, 3, 1).astype("float32")
    y = np.eye(4, dtype="float32")[rng.randint(0, 4, 32)]
    Study("how", Fit(lambda keep: conv_dropout(keep), x, y, n_epoch=1), {"keep": [0.5, 0.8]}, seeds=(0,),
          root=tmp_path).run()
    assert "2 trials in 1 vectorized run (2 models, one model after another)" in capsys.readouterr().out
