"""Safe loading: a model file or checkpoint never executes code and bad files get a clear error."""
from __future__ import annotations

import io
import json
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save as st_save

import deepscope as tflearn
from deepscope import ModelFileError
from deepscope.models import checkpoint as ck
from deepscope.models.serialization import tensor_digest


def _saved(tmp_path):
    tflearn.set_seed(0)
    net = tflearn.input_data(shape=[None, 4])
    net = tflearn.fully_connected(net, 5, activation="relu")
    net = tflearn.fully_connected(net, 2, activation="softmax")
    model = tflearn.DNN(tflearn.regression(net), device="cpu")
    return model, Path(model.save(tmp_path / "model.safetensors"))


class Evil:
    """Unpickling this would create the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _rewrite(path, change):
    """Re-save ``path`` with its metadata changed by ``change(meta)`` and a *valid* new checksum
    (an attacker can recompute a checksum: the allowlist must still hold)."""
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    change(meta)
    meta["sha256"] = tensor_digest(tensors, meta)
    path.write_bytes(st_save(tensors, metadata=meta))


@pytest.mark.parametrize("how", ["torch_save", "raw_pickle"])
def test_pickle_renamed_safetensors_is_refused_without_running_it(tmp_path, how):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.safetensors"
    if how == "torch_save":
        torch.save({"w": torch.zeros(2), "x": Evil(marker)}, path)
    else:
        path.write_bytes(pickle.dumps(Evil(marker)))
    for load in (tflearn.load, ck.load_checkpoint, lambda p: _saved(tmp_path / "..")[0].load(p)):
        with pytest.raises(ModelFileError, match="model.safetensors"):
            load(path)
    assert not marker.exists()


@pytest.mark.parametrize("fn", ["eval", "os.system", "__import__", "exec"])
def test_tampered_json_naming_a_function_is_refused(tmp_path, fn):
    _, path = _saved(tmp_path)

    def change(meta):
        net = json.loads(meta["network"])
        net["nodes"][1]["fn"] = fn
        net["nodes"][1]["args"] = {"source": "open('pwned', 'w')"}
        meta["network"] = json.dumps(net)

    _rewrite(path, change)
    with pytest.raises(ModelFileError, match=f"unknown layer function {fn!r}"):
        tflearn.load(path)


@pytest.mark.parametrize("cls", ["Popen", "subprocess.Popen", "builtins.eval", "Path"])
def test_tampered_json_naming_a_class_is_refused(tmp_path, cls):
    _, path = _saved(tmp_path)

    def change(meta):
        net = json.loads(meta["network"])
        net["nodes"][1]["args"]["activation"] = {"__class__": cls, "__config__": {"args": ["touch", "pwned"]}}
        meta["network"] = json.dumps(net)

    _rewrite(path, change)
    with pytest.raises(ModelFileError, match="not allowed"):
        tflearn.load(path)


def test_tampered_layer_size_is_refused_before_allocating(tmp_path):
    _, path = _saved(tmp_path)

    def change(meta):
        net = json.loads(meta["network"])
        net["nodes"][1]["args"]["n_units"] = 10 ** 12  # 32 TB of weights if it were built
        meta["network"] = json.dumps(net)

    _rewrite(path, change)
    with pytest.raises(ModelFileError, match="does not match the stored weights"):
        tflearn.load(path)


@pytest.mark.parametrize("header", [2 ** 62, 10 ** 9, 2 ** 64 - 1])
def test_huge_header_is_refused(tmp_path, header):
    path = tmp_path / "huge.safetensors"
    path.write_bytes(header.to_bytes(8, "little") + b"{}" * 10)
    with pytest.raises(ModelFileError, match="header claims"):
        tflearn.load(path)


def test_huge_tensor_shape_in_header_is_refused(tmp_path):
    header = json.dumps({"w": {"dtype": "F32", "shape": [2 ** 40, 2 ** 20], "data_offsets": [0, 16]},
                         "__metadata__": {"format": "deepscope"}}).encode()
    path = tmp_path / "shape.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 16)
    with pytest.raises(ModelFileError, match="shape.safetensors"):
        tflearn.load(path)


@pytest.mark.parametrize("cut", [0, 4, 8, 30, -1])
def test_truncated_file_is_refused(tmp_path, cut):
    _, path = _saved(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:cut] if cut >= 0 else data[:-1])
    with pytest.raises(ModelFileError, match="model.safetensors"):
        tflearn.load(path)


def test_every_single_flipped_byte_is_detected(tmp_path):
    _, path = _saved(tmp_path)
    data = path.read_bytes()
    rng = np.random.RandomState(0)
    positions = sorted(set(rng.randint(0, len(data), 60).tolist()) | {len(data) - 1, 9, 20})
    for pos in positions:
        bad = bytearray(data)
        bad[pos] ^= 1 << rng.randint(8)
        path.write_bytes(bytes(bad))
        with pytest.raises(ModelFileError):
            tflearn.load(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        tflearn.load(tmp_path / "nope.safetensors")
    with pytest.raises(ModelFileError, match="does not exist"):
        tflearn.load(tmp_path)


def _tar(tmp_path, name, data=b"x" * 10, kind=tarfile.REGTYPE, linkname=""):
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.type, info.linkname = (len(data) if kind == tarfile.REGTYPE else 0), kind, linkname
        tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return path


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "a/../../b", "C:\\evil", "..\\evil"])
def test_path_traversal_in_a_dataset_archive_is_refused(tmp_path, name):
    from deepscope.datasets._formats import DatasetFormatError, iter_tar

    path = _tar(tmp_path, name)
    with pytest.raises(DatasetFormatError, match="unsafe path"):
        list(iter_tar(path, lambda n: True))
    assert not (tmp_path.parent / "evil").exists()


def test_links_in_a_dataset_archive_are_skipped(tmp_path):
    from deepscope.datasets._formats import iter_tar

    for kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        path = _tar(tmp_path, "data_batch_1.bin", kind=kind, linkname="/etc/passwd")
        assert list(iter_tar(path, lambda n: True)) == []


def test_allowlist_excludes_private_helpers_and_function_wrappers():
    from deepscope.models.config_objects import _allowlist, from_json_value

    allowed = _allowlist()
    assert "Adam" in allowed and "ImagePreprocessing" in allowed
    assert not any(name.startswith(("_", "Function")) for name in allowed)
    with pytest.raises(ValueError, match="not allowed"):
        from_json_value({"__class__": "FunctionLoss", "__config__": {"fn": "os.system"}})
