"""Neural data in: RDMs and response arrays from numpy arrays or ``.npz`` files, checked.

Shapes: RDMs ``(N, N)`` or ``(subjects, N, N)``; responses ``(stimuli, units)`` or
``(stimuli, repeats, units)``. Every check names the argument, what was expected and what came.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._checks import Text, fail


def load_npz(path: str | os.PathLike, key: str) -> np.ndarray:
    """One array of an ``.npz`` file (read without pickle), with errors that name the file and key."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if key not in data.files:
                fail(f"load_npz {str(path)!r}", f"an array named one of {data.files}", key, error=KeyError)
            return data[key]
    except FileNotFoundError:
        raise FileNotFoundError(f"load_npz: no file {str(path)!r}.") from None
    except (OSError, ValueError) as error:
        raise ValueError(f"load_npz: {str(path)!r} is not a readable .npz file ({error}).") from None


def as_rdms(rdms, where: str = "rdms", n_stimuli: int | None = None) -> np.ndarray:
    """Check RDMs and return them as float64 ``(subjects, N, N)``.

    Args:
        rdms: ``(N, N)`` or ``(subjects, N, N)`` array-like: symmetric, zero diagonal, finite.
        where: the argument's name for messages.
        n_stimuli: the number of stimuli they must describe (None: any).
    """
    try:
        x = np.asarray(rdms, dtype=np.float64)
    except (TypeError, ValueError):
        fail(where, "a numeric array (N, N) or (subjects, N, N)", Text(type(rdms).__name__), error=TypeError)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[1] != x.shape[2] or x.shape[1] < 3:
        fail(where, "RDMs of shape (N, N) or (subjects, N, N) with N >= 3", Text(f"shape {np.shape(rdms)}"))
    if n_stimuli is not None and x.shape[1] != n_stimuli:
        fail(where, f"RDMs of the {n_stimuli} stimuli given to the network", Text(f"RDMs of {x.shape[1]} stimuli"),
             "Give the stimuli in the same order as the rows of the RDMs.")
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).sum())
        fail(where, "finite dissimilarities", Text(f"{bad} NaN/Inf entries"), "Remove or impute them first.")
    asym = float(np.abs(x - x.transpose(0, 2, 1)).max())
    if asym > 1e-6 * max(1.0, float(np.abs(x).max())):
        fail(where, "symmetric RDMs", Text(f"a largest |rdm[i, j] - rdm[j, i]| of {asym:.3g}"),
             "Use (rdm + rdm.T) / 2 if the asymmetry is noise.")
    diagonal = float(np.abs(np.diagonal(x, axis1=1, axis2=2)).max())
    if diagonal > 1e-6 * max(1.0, float(np.abs(x).max())):
        fail(where, "RDMs with a zero diagonal (a stimulus is not dissimilar to itself)",
             Text(f"diagonal values up to {diagonal:.3g}"))
    return x


def as_responses(responses, where: str = "responses", n_stimuli: int | None = None) -> np.ndarray:
    """Check responses and return them as float64 ``(stimuli, repeats, units)`` (one repeat when
    ``(stimuli, units)`` was given)."""
    try:
        x = np.asarray(responses, dtype=np.float64)
    except (TypeError, ValueError):
        fail(where, "a numeric array (stimuli, units) or (stimuli, repeats, units)", Text(type(responses).__name__),
             error=TypeError)
    if x.ndim == 2:
        x = x[:, None, :]
    if x.ndim != 3 or min(x.shape) < 1 or x.shape[0] < 3:
        fail(where, "responses of shape (stimuli, units) or (stimuli, repeats, units), >= 3 stimuli",
             Text(f"shape {np.shape(responses)}"))
    if n_stimuli is not None and x.shape[0] != n_stimuli:
        fail(where, f"responses to the {n_stimuli} stimuli given to the network",
             Text(f"responses to {x.shape[0]} stimuli"), "Give the stimuli in the same order as the responses.")
    if not np.isfinite(x).all():
        fail(where, "finite responses", Text(f"{int((~np.isfinite(x)).sum())} NaN/Inf entries"))
    return x


def stimuli_for(model, images) -> np.ndarray:
    """Images ``(N, H, W, C)`` (uint8 0-255 or float in [0, 1]) resized and scaled for ``model``'s
    input layer (its ``(H, W, C)``; grey to RGB or RGB to grey as needed), float32 in [0, 1]."""
    import torch
    import torch.nn.functional as F

    x = np.asarray(images)
    if x.ndim != 4:
        fail("stimuli_for images", "images (N, H, W, C)", Text(f"shape {x.shape}"))
    x = x.astype(np.float32) / (255.0 if x.dtype == np.uint8 or x.max() > 1.5 else 1.0)
    shape = getattr(getattr(model, "net", None), "inputs", None)
    if not shape or len(shape[0].shape) != 4:
        fail("stimuli_for model", "a deepscope model whose input is an image (None, H, W, C)", Text("another input"))
    _, height, width, channels = shape[0].shape
    t = torch.from_numpy(x).permute(0, 3, 1, 2)  # (N, C, H, W)
    if t.shape[1] != channels:
        t = t.mean(1, keepdim=True) if channels == 1 else t.mean(1, keepdim=True).expand(-1, channels, -1, -1)
    if t.shape[2:] != (height, width):
        t = F.interpolate(t, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
    return t.clamp(0, 1).permute(0, 2, 3, 1).contiguous().numpy()
