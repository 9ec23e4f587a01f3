"""The fault battery (issue 5): larger versions of the fault tests, printing the pass criteria.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/fault_battery.py [--kills 20] [--write-kills 10]

1. kill -9 at a random moment during training, then resume (``--kills`` runs): bit-identical?
2. kill -9 during checkpoint writes (a writer saving a large model in a loop): every checkpoint
   left on disk loads, none is truncated.
3. kill -9 during a dataset download (a local, slow HTTP server): no partial file looks complete,
   the next fetch succeeds. (Archives are never extracted: they are read in memory.)
4. one corrupted byte in a checkpoint and in a cached dataset file: detected.
5. a sweep driver killed at a random trial and epoch, then restarted: every trial exactly once.
6. NaN injected at step k: training stops at step k.
7. malicious files and >= 40 bad inputs: the pytest files test_safe_loading.py / test_bad_inputs.py.
"""
from __future__ import annotations

import argparse
import json
import hashlib
import http.server
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import _resume_worker as worker  # noqa: E402


def kills(n: int, work: Path, rng: random.Random) -> tuple[int, int]:
    reference = work / "reference"
    proc = worker.reference_run(reference, wait=False)
    while not worker.read_losses(reference) and proc.poll() is None:
        time.sleep(0.002)
    start = time.perf_counter()  # training time only (the kill moment is drawn within it)
    proc.wait()
    seconds = time.perf_counter() - start
    good = 0
    for i in range(n):
        trial = work / f"trial{i}"
        at = worker.killed_run(trial, 1, seconds, rng)
        ok, why = worker.compare(reference, trial)
        good += ok
        print(f"  run {i + 1:2d}: killed after step {at[0]:4d}: {why}", flush=True)
        shutil.rmtree(trial, ignore_errors=True)
    return good, n


WRITER = r'''
import sys, torch, deepscope as tflearn
from deepscope.models import checkpoint as ck
net = tflearn.input_data(shape=[None, 512])
net = tflearn.fully_connected(net, 2048)
net = tflearn.fully_connected(net, 2048)
model = tflearn.DNN(tflearn.regression(net, loss="mean_square"), device="cpu")
model.ensure_optimizer(10)
step = 0
while True:
    step += 1
    with torch.no_grad():
        for p in model.net.parameters():
            p.add_(1.0)
    ck.save_checkpoint(model, sys.argv[1], {"epoch": 1, "step": step, "batches_done": step}, keep=2)
    print(step, flush=True)
'''


def write_kills(n: int, work: Path, rng: random.Random) -> tuple[int, int, int]:
    """Returns (checkpoint files checked, bad ones, runs whose newest good checkpoint was missing)."""
    from deepscope.models import checkpoint as ck

    script = work / "writer.py"
    script.write_text(WRITER)
    checked = bad = lost = 0
    for i in range(n):
        folder = work / f"writes{i}"
        proc = subprocess.Popen([sys.executable, str(script), str(folder)], stdout=subprocess.PIPE, text=True,
                                env=dict(os.environ, OMP_NUM_THREADS="1"))
        proc.stdout.readline()  # the first checkpoint is on disk
        time.sleep(rng.uniform(0.0, 1.5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        files = ck.list_checkpoints(folder)
        for path in files:
            checked += 1
            try:
                ck.load_checkpoint(path)
            except Exception as error:  # noqa: BLE001
                bad += 1
                print(f"  BAD: {error}")
        lost += ck.latest_good_checkpoint(folder) is None
        temps = len(list(folder.glob(".*.tmp")))
        print(f"  writer {i + 1:2d}: {len(files)} checkpoints, all load; {temps} temporary file(s) left "
              f"(ignored, removed by the next writer)" if not bad else "", flush=True)
        shutil.rmtree(folder, ignore_errors=True)
    return checked, bad, lost


class SlowHandler(http.server.BaseHTTPRequestHandler):
    payload = b""

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.payload)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        try:
            for i in range(0, len(self.payload), 4096):
                self.wfile.write(self.payload[i:i + 4096])
                time.sleep(0.002)
        except (ConnectionResetError, BrokenPipeError):
            pass  # the client was killed

    def log_message(self, *args):
        pass


def download_kill(work: Path) -> bool:
    payload = os.urandom(4096 * 400)
    SlowHandler.payload = payload
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/data.bin"
    sha = hashlib.sha256(payload).hexdigest()
    code = (f"from deepscope.datasets._download import fetch\nfrom deepscope.datasets._sources import FileSpec\n"
            f"print(fetch(FileSpec(filename='data.bin', urls=({url!r},), sha256={sha!r}), {str(work / 'cache')!r}))")
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    while "downloading" not in (proc.stderr.readline() or "downloading"):
        pass
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    final = work / "cache" / "data.bin"
    partial_left = [p.name for p in (work / "cache").glob(".*")]
    ok = not final.exists()
    print(f"  killed mid-download: final file present: {final.exists()}; hidden partial files: {partial_left}")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    ok = ok and out.returncode == 0 and hashlib.sha256(final.read_bytes()).hexdigest() == sha
    print(f"  next fetch: {'verified file' if ok else out.stderr[-300:]}")
    server.shutdown()
    return ok


def corrupt_cached_dataset(work: Path) -> bool:
    from deepscope.datasets._download import verify_file
    from deepscope.datasets._sources import FileSpec

    data = os.urandom(10000)
    path = work / "cached.bin"
    path.write_bytes(data)
    spec = FileSpec(filename="cached.bin", urls=(), sha256=hashlib.sha256(data).hexdigest())
    good = verify_file(path, spec)[0]
    bad = bytearray(data)
    bad[1234] ^= 0x10
    path.write_bytes(bytes(bad))
    detected = not verify_file(path, spec)[0]
    print(f"  cached dataset file: intact verifies {good}; one flipped byte detected {detected}")
    return good and detected


def sweep_kills(n: int, work: Path, rng: random.Random) -> tuple[int, int]:
    """Kill a sweep driver (8 trials) in a random trial and epoch, restart it, and check that every
    (point, seed) finished exactly once. Returns ``(good, total)``."""
    driver = ROOT / "tests" / "_sweep_driver.py"
    env = {k: v for k, v in os.environ.items() if k != "DEEPSCOPE_RESUME"}
    env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    good = 0
    for i in range(n):
        root, log = work / f"sweep{i}", work / f"sweep{i}.log"
        trial, epoch = rng.randint(1, 8), rng.randint(1, 3)
        killed = subprocess.run([sys.executable, str(driver), "kill", str(root), str(log), str(trial), str(epoch)],
                                env=env, capture_output=True, text=True, timeout=300)
        done = subprocess.run([sys.executable, str(driver), "resume", str(root), str(log)],
                              env=env, capture_output=True, text=True, timeout=300)
        events = [json.loads(line) for line in (root / "killed" / "journal.jsonl").read_text().splitlines()]
        finished = [e["trial"] for e in events if e["event"] == "finished"]
        ok = killed.returncode == 9 and done.returncode == 0 and len(finished) == 8 == len(set(finished))
        good += ok
        print(f"  sweep {i + 1:2d}: killed in trial {trial}, epoch {epoch}: "
              f"{len(set(finished))} of 8 trials finished, {len(finished) - len(set(finished))} duplicates: "
              f"{'ok' if ok else 'FAILED'}", flush=True)
    return good, n


def pytest_count(*files) -> str:
    out = subprocess.run([sys.executable, "-m", "pytest", "-o", "addopts=", "-q", "-p", "no:warnings", *files],
                         capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"))
    return out.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--write-kills", type=int, default=10)
    parser.add_argument("--sweep-kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="deepscope-faults-"))
    try:
        print(f"1. kill -9 during training, then fit(resume=True) ({args.kills} runs)", flush=True)
        good, total = kills(args.kills, work, rng)
        print(f"2. kill -9 during checkpoint writes ({args.write_kills} runs)", flush=True)
        checked, bad, lost = write_kills(args.write_kills, work, rng)
        print("3. kill -9 during a dataset download", flush=True)
        download_ok = download_kill(work)
        print("4. one corrupted byte (checkpoint: see tests/test_checkpoint.py; cached dataset:)", flush=True)
        cache_ok = corrupt_cached_dataset(work)
        print(f"5. a sweep driver killed and restarted ({args.sweep_kills} runs)", flush=True)
        sweep_good, sweep_total = sweep_kills(args.sweep_kills, work, rng)
        print("6./7. NaN at step k, malicious files, bad inputs, checkpoint corruption (pytest):", flush=True)
        nan = pytest_count("tests/test_nan_guard.py")
        malicious = pytest_count("tests/test_safe_loading.py", "tests/test_checkpoint.py")
        bad_inputs = pytest_count("tests/test_bad_inputs.py", "tests/test_properties.py")
        print("\nPASS CRITERIA")
        print(f"  random kills resumed bit-identically:    {good} of {total}")
        print(f"  truncated or unloadable checkpoints:     {bad} of {checked} checked "
              f"({lost} folders without a good one)")
        print(f"  download killed, then fetched verified:  {download_ok}")
        print(f"  corrupt cached dataset byte detected:    {cache_ok}")
        print(f"  killed sweeps completed exactly once:    {sweep_good} of {sweep_total}")
        print(f"  NaN stops training at its step:          {nan}")
        print(f"  malicious / corrupt files refused:       {malicious}")
        print(f"  bad inputs with a clear error:           {bad_inputs}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
