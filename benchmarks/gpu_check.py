"""Every public capability on one device, each compared with the same run on the CPU (issue 27).

    python benchmarks/gpu_check.py --device cuda            # on a GPU machine (about a minute)
    python benchmarks/gpu_check.py --device cpu --quick     # what CI runs (tests/test_gpu_check.py)

Each check runs the same seeded work on ``--device`` and on the CPU and compares the results within a stated
tolerance (float32 kernels differ between devices; the tolerances are those of a float32 reduction order):
fit (with a checkpoint and a resume that must equal the uninterrupted fit), predict, evaluate, save/load, a
vectorized study, ``train_ensemble``, ``lr_find``, the step diagnostics, introspection (unit health,
integrated gradients, Grad-CAM, synthesis, RSA/CKA, decoding, a lesion), ``brain.compare`` and the HTML
report. It prints one line per check (PASS / FAIL, the largest difference, seconds on the device) and the
card; it exits 1 if any check fails. Results go to ``--json``.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import deepscope as tflearn  # noqa: E402
from deepscope import brain, introspect  # noqa: E402
from deepscope.callbacks import Callback  # noqa: E402
from deepscope.callbacks.run_folder import runs_dir  # noqa: E402
from deepscope.sweep import Fit, Study, train_ensemble  # noqa: E402

TOLERANCE = 2e-3  # float32 on different kernels: continuous results agree to a few 1e-4 after a short training
# (each check compares continuous values only: losses, scores, probabilities, attributions, features)


def data(quick: bool):
    """A small image task with structure (the class is which quadrant is bright)."""
    rng = np.random.default_rng(0)
    n = 192 if quick else 2048
    x = rng.uniform(0, 0.3, size=(n, 12, 12, 1)).astype("float32")
    y = np.arange(n) % 4
    for k, (r, c) in enumerate(((0, 0), (0, 6), (6, 0), (6, 6))):
        x[y == k, r:r + 6, c:c + 6] += 0.6
    return x, np.eye(4, dtype="float32")[y], y


def build(keep_prob: float | None = None):
    """The checks' CNN. Without dropout unless ``keep_prob`` is given: a GPU draws its masks from another
    generator than the CPU's, so a network with dropout trains differently on the two (by design, as in torch)."""
    net = tflearn.input_data(shape=[None, 12, 12, 1])
    net = tflearn.conv_2d(net, 4, 3, activation="relu")
    net = tflearn.max_pool_2d(net, 2)
    net = tflearn.fully_connected(net, 16, activation="relu")
    if keep_prob is not None:
        net = tflearn.dropout(net, keep_prob)
    net = tflearn.fully_connected(net, 4, activation="softmax")
    return tflearn.regression(net, optimizer="adam", learning_rate=0.01, batch_size=32)


def dense(units=8, lr=0.1):
    net = tflearn.input_data(shape=[None, 144])
    net = tflearn.fully_connected(net, units, activation="relu")
    net = tflearn.fully_connected(net, 4, activation="softmax")
    return tflearn.regression(net, optimizer="sgd", learning_rate=lr, batch_size=32)


class KillAfterFirstEpoch(Callback):
    """Raises KeyboardInterrupt (as Ctrl-C or a kill would stop a fit) at the end of the first epoch."""

    def on_epoch_end(self, state) -> None:
        if state.epoch == 1:
            raise KeyboardInterrupt


def fitted(device, x, y, folder, epochs=2, **fit_args):
    tflearn.set_seed(0)
    model = tflearn.DNN(build(), device=device)
    model.fit(x, y, n_epoch=epochs, run_id=None, **fit_args)
    return model


def largest_difference(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def checks(device: str, quick: bool, folder: Path) -> list[tuple[str, callable]]:
    x, y, labels = data(quick)
    flat = x.reshape(len(x), -1)
    epochs = 1 if quick else 3

    def fit_predict_evaluate(dev):
        model = fitted(dev, x, y, folder, epochs, diagnostics=False)
        return np.concatenate([model.predict(x[:32]).ravel(), np.asarray(model.evaluate(x, y), dtype=float)])

    def resume(dev):  # a fit killed after its first epoch's checkpoint, resumed: equal to the whole fit
        ckpt = folder / f"ckpt-{dev}"
        tflearn.set_seed(0)
        whole = tflearn.DNN(build(), device=dev)
        whole.fit(x, y, n_epoch=2, diagnostics=False)
        tflearn.set_seed(0)
        first = tflearn.DNN(build(), device=dev)  # killed after its first epoch's checkpoint
        steps = len(x) // 32
        try:
            first.fit(x, y, n_epoch=2, diagnostics=False, checkpoint_dir=str(ckpt), checkpoint_every=steps,
                      callbacks=[KillAfterFirstEpoch()])
        except KeyboardInterrupt:
            pass
        if not ckpt.is_dir() or not any(ckpt.iterdir()):
            raise AssertionError(f"no checkpoint was written in {ckpt}")
        tflearn.set_seed(0)
        second = tflearn.DNN(build(), device=dev)
        second.fit(x, y, n_epoch=2, diagnostics=False, checkpoint_dir=str(ckpt), checkpoint_every=steps, resume=True)
        if second.step != 2 * steps or len(second.history) != 2:
            raise AssertionError(f"the resumed fit ended at step {second.step} (expected {2 * steps})")
        a, b = whole.predict(x[:16]), second.predict(x[:16])
        if largest_difference(a, b) > TOLERANCE:
            raise AssertionError(f"resumed fit differs from the whole fit by {largest_difference(a, b):.2e}")
        return b.ravel()

    def save_load(dev):
        model = fitted(dev, x, y, folder, 1, diagnostics=False)
        path = folder / f"model-{dev}.safetensors"
        model.save(path)
        loaded = tflearn.load(path, device=dev)
        return loaded.predict(x[:16]).ravel()

    def study(dev):
        fit = Fit(dense, flat, y, n_epoch=epochs, validation_set=0.25, device=dev)
        rows = Study(f"study-{dev}", fit, {"lr": [0.05, 0.1]}, seeds=(0, 1), root=folder, verbose=False).run()
        return np.array([r["metrics"]["val_loss"] for r in sorted(rows, key=lambda r: (str(r["params"]), r["seed"]))])

    def ensemble(dev):
        result = train_ensemble(dense, flat, y, seeds=range(4), n_epoch=epochs, device=dev)
        return np.asarray(result.final["loss"])

    def dropout_stack(dev):  # each model's masks from its own generator on the device: the stack equals its fits
        result = train_ensemble(lambda: build(0.7), x, y, seeds=range(3), n_epoch=epochs, device=dev)
        differences = []
        for seed, stacked in zip(range(3), result.models):
            tflearn.set_seed(seed)
            alone = tflearn.DNN(build(0.7), device=dev)
            alone.fit(x, y, n_epoch=epochs, diagnostics=False)
            differences.append(largest_difference(stacked.predict(x[:32]), alone.predict(x[:32])))
        if max(differences) > TOLERANCE:
            raise AssertionError(f"a stacked model with dropout differs from its own fit by {max(differences):.2e}")
        return np.array(differences)  # (about 0 on every device: compared as such with the CPU's)

    def lr_range(dev):
        tflearn.set_seed(0)
        return tflearn.DNN(build(), device=dev).lr_find(x, y, num_steps=20, seed=0).losses

    def diagnostics(dev):
        model = fitted(dev, x, y, folder, epochs)
        records = model.diagnosis.records if hasattr(model.diagnosis, "records") else []
        return np.array([len(model.diagnosis.findings)] + [r.get("loss", 0.0) for r in records], dtype=float)

    def introspection(dev):
        model = fitted(dev, x, y, folder, epochs, diagnostics=False)
        health = introspect.unit_health(model, x[:64])
        ig = introspect.integrated_gradients(model, x[:8], steps=16)
        cam = introspect.grad_cam(model, x[:8], "Conv2D")
        synth = introspect.maximize_activation(model, None, 1, steps=20, jitter=0)
        cka = introspect.cka_matrix(model, x[:64]).matrix
        features = introspect.layer_features(model, x[:64], ["FullyConnected"])["FullyConnected"]
        with introspect.lesion(model, "FullyConnected", units=[0, 1]):
            lesioned = model.predict(x[:16])
        dead = [float(getattr(h, "dead_fraction", 0.0)) for h in (health.values() if isinstance(health, dict) else [])]
        return np.concatenate([ig.ravel(), cam.ravel(), synth.ravel(), cka.ravel(), features.ravel(), lesioned.ravel(),
                               dead])

    def compare(dev):
        model = fitted(dev, x, y, folder, epochs, diagnostics=False)
        stimuli = x[:40]
        rdm = introspect.rdm(stimuli.reshape(40, -1))
        result = brain.compare(model, stimuli, rdms={"pixels": rdm}, n_bootstrap=20, n_folds=3,
                               labels=labels[:40], layers=["FullyConnected"])
        return np.array([r["score"] for r in result.rows if r["analysis"] == "rsa"])  # (decoding: discrete)

    def report(dev):
        tflearn.set_seed(0)
        model = tflearn.DNN(build(), device=dev)
        model.fit(x, y, n_epoch=1, run_id=f"report-{dev}")
        page = tflearn.report(model, folder / f"report-{dev}.html").path.read_text()
        if "data:image/png" not in page or 'id="diagnosis"' not in page:
            raise AssertionError("the report lacks its figures or its diagnosis")
        return np.array([1.0])

    return [("fit, predict, evaluate", fit_predict_evaluate), ("checkpoint and resume", resume),
            ("save and load", save_load), ("vectorized study", study), ("train_ensemble", ensemble),
            ("dropout stack = its fits", dropout_stack),
            ("lr_find", lr_range), ("step diagnostics", diagnostics), ("introspection", introspection),
            ("brain.compare", compare), ("HTML report", report)]


def run(device: str, quick: bool) -> list[dict]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with runs_dir(folder):  # (the checks' run folders go to the temporary folder)
            for name, check in checks(device, quick, folder):
                entry = {"check": name, "device": device}
                try:
                    start = time.perf_counter()
                    on_device = check(device)
                    entry["seconds"] = round(time.perf_counter() - start, 3)
                    on_cpu = check("cpu") if device != "cpu" else on_device
                    entry["difference"] = largest_difference(on_device, on_cpu)
                    entry["ok"] = entry["difference"] <= TOLERANCE
                except Exception as error:  # noqa: BLE001 - every check reports, the others still run
                    entry.update(ok=False, error=f"{type(error).__name__}: {error}",
                                 traceback=traceback.format_exc()[-2000:])
                results.append(entry)
                status = "PASS" if entry["ok"] else "FAIL"
                detail = (f"max difference {entry['difference']:.1e}, {entry['seconds']:.2f} s" if "difference" in entry
                          else entry.get("error", ""))
                print(f"{status}  {name:<24} {detail}", flush=True)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="fewer samples and epochs (CI on the CPU)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    card = torch.cuda.get_device_name(0) if args.device.startswith("cuda") and torch.cuda.is_available() else "CPU"
    print(f"deepscope {tflearn.__version__}, torch {torch.__version__}, device {args.device} ({card})", flush=True)
    results = run(args.device, args.quick)
    if args.json:
        Path(args.json).write_text(json.dumps({"card": card, "results": results}, indent=1))
    failed = [r["check"] for r in results if not r["ok"]]
    print(f"{len(results) - len(failed)} of {len(results)} checks passed" + (f"; failed: {', '.join(failed)}" if failed
                                                                            else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
