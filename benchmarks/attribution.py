"""Attribution and synthesis, measured (issue 24).

    python benchmarks/attribution.py [--repeats 5] [--threads 1 2] [--skip-synthesis] [--load] [--memory 10000]

1. Integrated gradients on a small MNIST CNN (conv 16 - pool - conv 32 - pool - dense 64 - dense 10),
   32 images, 32 and 64 steps: ``introspect.integrated_gradients`` vs Captum's ``IntegratedGradients``
   (``method='riemann_trapezoid'``, the same points), interleaved repeats, medians, at each thread count.
2. Activation maximization of the 10 class units of that CNN trained one epoch on 12,000 MNIST digits:
   the range of every image's pixels and the softmax probability the network gives each image's class
   (a picture the network recognizes, in the data's range: issue 24's targets are [0, 1] and >= 0.9).
3. ``--load``: the IG timings again while another process keeps one core busy (matrix products).
4. ``--memory N``: integrated gradients (32 steps) of N MNIST test digits in one call: seconds and the
   process's peak resident memory.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import deepscope as tflearn  # noqa: E402
from benchmarks.common import mnist, mnist_cnn, timed  # noqa: E402
from deepscope import introspect  # noqa: E402


def speed(model, images, repeats: int, threads: list[int]) -> None:
    from captum.attr import IntegratedGradients

    x = torch.as_tensor(images)
    target = model.net.logits(x).argmax(1).detach()
    target_np = target.numpy()  # both are given the targets (the same work: no extra forward pass for either)
    captum_ig = IntegratedGradients(model.net.logits)
    for n_threads in threads:
        torch.set_num_threads(n_threads)
        for steps in (32, 64):
            contenders = {
                "deepscope": lambda: introspect.integrated_gradients(model, images, target=target_np, steps=steps),
                "captum": lambda: captum_ig.attribute(x, target=target, n_steps=steps + 1, method="riemann_trapezoid"),
            }
            for fn in contenders.values():
                fn()  # warm-up
            times = {name: [] for name in contenders}
            for r in range(repeats):
                for name in (list(contenders) if r % 2 == 0 else list(contenders)[::-1]):
                    times[name].append(timed(contenders[name]))
            ours, theirs = statistics.median(times["deepscope"]), statistics.median(times["captum"])
            print(f"IG, {len(images)} images, {steps} steps, {n_threads} thread(s): deepscope {ours:.3f} s, "
                  f"captum {theirs:.3f} s ({ours / theirs:.2f}x captum's time)", flush=True)


def synthesis(model) -> None:
    probabilities, lows, highs = [], [], []
    for unit in range(10):
        image = introspect.maximize_activation(model, None, unit, steps=200)
        p = model.predict(image[None])[0]
        probabilities.append(p[unit])
        lows.append(image.min())
        highs.append(image.max())
    print("activation maximization of the 10 class units (softmax probability of the class): "
          + ", ".join(f"{u}: {p:.3f}" for u, p in enumerate(probabilities)))
    print(f"  pixels from {min(lows):.3f} to {max(highs):.3f}; lowest class probability {min(probabilities):.3f}")


def _busy() -> None:  # (another process loading the machine)
    torch.set_num_threads(1)
    a = torch.randn(512, 512)
    while True:
        a = torch.tanh(a @ a)


def memory(model, images) -> None:
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    introspect.integrated_gradients(model, images, steps=32)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"IG of {len(images)} images, 32 steps: {seconds:.1f} s; peak RSS {before:.0f} MB before, {after:.0f} MB after")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--skip-synthesis", action="store_true")
    parser.add_argument("--load", action="store_true", help="also time IG while another process loads a core")
    parser.add_argument("--memory", type=int, default=0, help="IG of this many test digits: time and peak memory")
    args = parser.parse_args()
    X, Y, tX, _ = mnist()
    tflearn.set_seed(0)
    model = mnist_cnn()
    model.fit(X[:12000].reshape(-1, 28, 28, 1), Y[:12000], n_epoch=1, batch_size=64, diagnostics=False)
    speed(model, tX[:32].reshape(-1, 28, 28, 1), args.repeats, args.threads)
    if args.load:
        import multiprocessing

        busy = multiprocessing.get_context("spawn").Process(target=_busy, daemon=True)
        busy.start()
        try:
            print("-- while another process keeps one core busy:")
            speed(model, tX[:32].reshape(-1, 28, 28, 1), args.repeats, args.threads)
        finally:
            busy.terminate()
    if not args.skip_synthesis:
        synthesis(model)
    if args.memory:
        memory(model, tX[:args.memory].reshape(-1, 28, 28, 1))


if __name__ == "__main__":
    main()
