"""Exact resume: a killed run continued with ``fit(resume=True)`` equals an uninterrupted run bit for bit."""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import deepscope as tflearn
from deepscope.models import checkpoint as ck

sys.path.insert(0, str(Path(__file__).parent))
import _resume_worker as worker  # noqa: E402


class Die(tflearn.callbacks.Callback):
    """Simulates a crash right after step ``at`` (an exception escapes ``fit``)."""

    def __init__(self, at):
        self.at = at

    def on_batch_end(self, state, snapshot=False):
        if state.step == self.at:
            raise KeyboardInterrupt


class Losses(tflearn.callbacks.Callback):
    def __init__(self):
        self.seen = {}

    def on_batch_end(self, state, snapshot=False):
        self.seen.setdefault(state.step, []).append(float(state.batch_loss))


def _model(seed=1):
    tflearn.set_seed(seed)
    net = tflearn.input_data(shape=[None, 6])
    net = tflearn.fully_connected(net, 16, activation="relu")
    net = tflearn.dropout(net, 0.7)
    net = tflearn.fully_connected(net, 3, activation="softmax")
    opt = tflearn.optimizers.Momentum(learning_rate=0.05, lr_decay=0.95, decay_step=4)
    return tflearn.DNN(tflearn.regression(net, optimizer=opt), device="cpu")


def _data(n=45):
    rng = np.random.RandomState(0)
    X = rng.randn(n, 6).astype("float32")
    return X, np.eye(3)[X[:, :3].argmax(1)]


FIT = dict(n_epoch=4, batch_size=10, show_metric=True, validation_set=0.1, seed=3)


@pytest.mark.parametrize("die_at,every", [(7, 3), (8, 4), (12, 4), (15, 5), (2, 5), (16, 4)])
def test_resume_in_process_is_bit_identical(tmp_path, die_at, every):
    X, Y = _data()
    ref_losses = Losses()
    ref = _model()
    ref.fit(X, Y, callbacks=[ref_losses], **FIT)
    got = Losses()
    with pytest.raises(KeyboardInterrupt):
        _model().fit(X, Y, callbacks=[got, Die(die_at)], checkpoint_every=every, checkpoint_dir=tmp_path, **FIT)
    # other initial weights and generators: all must come from the checkpoint (none yet: a fresh start)
    resumed = _model(seed=77 if die_at >= every else 1)
    resumed.fit(X, Y, callbacks=[got], checkpoint_every=every, checkpoint_dir=tmp_path, resume=True, **FIT)
    assert sorted(got.seen) == sorted(ref_losses.seen)
    for step, values in got.seen.items():  # steps redone after the resume give the same loss too
        assert all(v == ref_losses.seen[step][0] for v in values), step
    for a, b in zip(ref.net.state_dict().values(), resumed.net.state_dict().values()):
        assert torch.equal(a, b)
    assert resumed.history == ref.history and resumed.step == ref.step and resumed.epoch == ref.epoch


def test_every_sample_once_per_epoch_across_a_resume(tmp_path):
    X, Y = _data(47)
    model = _model()
    model.fit(X, Y, n_epoch=2, batch_size=10, checkpoint_every=2, checkpoint_dir=tmp_path)
    from deepscope.models import FitSettings, Trainer
    trainer = Trainer(model, [torch.arange(47.0).reshape(-1, 1)], torch.arange(47), FitSettings.check(47, 1, 10, True),
                      data_seed=5)
    order = trainer.epoch_order(3)
    assert torch.equal(order, trainer.epoch_order(3)) and not torch.equal(order, trainer.epoch_order(4))
    for start in range(6):
        before = [y for _, y in trainer.batches(order, 0)][:start]
        after = [y for _, y in trainer.batches(order, start)]
        seen = torch.cat(before + after)
        assert torch.equal(seen, order) and torch.equal(seen.sort().values, torch.arange(47))


def test_resume_with_nothing_on_disk_starts_afresh(tmp_path, capsys):
    X, Y = _data()
    ref = _model()
    ref.fit(X, Y, **FIT)
    model = _model()
    model.fit(X, Y, resume=True, checkpoint_dir=tmp_path / "none", **FIT)
    assert "starting from the beginning" in capsys.readouterr().out
    for a, b in zip(ref.net.parameters(), model.net.parameters()):
        assert torch.equal(a, b)


def test_resume_finished_run_does_nothing_more(tmp_path):
    X, Y = _data()
    model = _model()
    model.fit(X, Y, checkpoint_every=3, run_id="exp1", **FIT)
    assert ck.list_checkpoints(Path(os.environ["DEEPSCOPE_RUNS"]) / "exp1" / "checkpoints")
    again = _model(seed=5)
    again.fit(X, Y, resume=True, run_id="exp1", **FIT)
    assert again.step == model.step and again.history == model.history
    for a, b in zip(again.net.parameters(), model.net.parameters()):
        assert torch.equal(a, b)


def test_resume_errors_are_clear(tmp_path):
    X, Y = _data()
    with pytest.raises(ValueError, match="run_id=.*checkpoint_dir"):
        _model().fit(X, Y, n_epoch=1, resume=True)
    with pytest.raises(TypeError, match="fit resume"):
        _model().fit(X, Y, n_epoch=1, resume=3.5)
    with pytest.raises(tflearn.ModelFileError, match="neither a checkpoint file nor a folder"):
        _model().fit(X, Y, n_epoch=1, resume=str(tmp_path / "nope"))
    _model().fit(X, Y, n_epoch=1, batch_size=10, checkpoint_every=2, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="batch_size=10"):
        _model().fit(X, Y, n_epoch=1, batch_size=5, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(ValueError, match="checkpoint_every"):
        _model().fit(X, Y, n_epoch=1, checkpoint_every=0, checkpoint_dir=tmp_path)


def test_kill_9_at_random_moments_then_resume(tmp_path):
    """A subprocess run killed with SIGKILL three times at random moments, resumed each time."""
    reference, trial = tmp_path / "reference", tmp_path / "trial"
    background = worker.reference_run(reference, "--epochs", "2", wait=False)
    kills_at = worker.killed_run(trial, 3, 2.0, random.Random(), "--epochs", "2")
    assert background.wait() == 0
    ok, why = worker.compare(reference, trial)
    assert ok, f"{why} (killed after steps {kills_at})"
    for path in ck.list_checkpoints(trial / "checkpoints"):
        ck.load_checkpoint(path)  # no truncated or unloadable checkpoint
