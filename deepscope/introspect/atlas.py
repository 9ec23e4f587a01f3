"""What every unit of a layer responds to, at a glance: each unit's synthesized image beside the dataset
images that drive it most (the Zeiler & Fergus view).

::

    top = top_images(model, X, "Conv2D_1", unit=3, k=9)     # indices of the 9 inputs it answers most
    atlas = layer_atlas(model, "Conv2D_1", X, "atlas.png")  # one row per unit: its image + its top inputs
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .._checks import Text, check_int, fail
from .._html import figure_img
from .._io import save_figure
from .attribution import _display
from .recording import forward_in_chunks, layer_output, network_of, resolve_layers, to_user_layout
from .synthesis import _input_shape, maximize_activation
from ..utils import RECORDING_BATCH_SIZE


def unit_responses(model, X, layer: str, batch_size: int = RECORDING_BATCH_SIZE) -> np.ndarray:
    """Each input's mean activation of every unit of ``layer`` (a feature, or a channel averaged over
    positions): ``(N, units)``, recorded in chunks (one number per unit and input is kept)."""
    module = resolve_layers(model, layer)[layer]
    chunks: list[np.ndarray] = []

    def hook(mod, inputs, output):
        out = to_user_layout(output.detach())
        chunks.append(out.reshape(out.shape[0], -1, out.shape[-1]).mean(1).float().cpu().numpy())

    handle = module.register_forward_hook(hook)
    try:
        forward_in_chunks(model, X, batch_size, "unit_responses X")
    finally:
        handle.remove()
    return np.concatenate(chunks)


def top_images(model, X, layer: str, unit: int, k: int = 9) -> np.ndarray:
    """The indices of the ``k`` inputs of ``X`` with the highest response of ``unit`` in ``layer``,
    strongest first."""
    responses = unit_responses(model, X, layer)
    if isinstance(unit, bool) or not isinstance(unit, (int, np.integer)) or not 0 <= unit < responses.shape[1]:
        fail("top_images unit", f"an integer in [0, {responses.shape[1] - 1}] (the layer's units)", unit)
    k = check_int(k, "top_images k", minimum=1, maximum=len(responses))
    return np.argsort(-responses[:, unit], kind="stable")[:k]


@dataclass
class LayerAtlas:
    """``units``; ``images[u]``: the synthesized image of unit ``u``; ``top[u]``: the indices of its
    strongest inputs (``top_images[u]``: those inputs); ``responses``: ``(N, units)`` mean responses of every input."""

    layer: str
    units: list
    images: dict
    top: dict
    responses: np.ndarray | None
    top_images: dict = field(default_factory=dict, repr=False)

    def report_section(self) -> tuple[str, str, str]:
        """``(id, title, html)`` of the atlas as one section of a run report
        (``deepscope.report(model, sections=[atlas])``)."""
        body = figure_img(atlas_figure(self), f"atlas of layer {self.layer}") + (
            f'<p class="muted">{len(self.units)} units of {self.layer!r}: each unit\'s synthesized image (in the '
            "data's range), then its strongest inputs with their mean responses.</p>")
        return f"atlas-{self.layer}", f"Atlas of layer {self.layer}", body


def layer_atlas(model, layer: str, X=None, path=None, units=None, k: int = 6, steps: int = 100,
                max_units: int = 32) -> LayerAtlas:
    """Every unit of ``layer`` (or the named ``units``): its synthesized image (``maximize_activation``,
    in the data's range) and, when ``X`` is given, its ``k`` strongest inputs; drawn as one row per unit
    when ``path`` is given.

    Args:
        model: a ``DNN`` or ``nn.Module`` taking images.
        layer: the layer.
        X: dataset images (N, H, W, C) for the top-k columns (None: synthesized images only).
        path: the figure (PNG/SVG/PDF), or None.
        units: unit indices (default: the first ``max_units`` units).
        k: strongest inputs per unit.
        steps: ascent steps of each synthesized image.

    Returns:
        :class:`LayerAtlas`.
    """
    module = resolve_layers(model, layer)[layer]
    responses = unit_responses(model, X, layer) if X is not None else None
    if units is None:
        n_units = responses.shape[1] if responses is not None else _units_of(model, module, layer)
        units = list(range(min(n_units, check_int(max_units, "layer_atlas max_units", minimum=1))))
    units = [int(u) for u in units]
    images = {u: maximize_activation(model, layer, u, steps=steps, seed=u) for u in units}
    top = {}
    if responses is not None:
        k = check_int(k, "layer_atlas k", minimum=1, maximum=len(responses))
        for u in units:
            if not 0 <= u < responses.shape[1]:
                fail("layer_atlas units", f"indices in [0, {responses.shape[1] - 1}]", u)
            top[u] = np.argsort(-responses[:, u], kind="stable")[:k]
    inputs = None if X is None else np.asarray(X)
    top_images = {u: inputs[indices] for u, indices in top.items()} if inputs is not None else {}
    atlas = LayerAtlas(layer, units, images, top, responses, top_images)
    if path is not None:
        plot_atlas(atlas, X, path)
    return atlas


def _units_of(model, module, layer: str) -> int:
    """The number of units of ``layer`` (its output's last dim in the user's layout), from one zero input."""
    net = network_of(model)
    shape = _input_shape(net, None)
    with torch.no_grad():
        return int(layer_output(net, torch.zeros((1, *shape), device=next(net.parameters()).device), layer).shape[-1])


def plot_atlas(atlas: LayerAtlas, X, path) -> Path:
    """One row per unit: the synthesized image (first column), then its strongest inputs with their responses
    (``X``: the images the atlas was made from; None: the ones it kept)."""
    if not isinstance(atlas, LayerAtlas):
        fail("plot_atlas atlas", "a LayerAtlas (from layer_atlas)", Text(type(atlas).__name__), error=TypeError)
    return save_figure(atlas_figure(atlas, X), path, where="plot_atlas path")


def atlas_figure(atlas: LayerAtlas, X=None):
    """The atlas's figure (see :func:`plot_atlas`)."""
    from matplotlib.figure import Figure

    k = max((len(t) for t in atlas.top.values()), default=0)
    rows, cols = len(atlas.units), 1 + k
    fig = Figure(figsize=(1.3 * cols + 0.6, 1.3 * rows + 0.6), layout="constrained")
    axes = np.asarray(fig.subplots(rows, cols, squeeze=False))
    images = None if X is None else np.asarray(X)
    for r, u in enumerate(atlas.units):
        shown = _display(atlas.images[u])
        axes[r, 0].imshow(shown, cmap="gray" if shown.ndim == 2 else None)
        axes[r, 0].set_title(f"unit {u}: synthesized" if r == 0 else f"unit {u}", fontsize=7)
        for c, index in enumerate(atlas.top.get(u, []), 1):
            picture = images[index] if images is not None else atlas.top_images[u][c - 1]
            shown = _display(picture)
            axes[r, c].imshow(shown, cmap="gray" if shown.ndim == 2 else None)
            axes[r, c].set_title(f"#{index}: {atlas.responses[index, u]:.2f}", fontsize=6)
        for ax in axes[r]:
            ax.axis("off")
    fig.suptitle(f"layer {atlas.layer!r}: each unit's synthesized image and its strongest inputs (mean response)",
                 fontsize=9)
    return fig
