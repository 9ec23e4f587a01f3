"""Data-parallel training under torchrun's environment: 2 CPU processes (Gloo) end with the same
weights as 1 process training on whole batches."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

WORKER = Path(__file__).with_name("_distributed_worker.py")
REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_train_like_one(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "DEEPSCOPE_RESUME", "DEEPSCOPE_RUNS")}
    env.update(PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1")
    single = subprocess.run([sys.executable, str(WORKER), str(tmp_path / "one.npz"), str(tmp_path / "runs_single")],
                            env=env, capture_output=True, text=True, timeout=120)
    assert single.returncode == 0, single.stderr[-2000:]
    for attempt in range(3):  # the free port may be taken by another test between choosing and binding it
        port = str(free_port())
        jobs = [subprocess.Popen([sys.executable, str(WORKER), str(tmp_path / f"rank{r}.npz"),
                                  str(tmp_path / f"runs{attempt}")],
                                 env={**env, "WORLD_SIZE": "2", "RANK": str(r), "LOCAL_RANK": str(r),
                                      "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port},
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in range(2)]
        errors = [job.communicate(timeout=120)[1] for job in jobs]
        if all(job.returncode == 0 for job in jobs) or not any("ddress already in use" in e for e in errors):
            break
    report = "\n".join(f"rank {r} (exit {job.returncode}): {err[-1500:]}" for r, (job, err) in enumerate(zip(jobs, errors)))
    assert all(job.returncode == 0 for job in jobs), report
    one = np.load(tmp_path / "one.npz")
    for r in range(2):
        ranked = np.load(tmp_path / f"rank{r}.npz")
        for key in one.files:
            np.testing.assert_allclose(ranked[key], one[key], rtol=1e-4, atol=1e-6, err_msg=f"rank {r}, {key}\n{report}")
    written = sorted(p.name for p in (tmp_path / f"runs{attempt}").iterdir())
    assert written == ["job"], (written, report)  # only rank 0 wrote a run folder
