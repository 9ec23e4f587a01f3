"""The saved-model format does not drift: golden files of every layer kind (format version 1,
tests/golden/, written once by make_golden.py) load and give the outputs recorded when they were saved."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import deepscope as tflearn
from deepscope.models import serialization

GOLDEN = Path(__file__).resolve().parent / "golden"
FILES = sorted(GOLDEN.glob("v*_*.safetensors"))


def test_there_are_golden_files_of_the_current_version():
    assert {p.name for p in FILES} >= {f"v{serialization.VERSION}_{n}.safetensors" for n in ("image", "sequence", "text")}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_a_golden_file_loads_and_predicts_what_it_did(path):
    expected = np.load(str(path).replace(".safetensors", "_expected.npz"))
    model = tflearn.load(path)
    assert np.allclose(model.predict(expected["x"]), expected["y"], atol=1e-6)


def test_a_file_of_a_newer_format_is_refused_with_the_versions(tmp_path):
    tensors, meta = serialization.read_file(FILES[0])
    meta = {**meta, "version": "99"}
    meta.pop("sha256")
    meta["sha256"] = serialization.tensor_digest(tensors, meta)
    (tmp_path / "new.safetensors").write_bytes(serialization.safetensors_bytes(tensors, meta))
    with pytest.raises(tflearn.ModelFileError, match="format version '99'.*reads versions 1"):
        tflearn.load(tmp_path / "new.safetensors")


def test_an_older_format_is_migrated_before_it_is_rebuilt(tmp_path, monkeypatch):
    """The migration path: a (made-up) version-0 file whose fully_connected called its size
    'units' loads once MIGRATIONS['0'] renames it."""
    import json

    tensors, meta = serialization.read_file(FILES[0])
    description = json.loads(meta["network"])
    for node in description["nodes"]:
        if node["fn"] == "fully_connected":
            node["args"]["units"] = node["args"].pop("n_units")
    old = {**meta, "version": "0", "network": json.dumps(description)}
    old.pop("sha256")
    old["sha256"] = serialization.tensor_digest(tensors, old)
    (tmp_path / "old.safetensors").write_bytes(serialization.safetensors_bytes(tensors, old))
    with pytest.raises(tflearn.ModelFileError, match="version '0'"):
        tflearn.load(tmp_path / "old.safetensors")

    def rename_units(desc):
        for node in desc["nodes"]:
            if node["fn"] == "fully_connected":
                node["args"]["n_units"] = node["args"].pop("units")
        return desc

    monkeypatch.setitem(serialization.MIGRATIONS, "0", rename_units)
    expected = np.load(str(FILES[0]).replace(".safetensors", "_expected.npz"))
    assert np.allclose(tflearn.load(tmp_path / "old.safetensors").predict(expected["x"]), expected["y"], atol=1e-6)
