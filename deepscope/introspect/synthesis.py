"""Synthesis: inputs made by gradient ascent to show what a unit responds to.

::

    img = maximize_activation(model, "Conv2D", unit=3)     # (H, W, C): what filter 3 likes
    img = maximize_activation(model, None, unit=7)         # what the network calls class 7
    dream = deep_dream(model, photo, "Conv2D_2")           # DeepDream / Inceptionism, in [0, 1]
    plot_images([img, dream], "synth.png", titles=["filter 3", "dream"])

Only the input is optimized (``torch.autograd.grad`` with respect to it): parameters never get
``.grad`` and the network's mode is restored afterwards. The forward pass stops right after the
target layer (a private exception raised by a hook), so the layers after it never run: a network
ending in ``fully_connected`` layers can be dreamt through its convolutional part at any image
size, which DeepDream's octaves need.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .._checks import Text, check_float, check_int, fail
from .attribution import _display, save_figure, scores_of
from .recording import Recorder, network_of, resolve_layers
from ..utils import evaluation_pass


class _StopForward(Exception):
    """Raised by a hook once the target layer has run: the rest of the network is skipped."""


def layer_output(net: torch.nn.Module, x: torch.Tensor, layer: str | None) -> torch.Tensor:
    """The output of ``layer`` on ``x`` in the user's layout, attached to the graph.

    ``layer=None`` gives the class scores (the output layer's logits, (N, K)).
    """
    if layer is None:
        return scores_of(net, x)
    module = resolve_layers(net, layer)[layer]

    def stop(mod, inputs, output):
        raise _StopForward

    with Recorder(net, [layer], keep="device") as rec:
        handle = module.register_forward_hook(stop)  # runs after the Recorder's hook
        try:
            net(x)
        except _StopForward:
            pass
        except RuntimeError as err:
            fail(f"layer {layer!r}", "an input size the layers before it accept",
                 Text(f"shape {tuple(x.shape)} ({err})"),
                 "Use the size the network was built for (for deep_dream: octaves=1).")
        finally:
            handle.remove()
        return rec[layer]


def _unit_activation(act: torch.Tensor, unit: int, where: str) -> torch.Tensor:
    """Mean activation of channel / feature ``unit`` (the last dim in the user's layout), per sample."""
    units = act.shape[-1]
    if isinstance(unit, bool) or not isinstance(unit, (int, np.integer)) or not 0 <= unit < units:
        fail(where, f"an integer in [0, {units - 1}] (the layer has {units} units / channels)", unit)
    return act[..., int(unit)].reshape(act.shape[0], -1).mean(1)  # (N,)


def _blur(x: torch.Tensor, sigma: float = 0.5) -> torch.Tensor:
    """A 3x3 gaussian blur of NHWC images, per channel (reflect padding)."""
    k = torch.exp(-torch.tensor([-1.0, 0.0, 1.0], device=x.device) ** 2 / (2 * sigma ** 2))
    k = torch.outer(k, k) / k.sum() ** 2  # (3, 3), sums to 1
    c = x.shape[-1]
    y = F.pad(x.permute(0, 3, 1, 2), (1, 1, 1, 1), mode="reflect")  # (N, C, H + 2, W + 2)
    y = F.conv2d(y, k.expand(c, 1, 3, 3).to(x.dtype), groups=c)
    return y.permute(0, 2, 3, 1)


def _input_shape(net, shape) -> tuple:
    if shape is None:
        inputs = getattr(net, "inputs", None)
        if not inputs or len(inputs) != 1:
            fail("maximize_activation shape", "the input shape, e.g. (28, 28, 1)", None,
                 "Give shape= (the network does not have exactly one input_data).")
        shape = inputs[0].shape[1:]
    shape = tuple(check_int(d, "maximize_activation shape") for d in shape)
    return shape


def maximize_activation(model, layer: str | None, unit: int, shape=None, steps: int = 200,
                        lr: float = 0.05, l2: float = 1e-3, jitter: int = 2, blur_every: int = 4,
                        seed: int = 0) -> np.ndarray:
    """The input that maximizes a unit's mean activation (Erhan et al.), by gradient ascent with Adam.

    Regularizers keep the result natural-looking: L2 decay (``x *= 1 - l2`` after each step), a random
    shift of up to ``jitter`` pixels each step (``torch.roll``) and a light gaussian blur every
    ``blur_every`` steps (images only).

    Args:
        model: a ``DNN`` or an ``nn.Module``.
        layer: a layer name (a hidden unit or a conv channel, averaged over positions) or None:
            the class scores (the output layer's pre-activation), ``unit`` being the class.
        unit: index along the layer's last dimension in the user's layout (feature / channel).
        shape: the input shape without the batch, e.g. (28, 28, 1); default: the network's.
        steps, lr: Adam steps and learning rate.
        l2, jitter, blur_every: regularizers (0 turns one off).
        seed: seeds the starting noise and the jitter.

    Returns:
        The input, shape ``shape`` (e.g. (H, W, C)), as float32 numpy.
    """
    net = network_of(model)
    shape = _input_shape(net, shape)
    steps = check_int(steps, "maximize_activation steps")
    lr = check_float(lr, "maximize_activation lr", minimum=0, min_inclusive=False)
    l2 = check_float(l2, "maximize_activation l2", minimum=0, maximum=1, max_inclusive=False)
    jitter = check_int(jitter, "maximize_activation jitter", minimum=0)
    blur_every = check_int(blur_every, "maximize_activation blur_every", minimum=0)
    device = next(net.parameters()).device
    gen = torch.Generator().manual_seed(int(seed))
    image = len(shape) == 3
    x = (0.5 + 0.01 * torch.randn((1, *shape), generator=gen)).to(device).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    with evaluation_pass(net, gradients=True):
        _unit_activation(layer_output(net, x.detach(), layer), unit, "maximize_activation unit")
        for step in range(steps):
            xj = x
            if image and jitter:
                dy, dx = (torch.randint(-jitter, jitter + 1, (2,), generator=gen)).tolist()
                xj = torch.roll(x, shifts=(dy, dx), dims=(1, 2))
            objective = _unit_activation(layer_output(net, xj, layer), unit, "unit").sum()
            (x.grad,) = torch.autograd.grad(-objective, x)  # the input only: no parameter .grad
            opt.step()
            with torch.no_grad():
                x.mul_(1 - l2)  # L2 decay, independent of the objective's scale
            if image and blur_every and (step + 1) % blur_every == 0:
                with torch.no_grad():
                    x.copy_(_blur(x))
    return x.detach()[0].float().cpu().numpy()


def deep_dream(model, image, layer: str, steps: int = 20, lr: float = 0.01, octaves: int = 3,
               octave_scale: float = 1.4) -> np.ndarray:
    """DeepDream (Mordvintsev et al., "Inceptionism"): amplify what a layer sees in an image.

    Gradient ascent on the image to increase the L2 norm of ``layer``'s activation, from the
    smallest octave (the image shrunk ``octave_scale**(octaves - 1)`` times) to full size, the
    detail added at one octave carried up to the next (``F.interpolate``). The forward pass stops
    after ``layer``, so the layers after it (fully connected ones, which need the built input
    size) never run; the layers up to ``layer`` must accept the smaller octaves (convolutions
    and poolings do; use ``octaves=1`` otherwise).

    Args:
        model: a ``DNN`` or an ``nn.Module`` taking images (N, H, W, C).
        image: one image (H, W, C) or (1, H, W, C), values in [0, 1].
        layer: the layer whose activation is amplified.
        steps: ascent steps per octave.
        lr: step size, relative to the mean absolute gradient.
        octaves: number of scales.
        octave_scale: size ratio between successive scales (> 1).

    Returns:
        The dreamt image, same shape as ``image``, values in [0, 1].
    """
    net = network_of(model)
    resolve_layers(net, layer)
    img = np.asarray(image, dtype=np.float32)
    squeeze = img.ndim == 3
    if img.ndim not in (3, 4) or (img.ndim == 4 and img.shape[0] != 1):
        fail("deep_dream image", "one image (H, W, C) or (1, H, W, C)", Text(f"shape {img.shape}"))
    steps = check_int(steps, "deep_dream steps")
    lr = check_float(lr, "deep_dream lr", minimum=0, min_inclusive=False)
    octaves = check_int(octaves, "deep_dream octaves")
    scale = check_float(octave_scale, "deep_dream octave_scale", minimum=1, min_inclusive=False)
    device = next(net.parameters()).device
    base = torch.as_tensor(img).reshape(1, *img.shape[-3:]).to(device)  # (1, H, W, C)
    nchw = base.permute(0, 3, 1, 2)
    sizes = [tuple(max(1, round(s / scale ** k)) for s in base.shape[1:3]) for k in range(octaves)][::-1]
    resize = lambda t, size: F.interpolate(t, size=size, mode="bilinear", align_corners=False)  # noqa: E731
    detail = torch.zeros(1, base.shape[-1], *sizes[0], device=device)  # (1, C, h, w)
    with evaluation_pass(net, gradients=True):
        for size in sizes:  # smallest octave first
            octave = resize(nchw, size) if size != tuple(nchw.shape[2:]) else nchw
            detail = resize(detail, size)
            x = (octave + detail).clamp(0, 1).permute(0, 2, 3, 1).contiguous()  # (1, h, w, C)
            for _ in range(steps):
                x.requires_grad_(True)
                (grad,) = torch.autograd.grad(layer_output(net, x, layer).norm(), x)
                with torch.no_grad():
                    x = (x + lr * grad / (grad.abs().mean() + 1e-8)).clamp(0, 1)
            detail = x.detach().permute(0, 3, 1, 2) - octave
    out = x.detach().float().cpu().numpy()
    return out[0] if squeeze else out


def plot_images(images, path, titles=None, ncols: int | None = None) -> str:
    """Images in a grid (each rescaled to its own range), written to ``path`` atomically.

    Args:
        images: a sequence of (H, W), (H, W, 1) or (H, W, 3) arrays, or one (N, H, W, C) array.
        path: a ``.png``, ``.svg`` or ``.pdf`` file.
        titles: optional titles, one per image.
        ncols: images per row (default: up to 8).

    Returns:
        The path written.
    """
    from matplotlib.figure import Figure

    images = list(images)
    if not images:
        fail("plot_images images", "at least one image", images)
    if titles is not None and len(titles) != len(images):
        fail("plot_images titles", f"{len(images)} titles (one per image)", Text(f"{len(titles)}"))
    ncols = check_int(ncols if ncols is not None else min(8, len(images)), "plot_images ncols")
    nrows = -(-len(images) // ncols)
    fig = Figure(figsize=(1.8 * ncols, 1.9 * nrows))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i < len(images):
            shown = _display(images[i])
            ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
    return save_figure(fig, path)
