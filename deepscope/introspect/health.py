"""Unit health: dead ReLU units, saturated sigmoid/tanh units, mean activations; a training monitor.

::

    report = unit_health(model, X[:256])      # {layer name: LayerHealth}
    print(format_health(report))
    model.fit(X, Y, callbacks=HealthMonitor(X[:256], every=1))   # dead/<layer>, saturated/<layer>

A *unit* is a feature of a dense layer or a channel of a convolution (all positions pooled).
Statistics are reduced inside forward hooks batch by batch, so a large ``X`` costs no memory.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from .._checks import Text, check_float, check_int, fail
from ..callbacks.base import Callback, TrainingState
from ..diagnostics.recorder import BOUNDED, saturated
from .recording import network_of, resolve_layers, to_user_layout
from ..utils import RECORDING_BATCH_SIZE, evaluation_pass

SKIPPED = {None, "linear", "softmax"}  # not monitored by default (inputs, pools, outputs)
MOST_SAMPLES = 0.95  # a unit is saturated when saturated on more than this fraction of samples


@dataclass
class LayerHealth:
    """Health of one layer's units.

    Attributes:
        activation: the layer's activation name (None when it has none).
        n_units: features (dense) or channels (convolution).
        dead_fraction: fraction of units never above the threshold (None for sigmoid/tanh).
        saturated_fraction: fraction of saturated units (sigmoid/tanh only, else None).
        mean_activation: mean output over samples, positions and units.
        unit_mean: (n_units,) mean output per unit.
        unit_max: (n_units,) largest output per unit.
        unit_saturation: (n_units,) fraction of samples (and positions) where the unit is
            saturated (sigmoid/tanh only, else None).
    """

    activation: str | None
    n_units: int
    dead_fraction: float | None
    saturated_fraction: float | None
    mean_activation: float
    unit_mean: np.ndarray
    unit_max: np.ndarray
    unit_saturation: np.ndarray | None = None


class _Stats:
    """Per-unit running max, sum and saturation counts of one layer's outputs (a forward hook)."""

    def __init__(self, kind, saturation):
        self.kind, self.saturation = kind, saturation  # kind: 'sigmoid', 'tanh' or None
        self.max = self.sum = self.sat = None
        self.count = 0

    def __call__(self, module, inputs, output):
        if not isinstance(output, torch.Tensor):
            return
        y = to_user_layout(output.detach()).float()
        y = y.reshape(-1, y.shape[-1])  # (samples * positions, units): units are the last axis
        ymax, ysum = y.amax(0), y.sum(0)
        sat = None
        if self.kind is not None:
            sat = saturated(y, self.kind, self.saturation).sum(0, dtype=torch.float32)  # (units,)
        if self.max is None:
            self.max, self.sum, self.sat = ymax, ysum, sat
        else:
            self.max = torch.maximum(self.max, ymax)
            self.sum = self.sum + ysum
            self.sat = None if sat is None else self.sat + sat
        self.count += y.shape[0]


def _default_layers(model) -> list[str]:
    return [name for name, m in resolve_layers(model, None).items()
            if getattr(m, "activation_name", None) not in SKIPPED]


def forward_all(model, X, batch_size: int = RECORDING_BATCH_SIZE) -> None:
    """Run ``X`` through the network in evaluation mode without gradients (training mode restored).

    Args:
        model: a ``DNN`` (``X`` as for ``predict``, or a list of prepared device tensors) or an ``nn.Module``.
        X: the inputs.
        batch_size: samples per forward pass.
    """
    net = network_of(model)
    if hasattr(model, "prepare_data") and hasattr(model, "net"):
        xs = X if isinstance(X, list) and all(isinstance(x, torch.Tensor) for x in X) \
            else model.prepare_data(X, None, "introspect X", "")[0]
    else:
        xs = [X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X), dtype=torch.float32)]
    with evaluation_pass(net):
        for i in range(0, xs[0].shape[0], batch_size):
            net(*[x[i:i + batch_size] for x in xs])


def unit_health(model, X, layers=None, dead_threshold: float = 0.0, saturation: float = 0.99,
                batch_size: int = RECORDING_BATCH_SIZE) -> dict[str, LayerHealth]:
    """Dead and saturated units of some layers on the inputs ``X``.

    Args:
        model: a ``DNN`` or ``nn.Module``.
        X: the inputs (a few hundred samples are enough).
        layers: layer names (default: every layer with an activation other than linear/softmax).
        dead_threshold: a unit is dead when its output never exceeds this on ``X`` (ReLU-like).
        saturation: sigmoid saturates above ``saturation`` or below ``1 - saturation``, tanh
            when ``|y| > saturation``; a unit is saturated on more than 95% of samples (and positions).
        batch_size: samples per forward pass.

    Returns:
        ``{layer name: LayerHealth}`` in the network's order.
    """
    saturation = check_float(saturation, "unit_health saturation", 0.5, 1.0, min_inclusive=False, max_inclusive=False)
    dead_threshold = check_float(dead_threshold, "unit_health dead_threshold")
    modules = resolve_layers(model, _default_layers(model) if layers is None else layers)
    if not modules:
        fail("unit_health layers", "a network with layers that have activations", Text("none"),
             "Name the layers: unit_health(model, X, layers=['FullyConnected']).")
    names = {n: getattr(m, "activation_name", None) for n, m in modules.items()}
    stats = {n: _Stats(names[n] if names[n] in BOUNDED else None, saturation) for n in modules}
    handles = [m.register_forward_hook(stats[n]) for n, m in modules.items()]
    try:
        forward_all(model, X, batch_size)
    finally:
        for h in handles:
            h.remove()
    report = {}
    for name, st in stats.items():
        if st.max is None:
            fail(f"unit_health layer {name!r}", "a layer the inputs pass through", Text("no output recorded"))
        unit_mean = (st.sum / st.count).cpu().numpy()  # (units,)
        unit_max = st.max.cpu().numpy()
        bounded = st.sat is not None
        unit_sat = (st.sat / st.count).cpu().numpy() if bounded else None
        report[name] = LayerHealth(
            activation=names[name], n_units=int(unit_mean.shape[0]),
            dead_fraction=None if bounded else float(np.mean(unit_max <= dead_threshold)),
            saturated_fraction=float(np.mean(unit_sat > MOST_SAMPLES)) if bounded else None,
            mean_activation=float(unit_mean.mean()), unit_mean=unit_mean, unit_max=unit_max,
            unit_saturation=unit_sat)
    return report


def format_health(report: dict[str, LayerHealth]) -> str:
    """A readable table of a ``unit_health`` report (one row per layer)."""
    if not isinstance(report, dict) or not all(isinstance(h, LayerHealth) for h in report.values()):
        fail("format_health report", "{layer: LayerHealth} (what unit_health(...) returns)",
             Text(type(report).__name__), error=TypeError)
    pct = lambda v: "-" if v is None else f"{100 * v:5.1f}%"  # noqa: E731
    rows = [("layer", "activation", "units", "dead", "saturated", "mean act")]
    rows += [(n, str(h.activation), str(h.n_units), pct(h.dead_fraction), pct(h.saturated_fraction),
              f"{h.mean_activation:.4g}") for n, h in report.items()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


class HealthMonitor(Callback):
    """Unit health on a fixed probe batch every ``every`` epochs, logged as ``dead/<layer>`` and
    ``saturated/<layer>`` in ``state.epoch_logs``; warns once per layer above 50% dead units.

    Cost: one forward pass of the probe in evaluation mode without gradients per check.

    Args:
        X_probe: the probe inputs (e.g. ``X[:256]``). Required: callbacks do not see the
            training data, and the small-network fast path trains without calling the layers.
        every: check every this many epochs.
        layers: layer names (default: every layer with an activation other than linear/softmax).

    Attributes:
        history: one dict per check: ``{'epoch': e, 'dead/<layer>': f, 'saturated/<layer>': f}``.
        last_report: the last ``unit_health`` report.
    """

    def __init__(self, X_probe=None, every: int = 1, layers=None, dead_threshold: float = 0.0,
                 saturation: float = 0.99, warn_dead: float = 0.5):
        if X_probe is None:
            fail("HealthMonitor X_probe", "the probe inputs", None,
                 "Pass a few hundred training samples: HealthMonitor(X[:256]).")
        self.X_probe, self.layers = X_probe, layers
        self.every = check_int(every, "HealthMonitor every")
        self.dead_threshold, self.saturation = dead_threshold, saturation
        self.warn_dead = check_float(warn_dead, "HealthMonitor warn_dead", 0.0, 1.0)
        self.history: list[dict] = []
        self.last_report: dict[str, LayerHealth] | None = None
        self._warned: set[str] = set()
        self._probe = None

    def on_train_begin(self, state: TrainingState) -> None:
        model = state.model
        if hasattr(model, "prepare_data") and self._probe is None:  # convert once, kept on the device
            self._probe = model.prepare_data(self.X_probe, None, "HealthMonitor X_probe", "")[0]
        if self.layers is not None:
            resolve_layers(model, self.layers)  # unknown names fail before training starts

    def on_epoch_end(self, state: TrainingState) -> None:
        if state.epoch % self.every:
            return
        probe = self._probe if self._probe is not None else self.X_probe
        report = unit_health(state.model, probe, self.layers, self.dead_threshold, self.saturation)
        self.last_report = report
        entry = {"epoch": state.epoch}
        for name, h in report.items():
            if h.dead_fraction is not None:
                entry[f"dead/{name}"] = h.dead_fraction
                if h.dead_fraction > self.warn_dead and name not in self._warned:
                    self._warned.add(name)
                    warnings.warn(f"HealthMonitor: {100 * h.dead_fraction:.0f}% of the units of layer {name!r} "
                                  f"are dead (never active on the probe) at epoch {state.epoch}. Try a lower "
                                  "learning rate, He initialization or leaky_relu.", RuntimeWarning, stacklevel=2)
            if h.saturated_fraction is not None:
                entry[f"saturated/{name}"] = h.saturated_fraction
        self.history.append(entry)
        state.epoch_logs.update({k: v for k, v in entry.items() if k != "epoch"})
