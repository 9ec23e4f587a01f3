"""The tutorials, the seed recipes and the demo run end to end in their quick modes.

Each script runs in-process with ``runpy`` (``sys.argv`` patched, so ``--quick`` reaches its
argument parser) to avoid paying the torch import once per script; one runs as a real
subprocess to check the command line itself. Slow ones run only with ``DEEPSCOPE_SLOW=1``.
"""
from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = REPO_ROOT / "examples" / "tutorials"
SEEDS = REPO_ROOT / "examples" / "seeds"
SLOW = os.environ.get("DEEPSCOPE_SLOW") == "1"


def run_script(path: Path, *args: str, monkeypatch, capsys, cwd: Path) -> str:
    """Run ``path`` as ``__main__`` with ``args``; return what it printed."""
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", [str(path), *args])
    runpy.run_path(str(path), run_name="__main__")
    return capsys.readouterr().out


def number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not found in the output:\n{text[-2000:]}"
    return float(match.group(1))


# -- tutorials without data -----------------------------------------------------------------
def test_multiplication_learns_the_factor(monkeypatch, capsys, tmp_path):
    out = run_script(TUTORIALS / "00_multiplication.py", "--quick", monkeypatch=monkeypatch, capsys=capsys,
                     cwd=tmp_path)
    assert abs(number(r"Learned a = ([-0-9.]+)", out) - 2.0) < 0.2
    assert number(r"R\^2 score: ([-0-9.]+)", out) > 0.8
    assert number(r"Training time: ([0-9.]+) s", out) >= 0


def test_linear_regression_finds_the_line(monkeypatch, capsys, tmp_path):
    out = run_script(TUTORIALS / "01_linear_regression.py", "--quick", monkeypatch=monkeypatch, capsys=capsys,
                     cwd=tmp_path)
    assert abs(number(r"Learned y = ([-0-9.]+) x", out) - 2.0) < 0.15
    assert abs(number(r"x \+ ([-0-9.]+)", out) - 1.0) < 0.15
    assert number(r"R\^2 score \(test\): ([-0-9.]+)", out) > 0.95


def test_multiplication_runs_as_a_command(tmp_path):
    """The command line itself: exit code 0 and the expected lines."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DEEPSCOPE_RUNS": str(tmp_path / "runs")}
    result = subprocess.run([sys.executable, str(TUTORIALS / "00_multiplication.py"), "--quick"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Learned a =" in result.stdout and "Training time:" in result.stdout
    assert (tmp_path / "runs" / "tutorial_multiplication" / "metrics.csv").is_file()


# -- MNIST tutorials --------------------------------------------------------------------------
@pytest.mark.parametrize("script, minimum", [
    ("02_logistic_regression.py", 0.5),
    ("03_mlp.py", 0.5),
    ("04_deep_mlp.py", 0.5),
    ("05_cnn.py", 0.15),  # 1 epoch of 16 steps; chance is 0.1
])
def test_mnist_tutorial_quick(script, minimum, shared_datasets, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DEEPSCOPE_DATA", str(shared_datasets))
    out = run_script(TUTORIALS / script, "--quick", monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    assert number(r"Test accuracy: ([0-9.]+)", out) > minimum
    assert number(r"Training time: ([0-9.]+) s", out) >= 0
    run_folder = Path(re.search(r"Run folder \(.*\): (\S+)", out).group(1))
    assert (tmp_path / run_folder / "metrics.csv").is_file() or (run_folder / "metrics.csv").is_file()


# -- seed recipes ------------------------------------------------------------------------------
def test_logic_gates(monkeypatch, capsys, tmp_path):
    out = run_script(SEEDS / "logic_gates.py", "--quick", monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    for gate in ("OR", "AND", "NOT"):
        assert f"{gate} learned: True" in out
    assert re.search(r"0 or 0: \[\[0\.0\d*\]\]", out), out  # the seed's "0 or 0: [[ 0.04013482]]"
    summary = out.strip().splitlines()[-1]
    assert "XOR with one unit False" in summary and "XOR with a hidden layer True" in summary
    single = [float(v) for v in re.search(r"predictions \[([^\]]*)\]", summary).group(1).split(",")]
    assert all(abs(p - 0.5) < 0.1 for p in single)  # a single unit can only answer ~0.5 for XOR


@pytest.mark.parametrize("experiment", [
    "layers", "resnet", "inside",
    pytest.param("all", marks=pytest.mark.skipif(not SLOW, reason="slow: set DEEPSCOPE_SLOW=1")),
])
def test_cifar10_experiments_quick(experiment, shared_datasets, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DEEPSCOPE_DATA", str(shared_datasets))
    out_dir = tmp_path / "out"
    out = run_script(SEEDS / "cifar10_experiments.py", "--quick", "--experiment", experiment, "--out", str(out_dir),
                     monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    if experiment == "inside":  # attribution, class images, an atlas and the run report of the seed's network
        for name in ("inside_gradcam_0.png", "inside_ig_0.png", "inside_classes.png", "inside_atlas.png"):
            assert (out_dir / name).stat().st_size > 1000, name
        assert '<section id="atlas-Conv2D">' in (out_dir / "inside_report.html").read_text()
        assert "the network's confidence" in (out_dir / "inside.txt").read_text()
        return
    names = [experiment] if experiment != "all" else ["layers", "dropout", "l2", "batch_size", "learning_rate",
                                                      "resnet"]
    for name in names:
        assert (out_dir / f"{name}.png").stat().st_size > 1000
        table = (out_dir / f"{name}.txt").read_text()
        assert "val_acc" in table and table.count("\n") >= 4
    assert "three_sets" in out and ("one_set" in out if experiment != "resnet" else "resnet_n2" in out)


# -- the demo --------------------------------------------------------------------------------------
def test_demo_quick(tmp_path, capsys):
    from deepscope import demo

    result = demo.main(quick=True, out=tmp_path / "demo")
    out = capsys.readouterr().out
    assert [round(p) for p in result["or_predictions"]] == [0, 1, 1, 1]
    assert [round(p) for p in result["xor_predictions"]] == [0, 1, 1, 0]
    assert "0 or 0: [[0.0" in out and "Test accuracy:" in out and "tensorboard --logdir" in out
    if result["dataset"] != "random images":
        assert result["test_accuracy"] > 0.15  # 10 classes: chance is 0.1
    for path in result["files"].values():
        assert path.is_file() and path.stat().st_size > 1000
    for run in result["runs"]:
        assert (run / "metrics.csv").is_file() or (run / "config.json").is_file()


def test_representations_tutorial_quick(shared_datasets, monkeypatch, capsys, tmp_path):
    """Tutorial 7: decoding, dimensionality, CKA/Procrustes across seeds, selectivity, t-SNE, brain.compare."""
    for name in ("mnist", "kriegeskorte92"):
        if not (shared_datasets / name).is_dir():
            pytest.skip(f"{name} not in the shared datasets")
    monkeypatch.setenv("DEEPSCOPE_DATA", str(shared_datasets))
    out = run_script(TUTORIALS / "07_representations.py", "--quick", "--out", str(tmp_path / "figures"),
                     monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    hidden = number(r"decoding hidden\s+accuracy ([0-9.]+)", out)
    assert hidden > number(r"decoding hidden\s+accuracy [0-9.]+ \(chance ([0-9.]+)\)", out) + 0.4
    assert number(r"across seeds hidden\s+CKA\(seed 0, seed 1\) ([0-9.]+)", out) > 0.5
    assert "best layer per region" in out and "human IT" in out
    low, high = number(r"synthesized class images: pixels ([0-9.]+)-", out), number(r"pixels [0-9.]+-([0-9.]+)", out)
    assert 0 <= low and high <= 1  # in the data's range
    for name in ("decoding.png", "dimensionality.png", "cka_seeds.png", "selectivity.png", "tsne_hidden.png",
                 "gradcam_0.png", "ig_1.png", "class_images.png", "atlas_conv2.png", "compare.png", "compare.html"):
        assert (tmp_path / "figures" / name).stat().st_size > 5000


def test_brain_tutorial_quick(shared_datasets, monkeypatch, capsys, tmp_path):
    """Tutorial 6: RSA of a CIFAR-trained CNN with human and monkey IT (noise ceiling, bootstrap),
    encoding of a simulated V1 population, the trajectory over training, receptive fields."""
    if not (shared_datasets / "kriegeskorte92").is_dir():
        pytest.skip("kriegeskorte92 not in the shared datasets")
    monkeypatch.setenv("DEEPSCOPE_DATA", str(shared_datasets))
    out = run_script(TUTORIALS / "06_brain.py", "--quick", "--out", str(tmp_path / "figures"), monkeypatch=monkeypatch,
                     capsys=capsys, cwd=tmp_path)
    assert "human IT (fMRI): noise ceiling 0.372-0.666" in out and "monkey IT (cells)" in out
    assert "simulated V1" in out and "encoding: median over units" in out
    for name in ("rsa.png", "trajectory.png", "encoding.png", "receptive_fields.png"):
        assert (tmp_path / "figures" / name).stat().st_size > 5000
