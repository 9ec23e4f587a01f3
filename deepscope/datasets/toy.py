"""Small deterministic toy data: logic gates, 2-D classification sets, a noisy line.

Every generator takes ``seed`` and returns the same data for the same arguments. Classes
are balanced (sizes differ by at most one) and the rows are shuffled.
"""
from __future__ import annotations

import numpy as np

from .._checks import check_choice, check_float, check_int

_GATES = {
    "or": [0., 1., 1., 1.], "and": [0., 0., 0., 1.], "nand": [1., 1., 1., 0.],
    "nor": [1., 0., 0., 0.], "xor": [0., 1., 1., 0.], "xnor": [1., 0., 0., 1.],
}
GATES = ("or", "and", "not", "nand", "nor", "xor", "xnor")


def logic_gate(name: str) -> tuple[list, list]:
    """Truth table of a logic gate, exactly as TFlearn's ``logical.py`` example writes it.

    Args:
        name: one of ``'or', 'and', 'not', 'nand', 'nor', 'xor', 'xnor'``.

    Returns:
        ``(X, Y)`` as fresh lists of float lists, e.g. OR: ``X = [[0., 0.], [0., 1.], [1., 0.],
        [1., 1.]]``, ``Y = [[0.], [1.], [1.], [1.]]``; NOT has one input: ``X = [[0.], [1.]]``,
        ``Y = [[1.], [0.]]``.
    """
    name = check_choice(str(name).lower(), "logic_gate name", GATES)
    if name == "not":
        return [[0.], [1.]], [[1.], [0.]]
    return [[0., 0.], [0., 1.], [1., 0.], [1., 1.]], [[v] for v in _GATES[name]]


def _setup(n_samples, noise, seed, n_classes, where):
    n = check_int(n_samples, f"{where} n_samples", minimum=n_classes)
    noise = check_float(noise, f"{where} noise", minimum=0.0)
    seed = check_int(seed, f"{where} seed", minimum=0)
    counts = [n // n_classes + (1 if c < n % n_classes else 0) for c in range(n_classes)]
    return n, noise, np.random.default_rng(seed), counts


def _finish(x: np.ndarray, y: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(y))
    return x[order].astype(np.float32), y[order].astype(np.int64)


def spirals(n_samples: int = 300, noise: float = 0.2, seed: int = 0, n_classes: int = 2,
            turns: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class (the classic hard case for linear models).

    Args:
        n_samples: total points.
        noise: std of the angular jitter (radians scaled by 4 internally, like CS231n's set).
        seed: random seed.
        n_classes: number of arms.
        turns: turns of each arm.

    Returns:
        ``X`` float32 ``(N, 2)`` in about [-1, 1], ``Y`` int64 ``(N,)``.
    """
    n_classes = check_int(n_classes, "spirals n_classes", minimum=2)
    n, noise, rng, counts = _setup(n_samples, noise, seed, n_classes, "spirals")
    xs, ys = [], []
    for c, m in enumerate(counts):
        r = np.linspace(0.05, 1.0, m)
        t = 2 * np.pi * turns * r + 2 * np.pi * c / n_classes + rng.normal(0, noise, m)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(m, c))
    return _finish(np.concatenate(xs), np.concatenate(ys), rng)


def circles(n_samples: int = 300, noise: float = 0.05, seed: int = 0, factor: float = 0.5
            ) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles: class 0 outer (radius 1), class 1 inner (radius ``factor``).

    Returns:
        ``X`` float32 ``(N, 2)``, ``Y`` int64 ``(N,)``.
    """
    factor = check_float(factor, "circles factor", 0.0, 1.0, min_inclusive=False,
                         max_inclusive=False)
    n, noise, rng, counts = _setup(n_samples, noise, seed, 2, "circles")
    xs, ys = [], []
    for c, (m, radius) in enumerate(zip(counts, (1.0, factor))):
        t = rng.uniform(0, 2 * np.pi, m)
        xs.append(radius * np.stack([np.cos(t), np.sin(t)], axis=1) + rng.normal(0, noise, (m, 2)))
        ys.append(np.full(m, c))
    return _finish(np.concatenate(xs), np.concatenate(ys), rng)


def moons(n_samples: int = 300, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (scikit-learn's ``make_moons`` shape).

    Returns:
        ``X`` float32 ``(N, 2)``, ``Y`` int64 ``(N,)``.
    """
    n, noise, rng, (m0, m1) = _setup(n_samples, noise, seed, 2, "moons")
    t0, t1 = rng.uniform(0, np.pi, m0), rng.uniform(0, np.pi, m1)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    x = np.concatenate([upper, lower]) + rng.normal(0, noise, (n, 2))
    return _finish(x, np.repeat([0, 1], [m0, m1]), rng)


def blobs(n_samples: int = 300, noise: float = 0.5, seed: int = 0, n_classes: int = 3,
          radius: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs with centres evenly spaced on a circle.

    Args:
        noise: standard deviation of each blob.
        n_classes: number of blobs.
        radius: radius of the circle of centres.

    Returns:
        ``X`` float32 ``(N, 2)``, ``Y`` int64 ``(N,)``.
    """
    n_classes = check_int(n_classes, "blobs n_classes", minimum=1)
    n, noise, rng, counts = _setup(n_samples, noise, seed, n_classes, "blobs")
    angles = 2 * np.pi * np.arange(n_classes) / n_classes
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    x = np.concatenate([centres[c] + rng.normal(0, noise, (m, 2)) for c, m in enumerate(counts)])
    return _finish(x, np.repeat(np.arange(n_classes), counts), rng)


def xor_quadrants(n_samples: int = 300, noise: float = 0.05, seed: int = 0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Points in [-1, 1]^2, class 1 where the two coordinates have opposite signs (XOR).

    Labels come from the clean points; ``noise`` (std) is added afterwards.

    Returns:
        ``X`` float32 ``(N, 2)``, ``Y`` int64 ``(N,)``.
    """
    n, noise, rng, counts = _setup(n_samples, noise, seed, 2, "xor_quadrants")
    xs = []
    for c, m in enumerate(counts):  # c=0: same signs, c=1: opposite signs
        p = rng.uniform(0.05, 1.0, (m, 2)) * rng.choice([-1.0, 1.0], (m, 1))
        p[:, 1] *= -1.0 if c else 1.0
        xs.append(p)
    x = np.concatenate(xs) + rng.normal(0, noise, (n, 2))
    return _finish(x, np.repeat([0, 1], counts), rng)


def checkerboard(n_samples: int = 400, noise: float = 0.0, seed: int = 0, tiles: int = 4
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Points in [0, 1)^2 labelled by the colour of a ``tiles x tiles`` checkerboard square.

    Returns:
        ``X`` float32 ``(N, 2)``, ``Y`` int64 ``(N,)``.
    """
    tiles = check_int(tiles, "checkerboard tiles", minimum=2)
    n, noise, rng, _ = _setup(n_samples, noise, seed, 2, "checkerboard")
    x = rng.uniform(0, 1, (n, 2))
    y = (np.floor(x[:, 0] * tiles) + np.floor(x[:, 1] * tiles)).astype(np.int64) % 2
    return _finish(x + rng.normal(0, noise, (n, 2)), y, rng)


def noisy_line(n_samples: int = 100, slope: float = 2.0, intercept: float = 1.0,
               noise: float = 0.1, seed: int = 0, x_range: tuple[float, float] = (-1.0, 1.0)
               ) -> tuple[np.ndarray, np.ndarray]:
    """Regression data ``y = slope * x + intercept + N(0, noise^2)``.

    Args:
        n_samples: number of points.
        slope, intercept: the true line.
        noise: standard deviation of the added noise.
        seed: random seed.
        x_range: x is uniform in this interval.

    Returns:
        ``X`` float32 ``(N, 1)``, ``Y`` float32 ``(N, 1)``.
    """
    n, noise, rng, _ = _setup(n_samples, noise, seed, 1, "noisy_line")
    slope = check_float(slope, "noisy_line slope")
    intercept = check_float(intercept, "noisy_line intercept")
    x = rng.uniform(float(x_range[0]), float(x_range[1]), (n, 1))
    y = slope * x + intercept + rng.normal(0, noise, (n, 1))
    return x.astype(np.float32), y.astype(np.float32)
