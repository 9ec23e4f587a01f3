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

from contextlib import contextmanager

import numpy as np
import torch

from .._checks import Text, check_float, check_int, fail
from .._io import save_figure
from .similarity import as_array
from .recording import layer_output, network_of, resolve_layers, scores_of, to_user_layout, unit_activation
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


POINT_ELEMENTS = 2 ** 20  # input elements per pass when internal_batch_size is None (4 MB of float32 inputs)


def _points_per_pass(internal_batch_size, x: torch.Tensor, where: str) -> int:
    """Path points per backward pass: ``internal_batch_size``, or (None) as many as keep the pass's inputs
    near ``POINT_ELEMENTS`` elements (1,337 MNIST digits, 341 CIFAR images; at least 32)."""
    if internal_batch_size is None:
        return max(32, POINT_ELEMENTS // max(1, x[0].numel()))
    return check_int(internal_batch_size, f"{where} internal_batch_size")


def _path_integral(x: torch.Tensor, b: torch.Tensor, steps: int, internal_batch_size: int, gradient) -> torch.Tensor:
    """``(x - b) * the trapezoid mean over the path b -> x of gradient(points, rows)``, for every sample,
    with at most ``internal_batch_size`` path points per backward pass (memory bounded, any N).

    ``gradient(points (P, ...), rows (P,))`` returns d score / d points for path points of the samples
    ``rows``."""
    alphas = torch.linspace(0, 1, steps + 1, device=x.device, dtype=x.dtype)
    weights = torch.full((steps + 1,), 1.0 / steps, device=x.device, dtype=x.dtype)
    weights[[0, -1]] /= 2  # trapezoid: the two ends count half
    n, per = x.shape[0], steps + 1
    total = torch.zeros_like(x)
    flat_rows = torch.arange(n, device=x.device).repeat_interleave(per)  # sample of each path point
    flat_alpha = alphas.repeat(n)
    flat_weight = weights.repeat(n)
    for start in range(0, n * per, internal_batch_size):
        rows = flat_rows[start:start + internal_batch_size]
        shape = (-1, *[1] * (x.dim() - 1))
        a = flat_alpha[start:start + internal_batch_size].reshape(shape)
        points = b[rows] + a * (x[rows] - b[rows])  # (P, ...) on the paths
        grads = gradient(points, rows) * flat_weight[start:start + internal_batch_size].reshape(shape)
        total.index_add_(0, rows, grads)
    return (x - b) * total


def integrated_gradients(model, X, target=None, baseline=None, steps: int = 32,
                         internal_batch_size: int | None = None) -> np.ndarray:
    """Sundararajan et al.'s integrated gradients: ``(x - x') * mean gradient on the path x' -> x``.

    The path integral is a trapezoid rule over ``steps`` intervals; the path points of all samples are
    batched, ``internal_batch_size`` at a time (memory stays bounded over any number of inputs).

    Args:
        model: a ``DNN`` or an ``nn.Module`` (one input).
        X: inputs, e.g. (N, H, W, C).
        target: class index, one per sample, or None (the class predicted for ``X``).
        baseline: the reference input x' (default zeros): a number, one sample or one per sample.
        steps: intervals of the path.
        internal_batch_size: path points per backward pass (None: as many as hold about 1M input elements:
            1,337 MNIST digits, 341 CIFAR images, 32 ImageNet images; memory bounded over any N).

    Returns:
        Attributions shaped like ``X``; they sum to about ``score(x) - score(x')``
        (see :func:`completeness_gap`).
    """
    steps = check_int(steps, "integrated_gradients steps")
    x = input_tensor(model, X, "integrated_gradients X")
    internal_batch_size = _points_per_pass(internal_batch_size, x, "integrated_gradients")
    b = _baseline(baseline, x, "integrated_gradients baseline")
    chunk = max(1, internal_batch_size // (steps + 1))  # samples whose paths fit one pass

    def one_batch(net, xb, t, sl):
        return _path_integral(xb, b[sl], steps, internal_batch_size, lambda points, rows: _input_gradient(net, points, t[rows]))

    return _per_batch(model, x, target, chunk, "integrated_gradients", one_batch)


def smoothgrad(model, X, target=None, n_samples: int = 25, stdev: float | None = None, kind: str = "smoothgrad",
               absolute: bool = False, seed: int = 0, internal_batch_size: int | None = None) -> np.ndarray:
    """SmoothGrad (Smilkov et al. 2017): the gradient averaged over noisy copies of each input; VarGrad
    (its variance) and SmoothGrad-squared (the mean of squared gradients) as ``kind``.

    Args:
        model, X, target: as :func:`saliency`.
        n_samples: noisy copies per input.
        stdev: the noise's standard deviation (default: 0.15 x the input's value range, the paper's
            10-20%).
        kind: ``'smoothgrad'``, ``'smoothgrad_sq'`` or ``'vargrad'``.
        absolute: average ``|gradient|`` (Captum's ``NoiseTunnel(Saliency)``) instead of the signed gradient.
        seed: seed of the noise.
        internal_batch_size: noisy inputs per backward pass.

    Returns:
        Attributions shaped like ``X``.
    """
    if kind not in ("smoothgrad", "smoothgrad_sq", "vargrad"):
        fail("smoothgrad kind", "'smoothgrad', 'smoothgrad_sq' or 'vargrad'", kind)
    n_samples = check_int(n_samples, "smoothgrad n_samples")
    x = input_tensor(model, X, "smoothgrad X")
    internal_batch_size = _points_per_pass(internal_batch_size, x, "smoothgrad")
    if stdev is None:
        stdev = 0.15 * float(x.max() - x.min()) if x.max() > x.min() else 0.15
    stdev = check_float(stdev, "smoothgrad stdev", minimum=0, min_inclusive=False)
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    chunk = max(1, internal_batch_size // n_samples)  # inputs whose noisy copies fit one pass

    def one_batch(net, xb, t, sl):
        # (B, S, ...) noise drawn in input order (as Captum's NoiseTunnel draws it for one batch)
        noise = torch.randn((xb.shape[0] * n_samples, *xb.shape[1:]), generator=generator).to(xb.device) * stdev
        grads = _input_gradient(net, xb.repeat_interleave(n_samples, 0) + noise, t.repeat_interleave(n_samples))
        grads = (grads.abs() if absolute else grads).reshape(xb.shape[0], n_samples, *xb.shape[1:])
        mean = grads.mean(1)
        if kind == "smoothgrad":
            return mean
        squares = (grads * grads).mean(1)
        return squares if kind == "smoothgrad_sq" else squares - mean * mean

    return _per_batch(model, x, target, chunk, "smoothgrad", one_batch)


@contextmanager
def _outputs_of(module: torch.nn.Module):
    """A list that collects ``module``'s outputs (attached to the graph) while the block runs."""
    outputs: list = []
    handle = module.register_forward_hook(lambda mod, inputs, output: outputs.append(output))
    try:
        yield outputs
    finally:
        handle.remove()


def _layer_module(model, layer: str):
    return resolve_layers(network_of(model), layer)[layer]


def grad_cam(model, X, layer: str, target=None, upsample: bool = True, batch_size: int = GRADIENT_BATCH_SIZE) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017): a convolutional layer's feature maps weighted by the mean
    gradient of the target score over each map, summed over maps, negative values set to 0.

    Args:
        model, X, target: as :func:`saliency` (images (N, H, W, C)).
        layer: a layer with feature maps (e.g. ``'Conv2D_1'``; the last convolution is the usual choice).
        upsample: resize the map to the input's height and width (bilinear), as it is drawn over the image.
        batch_size: images per backward pass.

    Returns:
        ``(N, H, W)`` (or the layer's ``(N, h, w)`` without ``upsample``), non-negative.
    """
    module = _layer_module(model, layer)
    x = input_tensor(model, X, "grad_cam X")
    if x.dim() != 4:
        fail("grad_cam X", "images (N, H, W, C)", Text(f"shape {tuple(x.shape)}"))

    def one_batch(net, xb, t, sl):
        with _outputs_of(module) as maps:
            score = _score(net, xb, t)
        if not maps or maps[0].dim() != 4:
            fail("grad_cam layer", "a layer with feature maps (N, C, h, w)",
                 Text(f"{layer!r} with output shape {tuple(maps[0].shape) if maps else None}"),
                 "Use a conv_2d (or pooling) layer; see model.summary().")
        (grad,) = torch.autograd.grad(score.sum(), maps[0])  # (n, C, h, w)
        weights = grad.mean((2, 3), keepdim=True)
        cam = torch.relu((weights * maps[0]).sum(1, keepdim=True))  # (n, 1, h, w)
        if upsample:
            cam = torch.nn.functional.interpolate(cam, size=xb.shape[1:3], mode="bilinear", align_corners=False)
        return cam[:, 0]

    return _per_batch(model, x, target, batch_size, "grad_cam", one_batch)


def layer_integrated_gradients(model, X, layer: str, target=None, baseline=None, steps: int = 32,
                               internal_batch_size: int | None = None) -> np.ndarray:
    """Integrated gradients of the target score with respect to a layer's output: which units of
    ``layer`` carry the decision (Captum's ``LayerIntegratedGradients``: the layer's output is moved
    from its value on the baseline to its value on the input).

    Args:
        model, X, target, baseline, steps, internal_batch_size: as :func:`integrated_gradients`.
        layer: the layer name.

    Returns:
        ``(N, ...)`` shaped like the layer's output in the user's layout (NHWC feature maps); they sum to
        about ``score(x) - score(baseline)``.
    """
    module = _layer_module(model, layer)
    steps = check_int(steps, "layer_integrated_gradients steps")
    x = input_tensor(model, X, "layer_integrated_gradients X")
    internal_batch_size = _points_per_pass(internal_batch_size, x, "layer_integrated_gradients")
    b = _baseline(baseline, x, "layer_integrated_gradients baseline")
    replacement: list = []

    def patch(mod, inputs, output):  # the path's layer outputs, in place of the layer's own
        return replacement[0] if replacement else None

    def one_batch(net, xb, t, sl):
        with torch.no_grad(), _outputs_of(module) as seen:
            net(xb)
            net(b[sl])
        act, base = seen[0].detach(), seen[1].detach()

        def gradient(points, rows):
            points = points.detach().requires_grad_(True)
            replacement[:] = [points]
            handle = module.register_forward_hook(patch)
            try:
                score = _score(net, xb[rows], t[rows])
            finally:
                handle.remove()
                replacement.clear()
            (grad,) = torch.autograd.grad(score.sum(), points)
            return grad

        return to_user_layout(_path_integral(act, base, steps, internal_batch_size, gradient))

    return _per_batch(model, x, target, max(1, internal_batch_size // (steps + 1)), "layer_integrated_gradients",
                      one_batch)


def neuron_integrated_gradients(model, X, layer: str, unit: int, baseline=None, steps: int = 32,
                                internal_batch_size: int | None = None) -> np.ndarray:
    """Integrated gradients of one unit's activation with respect to the input: which input pixels drive
    unit ``unit`` of ``layer`` (a feature, or a channel averaged over positions).

    Args:
        model, X, baseline, steps, internal_batch_size: as :func:`integrated_gradients`.
        layer, unit: the unit (index along the layer's last dimension in the user's layout).

    Returns:
        Attributions shaped like ``X``.
    """
    steps = check_int(steps, "neuron_integrated_gradients steps")
    _layer_module(model, layer)
    x = input_tensor(model, X, "neuron_integrated_gradients X")
    internal_batch_size = _points_per_pass(internal_batch_size, x, "neuron_integrated_gradients")
    b = _baseline(baseline, x, "neuron_integrated_gradients baseline")

    def one_batch(net, xb, t, sl):
        def gradient(points, rows):
            points = points.detach().requires_grad_(True)
            value = unit_activation(layer_output(net, points, layer), unit, "neuron_integrated_gradients unit")
            (grad,) = torch.autograd.grad(value.sum(), points)
            return grad
        return _path_integral(xb, b[sl], steps, internal_batch_size, gradient)

    return _per_batch(model, x, None, max(1, internal_batch_size // (steps + 1)), "neuron_integrated_gradients",
                      one_batch)


def layer_conductance(model, X, layer: str, target=None, baseline=None, steps: int = 32,
                      internal_batch_size: int | None = None) -> np.ndarray:
    """Layer conductance (Dhamdhere et al. 2018): how much of the decision flows through each unit of
    ``layer`` as the input moves from the baseline to ``x``: ``sum_i dF/dy(a_i) * (y(a_{i+1}) - y(a_i))``
    over ``steps`` intervals of the input path (Captum's ``LayerConductance`` with ``riemann`` points).

    Args:
        model, X, target, baseline, steps: as :func:`integrated_gradients`.
        layer: the layer name.
        internal_batch_size: path points per pass (a sample's whole path is one pass at least).

    Returns:
        ``(N, ...)`` shaped like the layer's output in the user's layout; summed over the units they give
        about ``score(x) - score(baseline)``.
    """
    module = _layer_module(model, layer)
    steps = check_int(steps, "layer_conductance steps")
    x = input_tensor(model, X, "layer_conductance X")
    internal_batch_size = _points_per_pass(internal_batch_size, x, "layer_conductance")
    b = _baseline(baseline, x, "layer_conductance baseline")
    alphas = torch.linspace(0, 1, steps + 1, device=x.device, dtype=x.dtype)

    def one_batch(net, xb, t, sl):
        n, per = xb.shape[0], steps + 1
        a = alphas.repeat(n).reshape(-1, *[1] * (xb.dim() - 1))
        rows = torch.arange(n, device=xb.device).repeat_interleave(per)
        base = b[sl]
        points = base[rows] + a * (xb[rows] - base[rows])  # (n * (steps + 1), ...)
        with _outputs_of(module) as seen:
            score = _score(net, points, t[rows])
        (grad,) = torch.autograd.grad(score.sum(), seen[0])
        y = seen[0].detach().reshape(n, per, *seen[0].shape[1:])
        g = grad.reshape(n, per, *grad.shape[1:])
        return to_user_layout((g[:, :-1] * (y[:, 1:] - y[:, :-1])).sum(1))

    return _per_batch(model, x, target, max(1, internal_batch_size // (steps + 1)), "layer_conductance", one_batch)


class _GuidedReLU(torch.autograd.Function):
    """ReLU whose backward pass lets only positive gradients through (guided backpropagation)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad.clamp(min=0) * (x > 0)


def guided_backprop(model, X, target=None, batch_size: int = GRADIENT_BATCH_SIZE) -> np.ndarray:
    """Guided backpropagation (Springenberg et al. 2015): the input gradient with every ReLU passing back
    only positive gradients (Captum's ``GuidedBackprop``); shaped like ``X``."""
    net = network_of(model)
    relus = [m for m in net.modules() if isinstance(m, torch.nn.ReLU)]
    if not relus:
        fail("guided_backprop model", "a network with ReLU activations", Text("none"),
             "Guided backpropagation changes how gradients pass ReLUs; use saliency otherwise.")
    x = input_tensor(model, X, "guided_backprop X")
    handles = [m.register_forward_hook(lambda mod, inputs, output: _GuidedReLU.apply(inputs[0])) for m in relus]
    try:
        return _per_batch(model, x, target, batch_size, "guided_backprop",
                          lambda net_, xb, t, sl: _input_gradient(net_, xb, t))
    finally:
        for handle in handles:
            handle.remove()


def guided_grad_cam(model, X, layer: str, target=None, batch_size: int = GRADIENT_BATCH_SIZE) -> np.ndarray:
    """Guided Grad-CAM (Selvaraju et al. 2017): guided backpropagation times the Grad-CAM map of
    ``layer`` resized to the input (every channel); shaped like ``X``: fine detail where the class evidence is."""
    cam = grad_cam(model, X, layer, target, upsample=True, batch_size=batch_size)  # (N, H, W)
    return guided_backprop(model, X, target, batch_size) * cam[..., None]


def attribution_over_models(method, models: list, X, *args, **kwargs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One attribution ``method`` (e.g. :func:`integrated_gradients`) for each model of an ensemble or each
    seed of a study, on the same inputs.

    Returns:
        ``(mean, sd, each)``: the mean and the standard deviation over models, and every model's
        attribution stacked ``(models, N, ...)``. (``target=None`` is each model's own prediction; give
        ``target=`` to compare the same class.)
    """
    if not callable(method):
        fail("attribution_over_models method", "an attribution function, e.g. integrated_gradients",
             Text(type(method).__name__), error=TypeError)
    models = list(models)
    if len(models) < 2:
        fail("attribution_over_models models", "at least 2 models", Text(f"{len(models)}"))
    each = np.stack([method(m, X, *args, **kwargs) for m in models])
    return each.mean(0), each.std(0, ddof=1), each


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
    img = as_array(image, "image", min_rank=2, finite=False)
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
    fig = Figure(figsize=(6.4, 3), layout="constrained")  # (constrained: the colour bar's label is not cut off)
    left, right = fig.subplots(1, 2)
    left.imshow(shown, cmap="gray" if shown.ndim == 2 else None)
    signed = heat.min() < 0
    vmax = np.abs(heat).max() or 1.0
    im = right.imshow(heat, cmap="RdBu_r" if signed else "inferno",
                      vmin=-vmax if signed else 0, vmax=vmax)
    channels = np.ndim(attribution) == 3 and np.shape(attribution)[-1] > 1
    details = ", ".join(["summed over channels"] * bool(channels) + ["red +, blue -"] * bool(signed))
    bar = fig.colorbar(im, ax=right, fraction=0.046)
    bar.set_label("attribution" + (f"\n({details})" if details else ""), fontsize=8)
    for ax, name in ((left, "input"), (right, "attribution")):
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)
