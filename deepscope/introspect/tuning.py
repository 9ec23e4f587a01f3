"""Tuning curves: a unit's mean response as one stimulus parameter varies (the neuroscience classic).

::

    angles = np.arange(0, 180, 15)
    curves, preferred = tuning_curves(model, oriented_gratings, angles, "Conv2D")
    plot_tuning_curves(curves, angles, "tuning.png")
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .._checks import Text, check_float, check_int, fail
from .._io import save_figure
from .recording import activations, resolve_layers
from .similarity import as_array
from ..utils import RECORDING_BATCH_SIZE


def oriented_gratings(angle: float, size: int = 28, frequency: float = 0.125, phases: int = 8,
                      channels: int = 1) -> np.ndarray:
    """Sinusoidal gratings of one orientation at evenly spaced phases (values in [0, 1]).

    Args:
        angle: orientation of the stripes in degrees: 0 = vertical stripes, 90 = horizontal.
        size: image height and width in pixels.
        frequency: cycles per pixel (0.125: a period of 8 pixels).
        phases: number of phases in [0, 2 pi) (one image each; averaging removes phase).
        channels: image channels (the grating repeated).

    Returns:
        ``(phases, size, size, channels)`` float32 images (NHWC).
    """
    size = check_int(size, "oriented_gratings size")
    phases = check_int(phases, "oriented_gratings phases")
    frequency = check_float(frequency, "oriented_gratings frequency", 0.0, min_inclusive=False)
    theta = np.deg2rad(check_float(angle, "oriented_gratings angle"))
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)  # (size, size)
    along = x * np.cos(theta) + y * np.sin(theta)  # position across the stripes
    phi = 2 * np.pi * np.arange(phases) / phases  # (phases,)
    images = 0.5 + 0.5 * np.cos(2 * np.pi * frequency * along[None] + phi[:, None, None])  # (phases, size, size)
    return np.repeat(images[..., None], channels, axis=-1).astype(np.float32)


def tuning_curves(model, make_stimulus: Callable, values: Sequence, layer: str, units=None,
                  batch_size: int = RECORDING_BATCH_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Mean response of a layer's units for each value of a stimulus parameter.

    Args:
        model: a ``DNN`` or ``nn.Module``.
        make_stimulus: ``make_stimulus(value) -> array (n, ...)``: a batch of stimuli for one value.
        values: the parameter values (e.g. angles).
        layer: the layer's name.
        units: unit indices (features or channels; default: all).
        batch_size: samples per forward pass.

    Returns:
        ``(curves, preferred)``: ``curves`` (len(values), n_units) mean responses (over samples and
        positions); ``preferred`` (n_units,) the value giving each unit's largest response.
    """
    resolve_layers(model, layer)  # unknown names fail here
    values = list(values)
    if not values:
        fail("tuning_curves values", "at least one stimulus parameter value", values)
    rows = []
    for value in values:
        stimuli = np.asarray(make_stimulus(value), dtype=np.float32)
        if stimuli.ndim < 2 or stimuli.shape[0] == 0:
            fail("tuning_curves make_stimulus", "an array (n, ...) with n >= 1 stimuli",
                 Text(f"shape {stimuli.shape} for value {value!r}"))
        out = activations(model, stimuli, [layer], batch_size)[layer]  # (n, ..., units): units last
        rows.append(out.reshape(-1, out.shape[-1]).mean(0))  # (units,)
    curves = np.stack(rows)  # (len(values), units)
    if units is not None:
        curves = curves[:, _unit_indices(units, curves.shape[1], f"tuning_curves layer {layer!r} units")]
    preferred = np.asarray(values)[curves.argmax(0)]  # (units,)
    return curves, preferred


def _unit_indices(units, n: int, where: str) -> list[int]:
    units = [units] if isinstance(units, (int, np.integer)) else list(np.asarray(units).ravel())
    idx = [check_int(u, where, minimum=0) for u in units]
    if any(u >= n for u in idx):
        fail(where, f"unit indices in 0..{n - 1} (the layer has {n} units)", Text(str([u for u in idx if u >= n])))
    return idx


def plot_tuning_curves(curves: np.ndarray, values: Sequence, path, units=None, labels=None,
                       xlabel: str = "stimulus", columns: int = 4) -> Path:
    """One small line plot per unit, its preferred value marked; written atomically.

    Args:
        curves: (len(values), n_units) from ``tuning_curves``.
        values: the parameter values.
        path: ``.png`` or ``.svg`` file.
        units: columns of ``curves`` to plot (default: the first 16).
        labels: titles per plotted unit (default ``unit <index>``).
        xlabel: the parameter's name.
        columns: subplots per row.

    Returns:
        the written path.
    """
    from matplotlib.figure import Figure  # Agg canvas, no pyplot state

    curves = as_array(curves, "plot_tuning_curves curves", finite=False)
    values = as_array(values, "plot_tuning_curves values")
    if curves.ndim != 2 or curves.shape[0] != len(values):
        fail("plot_tuning_curves curves", f"an array (len(values)={len(values)}, units)", Text(f"shape {curves.shape}"))
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        fail("plot_tuning_curves path", "a .png or .svg file", str(path))
    units = list(range(min(16, curves.shape[1]))) if units is None else \
        _unit_indices(units, curves.shape[1], "plot_tuning_curves units")
    cols = min(check_int(columns, "plot_tuning_curves columns"), len(units))
    rows = -(-len(units) // cols)
    fig = Figure(figsize=(2.6 * cols, 2.0 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, (i, u) in zip(axes.flat, enumerate(units)):
        ax.plot(values, curves[:, u], marker="o", ms=3)
        best = curves[:, u].argmax()
        ax.axvline(values[best], color="tab:red", lw=0.8, ls="--")
        ax.set_title(labels[i] if labels is not None else f"unit {u} (pref {values[best]:g})", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_xlabel(xlabel, fontsize=7)
    for ax in list(axes.flat)[len(units):]:
        ax.axis("off")
    return save_figure(fig, path)
