"""A training run for the kill -9 / resume tests (``tests/test_resume.py``, ``scripts/fault_battery.py``).

Usage: ``python tests/_resume_worker.py OUT_DIR [--resume] [--epochs N]``. Appends ``step loss.hex()``
to ``OUT_DIR/losses.txt`` after every step (flushed), checkpoints into ``OUT_DIR/checkpoints`` every
``--every`` steps, and saves the final weights to ``OUT_DIR/final.safetensors``.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch

import deepscope as tflearn


class LossLog(tflearn.callbacks.Callback):
    def __init__(self, path):
        self.handle = open(path, "a+")
        self.handle.seek(0, os.SEEK_END)
        if self.handle.tell():  # a kill can cut a line: start on a fresh one
            self.handle.seek(self.handle.tell() - 1)
            last = self.handle.read(1)
            if last != "\n":
                self.handle.write("\n")

    def on_batch_end(self, state, snapshot=False):
        self.handle.write(f"{state.step} {float(state.batch_loss).hex()}\n")
        self.handle.flush()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--samples", type=int, default=1200)
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    os.environ["DEEPSCOPE_RUNS"] = os.path.join(args.out, "runs")
    rng = np.random.RandomState(0)
    X = rng.randn(args.samples, 32).astype("float32")
    Y = np.eye(4)[(X[:, :4].argmax(1) + (X[:, 4] > 1)) % 4]
    tflearn.set_seed(123)  # the same initial weights on every start (resume then overwrites them)
    net = tflearn.input_data(shape=[None, 32])
    net = tflearn.fully_connected(net, 128, activation="relu")
    net = tflearn.dropout(net, 0.8)
    net = tflearn.fully_connected(net, 64, activation="tanh")
    net = tflearn.fully_connected(net, 4, activation="softmax")
    opt = tflearn.optimizers.Adam(learning_rate=0.005, lr_decay=0.9, decay_step=20)
    net = tflearn.regression(net, optimizer=opt)
    model = tflearn.DNN(net, device="cpu")
    model.fit(X, Y, n_epoch=args.epochs, batch_size=25, shuffle=True, seed=7, show_metric=True,
              snapshot_epoch=False, callbacks=[LossLog(os.path.join(args.out, "losses.txt"))],
              checkpoint_every=args.every, checkpoint_dir=os.path.join(args.out, "checkpoints"),
              resume=args.resume)
    model.save(os.path.join(args.out, "final.safetensors"))
    with open(os.path.join(args.out, "history.txt"), "w") as f:
        f.write(repr(model.history))


if __name__ == "__main__":
    sys.exit(main())


# -- the driver side (used by tests/test_resume.py and scripts/fault_battery.py) --------------------
def _command(out, *extra):
    return [sys.executable, os.path.abspath(__file__), str(out), *extra]


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return env


def read_losses(out) -> dict[int, list[str]]:
    """step -> every loss recorded for it (a step redone after a resume appears twice)."""
    seen: dict[int, list[str]] = {}
    path = os.path.join(str(out), "losses.txt")
    if not os.path.exists(path):
        return seen
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2 and line.endswith("\n"):
                seen.setdefault(int(parts[0]), []).append(parts[1])
    return seen


def reference_run(out, *extra, wait: bool = True):
    """An uninterrupted run (``wait=False``: started in the background; returns the process)."""
    import subprocess

    proc = subprocess.Popen(_command(out, *extra), env=_env(), stdout=subprocess.DEVNULL)
    if not wait:
        return proc
    if proc.wait():
        raise RuntimeError(f"reference run failed ({proc.returncode})")
    return proc


def killed_run(out, kills: int, train_seconds: float, rng, *extra) -> list[int]:
    """Start the run, kill -9 it at random moments ``kills`` times (resuming after each), then
    let it finish. Returns the step reached (last loss line) at each kill."""
    import signal
    import subprocess
    import time

    at = []
    for i in range(kills + 1):
        args = list(extra) + (["--resume"] if i else [])
        proc = subprocess.Popen(_command(out, *args), env=_env(), stdout=subprocess.DEVNULL)
        if i == kills:
            if proc.wait():
                raise RuntimeError(f"final resume failed ({proc.returncode})")
            break
        before = sum(len(v) for v in read_losses(out).values())
        while proc.poll() is None and sum(len(v) for v in read_losses(out).values()) <= before:
            time.sleep(0.002)  # wait until this process trains
        time.sleep(rng.uniform(0, train_seconds / (kills + 1)))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        losses = read_losses(out)
        at.append(max(losses) if losses else 0)
    return at


def compare(reference, trial) -> tuple[bool, str]:
    """Bit-identical? (every step's losses, in the trial also the redone ones; final weights; history)."""
    from safetensors.torch import load_file

    ref, got = read_losses(reference), read_losses(trial)
    if sorted(ref) != sorted(got):
        return False, f"steps differ: reference {len(ref)} steps, trial {len(got)}"
    for step, values in got.items():
        if any(v != ref[step][0] for v in values):
            return False, f"loss at step {step} differs: {ref[step][0]} vs {values}"
    a = load_file(os.path.join(str(reference), "final.safetensors"))
    b = load_file(os.path.join(str(trial), "final.safetensors"))
    if a.keys() != b.keys() or any(not torch.equal(a[k], b[k]) for k in a):
        return False, "final weights differ"
    with open(os.path.join(str(reference), "history.txt")) as f1, open(os.path.join(str(trial), "history.txt")) as f2:
        if f1.read() != f2.read():
            return False, "history differs"
    return True, "identical"
