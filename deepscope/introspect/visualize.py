"""Pictures of what a network learned: filters, feature maps and low-dimensional embeddings.

::

    from deepscope.introspect.visualize import plot_filters, plot_feature_maps, layer_embedding
    plot_filters(model, "filters.png")                      # first conv layer, one tile per filter
    plot_feature_maps(model, X[0], "Conv2D", "maps.png")    # what each channel sees in one image
    layer_embedding(model, X, "FullyConnected", Y, "pca.png")  # samples as points, colored by class

Figures are built on ``matplotlib.figure.Figure`` (no pyplot global state) and written atomically.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from .._checks import Text, check_choice, check_int, fail
from .._io import save_figure
from .features import layer_features
from .recording import activations, layer_modules, resolve_layers
from .similarity import as_array, rdm
from ..utils import RECORDING_BATCH_SIZE


def _conv_weight(model, layer: str | None) -> tuple[str, torch.Tensor]:
    """The name and 4-D weight (out, in, kh, kw) of a 2-D conv layer (default: the first one)."""
    modules = layer_modules(model)
    convs = [n for n, m in modules.items() if isinstance(getattr(m, "weight", None), torch.Tensor)
             and m.weight.dim() == 4]
    if layer is None:
        if not convs:
            fail("filters", "a network with a 2-D convolution layer", Text("none"), error=TypeError)
        layer = convs[0]
    resolve_layers(model, layer)  # unknown names -> clear error
    if layer not in convs:
        fail(f"filters layer {layer!r}", "a 2-D convolution layer (" + (", ".join(convs) or "none") + ")",
             Text(type(modules[layer]).__name__), error=TypeError)
    return layer, modules[layer].weight


def filters(model, layer: str | None = None) -> np.ndarray:
    """A conv layer's filters as images.

    Args:
        model: a ``DNN`` or ``nn.Module``.
        layer: name of a 2-D convolution layer (default: the first one).

    Returns:
        Array ``(n_filters, kh, kw, in_channels)`` (a copy of the weights).
    """
    _, w = _conv_weight(model, layer)  # (out, in, kh, kw)
    return w.detach().cpu().float().permute(0, 2, 3, 1).numpy().copy()  # (out, kh, kw, in)


def _unit(a: np.ndarray) -> np.ndarray:
    """Scaled to [0, 1] (a constant array -> 0.5)."""
    lo, hi = a.min(), a.max()
    return np.full_like(a, 0.5) if hi - lo < 1e-12 else (a - lo) / (hi - lo)


def _grid(n: int, cols: int | None = None):
    cols = cols or min(8, max(1, math.ceil(math.sqrt(n))))
    return math.ceil(n / cols), cols


def plot_filters(model, path, layer: str | None = None, max_filters: int = 64) -> Path:
    """Draw a conv layer's filters as a grid of tiles, each filter scaled to [0, 1] on its own.

    Three input channels are drawn as RGB; otherwise each filter's channels (the first 16) are
    drawn in grey side by side (one numbered tile per filter).

    Args:
        model: a ``DNN`` or ``nn.Module``.
        path: the PNG file to write.
        layer: a 2-D conv layer name (default: the first).
        max_filters: draw at most this many (the first ones).

    Returns:
        The path written.
    """
    from matplotlib.figure import Figure

    max_filters = check_int(max_filters, "plot_filters max_filters", minimum=1)
    name, _ = _conv_weight(model, layer)
    w = filters(model, name)[:max_filters]  # (n, kh, kw, in)
    w = w if w.shape[-1] == 3 else w[..., :16]
    n, kh, kw, c = w.shape
    rows, cols = _grid(n)
    tile_w = 0.9 if c == 3 else 0.3 + 0.4 * c
    fig = Figure(figsize=(cols * tile_w + 0.2, rows * 0.9 + 0.5), layout="constrained")
    for i, ax in enumerate(fig.subplots(rows, cols, squeeze=False).flat):
        ax.set_axis_off()
        if i >= n:
            continue
        f = _unit(w[i])
        if c == 3:
            ax.imshow(f, interpolation="nearest")
        else:  # channels side by side, separated by a blank (NaN) column
            gap = np.full((kh, 1, c), np.nan)
            tiled = np.concatenate([f, gap], axis=1).transpose(0, 2, 1).reshape(kh, -1)[:, :-1]
            ax.imshow(tiled, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(str(i), fontsize=6)
    total = filters(model, name).shape
    shown = f"{n} of {total[0]} filters" if n < total[0] else f"{n} filters"
    channels = f", {w.shape[-1]} of {total[-1]} input channels side by side" if w.shape[-1] < total[-1] else (
        ", input channels side by side" if c != 3 else "")
    fig.suptitle(f"{name}: {shown}, {kh}x{kw}x{total[-1]}{channels}\n(each filter scaled to its own min-max: "
                 "compare shapes, not strengths)", fontsize=9)
    return save_figure(fig, path)


def feature_maps(model, X, layer: str, batch_size: int = RECORDING_BATCH_SIZE) -> np.ndarray:
    """The feature maps of a layer on inputs ``X``.

    Args:
        model: a ``DNN`` or ``nn.Module``.
        X: inputs as for ``predict``, ``(N, H, W, C)``.
        layer: name of a layer with 2-D feature maps (conv, pooling, ...).
        batch_size: samples per forward pass.

    Returns:
        Array ``(N, H', W', C')`` (the user's NHWC layout).
    """
    if not isinstance(layer, str):
        fail("feature_maps layer", "a layer name (str)", layer, error=TypeError)
    maps = activations(model, X, [layer], batch_size)[layer]
    if maps.ndim != 4:
        fail(f"feature_maps layer {layer!r}", "a layer with 2-D feature maps (N, H, W, C)",
             Text(f"output shape {maps.shape}"), "Use a conv or pooling layer, or activations() for others.")
    return maps


def plot_feature_maps(model, x, layer: str, path, max_maps: int = 32) -> Path:
    """Draw the feature maps of one input image, with the image itself in the first tile.

    Args:
        model: a ``DNN`` or ``nn.Module``.
        x: one image ``(H, W, C)`` (or a batch of one ``(1, H, W, C)``).
        layer: a layer with 2-D feature maps.
        path: the PNG file to write.
        max_maps: draw at most this many channels.

    Returns:
        The path written.
    """
    from matplotlib.figure import Figure

    max_maps = check_int(max_maps, "plot_feature_maps max_maps", minimum=1)
    x = as_array(x, "plot_feature_maps x", min_rank=3)
    if x.ndim == 4 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 3:
        fail("plot_feature_maps x", "one image (H, W, C)", Text(f"shape {x.shape}"), "Pass X[i], not X.")
    every = feature_maps(model, x[None].astype(np.float32), layer)[0]  # (H', W', C')
    maps = every[..., :max_maps]
    n = maps.shape[-1]
    rows, cols = _grid(n + 1)
    fig = Figure(figsize=(cols * 1.3, rows * 1.4 + 0.4), layout="constrained")
    for i, ax in enumerate(fig.subplots(rows, cols, squeeze=False).flat):
        ax.set_axis_off()
        if i == 0:
            img = _unit(x)
            ax.imshow(img if img.shape[-1] == 3 else img[..., 0], cmap=None if img.shape[-1] == 3 else "gray")
            ax.set_title("input", fontsize=7)
        elif i <= n:
            ax.imshow(maps[..., i - 1], cmap="viridis", interpolation="nearest")
            ax.set_title(f"channel {i - 1}", fontsize=7)
    shown = f"{n} of {every.shape[-1]} channels" if n < every.shape[-1] else f"all {n} channels"
    fig.suptitle(f"{layer}: feature maps {maps.shape[0]}x{maps.shape[1]}, {shown}\n(each map coloured from its own "
                 "minimum (dark) to maximum (yellow))", fontsize=9)
    return save_figure(fig, path)


def embed(features, method: str = "pca", n_components: int = 2, metric: str = "euclidean",
          perplexity: float | None = None, seed: int = 0) -> np.ndarray:
    """Points in a few dimensions that keep the structure of high-dimensional features.

    Args:
        features: ``(N, ...)``, flattened per sample.
        method: ``'pca'`` (centered SVD; each axis signed so its largest loading is positive),
            ``'mds'`` (classical MDS of the ``rdm(features, metric)`` distances), ``'tsne'``
            (scikit-learn's t-SNE, PCA-initialized) or ``'umap'`` (umap-learn, an optional extra).
        n_components: output dimensions.
        metric: distance for ``'mds'``, ``'tsne'`` and ``'umap'`` (``'euclidean'``, ``'correlation'``,
            ``'cosine'``).
        perplexity: t-SNE's perplexity (default ``min(30, (N - 1) / 3)``); for UMAP, its ``n_neighbors``
            (default 15).
        seed: the random state of t-SNE and UMAP.

    Returns:
        Array ``(N, n_components)``; for PCA, ordered by explained variance.
    """
    check_choice(method, "embed method", ["pca", "mds", "tsne", "umap"])
    x = as_array(features, "embed features", min_rank=1)
    x = x.reshape(len(x), -1)  # (N, F)
    n_components = check_int(n_components, "embed n_components", minimum=1, maximum=max(1, min(x.shape)))
    if len(x) < 2:
        fail("embed features", "at least 2 samples", Text(f"{len(x)}"))
    if method == "pca":
        xc = x - x.mean(0)
        u, s, vt = np.linalg.svd(xc, full_matrices=False)  # xc = u @ diag(s) @ vt
        signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(1)])
        signs[signs == 0] = 1
        return (u[:, :n_components] * s[:n_components]) * signs[:n_components]
    if method in ("tsne", "umap"):
        return _neighbour_embedding(x, method, n_components, metric, perplexity, seed)

    d2 = rdm(x, metric) ** 2  # (N, N) squared distances
    j = np.eye(len(x)) - 1.0 / len(x)  # centering matrix
    b = -0.5 * j @ d2 @ j
    vals, vecs = np.linalg.eigh(b)  # ascending
    vals, vecs = vals[::-1][:n_components], vecs[:, ::-1][:, :n_components]
    return vecs * np.sqrt(np.clip(vals, 0, None))


def _neighbour_embedding(x: np.ndarray, method: str, n_components: int, metric: str, perplexity, seed: int):
    """t-SNE (scikit-learn) or UMAP (umap-learn) of ``x`` (N, F)."""
    check_choice(metric, "embed metric", ["euclidean", "correlation", "cosine"])
    if len(x) < 4:
        fail("embed features", f"at least 4 samples for {method}", Text(f"{len(x)}"))
    if np.ptp(x, axis=0).max() == 0:  # (scikit-learn's Barnes-Hut t-SNE crashes the process on these)
        fail("embed features", f"samples that differ ({method} of identical points is undefined)",
             Text(f"{len(x)} identical samples"))
    if method == "tsne":
        try:
            from sklearn.manifold import TSNE
        except ImportError:
            fail("embed method='tsne'", "scikit-learn installed", Text("no module named 'sklearn'"),
                 "pip install 'deepscope[brain]'", error=ImportError)
        perplexity = min(30.0, (len(x) - 1) / 3) if perplexity is None else float(perplexity)
        if not 0 < perplexity < len(x):
            fail("embed perplexity", f"a value between 0 and the number of samples ({len(x)})", perplexity)
        return TSNE(n_components, perplexity=perplexity, metric=metric, init="pca", random_state=seed).fit_transform(x)
    try:
        import umap
    except ImportError:
        fail("embed method='umap'", "umap-learn installed", Text("no module named 'umap'"), "pip install umap-learn",
             error=ImportError)
    neighbours = 15 if perplexity is None else int(perplexity)
    return umap.UMAP(n_components=n_components, n_neighbors=min(neighbours, len(x) - 1), metric=metric,
                     random_state=seed).fit_transform(x)


def _labels(labels, n: int) -> np.ndarray | None:
    if labels is None:
        return None
    y = np.asarray(labels.detach().cpu() if isinstance(labels, torch.Tensor) else labels)
    y = y.argmax(1) if y.ndim == 2 else y  # one-hot -> class indices
    if y.ndim != 1 or len(y) != n:
        fail("embedding labels", f"{n} labels (one per point) or one-hot (N, classes)", Text(f"shape {y.shape}"))
    return y


def plot_embedding(points, labels, path, class_names=None, title: str | None = None) -> Path:
    """Scatter plot of 2-D points colored by label (``labels`` None: one color).

    Args:
        points: ``(N, 2)`` (more columns: the first two are drawn).
        labels: ``(N,)`` class indices / names, or one-hot ``(N, classes)``, or None.
        path: the PNG file to write.
        class_names: names for integer labels, in the legend.
        title: figure title.

    Returns:
        The path written.
    """
    from matplotlib.figure import Figure

    p = as_array(points, "plot_embedding points", min_rank=2)
    if p.ndim != 2 or p.shape[1] < 2:
        fail("plot_embedding points", "an array (N, 2)", Text(f"shape {p.shape}"))
    y = _labels(labels, len(p))
    fig = Figure(figsize=(5.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    classes = [None] if y is None else list(np.unique(y))
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(classes) <= 10 else "tab20" if len(classes) <= 20 else "viridis"]
    for k, c in enumerate(classes):
        sel = slice(None) if c is None else (y == c)
        name = None if c is None else (class_names[int(c)] if class_names is not None else str(c))
        ax.scatter(p[sel, 0], p[sel, 1], s=10, alpha=0.75, label=name,
                   color=cmap(k if len(classes) <= 20 else k / max(1, len(classes) - 1)))
    if y is not None and len(classes) <= 20:
        ax.legend(fontsize=7, markerscale=1.5, loc="best")
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    ax.set_title(title or "embedding", fontsize=9)
    return save_figure(fig, path)


def layer_embedding(model, X, layer: str, labels, path, method: str = "pca", class_names=None) -> np.ndarray:
    """Record a layer on ``X``, flatten per sample, embed in 2-D and plot colored by ``labels``.

    Returns:
        The points ``(N, 2)``.
    """
    acts = activations(model, X, [layer])[layer]  # (N, ...)
    points = embed(acts, method)
    plot_embedding(points, labels, path, class_names, title=f"{layer}: {method.upper()} of {len(points)} samples")
    return points


def projector(model, X, layer: str, folder, labels=None, images=None, max_features: int | None = 1000,
              tag: str | None = None) -> Path:
    """Write ``layer``'s representations of ``X`` for TensorBoard's embedding projector (PCA, t-SNE and
    UMAP in the browser, each point labelled and drawn as its image): ``tensorboard --logdir FOLDER``,
    then the PROJECTOR tab. Written by torch's ``SummaryWriter.add_embedding``.

    Args:
        model: a ``DNN`` or ``nn.Module``.
        X: its inputs (N samples).
        layer: the layer name.
        folder: the log folder (a run folder works: the projector appears beside its scalars).
        labels: one label per sample (class indices, names, or one-hot rows), shown and used for colour.
        images: ``(N, H, W[, C])`` pictures of the samples (default: ``X`` when it is images), as a sprite.
        max_features: a wider layer is reduced to its first principal components (see ``layer_features``).
        tag: the embedding's name (default: the layer's).

    Returns:
        The folder.
    """
    from torch.utils.tensorboard import SummaryWriter  # (tensorboard's import is slow: only when used)

    points = layer_features(model, X, [layer], max_features=max_features)[layer]  # (N, F)
    metadata = None
    if labels is not None:
        names = _labels(labels, len(points))
        metadata = [str(v) for v in names]
    pictures = images if images is not None else (X if np.asarray(X).ndim == 4 else None)
    label_img = None
    if pictures is not None:
        pics = np.asarray(pictures, dtype=np.float32)
        if pics.ndim == 3:
            pics = pics[..., None]
        if pics.ndim != 4 or len(pics) != len(points):
            fail("projector images", f"{len(points)} images (N, H, W[, C])", Text(f"shape {pics.shape}"))
        low, high = float(pics.min()), float(pics.max())
        pics = (pics - low) / (high - low) if high > low else np.zeros_like(pics)
        label_img = torch.as_tensor(pics).permute(0, 3, 1, 2)  # (N, C, H, W) in [0, 1]
    folder = Path(folder)
    writer = SummaryWriter(str(folder))
    try:
        writer.add_embedding(points, metadata=metadata, label_img=label_img, tag=tag or layer)
    finally:
        writer.close()
    return folder

