"""Search spaces: a dict ``name -> values`` for a grid, or ``name -> distribution`` for random search.

::

    space = {"l2_first": [1e-4, 1e-3], "l2_second": [1e-4, 1e-3]}      # grid: every combination
    grid(space)          # [{'l2_first': 0.0001, 'l2_second': 0.0001}, ...] (4 points)

    space = {"lr": LogUniform(1e-4, 1e-1), "units": IntRange(16, 128), "act": Choice(["relu", "tanh"])}
    sample(space, 10, seed=0)   # 10 random points, the same for the same seed

In a random or Bayesian space a plain list is a ``Choice``. Points are plain dicts of JSON-able
values (Python floats, ints, strings, bools) so they can be written to the study's journal.
"""
from __future__ import annotations

import itertools
import math
import numbers
from typing import Any

import numpy as np

from .._checks import check_int, fail


class Distribution:
    """Base class: ``draw(rng) -> value`` and ``optuna()`` (the matching optuna distribution)."""

    def draw(self, rng: np.random.Generator) -> Any:
        raise NotImplementedError

    def optuna(self):
        raise NotImplementedError


def _bounds(lo, hi, where: str, positive: bool = False) -> tuple[float, float]:
    for name, v in (("lo", lo), ("hi", hi)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
            fail(f"{where} {name}", "a finite number", v, error=TypeError)
    if positive and lo <= 0:
        fail(f"{where} lo", "a number > 0 (a log scale cannot reach 0)", lo, "Use Uniform for a range that starts at 0.")
    if not lo < hi:
        fail(where, "lo < hi", (lo, hi), "Swap the bounds, or use a one-element list for a fixed value.")
    return float(lo), float(hi)


class Uniform(Distribution):
    """A float drawn uniformly from ``[lo, hi)``."""

    def __init__(self, lo: float, hi: float):
        self.lo, self.hi = _bounds(lo, hi, "Uniform")

    def draw(self, rng):
        return float(rng.uniform(self.lo, self.hi))

    def optuna(self):
        import optuna
        return optuna.distributions.FloatDistribution(self.lo, self.hi)

    def __repr__(self):
        return f"Uniform({self.lo:g}, {self.hi:g})"


class LogUniform(Distribution):
    """A float whose logarithm is uniform in ``[log lo, log hi)`` (learning rates, L2 factors)."""

    def __init__(self, lo: float, hi: float):
        self.lo, self.hi = _bounds(lo, hi, "LogUniform", positive=True)

    def draw(self, rng):
        return float(math.exp(rng.uniform(math.log(self.lo), math.log(self.hi))))

    def optuna(self):
        import optuna
        return optuna.distributions.FloatDistribution(self.lo, self.hi, log=True)

    def __repr__(self):
        return f"LogUniform({self.lo:g}, {self.hi:g})"


class IntRange(Distribution):
    """An integer drawn uniformly from ``lo`` to ``hi``, both included."""

    def __init__(self, lo: int, hi: int):
        self.lo = check_int(lo, "IntRange lo", minimum=None)
        self.hi = check_int(hi, "IntRange hi", minimum=None)
        if self.lo > self.hi:
            fail("IntRange", "lo <= hi", (lo, hi), "Swap the bounds.")

    def draw(self, rng):
        return int(rng.integers(self.lo, self.hi + 1))

    def optuna(self):
        import optuna
        return optuna.distributions.IntDistribution(self.lo, self.hi)

    def __repr__(self):
        return f"IntRange({self.lo}, {self.hi})"


class Choice(Distribution):
    """One of ``values``, each equally likely."""

    def __init__(self, values):
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            fail("Choice values", "a list of values", values, error=TypeError)
        self.values = [_plain(v, "Choice values") for v in values]
        if not self.values:
            fail("Choice values", "at least one value", [], "Give a list such as Choice(['relu', 'tanh']).")

    def draw(self, rng):
        return self.values[int(rng.integers(len(self.values)))]

    def optuna(self):
        import optuna
        return optuna.distributions.CategoricalDistribution(self.values)

    def __repr__(self):
        return f"Choice({self.values!r})"


def _plain(value: Any, where: str) -> Any:
    """``value`` as a JSON-able Python scalar (numpy scalars converted), else a clear error."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    fail(where, "numbers, strings, booleans or None (values written to the study's journal)", value,
         "Use a name (a string) and look the object up inside train_fn.", error=TypeError)


def check_space(space: Any, method: str = "grid") -> dict:
    """Validate ``space`` for ``method`` ('grid', 'random' or 'bayes') and return it as a dict
    ``name -> list`` (grid) or ``name -> Distribution`` (random, bayes; a list becomes a Choice)."""
    where = f"search space (method={method!r})"
    if not isinstance(space, dict):
        fail(where, "a dict name -> list of values or distribution", type(space).__name__,
             "Example: {'l2': [1e-4, 1e-3], 'lr': LogUniform(1e-4, 1e-1)}.", error=TypeError)
    if not space:
        fail(where, "at least one parameter", {}, "Example: {'l2': [1e-4, 1e-3]}.")
    checked = {}
    for name, values in space.items():
        if not isinstance(name, str) or not name:
            fail(where, "parameter names as non-empty strings", name, error=TypeError)
        if isinstance(values, Distribution):
            if method == "grid":
                fail(f"{where} {name!r}", "a list of values for a grid", values,
                     "Use method='random' or 'bayes' for distributions, or give a list.", error=TypeError)
            checked[name] = values
            continue
        if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
            fail(f"{where} {name!r}", "a list of values or a distribution (Uniform, LogUniform, Choice, IntRange)",
                 values, f"For a fixed value write [{values!r}].", error=TypeError)
        values = [_plain(v, f"{where} {name!r}") for v in values]
        if not values:
            fail(f"{where} {name!r}", "at least one value", [], "Remove the parameter or give it a value.")
        checked[name] = values if method == "grid" else Choice(values)
    return checked


def grid(space: dict) -> list[dict]:
    """Every combination of the values of ``space`` (the last parameter varies fastest).

    Args:
        space: a dict ``name -> list of values``.

    Returns:
        A list of point dicts.
    """
    space = check_space(space, "grid")
    names = list(space)
    return [dict(zip(names, combo)) for combo in itertools.product(*(space[n] for n in names))]


def sample(space: dict, n: int, seed: int = 0) -> list[dict]:
    """``n`` random points of ``space``, the same ones for the same ``seed``.

    Args:
        space: a dict ``name -> Distribution`` (a list is a ``Choice``).
        n: the number of points.
        seed: the sampler's seed (not the training seed).

    Returns:
        A list of point dicts.
    """
    space = check_space(space, "random")
    n = check_int(n, "sample n", minimum=1)
    rng = np.random.default_rng(check_int(seed, "sample seed", minimum=0))
    return [{name: dist.draw(rng) for name, dist in space.items()} for _ in range(n)]
