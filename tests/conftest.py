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


@pytest.fixture(autouse=True)
def _seed_and_tmp_runs(tmp_path, monkeypatch):
    """Every test starts from the same seed and writes runs into its own temporary folder."""
    torch.manual_seed(0)
    monkeypatch.setenv("DEEPSCOPE_RUNS", str(tmp_path / "runs"))
    yield
