"""deepscope.diagnostics: step records equal a hand computation; every diagnosis is triggered by a
constructed case and not by a healthy run; studies record them; max_steps and drop_last."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import deepscope as tflearn
from deepscope.callbacks import Callback
from deepscope.datasets import toy
from deepscope.diagnostics import Diagnostics, read_diagnosis, read_steps
from deepscope.sweep import Study, stability_grid, stability_map

X, Y = toy.moons(256, seed=0)
Y1 = np.eye(2, dtype=np.float32)[Y]


def mlp(hidden=16, activation="relu", lr=0.1, weight_decay=0.0, optimizer="sgd", init="auto", out=2):
    net = tflearn.input_data(shape=[None, 2])
    kw = dict(regularizer="L2", weight_decay=weight_decay) if weight_decay else {}
    net = tflearn.fully_connected(net, hidden, activation=activation, weights_init=init, **kw)
    net = tflearn.fully_connected(net, out, activation="softmax", weights_init=init)
    return tflearn.regression(net, optimizer=optimizer, learning_rate=lr, loss="categorical_crossentropy")


class AtStep(Callback):
    """Runs ``action(model)`` at the end of step ``step`` (before the diagnostics record it)."""

    def __init__(self, step, action):
        self.step, self.action = step, action

    def on_batch_end(self, state, snapshot=False):
        if state.step == self.step:
            with torch.no_grad():
                self.action(state.model)


def hidden(model):
    return model.net.layers["FullyConnected"]


# -- records ------------------------------------------------------------------------------------
@pytest.mark.parametrize("clip", [None, 0.05])
def test_step_record_equals_a_hand_computation(clip):
    """One full-batch SGD step on a 2-3-2 network: norms, pre-clip gradient, update ratio, dead
    fraction, penalty and data loss, computed by hand with autograd."""
    tflearn.set_seed(0)
    Xs, Ys = X[:20], Y1[:20]
    model = tflearn.DNN(mlp(hidden=3, lr=0.5, weight_decay=0.01), clip_gradients=clip)
    layer, out = hidden(model), model.net.layers["FullyConnected_1"]
    W1, b1, W2, b2 = (p.detach().clone().requires_grad_(True) for p in (layer.weight, layer.bias, out.weight, out.bias))
    x, y = torch.tensor(Xs), torch.tensor(Ys)
    h = torch.relu(x @ W1.t() + b1)
    data_loss = torch.nn.functional.cross_entropy(h @ W2.t() + b2, y.argmax(1))
    penalty = 0.01 * (W1 ** 2).sum() / 2
    (data_loss + penalty).backward()
    data_loss, penalty = data_loss.detach(), penalty.detach()
    g1 = torch.cat([W1.grad.flatten(), b1.grad])
    g2 = torch.cat([W2.grad.flatten(), b2.grad])
    total = torch.cat([g1, g2]).norm()
    scale = min(1.0, clip / float(total)) if clip else 1.0
    w1 = torch.cat([W1.flatten(), b1]).detach()

    model.fit(Xs, Ys, n_epoch=1, batch_size=20, diagnostics=Diagnostics(probe_size=20))
    r = read_steps(model.last_run.path)[0]
    assert r["step"] == 1
    assert r["loss"] == pytest.approx(float(data_loss + penalty), rel=1e-5)
    assert r["penalty"] == pytest.approx(float(penalty), rel=1e-5)
    assert r["data_loss"] == pytest.approx(float(data_loss), rel=1e-4)
    assert r["FullyConnected/grad_norm"] == pytest.approx(float(g1.norm()), rel=1e-4)
    assert r["FullyConnected_1/grad_norm"] == pytest.approx(float(g2.norm()), rel=1e-4)
    assert r["grad_norm"] == pytest.approx(float(total), rel=1e-4)
    assert r["FullyConnected/weight_norm"] == pytest.approx(float((w1 - 0.5 * scale * g1).norm()), rel=1e-4)
    w1_after = w1 - 0.5 * scale * g1
    assert r["FullyConnected/update_ratio"] == pytest.approx(0.5 * scale * float(g1.norm()) / float(w1_after.norm()),
                                                             rel=1e-3)
    # the dead fraction: on the step's own batch (the layers ran it), with the weights before the step
    assert r["FullyConnected/dead"] == pytest.approx(float((h.amax(0) <= 0).float().mean()))


def test_the_small_network_path_takes_unit_statistics_from_the_probe():
    """Tiny dense chains train without calling their layers: the fixed probe gives the statistics."""
    model = tflearn.DNN(mlp(hidden=3, lr=0.5))
    model.fit(X[:20], Y1[:20], n_epoch=1, batch_size=20, diagnostics=Diagnostics(probe_size=5))
    layer = hidden(model)
    probe = torch.tensor(X[:20])[torch.linspace(0, 19, 5).round().long()]  # evenly spaced samples
    after = torch.relu(probe @ layer.weight.detach().t() + layer.bias.detach())
    r = read_steps(model.last_run.path)[0]
    assert r["FullyConnected/dead"] == pytest.approx(float((after.amax(0) <= 0).float().mean()))


def test_schedule_every_first_step_then_about_32_more_records_and_the_last():
    model = tflearn.DNN(mlp())
    model.fit(X, Y1, n_epoch=25, batch_size=16)  # 400 steps
    steps = [r["step"] for r in read_steps(model.last_run.path)]
    assert steps[:20] == list(range(1, 21)) and steps[-1] == 400
    assert 50 <= len(steps) <= 60 and steps == sorted(set(steps))
    model.fit(X, Y1, n_epoch=2, batch_size=16, diagnostics=Diagnostics(every=5, first_steps=2))
    steps = [r["step"] for r in read_steps(model.last_run.path)]
    assert steps == [401, 402] + list(range(405, 433, 5)) + [432]


def test_diagnostics_off_writes_nothing():
    model = tflearn.DNN(mlp())
    model.fit(X, Y1, n_epoch=1, diagnostics=False)
    assert model.diagnosis is None and not (model.last_run.path / "steps.csv").exists()


# -- diagnoses: each from a constructed case ------------------------------------------------------
def test_a_healthy_run_has_no_findings(capsys):
    tflearn.set_seed(1)
    model = tflearn.DNN(mlp(lr=0.1, optimizer="adam"))
    model.fit(X, Y1, n_epoch=20, batch_size=32)
    assert model.diagnosis.healthy, str(model.diagnosis)
    assert model.diagnosis.final["n_predicted_classes"] == 2
    stored = json.loads((model.last_run.path / "diagnosis.json").read_text())
    assert stored["findings"] == [] and "deepscope diagnosis" not in capsys.readouterr().out


def test_a_layer_killed_at_step_k_is_dead_since_k_and_the_network_collapses(capsys):
    tflearn.set_seed(0)
    model = tflearn.DNN(mlp(lr=0.1))
    kill = AtStep(7, lambda m: hidden(m).bias.fill_(-1e3))
    model.fit(X, Y1, n_epoch=3, batch_size=32, callbacks=kill)  # 24 steps
    d = model.diagnosis
    dead = next(f for f in d.findings if f.code == "dead_layer")
    assert dead.layer == "FullyConnected" and dead.step == 7 and dead.evidence["all_dead_since_step"] == 7
    assert "constant_prediction" in d.codes and d.final["n_predicted_classes"] == 1
    assert d.final["dead"]["FullyConnected"] == 1.0
    out = capsys.readouterr().out
    assert "died at step 7: from then on 100% of its units are dead" in out and "try:" in out
    assert read_diagnosis(model.last_run.path).codes == d.codes


def test_exploding_gradients_at_the_step_they_explode():
    tflearn.set_seed(0)
    model = tflearn.DNN(mlp(lr=1e-4, activation="tanh"), clip_gradients=None)
    model.fit(X, Y1, n_epoch=4, batch_size=32,
              callbacks=AtStep(10, lambda m: m.net.layers["FullyConnected_1"].weight.mul_(1e4)))
    f = next(f for f in model.diagnosis.findings if f.code == "exploding_gradients")
    assert f.step == 11 and f.evidence["grad_norm"] > 100 * f.evidence["median_before"]


def test_a_loss_spike_at_the_start_from_a_huge_initialization():
    tflearn.set_seed(0)
    big = tflearn.initializations.truncated_normal(stddev=30.0)
    model = tflearn.DNN(mlp(lr=0.5, init=big), clip_gradients=None)
    model.fit(X * 10, Y1, n_epoch=2, batch_size=32)
    f = next(f for f in model.diagnosis.findings if f.code == "loss_spike")
    assert f.evidence["first_loss"] > 10 * math.log(2)


def test_penalty_dominated_loss_is_named():
    """A dead hidden layer under a large L2 factor: the loss falls, the data loss does not."""
    tflearn.set_seed(0)
    model = tflearn.DNN(mlp(lr=0.1, weight_decay=0.5))
    with torch.no_grad():
        hidden(model).bias.fill_(-1e3)
    model.fit(X, Y1, n_epoch=10, batch_size=32)
    f = next(f for f in model.diagnosis.findings if f.code == "penalty_dominates")
    assert "falls only because the L1/L2 term decays" in f.message
    loss, data = f.evidence["loss"], f.evidence["data_loss"]
    assert loss[1] < 0.5 * loss[0] and abs(data[1] - data[0]) < 0.1 * data[0]


def test_a_tiny_last_batch_is_named_and_drop_last_removes_it():
    model = tflearn.DNN(mlp())
    model.fit(X[:132], Y1[:132], n_epoch=2, batch_size=128)
    f = next(f for f in model.diagnosis.findings if f.code == "tiny_last_batch")
    assert f.evidence == {"last_batch": 4, "batch_size": 128, "n_samples": 132}
    model = tflearn.DNN(mlp())
    model.fit(X[:132], Y1[:132], n_epoch=2, batch_size=128, drop_last=True)
    assert "tiny_last_batch" not in model.diagnosis.codes and model.step == 2  # one full batch per epoch


def test_saturated_sigmoid_layer():
    tflearn.set_seed(0)
    model = tflearn.DNN(mlp(activation="sigmoid", lr=1e-3))
    with torch.no_grad():
        hidden(model).weight.mul_(1e3)
    model.fit(X, Y1, n_epoch=2, batch_size=64)
    f = next(f for f in model.diagnosis.findings if f.code == "saturated_layer")
    assert f.layer == "FullyConnected" and f.evidence["saturated_fraction"] >= 0.9


def test_nan_is_in_the_diagnosis_and_the_run_folder():
    model = tflearn.DNN(mlp(lr=0.1))
    poison = AtStep(3, lambda m: hidden(m).weight.fill_(float("nan")))
    with pytest.raises(FloatingPointError):
        model.fit(X, Y1, n_epoch=2, batch_size=32, callbacks=poison)
    assert model.diagnosis.codes[0] == "non_finite" and model.diagnosis.findings[0].step == 4
    assert read_diagnosis(model.last_run.path).codes[0] == "non_finite"


def test_runs_show_prints_the_diagnosis(capsys):
    from deepscope.cli.main import main
    model = tflearn.DNN(mlp(lr=0.1))
    model.fit(X[:132], Y1[:132], n_epoch=1, batch_size=128, run_id="tiny_batch_run")
    capsys.readouterr()
    assert main(["runs", "show", "tiny_batch_run", "--root", str(model.last_run.path.parent)]) == 0
    out = capsys.readouterr().out
    assert "Every epoch ends with a batch of 4 samples" in out and "steps.csv" in out


# -- knobs and bad input ------------------------------------------------------------------------
def test_max_steps_stops_there_and_sets_the_length():
    model = tflearn.DNN(mlp())
    model.fit(X, Y1, n_epoch=1, batch_size=32, max_steps=19)  # 8 steps per epoch: 3 epochs, the last cut
    assert model.step == 19 and model.epoch == 3
    assert read_steps(model.last_run.path)[-1]["step"] == 19


@pytest.mark.parametrize("value, match", [
    (Diagnostics(every=-1), "every"), (Diagnostics(probe_size=0), "probe_size"),
    (Diagnostics(layers=["nope"]), "unknown"), ("yes", "fit diagnostics"), (Diagnostics(first_steps=1.5), "first_steps")])
def test_bad_diagnostics_options_get_clear_errors(value, match):
    model = tflearn.DNN(mlp())
    with pytest.raises((ValueError, TypeError), match=match):
        model.fit(X, Y1, n_epoch=1, diagnostics=value)


def test_bad_max_steps():
    with pytest.raises(ValueError, match="fit max_steps"):
        tflearn.DNN(mlp()).fit(X, Y1, max_steps=0)


def test_an_exotic_module_never_breaks_the_fit():
    """A user module whose layer returns a tuple: no unit statistic for it, a note instead."""
    class Pair(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 2)

        def forward(self, x):
            return self.lin(x), x

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.pair = Pair()

        def forward(self, x):
            return torch.softmax(self.pair(x)[0], dim=1)

    model = tflearn.DNN(Net(), loss="categorical_crossentropy", optimizer="sgd", learning_rate=0.1)
    model.fit(X, Y1, n_epoch=1)
    assert read_steps(model.last_run.path)[0]["pair.lin/grad_norm"] > 0


# -- studies ------------------------------------------------------------------------------------
def test_a_study_records_what_happened_without_train_fn_help(tmp_path):
    def train_fn(params, seed, run_id):
        model = tflearn.DNN(mlp(lr=0.1))
        # (killed after the first 20 steps: an early jump this large would read as a learning rate too large)
        callbacks = AtStep(26, lambda m: hidden(m).bias.fill_(-1e3)) if params["kill"] else None
        model.fit(X, Y1, n_epoch=4, batch_size=32, run_id=run_id, callbacks=callbacks)
        return {"val_acc": model.evaluate(X, Y1)[0]}

    study = Study("diag", train_fn, {"kill": [False, True], "lr": [0.1]}, seeds=(0, 1), root=tmp_path, verbose=False)
    rows = study.run()
    for row in rows:
        record = row["record"]
        assert record["final_metrics"]["loss"] > 0 and "FullyConnected" in record["dead"]
        killed = row["params"]["kill"]
        assert (record["n_predicted_classes"] == 1) == killed
        assert ("dead_layer" in [d["code"] for d in record["diagnoses"]]) == killed
    g = stability_grid(study, "kill", "lr", collapse=0.6)
    assert list(g.diagnosis[:, 0]) == ["", "dead_layer"] and g.diagnosis_count[1, 0] == 2
    summary = study.summary("kill", "lr", collapse=0.6)
    assert "kill=True" in summary and "dead_layer in FullyConnected" in summary and "kill=False" not in summary
    stability_map(study, "kill", "lr", path=tmp_path / "map.png", collapse=0.6)
    assert (tmp_path / "map.png").stat().st_size > 10_000


def test_stability_grid_keeps_failed_and_nonfinite_seeds():
    rows = [{"params": {"a": 1, "b": 1}, "seed": s, "status": "finished", "metrics": {"val_acc": v}}
            for s, v in ((0, 0.9), (1, "nan"), (2, 0.8))]
    rows.append({"params": {"a": 1, "b": 1}, "seed": 3, "status": "failed", "metrics": {}, "error": "boom"})
    g = stability_grid(rows, "a", "b", collapse=0.11)
    assert g.n[0, 0] == 3 and g.n_nonfinite[0, 0] == 1 and g.n_failed[0, 0] == 1
    assert g.mean[0, 0] == pytest.approx(0.85) and g.median[0, 0] == pytest.approx(0.85)
    assert g.collapsed[0, 0] == pytest.approx(1 / 3)
    assert list(g.status[:, 0, 0]) == ["ok", "nonfinite", "ok", "failed"] and g.seeds == [0, 1, 2, 3]


def test_vanishing_gradients_in_a_saturated_tanh_layer():
    """A tanh layer pushed deep into saturation passes (almost) no gradient to its weights."""
    tflearn.set_seed(0)
    model = tflearn.DNN(mlp(activation="tanh", lr=0.01))
    with torch.no_grad():
        hidden(model).weight.mul_(1e4)
        hidden(model).bias.fill_(50.0)
    model.fit(X, Y1, n_epoch=4, batch_size=32)
    codes = model.diagnosis.codes
    assert "vanishing_gradients" in codes and "saturated_layer" in codes
    f = next(f for f in model.diagnosis.findings if f.code == "vanishing_gradients")
    assert f.layer == "FullyConnected" and f.evidence["grad_to_weight"] < 1e-7
