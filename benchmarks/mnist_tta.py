"""MNIST time to 99% test accuracy: the recipe of ``mnist_99.py`` in deepscope vs the same recipe
hand-written in PyTorch (best loop: index batching, fused Adam, OneCycleLR, channels_last)."""
from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

from . import mnist_99
from .common import Result, mnist, quiet


def torch_recipe(epochs=4, batch_size=128, seed=0):
    X, Y, testX, testY = mnist()
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(7 * 7 * 32, 128), nn.ReLU(), nn.Linear(128, 10)).to(memory_format=torch.channels_last)
    x = torch.from_numpy(X).reshape(-1, 28, 28, 1).permute(0, 3, 1, 2)
    y = torch.from_numpy(Y.argmax(1))
    tx = torch.from_numpy(testX).reshape(-1, 28, 28, 1).permute(0, 3, 1, 2)
    ty = torch.from_numpy(testY.argmax(1))
    opt = torch.optim.Adam(model.parameters(), lr=0.003, fused=True)
    steps = -(-len(x) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.003, total_steps=steps * epochs)
    history, seconds = [], 0.0
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(x))
        for begin in range(0, len(x), batch_size):
            idx = order[begin:begin + batch_size]
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
            sched.step()
        seconds += time.perf_counter() - start
        model.eval()
        with torch.inference_mode():
            acc = float(sum((model(tx[i:i + 1000]).argmax(1) == ty[i:i + 1000]).sum() for i in range(0, len(tx), 1000))) / len(tx)
        history.append((epoch, seconds, acc))
    return history


def run(quick: bool, repeats: int):
    repeats = 1 if quick else min(repeats, 3)
    results = {name: Result(name) for name in ("deepscope", "torch best")}
    for r in range(repeats):
        for name in (("deepscope", "torch best") if r % 2 == 0 else ("torch best", "deepscope")):
            with quiet():
                history = mnist_99.train_to_99(verbose=False, seed=r) if name == "deepscope" else torch_recipe(seed=r)
            reached = mnist_99.time_to(history)
            res = results[name]
            res.seconds.append(reached if reached is not None else float("nan"))
            res.extra.setdefault("accuracy_per_epoch", []).append([round(a, 4) for _, _, a in history])
            res.extra.setdefault("train_seconds_per_epoch", []).append([round(s, 2) for _, s, _ in history])
            res.extra["note"] = "acc " + " / ".join(f"{a[-1]:.4f}" for a in res.extra["accuracy_per_epoch"])
    for res in results.values():
        res.samples = None
    return "MNIST time to 99.0% (s)", results, "torch best"
