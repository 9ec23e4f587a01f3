"""Training checkpoints: atomic writes, the previous one kept, checksums, fallback past corrupt files."""
from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch

import deepscope as tflearn
from deepscope.models import FitRecord
from deepscope.models import checkpoint as ck
from deepscope.models.serialization import ModelFileError


def _model(seed=1, optimizer="adam"):
    tflearn.set_seed(seed)
    net = tflearn.input_data(shape=[None, 6])
    net = tflearn.fully_connected(net, 12, activation="relu", name="fc1")
    net = tflearn.dropout(net, 0.8)
    net = tflearn.fully_connected(net, 3, activation="softmax", name="out")
    opt = tflearn.optimizers.Adam(learning_rate=0.01, lr_decay=0.9, decay_step=3) if optimizer == "adam" else optimizer
    net = tflearn.regression(net, optimizer=opt)
    return tflearn.DNN(net, device="cpu")


def _data(n=40):
    rng = np.random.RandomState(0)
    X = rng.randn(n, 6).astype("float32")
    return X, np.eye(3)[X[:, :3].argmax(1)]


def _flip_byte(path, offset_from_end=10):
    data = bytearray(open(path, "rb").read())
    data[-offset_from_end] ^= 0x01
    open(path, "wb").write(bytes(data))


@pytest.fixture
def trained(tmp_path):
    X, Y = _data()
    model = _model()
    model.fit(X, Y, n_epoch=3, batch_size=8, checkpoint_every=4, checkpoint_dir=tmp_path / "ck", keep_checkpoints=3)
    return model, tmp_path / "ck"


def test_checkpoint_round_trip_restores_everything(trained):
    model, folder = trained
    files = ck.list_checkpoints(folder)
    assert [f.name for f in files] == ["ckpt-000000012.safetensors", "ckpt-000000015.safetensors"][-len(files):] or \
        len(files) == 3
    latest = ck.latest_good_checkpoint(folder)
    assert latest.step == 15 and latest.loop["epoch_finished"]
    fresh = _model(seed=99)
    fresh.ensure_optimizer(15)
    random.seed(5); np.random.seed(5); torch.manual_seed(5)
    ck.restore(fresh, latest)
    for a, b in zip(model.net.state_dict().values(), fresh.net.state_dict().values()):
        assert torch.equal(a, b)
    sa, sb = model.optimizer.state_dict(), fresh.optimizer.state_dict()
    for i in sa["state"]:
        for k, v in sa["state"][i].items():
            assert torch.equal(v, sb["state"][i][k])
    assert sa["param_groups"][0]["lr"] == sb["param_groups"][0]["lr"]
    assert model.scheduler.state_dict()["last_epoch"] == fresh.scheduler.state_dict()["last_epoch"] == 15


def test_rng_states_round_trip(tmp_path):
    model = _model()
    model.ensure_optimizer(10)
    random.seed(3); np.random.seed(4); torch.manual_seed(5)
    ck.save_checkpoint(model, tmp_path, {"epoch": 1, "step": 1, "batches_done": 1})
    expected = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(0); np.random.seed(0); torch.manual_seed(0)
    ck.restore_rng(ck.load_checkpoint(ck.checkpoint_file(tmp_path, 1)))
    assert (random.random(), np.random.rand()) == expected[:2] and torch.equal(torch.rand(1), expected[2])


def test_keeps_only_the_newest_and_never_deletes_before_writing(tmp_path):
    model = _model()
    model.ensure_optimizer(10)
    for step in range(1, 6):
        ck.save_checkpoint(model, tmp_path, {"epoch": 1, "step": step, "batches_done": step}, keep=2)
    assert [p.name for p in ck.list_checkpoints(tmp_path)] == ["ckpt-000000004.safetensors",
                                                              "ckpt-000000005.safetensors"]


def test_killed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model = _model()
    model.ensure_optimizer(10)
    first = ck.save_checkpoint(model, tmp_path, {"epoch": 1, "step": 1, "batches_done": 1}, keep=1)
    before = first.read_bytes()

    def dies(*args):  # the process dies between writing the temporary file and renaming it
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(os, "replace", dies)
    with pytest.raises(KeyboardInterrupt):
        ck.save_checkpoint(model, tmp_path, {"epoch": 1, "step": 2, "batches_done": 2}, keep=1)
    monkeypatch.undo()
    assert [p.name for p in ck.list_checkpoints(tmp_path)] == [first.name]
    assert first.read_bytes() == before
    assert ck.latest_good_checkpoint(tmp_path).step == 1
    # a temporary file left by a real kill -9 is ignored, then cleaned by the next writer
    (tmp_path / ".ckpt-000000003.safetensors.abc.tmp").write_bytes(b"half a file")
    assert ck.latest_good_checkpoint(tmp_path).step == 1
    ck.Checkpointer(model, tmp_path, 1, 2, FitRecord(0, 1, 1, 1, 0))
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("damage", ["flip_tensor_byte", "flip_header_byte", "truncate", "empty", "garbage"])
def test_corrupt_checkpoint_is_named_and_skipped(trained, damage):
    model, folder = trained
    files = ck.list_checkpoints(folder)
    newest = files[-1]
    data = bytearray(newest.read_bytes())
    if damage == "flip_tensor_byte":
        data[-10] ^= 0x01
    elif damage == "flip_header_byte":
        header = int.from_bytes(data[:8], "little")
        pos = data.index(b'"loop"', 8, 8 + header)
        idx = data.index(b"step", pos)
        data[idx + 10] = ord("7") if data[idx + 10] != ord("7") else ord("8")  # a digit in the JSON
    elif damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "empty":
        data = b""
    else:
        data = b"\x80\x04\x95 this is not a checkpoint" * 10
    newest.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=newest.name):
        ck.load_checkpoint(newest)
    with pytest.warns(RuntimeWarning, match="skipping a bad checkpoint"):
        good = ck.latest_good_checkpoint(folder)
    assert good.path == str(files[-2])


def test_no_good_checkpoint_returns_none(tmp_path):
    assert ck.latest_good_checkpoint(tmp_path / "missing") is None
    (tmp_path / "ckpt-000000001.safetensors").write_bytes(b"x" * 20)
    with pytest.warns(RuntimeWarning):
        assert ck.latest_good_checkpoint(tmp_path) is None


def test_model_file_is_refused_as_checkpoint_and_vice_versa(trained, tmp_path):
    model, folder = trained
    model_file = model.save(tmp_path / "m.safetensors")
    with pytest.raises(ModelFileError, match="training checkpoint"):
        ck.load_checkpoint(model_file)
    with pytest.raises(ModelFileError, match="deepscope's save"):
        tflearn.load(ck.list_checkpoints(folder)[-1])


def test_checkpoint_of_another_network_is_refused(trained):
    model, folder = trained
    tflearn.set_seed(0)
    net = tflearn.input_data(shape=[None, 6])
    net = tflearn.fully_connected(net, 5, activation="softmax")
    other = tflearn.DNN(tflearn.regression(net), device="cpu")
    other.ensure_optimizer(10)
    with pytest.raises(ModelFileError, match="does not (match|fit) this network"):
        ck.restore(other, ck.latest_good_checkpoint(folder))


def test_model_save_has_a_checksum(tmp_path):
    model = _model()
    path = model.save(tmp_path / "m.safetensors")
    tflearn.load(path)
    _flip_byte(path)
    with pytest.raises(ModelFileError, match="sha256"):
        tflearn.load(path)
    with pytest.raises(ModelFileError, match="sha256"):
        _model().load(path)


def test_resume_falls_back_past_a_corrupt_latest_checkpoint(tmp_path):
    X, Y = _data()
    ref = _model()
    ref.fit(X, Y, n_epoch=3, batch_size=8)

    class Die(tflearn.callbacks.Callback):
        def on_batch_end(self, state, snapshot=False):
            if state.step == 11:
                raise KeyboardInterrupt

    killed = _model()
    with pytest.raises(KeyboardInterrupt):
        killed.fit(X, Y, n_epoch=3, batch_size=8, checkpoint_every=4, checkpoint_dir=tmp_path, callbacks=[Die()])
    _flip_byte(ck.list_checkpoints(tmp_path)[-1])  # step 8 is damaged: resume from step 4
    resumed = _model(seed=42)
    with pytest.warns(RuntimeWarning, match="ckpt-000000008"):
        resumed.fit(X, Y, n_epoch=3, batch_size=8, checkpoint_every=4, checkpoint_dir=tmp_path, resume=True)
    for a, b in zip(ref.net.parameters(), resumed.net.parameters()):
        assert torch.equal(a, b)
    assert ref.history == resumed.history
