"""Speed on a device (issue 27): deepscope's few-line API side by side with the best hand-written PyTorch loop.

    python benchmarks/gpu.py --device cuda                 # on a GPU machine: the full workloads, the card named
    python benchmarks/gpu.py --device cpu --quick          # a smoke run (tests/test_gpu_check.py runs it)
    python benchmarks/gpu.py --device cuda --compile       # also DNN(compile=True), its compile time included

Workloads (real MNIST from ``$DEEPSCOPE_DATA`` / ``../shared/datasets``):
- **MNIST CNN to 99%**: conv 32 - pool - conv 64 - pool - dense 128 - 10 (Adam 0.002, batch 128), epochs until the
  test accuracy reaches 99% (at most ``--max-epochs``): ``DNN.fit`` (data on the device) vs a hand-written loop
  (the same network as ``nn.Sequential``, the same optimizer, data on the device, ``torch.randperm`` batches).
- **1,000 MNIST MLPs** (784-128-128-10, the PyTorch ensembling tutorial's workload): ``train_ensemble`` of
  ``--models`` seeds, 3 epochs, each model's test accuracy (target: >= 97% each).
The airbench94 CIFAR-10 recipe is ``benchmarks/airbench.py`` (the API beside the same recipe hand-written).
Prints one line per result and the device; ``--json`` writes them.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import deepscope as tflearn  # noqa: E402
from benchmarks.common import mnist, quiet  # noqa: E402
from deepscope.sweep import train_ensemble  # noqa: E402


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cnn_api(device: str, compile: bool = False):
    net = tflearn.input_data(shape=[None, 28, 28, 1])
    net = tflearn.max_pool_2d(tflearn.conv_2d(net, 32, 3, activation="relu"), 2)
    net = tflearn.max_pool_2d(tflearn.conv_2d(net, 64, 3, activation="relu"), 2)
    net = tflearn.fully_connected(net, 128, activation="relu")
    net = tflearn.fully_connected(net, 10, activation="softmax")
    return tflearn.DNN(tflearn.regression(net, optimizer="adam", learning_rate=0.002, batch_size=128),
                       device=device, clip_gradients=0.0, compile=compile)


def cnn_torch() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
                         nn.Linear(128, 10))


class StopAtAccuracy(tflearn.callbacks.Callback):
    """Stop the fit once the validation accuracy reaches ``target`` (checked after each epoch)."""

    def __init__(self, target: float):
        self.target, self.accuracy, self.epochs = target, 0.0, 0

    def on_epoch_end(self, state) -> None:
        self.accuracy, self.epochs = float(state.epoch_logs.get("val_acc", 0.0)), self.epochs + 1
        if self.accuracy >= self.target:
            state.stop_training = True


def to_99_api(X, Y, tX, tY, device, max_epochs: int, target: float, compile: bool = False) -> dict:
    tflearn.set_seed(0)
    model = cnn_api(device, compile)
    stop = StopAtAccuracy(target)
    start = time.perf_counter()
    with quiet():  # one fit, validated after every epoch (as the hand-written loop evaluates after every epoch)
        model.fit(X, Y, n_epoch=max_epochs, validation_set=(tX, tY), show_metric=True, diagnostics=False,
                  snapshot_epoch=True, callbacks=[stop], validation_batch_size=1000)
    synchronize(torch.device(device))
    return {"seconds": time.perf_counter() - start, "epochs": stop.epochs, "accuracy": stop.accuracy}


def to_99_torch(X, Y, tX, tY, device, max_epochs: int, target: float) -> dict:
    torch.manual_seed(0)
    dev = torch.device(device)
    x = torch.as_tensor(X).permute(0, 3, 1, 2).contiguous().to(dev)
    y = torch.as_tensor(Y).argmax(1).to(dev)
    tx = torch.as_tensor(tX).permute(0, 3, 1, 2).contiguous().to(dev)
    ty = torch.as_tensor(tY).argmax(1).to(dev)
    model = cnn_torch().to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.002)
    start, accuracy, epochs = time.perf_counter(), 0.0, 0
    while epochs < max_epochs and accuracy < target:
        model.train()
        for idx in torch.randperm(len(x), device=dev).split(128):
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            optimizer.step()
        epochs += 1
        model.eval()
        with torch.no_grad():
            accuracy = float(torch.cat([model(b).argmax(1) for b in tx.split(1000)]).eq(ty).float().mean())
    synchronize(dev)
    return {"seconds": time.perf_counter() - start, "epochs": epochs, "accuracy": accuracy}


def mlps(X, Y, tX, tY, device, n_models: int, n_epoch: int) -> dict:
    def build():
        net = tflearn.input_data(shape=[None, 784])
        net = tflearn.fully_connected(net, 128, activation="relu")
        net = tflearn.fully_connected(net, 128, activation="relu")
        net = tflearn.fully_connected(net, 10, activation="softmax")
        return tflearn.regression(net, optimizer="adam", learning_rate=0.001, batch_size=128)
    start = time.perf_counter()
    with quiet():
        result = train_ensemble(build, X.reshape(len(X), -1), Y, seeds=range(n_models), n_epoch=n_epoch,
                                validation_set=(tX.reshape(len(tX), -1), tY), device=device)
    synchronize(torch.device(device))
    accuracy = np.asarray(result.final.get("val_acc", [np.nan]))
    return {"seconds": time.perf_counter() - start, "models": n_models, "epochs": n_epoch,
            "min_accuracy": float(accuracy.min()), "median_accuracy": float(np.median(accuracy))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3,000 images, 1 epoch, 4 models")
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--compile", action="store_true", help="also DNN(compile=True) (its compile time included)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    X, Y, tX, tY = mnist()
    X, tX = X.reshape(-1, 28, 28, 1), tX.reshape(-1, 28, 28, 1)
    if args.quick:
        X, Y, tX, tY = X[:3000], Y[:3000], tX[:1000], tY[:1000]
    max_epochs, n_models, n_epoch = (1, 4, 1) if args.quick else (args.max_epochs, args.models, 3)
    print(f"device: {device_name(device)}; torch {torch.__version__}")
    results = {"device": device_name(device), "quick": args.quick}
    for fn in (to_99_torch, to_99_api):  # warm-up (kernel selection, first allocations), not timed
        with quiet():
            fn(X[:256], Y[:256], tX[:256], tY[:256], args.device, 1, 2.0)
    for name, fn in (("MNIST CNN to 99%, deepscope", to_99_api), ("MNIST CNN to 99%, hand-written", to_99_torch)):
        results[name] = fn(X, Y, tX, tY, args.device, max_epochs, 0.99)
        r = results[name]
        print(f"{name}: {r['seconds']:.2f} s, {r['epochs']} epoch(s), test accuracy {r['accuracy']:.4f}")
    ratio = results["MNIST CNN to 99%, deepscope"]["seconds"] / results["MNIST CNN to 99%, hand-written"]["seconds"]
    print(f"deepscope / hand-written: {ratio:.2f}x")
    if args.compile:
        name = "MNIST CNN to 99%, deepscope compile=True"
        results[name] = r = to_99_api(X, Y, tX, tY, args.device, max_epochs, 0.99, compile=True)
        print(f"{name}: {r['seconds']:.2f} s (compiling included), {r['epochs']} epoch(s), test accuracy "
              f"{r['accuracy']:.4f}")
    results["MLPs"] = r = mlps(X, Y, tX, tY, args.device, n_models, n_epoch)
    print(f"{r['models']} MNIST MLPs (784-128-128-10), {r['epochs']} epochs, train_ensemble: {r['seconds']:.1f} s; "
          f"test accuracy min {r['min_accuracy']:.4f}, median {r['median_accuracy']:.4f}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
