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

import warnings

import numpy as np
import torch
import torch.nn.functional as F

from .._checks import Text, check_choice, check_float, check_int, fail
from .attribution import _display, save_figure
from .recording import layer_output, network_of, resolve_layers, unit_activation
from ..utils import evaluation_pass


def _blur(x: torch.Tensor, sigma: float = 0.5) -> torch.Tensor:
    """A 3x3 gaussian blur of NHWC images, per channel (reflect padding)."""
    k = torch.exp(-torch.tensor([-1.0, 0.0, 1.0], device=x.device) ** 2 / (2 * sigma ** 2))
    k = torch.outer(k, k) / k.sum() ** 2  # (3, 3), sums to 1
    c = x.shape[-1]
    y = F.pad(x.permute(0, 3, 1, 2), (1, 1, 1, 1), mode="reflect")  # (N, C, H + 2, W + 2)
    y = F.conv2d(y, k.expand(c, 1, 3, 3).to(x.dtype), groups=c)
    return y.permute(0, 2, 3, 1)


def _rotate_and_scale(x: torch.Tensor, degrees: float, scale: float, gen: torch.Generator) -> torch.Tensor:
    """NHWC images rotated by a random angle in [-degrees, degrees] and zoomed by a random factor in
    [1 - scale, 1 + scale] about their centre (bilinear, border values repeated)."""
    angle = float(torch.empty(1).uniform_(-degrees, degrees, generator=gen)) * np.pi / 180
    zoom = 1.0 + float(torch.empty(1).uniform_(-scale, scale, generator=gen))
    cos, sin = np.cos(angle) / zoom, np.sin(angle) / zoom
    theta = torch.tensor([[[cos, -sin, 0.0], [sin, cos, 0.0]]], dtype=x.dtype, device=x.device)
    nchw = x.permute(0, 3, 1, 2)
    grid = F.affine_grid(theta.expand(x.shape[0], 2, 3), list(nchw.shape), align_corners=False)
    return F.grid_sample(nchw, grid, mode="bilinear", padding_mode="border", align_corners=False).permute(0, 2, 3, 1)


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
                        lr: float | None = None, l2: float = 1e-3, jitter: int = 2, blur_every: int = 4,
                        seed: int = 0, value_range=(0.0, 1.0), restarts: int = 4, rotate: float = 0.0,
                        scale: float = 0.0, parametrization: str = "pixels", n_images: int = 1,
                        diversity: float = 0.0) -> np.ndarray:
    """The input that maximizes a unit's mean activation (Erhan et al.), by gradient ascent with Adam.

    The image stays in the data's range: it is ``low + (high - low) * sigmoid(p)`` and ``p`` is
    optimized, so every pixel lies in ``value_range`` at every step (an unbounded ascent finds inputs the
    network never sees: pixels of -2.6 to 4.2 for an MNIST net trained on [0, 1]). Regularizers keep the
    result natural-looking: L2 decay of ``p`` (towards the middle of the range), a random shift of up to
    ``jitter`` pixels each step and a light gaussian blur every ``blur_every`` steps (images only).

    A unit that does not respond at the start (zero gradient: a ReLU unit silent on the starting
    image) is tried again from ``restarts`` random images spread over the range; if it never responds,
    a ``RuntimeWarning`` says so (the unit is dead for inputs in this range) instead of a silent grey.

    Args:
        model: a ``DNN`` or an ``nn.Module``.
        layer: a layer name (a hidden unit or a conv channel, averaged over positions) or None:
            the class scores (the output layer's pre-activation), ``unit`` being the class.
        unit: index along the layer's last dimension in the user's layout (feature / channel).
        shape: the input shape without the batch, e.g. (28, 28, 1); default: the network's.
        steps, lr: Adam steps and learning rate (default 0.2 on the bounded form's ``p``, 0.05 unbounded).
        l2, jitter, blur_every: regularizers (0 turns one off).
        seed: seeds the starting noise and the jitter.
        value_range: ``(low, high)`` of the inputs the network was trained on (default [0, 1]: scaled
            pixels); None: unbounded (the classic form, starting at 0.5).
        restarts: random starts tried when the unit is silent.
        parametrization: ``'pixels'`` (each pixel optimized) or ``'fourier'`` (images only: the image's 2-D
            Fourier coefficients, each scaled by 1 / frequency, are optimized: Lucid's decorrelated
            parametrization, which favours broad patterns over high-frequency noise; no blur is needed).
        rotate, scale: each step, rotate the image by up to ``rotate`` degrees and rescale it by up to
            ``scale`` (e.g. 10 and 0.1, as Lucid's transformation robustness): the image must drive the
            unit under small rotations and zooms too, so it shows a pattern, not a pixel-exact exploit.
        n_images: several images for the unit at once (a batch from different starts).
        diversity: with ``n_images > 1``, a penalty on how alike the images' ``layer`` activations are (Lucid's
            diversity term: the mean cosine similarity between images, times ``diversity`` times the batch's mean
            absolute unit activation), so the images show different things that drive the unit (0: independent).

    Returns:
        The input, shape ``shape`` (e.g. (H, W, C)); with ``n_images > 1``, ``(n_images, *shape)``; float32 numpy.
    """
    net = network_of(model)
    shape = _input_shape(net, shape)
    steps = check_int(steps, "maximize_activation steps")
    lr = check_float((0.05 if value_range is None else 0.2) if lr is None else lr, "maximize_activation lr",
                     minimum=0, min_inclusive=False)
    l2 = check_float(l2, "maximize_activation l2", minimum=0, maximum=1, max_inclusive=False)
    jitter = check_int(jitter, "maximize_activation jitter", minimum=0)
    blur_every = check_int(blur_every, "maximize_activation blur_every", minimum=0)
    restarts = check_int(restarts, "maximize_activation restarts", minimum=0)
    rotate = check_float(rotate, "maximize_activation rotate", minimum=0, maximum=180)
    scale = check_float(scale, "maximize_activation scale", minimum=0, maximum=0.5)
    n_images = check_int(n_images, "maximize_activation n_images", minimum=1)
    diversity = check_float(diversity, "maximize_activation diversity", minimum=0)
    if diversity and n_images < 2:
        fail("maximize_activation diversity", "0 with one image (diversity compares images: give n_images >= 2)",
             diversity)
    if value_range is not None:
        if not (isinstance(value_range, (tuple, list)) and len(value_range) == 2):
            fail("maximize_activation value_range", "(low, high) or None", value_range)
        low = check_float(value_range[0], "maximize_activation value_range low")
        high = check_float(value_range[1], "maximize_activation value_range high", minimum=low, min_inclusive=False)
    device = next(net.parameters()).device
    gen = torch.Generator().manual_seed(int(seed))
    image = len(shape) == 3
    check_choice(parametrization, "maximize_activation parametrization", ["pixels", "fourier"])
    fourier = parametrization == "fourier"
    if fourier and not image:
        fail("maximize_activation parametrization", "'pixels' for inputs that are not images (H, W, C)",
             Text(f"'fourier' with shape {shape}"))
    if fourier:  # the variable: real and imaginary parts of the rfft2 coefficients, (1, C, H, W // 2 + 1, 2)
        height, width, channels = shape
        frequency = torch.sqrt(torch.fft.fftfreq(height)[:, None] ** 2 + torch.fft.rfftfreq(width)[None, :] ** 2)
        spectrum_scale = (1.0 / frequency.clamp(min=1.0 / max(height, width))).to(device)  # (H, W // 2 + 1)
        variable_shape = (n_images, channels, height, width // 2 + 1, 2)
    else:
        variable_shape = (n_images, *shape)

    def pixels(q: torch.Tensor) -> torch.Tensor:
        """The pre-range image (1, H, W, C) of the optimized variable."""
        if not fourier:
            return q
        spectrum = torch.complex(q[..., 0], q[..., 1]) * spectrum_scale
        planes = torch.fft.irfft2(spectrum, s=(height, width), norm="ortho")  # (1, C, H, W)
        return planes.permute(0, 2, 3, 1) * (height * width) ** 0.5 / 4

    def to_input(q: torch.Tensor) -> torch.Tensor:
        p = pixels(q)
        return p if value_range is None else low + (high - low) * torch.sigmoid(p)

    def objective_of(p: torch.Tensor) -> torch.Tensor:
        xj = to_input(p)
        if image and jitter:
            dy, dx = (torch.randint(-jitter, jitter + 1, (2,), generator=gen)).tolist()
            xj = torch.roll(xj, shifts=(dy, dx), dims=(1, 2))
        if image and (rotate or scale):
            xj = _rotate_and_scale(xj, rotate, scale, gen)
        output = layer_output(net, xj, layer)
        activation = unit_activation(output, unit, "unit")  # (n_images,)
        if not diversity:
            return activation.sum()
        features = F.normalize(output.reshape(len(output), -1), dim=1)  # (n, F)
        similarity = features @ features.T
        alike = (similarity.sum() - similarity.diagonal().sum()) / (len(output) * (len(output) - 1))
        return activation.sum() - diversity * len(output) * activation.abs().mean().detach() * alike

    with evaluation_pass(net, gradients=True):
        unit_activation(layer_output(net, to_input(torch.zeros(variable_shape, device=device)), layer), unit,
                        "maximize_activation unit")
        noise = 0.01 * torch.randn(variable_shape, generator=gen)
        start = (0.5 + noise) if value_range is None and not fourier else noise  # (sigmoid(0): the range's middle)
        for attempt in range(restarts + 1):
            p = start.to(device).requires_grad_(True)
            (grad,) = torch.autograd.grad(objective_of(p), p)
            if bool(grad.abs().sum() > 0):
                break
            spread = torch.rand(variable_shape, generator=gen)  # a new start spread over the range
            start = (spread * 2 - 1) * 3 if value_range is not None else spread
        else:
            warnings.warn(f"maximize_activation: unit {unit} of {'the class scores' if layer is None else repr(layer)} "
                          f"does not respond to any of {restarts + 1} starting images (zero gradient): it is dead for "
                          "inputs in this range (see introspect.unit_health); the image returned is the last start.",
                          RuntimeWarning, stacklevel=2)
            return _images(to_input(p.detach()), n_images)
        opt = torch.optim.Adam([p], lr=lr)
        for step in range(steps):
            (p.grad,) = torch.autograd.grad(-objective_of(p), p)  # the input only: no parameter .grad
            opt.step()
            with torch.no_grad():
                p.mul_(1 - l2)  # L2 decay (towards the range's middle), independent of the objective's scale
            if image and blur_every and not fourier and (step + 1) % blur_every == 0:
                with torch.no_grad():
                    p.copy_(_blur(p))
    return _images(to_input(p.detach()), n_images)


def _images(batch: torch.Tensor, n_images: int) -> np.ndarray:
    """The synthesized batch as numpy: one image without its batch axis, or ``(n_images, ...)``."""
    values = batch.float().cpu().numpy()
    return values[0] if n_images == 1 else values


def deep_dream(model, image, layer: str, steps: int = 20, lr: float = 0.01, octaves: int = 3,
               octave_scale: float = 1.4, value_range=(0.0, 1.0), jitter: int = 0, seed: int = 0) -> np.ndarray:
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
        value_range: ``(low, high)`` the image is kept in at every step (as ``maximize_activation``: the data's
            range; default [0, 1]).
        jitter: each step, shift the image by up to this many pixels before the gradient (as
            ``maximize_activation``; Mordvintsev's trick against grid artefacts); 0: none.
        seed: seeds the jitter.

    Returns:
        The dreamt image, same shape as ``image``, values in ``value_range``. A layer with no gradient on the
        image (every unit silent) gives a ``RuntimeWarning`` and the image unchanged.
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
    jitter = check_int(jitter, "deep_dream jitter", minimum=0)
    if not (isinstance(value_range, (tuple, list)) and len(value_range) == 2):
        fail("deep_dream value_range", "(low, high)", value_range)
    low = check_float(value_range[0], "deep_dream value_range low")
    high = check_float(value_range[1], "deep_dream value_range high", minimum=low, min_inclusive=False)
    gen = torch.Generator().manual_seed(int(seed))
    silent = True
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
            x = (octave + detail).clamp(low, high).permute(0, 2, 3, 1).contiguous()  # (1, h, w, C)
            for _ in range(steps):
                dy, dx = (torch.randint(-jitter, jitter + 1, (2,), generator=gen)).tolist() if jitter else (0, 0)
                shifted = torch.roll(x, shifts=(dy, dx), dims=(1, 2)).requires_grad_(True)
                (grad,) = torch.autograd.grad(layer_output(net, shifted, layer).norm(), shifted)
                grad = torch.roll(grad, shifts=(-dy, -dx), dims=(1, 2))  # back to the image's own pixels
                if bool(grad.abs().sum() > 0):
                    silent = False
                with torch.no_grad():
                    x = (x + (high - low) * lr * grad / (grad.abs().mean() + 1e-8)).clamp(low, high)
            detail = x.detach().permute(0, 3, 1, 2) - octave
    if silent:
        warnings.warn(f"deep_dream: layer {layer!r} gives no gradient on this image (every unit silent): the image "
                      "is returned unchanged; try another layer or image (see introspect.unit_health).",
                      RuntimeWarning, stacklevel=2)
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

    if images is None or isinstance(images, (str, bytes)):
        fail("plot_images images", "images: an array (N, H, W[, C]) or a list of (H, W[, C]) arrays",
             Text(type(images).__name__), error=TypeError)
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
