"""``DNN(..., compile=True)``: the training step's forward pass through ``torch.compile``, with a fallback.

torch compiles on the first call (about 20 s here), meant for GPUs: on the 2-core CPU the MNIST CNN trained 2 epochs
in 55.7 s compiled vs 29.2 s eager (``BENCHMARKS.md``). Where it
cannot (no C++ compiler for its CPU backend, a Python that dynamo does not support, an operation it cannot trace),
the fit goes on in eager mode, the same arithmetic, after one warning that says why. Only the training forward is
compiled; ``predict``, ``evaluate`` and the step diagnostics' probes run eagerly.
"""
from __future__ import annotations

import warnings
from typing import Callable

import torch


class CompiledForward:
    """``fn`` through ``torch.compile``; eager ``fn`` from the first failure on (warned once, with the reason).

    Args:
        fn: the forward pass (a network, or its ``logits`` method).
    """

    def __init__(self, fn: Callable):
        self.eager = fn
        self.failure: str | None = None  # why torch could not compile, once it failed
        try:
            self.compiled = torch.compile(fn)
        except Exception as error:  # noqa: BLE001 - e.g. "Dynamo is not supported on Python 3.x"
            self.compiled = None
            self._fall_back(error)

    def __call__(self, *xs: torch.Tensor) -> torch.Tensor:
        if self.compiled is not None:
            try:
                return self.compiled(*xs)
            except Exception as error:  # noqa: BLE001 - any failure to compile: eager mode says the rest
                self.compiled = None
                self._fall_back(error)
        return self.eager(*xs)  # (an error of the network itself is raised here, as without compile)

    def _fall_back(self, error: Exception) -> None:
        reason = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
        self.failure = f"{type(error).__name__}: {reason}" if reason else type(error).__name__
        warnings.warn(f"DNN(compile=True): torch.compile could not compile this network ({self.failure}); "
                      "training goes on without it (eager mode, the same arithmetic).", RuntimeWarning, stacklevel=4)
