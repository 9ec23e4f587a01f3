"""Receptive fields by reverse correlation: the spike-triggered average of white-noise stimuli.

The neurophysiologist's classic (e.g. Jones & Palmer 1987 for V1 simple cells), applied to a unit
of the network: show many white-noise images, weight each by the unit's (rectified) response,
and average. For a unit that sums its inputs linearly before a rectifier, the average recovers
its linear filter up to scale.

::

    rf = receptive_field(model, "Conv2D", unit=3)          # (H, W, C), the input's layout
    plot_receptive_fields(model, "Conv2D", [0, 1, 2, 3], "rf.png")
"""
from __future__ import annotations

import numpy as np

from .._checks import Text, check_int, fail
from .._io import save_figure
from .recording import activations, network_of
from ..utils import RECORDING_BATCH_SIZE


def _input_shape(model, shape):
    if shape is not None:
        return tuple(int(s) for s in shape)
    inputs = getattr(network_of(model), "inputs", None)
    if not inputs:
        fail("receptive_field shape", "the input shape (H, W, C) for a model that is not a deepscope network",
             None)
    return tuple(inputs[0].shape[1:])


def receptive_fields(model, layer: str, units=None, n_samples: int = 4096, shape=None, batch_size: int = RECORDING_BATCH_SIZE,
                     seed: int = 0) -> np.ndarray:
    """Spike-triggered averages of white noise for some units of a layer.

    Args:
        model: a ``DNN`` or ``nn.Module``.
        layer: the layer's name.
        units: feature or channel indices (default: all). A convolutional unit is its channel at the
            centre of the feature map (so its receptive field is in the middle of the image).
        n_samples: white-noise images (Gaussian, mean 0.5, sd 0.25; more samples: less noise).
        shape: the input shape without the batch axis (default: the network's).
        batch_size: samples per forward pass.
        seed: random seed of the noise.

    Returns:
        ``(len(units), *shape)``: each unit's response-weighted mean stimulus minus the mean
        stimulus (zero where a unit never responded).
    """
    n_samples = check_int(n_samples, "receptive_field n_samples", minimum=2)
    shape = _input_shape(model, shape)
    rng = np.random.default_rng(seed)
    noise = (0.5 + 0.25 * rng.standard_normal((n_samples, *shape))).astype(np.float32)
    out = activations(model, noise, [layer], batch_size=batch_size)[layer]  # (N, ..., units)
    if out.ndim == 4:
        out = out[:, out.shape[1] // 2, out.shape[2] // 2, :]  # the centre position of each channel
    out = out.reshape(n_samples, -1)
    if units is None:
        units = list(range(out.shape[1]))
    units = [check_int(u, "receptive_field units", minimum=0) for u in np.atleast_1d(units)]
    if max(units) >= out.shape[1]:
        fail("receptive_field units", f"indices below {out.shape[1]} (the layer's units)", Text(f"{max(units)}"))
    response = np.maximum(out[:, units], 0).astype(np.float64)  # (N, units): rectified, like a firing rate
    total = response.sum(0)  # (units,)
    flat = noise.reshape(n_samples, -1).astype(np.float64) - 0.5
    sta = (response.T @ flat) / np.where(total > 0, total, 1.0)[:, None]  # (units, features)
    sta[total <= 0] = 0.0
    return sta.reshape(len(units), *shape)


def receptive_field(model, layer: str, unit: int, **kwargs) -> np.ndarray:
    """One unit's receptive field (see :func:`receptive_fields`): an array of the input's shape."""
    return receptive_fields(model, layer, [unit], **kwargs)[0]


def plot_receptive_fields(model, layer: str, units, path, **kwargs):
    """Draw the receptive fields of some units (each scaled symmetrically around 0: red +, blue -)."""
    from matplotlib.figure import Figure

    units = list(np.atleast_1d(units))
    fields = receptive_fields(model, layer, units, **kwargs)
    columns = min(len(units), 8)
    rows = -(-len(units) // columns)
    fig = Figure(figsize=(1.6 * columns + 1.0, 1.7 * rows + 0.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    image = None
    for ax, unit, field in zip(axes, units, fields):
        picture = field.mean(-1) if field.ndim == 3 else field  # channels averaged
        if picture.ndim == 1:
            picture = picture[None]
        limit = float(np.abs(picture).max()) or 1.0
        image = ax.imshow(picture / limit, cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_title(f"unit {unit}", fontsize=8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[len(units):]:
        ax.set_visible(False)
    if image is not None:
        fig.colorbar(image, ax=list(axes[:len(units)]), shrink=0.8,
                     label="spike-triggered average (each unit scaled to its max |value|)")
    fig.suptitle(f"Receptive fields of {layer} by reverse correlation "
                 f"({kwargs.get('n_samples', 4096)} white-noise images; channels averaged)")
    return save_figure(fig, path, where="plot_receptive_fields path")
