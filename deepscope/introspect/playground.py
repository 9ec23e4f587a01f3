"""TensorFlow Playground's view on your own network: for 2-D inputs, the decision boundary and every
hidden unit's output over the input plane, updated during training (seed 004: "play with the
neural network simulator to get an intuition").

::

    X, Y = toy.spirals(400)
    model.fit(X, Y, n_epoch=200, callbacks=Playground(X, Y, every=20, path="playground.png"))
    plot_playground(model, X, Y, "now.png")         # one snapshot

In a notebook the picture updates in place while training runs; at the end the snapshots are saved
as a grid (``.png``/``.svg``/``.pdf``: rows = epochs) or an animation (``.gif``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._checks import Text, check_int, fail
from .._io import save_figure
from ..callbacks.base import Callback
from .recording import activations, resolve_layers
from .._io import atomic_write_bytes
from ..callbacks.progress import in_notebook
from ..utils import evaluation_pass


def plane(X, resolution: int = 60, margin: float = 0.15) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A ``resolution x resolution`` grid of points covering the 2-D inputs ``X`` (with a margin).

    Returns:
        ``(grid (resolution**2, 2), xs, ys)``.
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != 2:
        fail("playground X", "2-D inputs (N, 2), as the toy datasets give", Text(f"shape {X.shape}"))
    low, high = X.min(0), X.max(0)
    pad = (high - low) * margin + 1e-6
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], resolution)
    ys = np.linspace(low[1] - pad[1], high[1] + pad[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32), xs, ys


def snapshot(model, X, resolution: int = 60, max_units: int = 8) -> dict:
    """The output (class-1 probability, or the first output) and each dense hidden layer's first
    ``max_units`` units over the plane of ``X``: ``{'output': (r, r), '<layer>': (units, r, r)}``."""
    grid, xs, ys = plane(X, resolution)
    layers = [name for name, m in resolve_layers(model, None).items()
              if getattr(m, "activation_name", None) not in (None, "softmax", "linear") or name.startswith("Fully")]
    acts = activations(model, grid, layers)
    out = model.predict(grid) if hasattr(model, "predict") else acts[layers[-1]]
    score = out[:, 1] if out.ndim == 2 and out.shape[1] > 1 else out.reshape(len(grid), -1)[:, 0]
    result = {"xs": xs, "ys": ys, "output": score.reshape(resolution, resolution)}
    for name in layers[:-1]:
        a = acts[name].reshape(len(grid), -1)[:, :max_units]  # (points, units)
        result[name] = a.T.reshape(-1, resolution, resolution)
    return result


def _draw(fig, rows: list[tuple[str, dict]], X, Y):
    """One row per snapshot: the output with the data, then every hidden unit."""
    y = np.asarray(Y)
    labels = y.argmax(1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(-1)
    units = max(sum(len(v) for k, v in snap.items() if k not in ("xs", "ys", "output")) for _, snap in rows)
    axes = fig.subplots(len(rows), 1 + units, squeeze=False)
    for r, (label, snap) in enumerate(rows):
        extent = (snap["xs"][0], snap["xs"][-1], snap["ys"][0], snap["ys"][-1])
        ax = axes[r, 0]
        image = ax.imshow(snap["output"], origin="lower", extent=extent, cmap="RdBu_r", vmin=0, vmax=1, aspect="auto")
        ax.scatter(X[:, 0], X[:, 1], c=labels, cmap="RdBu_r", s=6, edgecolors="k", linewidths=0.2)
        ax.set_title(f"{label}: output", fontsize=8)
        c = 1
        for name, maps in snap.items():
            if name in ("xs", "ys", "output"):
                continue
            for u, m in enumerate(maps):
                axes[r, c].imshow(m, origin="lower", extent=extent, cmap="viridis", aspect="auto")
                axes[r, c].set_title(f"{name} unit {u}", fontsize=7)
                c += 1
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.colorbar(image, ax=list(axes[:, 0]), shrink=0.6, label="P(class 1)")
    fig.suptitle("Decision boundary (left, with the data) and each hidden unit's output over the input plane "
                 "(viridis: low to high, per unit)", fontsize=9)


def plot_playground(model, X, Y, path, resolution: int = 60, max_units: int = 8) -> Path:
    """One snapshot of the playground view, written to ``path``."""
    from matplotlib.figure import Figure

    snap = snapshot(model, X, resolution, max_units)
    units = sum(len(v) for k, v in snap.items() if k not in ("xs", "ys", "output"))
    fig = Figure(figsize=(1.9 * (1 + units) + 1, 2.4), layout="constrained")
    _draw(fig, [("now", snap)], np.asarray(X), Y)
    return save_figure(fig, path)


class Playground(Callback):
    """Records the playground view every ``every`` epochs; updates it in place in a notebook and
    saves the snapshots at the end (a grid of epochs, or a ``.gif`` animation).

    Args:
        X, Y: the 2-D training data (drawn on the output panel).
        every: epochs between snapshots (and one before training).
        path: where to save (``.png``, ``.svg``, ``.pdf``: a grid, rows = epochs; ``.gif``: an animation).
        resolution: grid points per axis.
        max_units: hidden units shown per layer.
    """

    def __init__(self, X, Y, every: int = 10, path=None, resolution: int = 40, max_units: int = 8):
        self.X = np.asarray(X, dtype=np.float32)
        plane(self.X)  # checks the shape now
        self.Y = Y
        self.every = check_int(every, "Playground every", minimum=1)
        self.resolution = check_int(resolution, "Playground resolution", minimum=4)
        self.max_units = check_int(max_units, "Playground max_units", minimum=0)
        self.path = None if path is None else Path(path)
        self.snapshots: list[tuple[str, dict]] = []
        self._display = None

    def on_train_begin(self, state) -> None:
        self._take(state, f"epoch {state.epoch}")

    def on_epoch_end(self, state) -> None:
        if state.epoch % self.every == 0:
            self._take(state, f"epoch {state.epoch}")

    def on_train_end(self, state) -> None:
        if self.path is not None and self.snapshots:
            self.save(self.path)

    def _take(self, state, label: str) -> None:
        with evaluation_pass(state.model.net):
            self.snapshots.append((label, snapshot(state.model, self.X, self.resolution, self.max_units)))
        self._show()

    def _show(self) -> None:
        if not in_notebook():
            return
        import io

        from IPython.display import Image, display
        fig = self._figure(self.snapshots[-1:])
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)
        image = Image(buffer.getvalue())
        if self._display is None:
            self._display = display(image, display_id=True)
        else:
            self._display.update(image)

    def _figure(self, rows):
        from matplotlib.figure import Figure
        units = max(sum(len(v) for k, v in s.items() if k not in ("xs", "ys", "output")) for _, s in rows)
        fig = Figure(figsize=(1.9 * (1 + units) + 1, 2.2 * len(rows) + 0.4), layout="constrained")
        _draw(fig, rows, self.X, self.Y)
        return fig

    def save(self, path) -> Path:
        """The snapshots as a grid (rows = epochs) or, for ``.gif``, an animation."""
        path = Path(path)
        if path.suffix.lower() != ".gif":
            return save_figure(self._figure(self.snapshots), path)
        import io

        from PIL import Image as PILImage

        frames = []
        for row in self.snapshots:
            buffer = io.BytesIO()
            self._figure([row]).savefig(buffer, format="png", dpi=80)
            frames.append(PILImage.open(io.BytesIO(buffer.getvalue())).convert("P"))
        out = io.BytesIO()
        frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=400, loop=0)
        return atomic_write_bytes(path, out.getvalue())
