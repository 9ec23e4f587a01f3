"""Attribution: which parts of an input a network's decision depends on.

::

    sal = saliency(model, X)                     # |d score / d input|, shaped like X
    ig = integrated_gradients(model, X, steps=64)
    completeness_gap(model, X, ig)               # ~0: attributions sum to score(x) - score(baseline)
    occ = occlusion(model, X, patch=4)           # score drop when a patch is hidden
    plot_attribution(X[0], sal[0], "saliency.png")

The score of a sample is the output layer's pre-activation (``model.net.logits``) for its
target class (default: the predicted class). Gradients are taken with respect to the raw input
only (``torch.autograd.grad``): input preprocessing inside the network is differentiated through,
parameters never receive ``.grad``, and the network's train/eval mode is restored afterwards.
"""
from __future__ import annotations


import numpy as np
import torch

from .._checks import Text, check_int, fail
from .._io import save_figure
from .recording import network_of
from ..utils import GRADIENT_BATCH_SIZE, RECORDING_BATCH_SIZE, evaluation_pass


def input_tensor(model, X, where: str) -> torch.Tensor:
    """``X`` as a float tensor on the model's device, in the user's layout (one input only)."""
    if hasattr(model, "prepare_data") and hasattr(model, "net"):
        xs, _ = model.prepare_data(X, None, where, "")
        if len(xs) != 1:
            fail(where, "a network with one input_data", Text(f"{len(xs)} inputs"))
        x = xs[0]
    else:
        x = X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X))
        x = x.to(next(network_of(model).parameters()).device)
    if not x.is_floating_point():
        fail(where, "real-valued inputs (gradients need floats)", Text(f"dtype {x.dtype}"), error=TypeError)
    if x.dim() == 0 or x.shape[0] == 0:
        fail(where, "at least one sample", Text(f"shape {tuple(x.shape)}"))
    return x.detach().float()


def scores_of(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Per-class scores (N, K): the output layer's logits when the network has them."""
    out = net.logits(x) if hasattr(net, "logits") else net(x)
    return out.reshape(out.shape[0], -1)


def _targets(target, scores: torch.Tensor, where: str) -> torch.Tensor:
    """Class index per sample (N,), int64; the predicted class when ``target`` is None."""
    n, k = scores.shape
    if target is None:
        return scores.argmax(1)
    t = torch.as_tensor(np.asarray(target))
    if t.is_floating_point() and not torch.equal(t, t.round()):
        fail(where, "integer class indices", target, error=TypeError)
    t = t.long().reshape(-1).to(scores.device)
    if t.numel() == 1:
        t = t.expand(n)
    if t.numel() != n:
        fail(where, f"one class index, or one per sample ({n})", Text(f"{t.numel()} indices"))
    if t.min() < 0 or t.max() >= k:
        fail(where, f"class indices in [0, {k - 1}] (the output has {k} units)",
             Text(f"values from {int(t.min())} to {int(t.max())}"))
    return t


def _score(net, x, t) -> torch.Tensor:  # (n,) score of each sample's target class
    return scores_of(net, x).gather(1, t[:, None])[:, 0]


def _input_gradient(net, x, t) -> torch.Tensor:
    """d score_t / d x for each sample, shaped like ``x`` (parameters get no ``.grad``)."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(_score(net, x, t).sum(), x)
    return grad


def _per_batch(model, x, target, batch_size, where, fn) -> np.ndarray:
    """``fn(net, x[sl], t[sl], sl)`` over batches in eval mode, concatenated as numpy."""
    net = network_of(model)
    batch_size = check_int(batch_size, f"{where} batch_size")
    batches = [slice(i, i + batch_size) for i in range(0, x.shape[0], batch_size)]
    with evaluation_pass(net, gradients=True):
        with torch.no_grad():
            t = _targets(target, torch.cat([scores_of(net, x[sl]) for sl in batches]), f"{where} target")
        out = [fn(net, x[sl], t[sl], sl).detach().float().cpu() for sl in batches]
    return torch.cat(out).numpy()


def saliency(model, X, target=None, max_over_channels: bool = False, batch_size: int = GRADIENT_BATCH_SIZE) -> np.ndarray:
    """Simonyan et al.'s saliency map: the absolute gradient of the target score.

    Args:
        model: a ``DNN`` or an ``nn.Module`` (one input).
        X: inputs as for ``predict``, e.g. (N, H, W, C) images.
        target: class index, one per sample, or None (the predicted class).
        max_over_channels: for images, the maximum over channels, shape (N, H, W).
        batch_size: samples per backward pass.

    Returns:
        ``|d score / d X|`` shaped like ``X`` (or (N, H, W) with ``max_over_channels``).
    """
    x = input_tensor(model, X, "saliency X")
    sal = _per_batch(model, x, target, batch_size, "saliency",
                     lambda net, xb, t, sl: _input_gradient(net, xb, t).abs())
    return sal.max(axis=-1) if max_over_channels and sal.ndim == 4 else sal


def gradient_x_input(model, X, target=None, batch_size: int = GRADIENT_BATCH_SIZE) -> np.ndarray:
    """Gradient times input (a first-order Taylor attribution), shaped like ``X``.

    Args and returns as for :func:`saliency` (signed values).
    """
    x = input_tensor(model, X, "gradient_x_input X")
    return _per_batch(model, x, target, batch_size, "gradient_x_input",
                      lambda net, xb, t, sl: _input_gradient(net, xb, t) * xb)


def _baseline(baseline, x: torch.Tensor, where: str) -> torch.Tensor:  # (N, ...) like x
    if baseline is None:
        return torch.zeros_like(x)
    b = torch.as_tensor(np.asarray(baseline, dtype=np.float32)).to(x.device)
    if b.dim() == 0 or b.shape == x.shape[1:]:
        return b.expand_as(x)
    if b.shape != x.shape:
        fail(where, f"a number or an array of shape {tuple(x.shape[1:])} or {tuple(x.shape)}",
             Text(f"shape {tuple(b.shape)}"))
    return b


def integrated_gradients(model, X, target=None, baseline=None, steps: int = 32) -> np.ndarray:
    """Sundararajan et al.'s integrated gradients: ``(x - x') * mean gradient on the path x' -> x``.

    The path integral is a trapezoid rule over ``steps`` intervals, computed as one batch of
    ``steps + 1`` points per sample.

    Args:
        model: a ``DNN`` or an ``nn.Module`` (one input).
        X: inputs, e.g. (N, H, W, C).
        target: class index, one per sample, or None (the class predicted for ``X``).
        baseline: the reference input x' (default zeros): a number, one sample or one per sample.
        steps: intervals of the path.

    Returns:
        Attributions shaped like ``X``; they sum to about ``score(x) - score(x')``
        (see :func:`completeness_gap`).
    """
    steps = check_int(steps, "integrated_gradients steps")
    alphas = torch.linspace(0, 1, steps + 1)
    weights = torch.full((steps + 1,), 1.0 / steps)
    weights[[0, -1]] /= 2  # trapezoid: the two ends count half

    x = input_tensor(model, X, "integrated_gradients X")
    b = _baseline(baseline, x, "integrated_gradients baseline")

    def one_batch(net, xb, t, sl):
        out = []
        for xi, bi, ti in zip(xb, b[sl], t):
            a = alphas.to(x).reshape(-1, *[1] * xi.dim())  # (steps + 1, 1, ...)
            path = bi + a * (xi - bi)  # (steps + 1, ...) points from the baseline to the input
            grads = _input_gradient(net, path, ti.expand(steps + 1))
            out.append((xi - bi) * (weights.to(x).reshape_as(a) * grads).sum(0))
        return torch.stack(out)

    return _per_batch(model, x, target, 16, "integrated_gradients", one_batch)


def completeness_gap(model, X, attributions, target=None, baseline=None) -> np.ndarray:
    """Per sample, ``sum(attributions) - (score(x) - score(baseline))``: ~0 for integrated gradients.

    Args:
        model, X, target, baseline: as given to :func:`integrated_gradients`.
        attributions: its result.

    Returns:
        An array (N,); shrink it with more ``steps``.
    """
    net = network_of(model)
    x = input_tensor(model, X, "completeness_gap X")
    b = _baseline(baseline, x, "completeness_gap baseline")
    with evaluation_pass(net):
        t = _targets(target, scores_of(net, x), "completeness_gap target")
        diff = (_score(net, x, t) - _score(net, b, t)).cpu().double().numpy()
    total = np.asarray(attributions, dtype=np.float64).reshape(x.shape[0], -1).sum(1)
    return total - diff


def occlusion(model, X, target=None, patch: int = 4, stride: int = 4, fill: float = 0.0,
              batch_size: int = RECORDING_BATCH_SIZE) -> np.ndarray:
    """Zeiler & Fergus' occlusion map: how much the target score drops when a patch is hidden.

    Args:
        model: a ``DNN`` or an ``nn.Module`` taking images (N, H, W, C).
        X: images (N, H, W, C).
        target: class index, one per sample, or None (the predicted class).
        patch: side of the square patch (pixels).
        stride: step between patches (the last row/column of patches touches the border).
        fill: the value hiding the patch.
        batch_size: occluded images per forward pass.

    Returns:
        (N, H, W, C): for each pixel, the mean score drop over the patches covering it
        (the same for every channel); positive where hiding the pixel hurts the decision.
    """
    net = network_of(model)
    x = input_tensor(model, X, "occlusion X")
    if x.dim() != 4:
        fail("occlusion X", "images (N, H, W, C)", Text(f"shape {tuple(x.shape)}"),
             "Use saliency or integrated_gradients for other inputs.")
    n, h, w, _ = x.shape
    patch = check_int(patch, "occlusion patch", maximum=min(h, w))
    stride = check_int(stride, "occlusion stride")
    starts = lambda size: sorted(set(range(0, size - patch + 1, stride)) | {size - patch})  # noqa: E731
    spots = [(i, j) for i in starts(h) for j in starts(w)]
    batch_size = check_int(batch_size, "occlusion batch_size")
    drop = torch.zeros(n, h, w, device=x.device)
    count = torch.zeros(h, w, device=x.device)
    for i, j in spots:
        count[i:i + patch, j:j + patch] += 1
    with evaluation_pass(net):
        t = _targets(target, scores_of(net, x), "occlusion target")
        base = _score(net, x, t)  # (N,)
        for s in range(n):
            for k in range(0, len(spots), batch_size):
                chunk = spots[k:k + batch_size]
                xs = x[s].repeat(len(chunk), 1, 1, 1)  # (len(chunk), H, W, C)
                for m, (i, j) in enumerate(chunk):
                    xs[m, i:i + patch, j:j + patch, :] = fill
                d = base[s] - _score(net, xs, t[s].expand(len(chunk)))
                for m, (i, j) in enumerate(chunk):
                    drop[s, i:i + patch, j:j + patch] += d[m]
    out = (drop / count)[..., None].expand_as(x)
    return out.float().cpu().numpy().copy()


def _display(image: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, C) -> an array in [0, 1] that ``imshow`` shows (gray unless C is 3 or 4)."""
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 4 and img.shape[0] == 1:
        img = img[0]
    if img.ndim == 3 and img.shape[-1] not in (3, 4):
        img = img.mean(-1)  # one channel, or channels that are not colours: their mean, in gray
    if img.ndim not in (2, 3):
        fail("plot image", "an image (H, W) or (H, W, C)", Text(f"shape {img.shape}"))
    lo, hi = np.nanmin(img), np.nanmax(img)
    return (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)


def plot_attribution(image, attribution, path, title: str | None = None) -> str:
    """The image and its attribution heat map side by side, written to ``path``.

    Args:
        image: one input (H, W, C) or (H, W).
        attribution: its map, same height and width (channels are summed).
        path: a ``.png``, ``.svg`` or ``.pdf`` file (written atomically).
        title: optional figure title.

    Returns:
        The path written.
    """
    from matplotlib.figure import Figure

    heat = np.asarray(attribution, dtype=np.float64)
    heat = heat[0] if heat.ndim == 4 and heat.shape[0] == 1 else heat
    heat = heat.sum(-1) if heat.ndim == 3 else heat
    shown = _display(image)
    if heat.shape != shown.shape[:2]:
        fail("plot_attribution attribution", f"a map of height and width {shown.shape[:2]}",
             Text(f"shape {np.shape(attribution)}"))
    fig = Figure(figsize=(6, 3))
    left, right = fig.subplots(1, 2)
    left.imshow(shown, cmap="gray" if shown.ndim == 2 else None)
    signed = heat.min() < 0
    vmax = np.abs(heat).max() or 1.0
    im = right.imshow(heat, cmap="RdBu_r" if signed else "inferno",
                      vmin=-vmax if signed else 0, vmax=vmax)
    fig.colorbar(im, ax=right, fraction=0.046,
                 label="attribution (summed over channels)" + (": red +, blue -" if signed else ""))
    for ax, name in ((left, "input"), (right, "attribution")):
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)
