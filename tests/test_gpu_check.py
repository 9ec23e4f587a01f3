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
    assert "11 of 11 checks passed" in out and out.count("PASS") == 11


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


def test_the_airbench_recipe_is_the_same_network_both_ways_and_runs(tmp_path, capsys, shared_datasets, monkeypatch):
    """benchmarks/airbench.py: the recipe through the API and hand-written build the same network (trainable
    parameters, frozen whitening filters, identity-started convolutions), and a quick run of both completes."""
    monkeypatch.setenv("DEEPSCOPE_DATA", str(shared_datasets))
    monkeypatch.chdir(tmp_path)
    spec = importlib.util.spec_from_file_location("airbench", SCRIPT.parent / "airbench.py")
    airbench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(airbench)
    recipe = airbench.Recipe(quick=True)
    X = airbench.cifar10(300)[0]
    api = airbench.api_model(recipe, X, steps=10, device="cpu").net
    hand = airbench.torch_model(recipe, X)
    count = lambda m: sorted(p.numel() for p in m.parameters() if p.requires_grad)  # noqa: E731
    assert count(api) == count(hand) and len(count(hand)) == 19  # 6 convolutions, 6 batch norms (scale, shift), head
    sizes = {"api": [], "hand": []}  # the feature maps' sizes after each pooling
    hook = lambda key: lambda module, args, out: sizes[key].append(out.numel() // out.shape[0])  # noqa: E731
    for module in api.modules():
        if type(module).__name__ == "Pool":
            module.register_forward_hook(hook("api"))
    for module in hand.modules():
        if isinstance(module, torch.nn.MaxPool2d):
            module.register_forward_hook(hook("hand"))
    api.eval(), hand.eval()
    api(torch.from_numpy(X[:2])), hand(torch.from_numpy(X[:2]).permute(0, 3, 1, 2))
    assert sizes["api"] == sizes["hand"] == [16 * 15 * 15, 32 * 7 * 7, 32 * 3 * 3, 32]
    frozen = [p for p in api.parameters() if not p.requires_grad]
    assert any(p.shape == (24, 3, 2, 2) and torch.allclose(p, airbench.whitening_filters(X)) for p in frozen)
    images = torch.from_numpy(X[:300]).permute(0, 3, 1, 2).double()
    white = torch.nn.functional.conv2d(images, airbench.whitening_filters(X, n=300, eps=0.0)[:12].double())
    white = white.permute(0, 2, 3, 1).reshape(-1, 12)  # (every 2x2 patch, 12 filters)
    assert torch.allclose(white.T @ white / len(white), torch.eye(12, dtype=torch.float64), atol=1e-5)  # whitened
    result = airbench.main(["--device", "cpu", "--quick", "--runs", "1", "--limit", "500",
                            "--json", str(tmp_path / "airbench.json")])
    assert "API time / hand-written time" in capsys.readouterr().out
    for name in ("deepscope API", "hand-written"):
        assert 0.0 <= result[name]["mean_accuracy"] <= 1.0 and result[name]["median_seconds"] > 0
