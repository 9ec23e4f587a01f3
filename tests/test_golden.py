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
