"""A simulated V1-like population with known ground truth, for encoding models without recordings.

**Simulated data, not recordings.** Each unit is a Gabor filter (random orientation, spatial
frequency, phase and position) applied to the grey-level image, half-wave rectified and scaled
to a firing rate; spike counts are Poisson draws around that rate on every repeat. Because the
true rates are known, so is the best any encoding model can do: ``true_ceiling`` is the
correlation between each unit's true rate and its mean observed response.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .._checks import Text, check_float, check_int, fail


@dataclass
class SimulatedPopulation:
    """Attributes:
        responses: ``(stimuli, repeats, units)`` spike counts.
        rates: ``(stimuli, units)`` the true firing rates.
        filters: ``(units, size, size)`` the Gabor filters.
        drive: ``(stimuli, units)`` the filters' linear responses (before rectification).
        true_ceiling: ``(units,)`` correlation of each unit's true rate with its mean response.
        params: ``{orientation, wavelength, phase, x, y}`` arrays of the units' filter parameters.
    """
    responses: np.ndarray
    rates: np.ndarray
    filters: np.ndarray
    drive: np.ndarray
    true_ceiling: np.ndarray
    params: dict = field(default_factory=dict)


def grey(images, size: int) -> np.ndarray:
    """Images ``(N, H, W[, C])`` (uint8 or [0, 1]) -> grey ``(N, size, size)`` float64 in [0, 1]."""
    x = np.asarray(images)
    if x.ndim not in (3, 4) or len(x) < 3:
        fail("simulate_v1 images", "images (N, H, W) or (N, H, W, C), N >= 3", Text(f"shape {x.shape}"))
    x = x.astype(np.float32) / (255.0 if x.dtype == np.uint8 or x.max() > 1.5 else 1.0)
    if x.ndim == 4:
        x = x.mean(-1)
    t = F.interpolate(torch.from_numpy(x)[:, None], size=(size, size), mode="bilinear", antialias=True,
                      align_corners=False)
    return t[:, 0].double().numpy()


def gabor_bank(n_units: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """``n_units`` zero-mean, unit-norm Gabor filters ``(n_units, size, size)`` and their parameters."""
    orientation = rng.uniform(0, np.pi, n_units)
    wavelength = rng.uniform(size / 8, size / 3, n_units)
    phase = rng.uniform(0, 2 * np.pi, n_units)
    cx, cy = rng.uniform(size * 0.3, size * 0.7, (2, n_units))
    sigma = 0.5 * wavelength
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    dx, dy = xx[None] - cx[:, None, None], yy[None] - cy[:, None, None]
    along = dx * np.cos(orientation)[:, None, None] + dy * np.sin(orientation)[:, None, None]
    envelope = np.exp(-(dx ** 2 + dy ** 2) / (2 * sigma[:, None, None] ** 2))
    filters = envelope * np.cos(2 * np.pi * along / wavelength[:, None, None] + phase[:, None, None])
    filters -= filters.mean(axis=(1, 2), keepdims=True)
    filters /= np.linalg.norm(filters.reshape(n_units, -1), axis=1)[:, None, None]
    return filters, {"orientation": orientation, "wavelength": wavelength, "phase": phase, "x": cx, "y": cy}


def simulate_v1(images, n_units: int = 212, n_repeats: int = 4, size: int = 32, mean_rate: float = 0.5,
                seed: int = 0) -> SimulatedPopulation:
    """Simulate a V1-like population's spike counts to ``images`` (see the module doc: simulated).

    Args:
        images: ``(N, H, W[, C])``: the stimuli (e.g. the 92 images or CIFAR images).
        n_units: simulated neurons.
        n_repeats: presentations of every image (Poisson noise on each).
        size: the images are converted to grey and resized to ``size x size`` first.
        mean_rate: the population's mean spike count per presentation.
        seed: random seed (filters and noise).
    """
    n_units = check_int(n_units, "simulate_v1 n_units", minimum=1)
    n_repeats = check_int(n_repeats, "simulate_v1 n_repeats", minimum=1)
    size = check_int(size, "simulate_v1 size", minimum=4)
    mean_rate = check_float(mean_rate, "simulate_v1 mean_rate", minimum=0.0, min_inclusive=False)
    rng = np.random.default_rng(seed)
    x = grey(images, size)
    x = x - x.mean(axis=(1, 2), keepdims=True)  # each image's mean luminance removed (contrast drives V1)
    filters, params = gabor_bank(n_units, size, rng)
    drive = np.einsum("nhw,uhw->nu", x, filters)  # (stimuli, units)
    rectified = np.maximum(drive, 0)
    scale = rectified.mean(0)
    rates = mean_rate * rectified / np.where(scale > 0, scale, 1.0) + 0.2  # (stimuli, units), a little spontaneous rate
    responses = rng.poisson(rates[:, None, :], size=(len(x), n_repeats, n_units)).astype(np.float64)
    mean = responses.mean(1)
    a, b = rates - rates.mean(0), mean - mean.mean(0)
    true_ceiling = (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))
    return SimulatedPopulation(responses, rates, filters, drive, true_ceiling, params)
