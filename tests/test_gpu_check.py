"""The device check (benchmarks/gpu_check.py) runs in quick mode on every commit: on the CPU here, on the
GPU when the machine has one, so the device code paths of every public capability are exercised."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def load_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no GPU on this machine"))])
def test_every_capability_on_the_device_equals_the_cpu(device, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    check = load_check()
    code = check.main(["--device", device, "--quick", "--json", str(tmp_path / "check.json")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "10 of 10 checks passed" in out and out.count("PASS") == 10


def test_the_device_benchmark_runs_in_quick_mode(tmp_path, capsys, shared_datasets, monkeypatch):
    """benchmarks/gpu.py (the workloads for the first GPU run) runs end to end here, small."""
    monkeypatch.setenv("DEEPSCOPE_DATA", str(shared_datasets))
    spec = importlib.util.spec_from_file_location("gpu_bench", SCRIPT.parent / "gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--device", "cpu", "--quick", "--json", str(tmp_path / "gpu.json")]) == 0
    out = capsys.readouterr().out
    assert "deepscope / hand-written" in out and "4 MNIST MLPs" in out
    import json
    results = json.loads((tmp_path / "gpu.json").read_text())
    assert 0 < results["MNIST CNN to 99%, deepscope"]["accuracy"] <= 1 and results["MLPs"]["min_accuracy"] > 0.3
