"""Every Python block of the README runs on its own, in a fresh namespace (as a reader would paste one block into
a new file), on small data with short fits: they can never silently break again."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import deepscope as tflearn
from deepscope import brain
from deepscope.datasets import cifar10, mnist
from deepscope.sweep import Study

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.S | re.M)


def test_the_readme_has_python_blocks():
    assert len(python_blocks()) >= 5


def test_every_readme_block_runs(shared_datasets, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPSCOPE_DATA", str(shared_datasets))
    monkeypatch.chdir(tmp_path)
    # small data and short fits: the README's code, not its training time, is under test
    for module, limit in ((cifar10, 256), (mnist, 300)):
        original = module.load_data
        monkeypatch.setattr(module, "load_data", lambda *a, _f=original, _n=limit, **k: _f(*a, **{**k, "limit": _n}))
    fit = tflearn.DNN.fit

    def short_fit(self, *args, n_epoch=10, max_steps=None, **kwargs):
        return fit(self, *args, n_epoch=min(n_epoch, 2), max_steps=None if max_steps is None else min(max_steps, 10),
                   **kwargs)
    monkeypatch.setattr(tflearn.DNN, "fit", short_fit)
    study_init = Study.__init__

    def small_study(self, name, train_fn, space, seeds=(0,), **kwargs):
        space = {k: (v[:2] if isinstance(v, list) else v) for k, v in space.items()}
        study_init(self, name, train_fn, space, seeds=list(seeds)[:1], **kwargs)
    monkeypatch.setattr(Study, "__init__", small_study)
    layer_rsa = brain.layer_rsa
    monkeypatch.setattr(brain, "layer_rsa", lambda *a, **k: layer_rsa(*a, **{**k, "n_bootstrap": 50}))

    for i, block in enumerate(python_blocks(), 1):
        namespace: dict = {}  # each block alone: nothing carried over from the blocks before it
        try:
            exec(compile(block, f"README.md block {i}", "exec"), namespace)
        except Exception as error:  # noqa: BLE001 - name the block that broke
            pytest.fail(f"README block {i} fails on its own: {type(error).__name__}: {error}\n{block}")
        if "model.diagnosis" in block:
            assert namespace["model"].diagnosis is not None
    assert (tmp_path / "cifar.safetensors").is_file() and (tmp_path / "stability.png").is_file()
    assert (tmp_path / "rsa.png").is_file() and (tmp_path / "small.pt2").is_file()
