"""Peak memory of ``brain.compare`` on 10,000 images through a CNN (issue 23: under 2 GB).

    python benchmarks/compare_memory.py [--images 10000] [--max-features 1000]

A small MNIST CNN (two conv layers of 16 and 32 maps at 28 x 28 and 14 x 14, a 64-unit hidden layer),
10,000 MNIST test digits; ``brain.compare`` with encoding of a simulated V1 population (212 units,
4 repeats) and decoding of the digit labels, 10-fold (90/10) splits. The peak resident memory of the
process (``ru_maxrss``) is printed before and after the call, with the time it took.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import deepscope as tflearn  # noqa: E402
from benchmarks.common import mnist, mnist_cnn  # noqa: E402
from deepscope import brain  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--max-features", type=int, default=1000, help="0: every layer whole")
    args = parser.parse_args()
    _, _, tX, tY = mnist()
    images, labels = tX[:args.images].reshape(-1, 28, 28, 1), tY[:args.images].argmax(1)
    tflearn.set_seed(0)
    model = mnist_cnn()
    population = brain.simulate_v1(images, n_units=212, n_repeats=4, seed=0).responses
    layers = list(tflearn.introspect.layer_modules(model))[1:]
    before = peak_mb()
    start = time.perf_counter()
    result = brain.compare(model, images, responses={"V1 (simulated)": population}, labels=labels, layers=layers,
                           max_features=args.max_features or None)
    seconds = time.perf_counter() - start
    print(result.table())
    print(f"{args.images} images, {len(layers)} layers, max_features={args.max_features or None}: peak RSS "
          f"{before:.0f} MB before the call, {peak_mb():.0f} MB after; {seconds:.1f} s")


if __name__ == "__main__":
    main()
