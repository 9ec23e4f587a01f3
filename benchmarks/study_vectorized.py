"""Seed 000's study as one vectorized run vs one fit after another vs hand-written code (issue 14).

    python benchmarks/study_vectorized.py [--repeats 3] [--samples 20000] [--json out.json]
    python benchmarks/study_vectorized.py --tiny [--epochs 200]   # the OR network x 32 and x 100 seeds

The study: a 4x4 grid of L2 factors (one per hidden layer) x 5 seeds = 80 models 784-50-25-10 (ReLU,
softmax), SGD at learning rate 0.1, batch 128, one epoch of ``--samples`` real MNIST images, then the
accuracy on the 10,000 test images. Contenders, in one process, interleaved (repeat r runs each once):

- ``Study vectorized``: ``Study(..., Fit(build, X, Y, ...))`` (default: vectorized, diagnostics on,
  a run folder per trial, TFlearn's clipping at 5.0);
- ``Study vectorized, diagnostics off``: the same with ``Fit(..., diagnostics=False)``;
- ``Study one by one``: the same study with ``vectorize=False`` (80 ``DNN.fit`` calls);
- ``hand-written stack``: the same 80 models as batched matrix products in plain PyTorch (per-seed data
  orders, per-model L2 and clipping, SGD), no study bookkeeping; also with one data order for all;
- ``Optuna + torch loop``: what a user would write instead: an Optuna grid sampler over the 16 cells,
  each trial a plain PyTorch loop per seed (nn.Sequential, clip_grad_norm_, SGD).

The GEMM peak (fp32 ``mm`` of 2048x2048, best of 5) is measured at the start; GFLOP/s count the
matrix products of training (forward + backward) and of the test evaluation.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import deepscope as tflearn  # noqa: E402
from benchmarks.common import mnist  # noqa: E402
from deepscope.sweep import Fit, Study, train_ensemble  # noqa: E402

FACTORS = [1e-4, 5e-4, 1e-3, 5e-3]
SEEDS = range(5)
LAYERS = [(784, 50), (50, 25), (25, 10)]


def gemm_peak() -> float:
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        a.mm(b)
        best = min(best, time.perf_counter() - start)
    return 2 * 2048 ** 3 / best


def build(l2_first, l2_second):
    net = tflearn.input_data(shape=[None, 784])
    net = tflearn.fully_connected(net, 50, activation="relu", regularizer="L2", weight_decay=l2_first)
    net = tflearn.fully_connected(net, 25, activation="relu", regularizer="L2", weight_decay=l2_second)
    net = tflearn.fully_connected(net, 10, activation="softmax")
    return tflearn.regression(net, optimizer="sgd", learning_rate=0.1, batch_size=128)


def study(name, root, X, Y, tX, tY, diagnostics=True, **kwargs) -> float:
    start = time.perf_counter()
    s = Study(name, Fit(build, X, Y, n_epoch=1, validation_set=(tX, tY), diagnostics=diagnostics),
              {"l2_first": FACTORS, "l2_second": FACTORS}, seeds=tuple(SEEDS), root=root, verbose=False, **kwargs)
    s.run()
    elapsed = time.perf_counter() - start
    assert sum(r["status"] == "finished" for r in s.results()) == 80
    return elapsed


def hand_stack(X, Y, tX, tY, per_seed_order: bool) -> float:
    """80 models as stacked tensors: layer 1 one matmul per data order, then baddbmm; autograd."""
    start = time.perf_counter()
    x, y = torch.from_numpy(X), torch.from_numpy(Y).argmax(1)
    cells = [(a, b, s) for a in FACTORS for b in FACTORS for s in SEEDS]
    # group by seed (the data order of a separate fit depends on the seed only)
    cells.sort(key=lambda c: c[2])
    m, groups = len(cells), len(SEEDS)
    k = m // groups
    ws, bs = [], []
    for n_in, n_out in LAYERS:
        w = torch.empty(m, n_out, n_in)
        for i in range(m):
            torch.nn.init.kaiming_uniform_(w[i], a=5 ** 0.5)
        ws.append(w.requires_grad_())
        bs.append(torch.zeros(m, n_out, requires_grad=True))
    l2 = [torch.tensor([c[0] for c in cells]), torch.tensor([c[1] for c in cells])]
    params = ws + bs
    opt = torch.optim.SGD(params, lr=0.1)
    n, batch = len(x), 128
    orders = [torch.randperm(n, generator=torch.Generator().manual_seed(s)) for s in SEEDS]
    for begin in range(0, n, batch):
        if per_seed_order:
            idx = [o[begin:begin + batch] for o in orders]
            xb, yb = torch.stack([x[i] for i in idx]), torch.stack([y[i] for i in idx])  # (G, B, 784)
        else:
            i = orders[0][begin:begin + batch]
            xb, yb = x[i].expand(groups, -1, -1), y[i].expand(groups, -1)
        b = xb.shape[1]
        h = torch.bmm(xb, ws[0].reshape(groups, k * 50, 784).transpose(1, 2)) + bs[0].reshape(groups, 1, k * 50)
        h = torch.relu(h).reshape(groups, b, k, 50).transpose(1, 2).reshape(m, b, 50)
        h = torch.relu(torch.baddbmm(bs[1].unsqueeze(1), h, ws[1].transpose(1, 2)))
        logits = torch.baddbmm(bs[2].unsqueeze(1), h, ws[2].transpose(1, 2))  # (M, B, 10)
        targets = yb.unsqueeze(1).expand(groups, k, b).reshape(m, b)
        data = F.cross_entropy(logits.reshape(m * b, 10), targets.reshape(-1), reduction="none").view(m, b).mean(1)
        loss = data + l2[0] * ws[0].square().sum((1, 2)) / 2 + l2[1] * ws[1].square().sum((1, 2)) / 2
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        with torch.no_grad():  # per-model clipping at 5.0
            norms = torch.stack([p.grad.reshape(m, -1).square().sum(1) for p in params]).sum(0).sqrt()
            scale = (5.0 / (norms + 1e-6)).clamp(max=1.0)
            for p in params:
                p.grad.mul_(scale.view(-1, *([1] * (p.dim() - 1))))
        opt.step()
    with torch.no_grad():  # test accuracy of every model
        tx, ty = torch.from_numpy(tX), torch.from_numpy(tY).argmax(1)
        h = torch.relu(tx @ ws[0].reshape(m * 50, 784).t() + bs[0].reshape(1, -1)).reshape(-1, m, 50).transpose(0, 1)
        h = torch.relu(torch.baddbmm(bs[1].unsqueeze(1), h, ws[1].transpose(1, 2)))
        accuracy = (torch.baddbmm(bs[2].unsqueeze(1), h, ws[2].transpose(1, 2)).argmax(2) == ty).float().mean(1)
    assert accuracy.shape == (m,)
    return time.perf_counter() - start


def optuna_loop(X, Y, tX, tY) -> float:
    """A user's hand-written study: Optuna's grid sampler, a plain PyTorch loop per seed."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    start = time.perf_counter()
    x, y = torch.from_numpy(X), torch.from_numpy(Y).argmax(1)
    tx, ty = torch.from_numpy(tX), torch.from_numpy(tY).argmax(1)

    def objective(trial):
        a, b = trial.suggest_float("l2_first", 1e-4, 5e-3), trial.suggest_float("l2_second", 1e-4, 5e-3)
        scores = []
        for seed in SEEDS:
            torch.manual_seed(seed)
            net = torch.nn.Sequential(torch.nn.Linear(784, 50), torch.nn.ReLU(), torch.nn.Linear(50, 25),
                                      torch.nn.ReLU(), torch.nn.Linear(25, 10))
            opt = torch.optim.SGD(net.parameters(), lr=0.1)
            order = torch.randperm(len(x))
            for begin in range(0, len(x), 128):
                i = order[begin:begin + 128]
                loss = (F.cross_entropy(net(x[i]), y[i]) + a * net[0].weight.square().sum() / 2
                        + b * net[2].weight.square().sum() / 2)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
                opt.step()
            with torch.no_grad():
                scores.append(float((net(tx).argmax(1) == ty).float().mean()))
        return sum(scores) / len(scores)

    sampler = optuna.samplers.GridSampler({"l2_first": FACTORS, "l2_second": FACTORS})
    optuna.create_study(direction="maximize", sampler=sampler).optimize(objective, n_trials=16)
    return time.perf_counter() - start


def flops(n_train: int, n_test: int, models: int = 80) -> float:
    """Matrix-product FLOPs: training forward (2x) + backward (layer 1: weights only; others: 2 products),
    and the test forward."""
    forward = sum(2 * a * b for a, b in LAYERS)
    train = n_train * (3 * forward - 2 * LAYERS[0][0] * LAYERS[0][1])
    return models * (train + n_test * forward)


def tiny(repeats: int, n_epoch: int = 100) -> dict:
    """The seed's OR network x 32 and x 100 seeds, ``n_epoch`` full-batch epochs: train_ensemble and a vectorized
    Study vs DNN.fit one after another and the Study one by one (each trial with its run folder)."""
    X, Y = [[0., 0.], [0., 1.], [1., 0.], [1., 1.]], [[0.], [1.], [1.], [1.]]

    def or_net():
        net = tflearn.input_data(shape=[None, 2])
        net = tflearn.fully_connected(net, 1, activation="sigmoid")
        return tflearn.regression(net, optimizer="sgd", learning_rate=2.0, loss="mean_square")

    def or_point(lr):
        net = tflearn.input_data(shape=[None, 2])
        net = tflearn.fully_connected(net, 1, activation="sigmoid")
        return tflearn.regression(net, optimizer="sgd", learning_rate=lr, loss="mean_square")

    out = {}
    for n_models in (32, 100):
        times = {"sequential fits": [], "sequential fits, diagnostics off": [], "train_ensemble": [],
                 "Study vectorized": [], "Study one by one": []}
        for r in range(repeats):
            for name, vectorize in (("Study vectorized", "auto"), ("Study one by one", False)):
                root = Path(tempfile.mkdtemp())
                start = time.perf_counter()
                Study(f"or{n_models}", Fit(or_point, X, Y, n_epoch=n_epoch), {"lr": [2.0]}, seeds=range(n_models),
                      root=root, verbose=False, vectorize=vectorize).run()
                times[name].append(time.perf_counter() - start)
                shutil.rmtree(root, ignore_errors=True)
            for name, diagnostics in (("sequential fits", True), ("sequential fits, diagnostics off", False)):
                start = time.perf_counter()
                for seed in range(n_models):
                    tflearn.set_seed(seed)
                    tflearn.DNN(or_net()).fit(X, Y, n_epoch=n_epoch, snapshot_epoch=False, run_id=f"or{seed}",
                                              diagnostics=diagnostics)
                times[name].append(time.perf_counter() - start)
            start = time.perf_counter()
            train_ensemble(or_net, X, Y, seeds=range(n_models), n_epoch=n_epoch)
            times["train_ensemble"].append(time.perf_counter() - start)
        medians = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
        out[n_models] = medians
        off = medians["sequential fits, diagnostics off"]
        print(f"OR network x {n_models} seeds, {n_epoch} epochs: sequential fits {medians['sequential fits']:.2f} s "
              f"(diagnostics off {off:.2f} s), train_ensemble {medians['train_ensemble']:.2f} s "
              f"({medians['sequential fits'] / medians['train_ensemble']:.1f}x; "
              f"{off / medians['train_ensemble']:.1f}x vs diagnostics off); Study vectorized "
              f"{medians['Study vectorized']:.2f} s vs one by one {medians['Study one by one']:.2f} s "
              f"({medians['Study one by one'] / medians['Study vectorized']:.1f}x)", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=20000, help="MNIST training images (one epoch)")
    parser.add_argument("--tiny", action="store_true", help="only the OR network x 32 / 100 seeds")
    parser.add_argument("--epochs", type=int, default=100, help="epochs of the OR network (--tiny; the seed: 200)")
    parser.add_argument("--skip", action="append", default=[], help="skip a contender (by its name's first word)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    if args.tiny:
        result = {"tiny": tiny(args.repeats, args.epochs)}
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1))
        return
    X, Y, tX, tY = mnist()
    X, Y = np.ascontiguousarray(X[:args.samples].reshape(-1, 784)), np.ascontiguousarray(Y[:args.samples])
    tX = np.ascontiguousarray(tX.reshape(-1, 784))
    peak = gemm_peak()
    print(f"threads {torch.get_num_threads()}; fp32 GEMM peak {peak / 1e9:.0f} GFLOP/s; "
          f"{len(X)} training images, {len(tX)} test images", flush=True)
    root = Path(tempfile.mkdtemp(prefix="study-vectorized-"))
    contenders = {
        "Study vectorized": lambda r: study(f"vec{r}", root, X, Y, tX, tY),
        "Study vectorized, diagnostics off": lambda r: study(f"vecoff{r}", root, X, Y, tX, tY, diagnostics=False),
        "Study one by one": lambda r: study(f"seq{r}", root, X, Y, tX, tY, vectorize=False),
        "hand-written stack": lambda r: hand_stack(X, Y, tX, tY, per_seed_order=True),
        "hand-written stack, one data order": lambda r: hand_stack(X, Y, tX, tY, per_seed_order=False),
        "Optuna + torch loop": lambda r: optuna_loop(X, Y, tX, tY),
    }
    contenders = {k: v for k, v in contenders.items() if k.split()[0] not in args.skip}
    study("warmup", root, X[:512], Y[:512], tX[:256], tY[:256])  # imports (torch._dynamo on first optimizer)
    times = {name: [] for name in contenders}
    try:
        for r in range(args.repeats):
            names = list(contenders)
            names = names[r % len(names):] + names[:r % len(names)]  # rotate the order every repeat
            for name in names:
                times[name].append(contenders[name](r))
                print(f"  repeat {r}: {name} {times[name][-1]:.2f} s", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    work = flops(len(X), len(tX))
    medians = {name: sorted(v)[len(v) // 2] for name, v in times.items()}
    base = medians.get("Study vectorized")
    print(f"\n80 models, one epoch of {len(X)} images + the test set ({work / 1e9:.0f} GFLOP of matrix products):")
    for name, t in medians.items():
        ratio = f"{t / base:5.2f}x the vectorized study's time" if base else ""
        print(f"  {name:<36} {t:7.2f} s  {work / t / 1e9:6.1f} GFLOP/s ({work / t / peak:5.1%} of peak)  {ratio}")
    if args.json:
        Path(args.json).write_text(json.dumps({"peak_gflops": peak / 1e9, "gflop": work / 1e9, "seconds": times,
                                               "medians": medians, "threads": torch.get_num_threads()}, indent=1))


if __name__ == "__main__":
    main()
