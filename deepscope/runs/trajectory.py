"""Reading a run folder's representations over training (``representations.npz``, written by
``brain.RepresentationTracker``): the :class:`Trajectory`, and its figure (in the run report too)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._checks import check_instance
from .._io import save_figure

FILE = "representations.npz"


@dataclass
class Trajectory:
    """``epochs`` ``(E,)``; ``layers``; ``rdms`` ``(E, L, P)`` upper triangles; ``brain_rsa`` ``(E, L)``
    (NaN without a brain RDM); ``cka_previous`` ``(E, L)`` (CKA with the previous record; NaN first)."""
    epochs: np.ndarray
    layers: list
    rdms: np.ndarray
    brain_rsa: np.ndarray
    cka_previous: np.ndarray
    method: str = "spearman"


def load_trajectory(run_folder) -> Trajectory:
    """The trajectory a :class:`RepresentationTracker` wrote into a run folder."""
    path = Path(run_folder) / FILE if Path(run_folder).is_dir() else Path(run_folder)
    try:
        with np.load(path, allow_pickle=False) as data:
            return Trajectory(data["epochs"], [str(n) for n in data["layers"]], data["rdms"].astype(np.float64),
                              data["brain_rsa"], data["cka_previous"], str(data["method"]))
    except FileNotFoundError:
        raise FileNotFoundError(f"load_trajectory: no {FILE} in {str(run_folder)!r} (was the fit given a "
                                "RepresentationTracker callback?)") from None
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"load_trajectory: {str(path)!r} is not a trajectory file ({error}).") from None


def plot_trajectory(trajectory: Trajectory, path, title: str | None = None):
    """Heat maps, layers x epochs: RSA with the brain RDM (when tracked) and CKA with the previous record."""
    check_instance(trajectory, Trajectory, "plot_trajectory trajectory", "load_trajectory(run folder)")
    return save_figure(trajectory_figure(trajectory, title), path, where="plot_trajectory path")


def trajectory_figure(trajectory: Trajectory, title: str | None = None):
    """The figure of :func:`plot_trajectory` (the run report embeds it)."""
    from matplotlib.figure import Figure

    panels = [("brain_rsa", f"RSA with the brain RDM ({trajectory.method})", "viridis")] if np.isfinite(
        trajectory.brain_rsa).any() else []
    panels.append(("cka_previous", "linear CKA with the previous record (1 = no change)", "magma"))
    fig = Figure(figsize=(max(5.0, 0.5 * len(trajectory.epochs) + 3), (0.45 * len(trajectory.layers) + 1.6)
                          * len(panels)), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    for ax, (key, label, cmap) in zip(axes, panels):
        values = getattr(trajectory, key).T  # (L, E)
        image = ax.imshow(values, cmap=cmap, aspect="auto")
        fig.colorbar(image, ax=ax, label=label)
        ax.set_yticks(range(len(trajectory.layers)), trajectory.layers)
        ax.set_xticks(range(len(trajectory.epochs)), [str(e) for e in trajectory.epochs])
        ax.set_xlabel("epoch (0 = before training)")
        ax.set_ylabel("layer")
        ax.set_title(label)
    if title:
        fig.suptitle(title)
    return fig
