"""Shared test fixtures."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = Path(os.environ.get("DEEPSCOPE_SHARED_DATASETS", REPO_ROOT.parent / "shared" / "datasets"))


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The folder of real datasets (``../shared/datasets``); skips the test when absent."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATASETS}")
    return SHARED_DATASETS


@pytest.fixture(scope="session", autouse=True)
def _runs_never_in_the_checkout(tmp_path_factory):
    """Session-wide default for runs (module-scoped fixtures fit before the per-test redirect)."""
    previous = os.environ.get("DEEPSCOPE_RUNS")
    os.environ["DEEPSCOPE_RUNS"] = str(tmp_path_factory.mktemp("session_runs"))
    yield
    if previous is None:
        os.environ.pop("DEEPSCOPE_RUNS", None)
    else:
        os.environ["DEEPSCOPE_RUNS"] = previous


@pytest.fixture(autouse=True)
def _seed_and_tmp_runs(tmp_path, monkeypatch):
    """Every test starts from the same seed and writes runs into its own temporary folder."""
    torch.manual_seed(0)
    monkeypatch.setenv("DEEPSCOPE_RUNS", str(tmp_path / "runs"))
    yield
