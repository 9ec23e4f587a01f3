"""Real-time data augmentation (TFlearn's ``DataAugmentation`` / ``ImageAugmentation``).

An ``ImageAugmentation`` is an ``nn.Module`` placed inside the input layer. It transforms batch
tensors of images ``(N, H, W, C)`` (the user's layout) on the model's device, only while the
module is in training mode (``model.train()``); in eval mode it returns its input unchanged.
Every sample draws its own random parameters from torch's RNG (``torch.manual_seed``
reproduces a run), and every step is vectorized over the batch: no per-sample Python loops.
Labels are never touched.

Consecutive geometric steps (rotation, shear, shift, scale) are fused into one affine warp
(``F.affine_grid`` + ``F.grid_sample``, bilinear, zeros outside the image). Flips and 90 degree
rotations are exact index operations.

``add_random_crop(crop_shape)`` outputs ``crop_shape`` images: if it differs from the input
size (without padding) the network sees smaller images, as in TFlearn, and prediction
(no augmentation) would see full-size ones, so use ``padding`` to keep the size.

Example::

    img_aug = ImageAugmentation()
    img_aug.add_random_flip_leftright()
    img_aug.add_random_rotation(max_angle=25.)
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from deepscope._checks import check_float, check_int, fail
from deepscope.data_utils import _Text

_AFFINE = ("random_rotation", "random_shear", "random_shift", "random_scale")


class DataAugmentation(nn.Module):
    """Base class: an ordered list of random steps applied in training mode only."""

    def __init__(self):
        super().__init__()
        self.ops: list[dict] = []  # [{"op": str, "args": dict}] in the order added

    def _add(self, op: str, args: dict) -> None:
        self.ops.append({"op": op, "args": args})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Augment a batch (training mode) or return it unchanged (eval mode).

        Args:
            x: images ``(batch, height, width, channels)``.

        Returns:
            The augmented batch, same layout (height/width change only with ``random_crop``).
        """
        if not self.training or not self.ops or x.shape[0] == 0:
            return x
        if x.ndim != 4:
            fail(f"{type(self).__name__}", "image batches (N, height, width, channels)",
                 _Text(f"a batch of shape {tuple(x.shape)}"),
                 "Give input_data a shape like [None, 32, 32, 3] "
                 "(add a channel axis of 1 for gray images).")
        if not torch.is_floating_point(x):
            x = x.float()
        i = 0
        while i < len(self.ops):
            if self.ops[i]["op"] in _AFFINE:  # fuse a run of geometric steps into one warp
                j = i
                while j < len(self.ops) and self.ops[j]["op"] in _AFFINE:
                    j += 1
                x = _affine_warp(x, self.ops[i:j])
                i = j
            else:
                x = getattr(self, "_" + self.ops[i]["op"])(x, **self.ops[i]["args"])
                i += 1
        return x

    def to_config(self) -> dict:
        """JSON-able description: the steps and their arguments."""
        return {"class": type(self).__name__,
                "ops": [{"op": s["op"], "args": dict(s["args"])} for s in self.ops]}

    @classmethod
    def from_config(cls, config: dict) -> "DataAugmentation":
        """Rebuild an augmentation pipeline from ``to_config()``."""
        obj = _CLASSES.get(config.get("class"), cls)()
        for entry in config["ops"]:
            getattr(obj, "add_" + entry["op"])(**entry.get("args", {}))
        return obj

    def extra_repr(self) -> str:
        return ", ".join(f"{s['op']}({', '.join(f'{k}={v}' for k, v in s['args'].items())})"
                         for s in self.ops)


class ImageAugmentation(DataAugmentation):
    """Random image transformations for batches ``(N, H, W, C)``, TFlearn's method names."""

    # ------------------------------------------------------------------ TFlearn steps
    def add_random_crop(self, crop_shape: Sequence[int], padding: int | None = None) -> None:
        """Crop a random ``crop_shape`` window, after padding each side with ``padding`` zeros.

        Args:
            crop_shape: ``(height, width)`` of the output.
            padding: zeros added on each side first (``(32, 32)`` with ``padding=4``: the
                classic CIFAR shift augmentation, size kept).
        """
        if not isinstance(crop_shape, (list, tuple)) or len(crop_shape) < 2:
            fail("add_random_crop crop_shape", "(height, width)", crop_shape, error=TypeError)
        h = check_int(crop_shape[0], "add_random_crop crop_shape[0]")
        w = check_int(crop_shape[1], "add_random_crop crop_shape[1]")
        pad = 0 if padding is None else check_int(padding, "add_random_crop padding", minimum=0)
        self._add("random_crop", {"crop_shape": [h, w], "padding": pad})

    def add_random_flip_leftright(self) -> None:
        """Mirror half of the images left to right."""
        self._add("random_flip_leftright", {})

    def add_random_flip_updown(self) -> None:
        """Mirror half of the images upside down."""
        self._add("random_flip_updown", {})

    def add_random_90degrees_rotation(self, rotations: Sequence[int] = (0, 1, 2, 3)) -> None:
        """Rotate each image by ``k * 90`` degrees, ``k`` drawn from ``rotations``.

        Counterclockwise, like ``np.rot90``; 90 and 270 degrees need square images.
        """
        ks = [check_int(k, "add_random_90degrees_rotation rotations", minimum=None) % 4
              for k in rotations]
        if not ks:
            fail("add_random_90degrees_rotation rotations", "a non-empty list such as [0, 1, 2, 3]",
                 rotations)
        self._add("random_90degrees_rotation", {"rotations": ks})

    def add_random_rotation(self, max_angle: float = 20.0) -> None:
        """Rotate half of the images by an angle drawn in ``(-max_angle, max_angle)`` degrees."""
        max_angle = check_float(max_angle, "add_random_rotation max_angle", minimum=0.0)
        self._add("random_rotation", {"max_angle": max_angle})

    def add_random_blur(self, sigma_max: float = 5.0) -> None:
        """Gaussian-blur half of the images with a sigma drawn in ``(0, sigma_max)`` pixels."""
        sigma_max = check_float(sigma_max, "add_random_blur sigma_max", minimum=0.0)
        self._add("random_blur", {"sigma_max": sigma_max})

    # ------------------------------------------------------------------ extras
    def add_random_shear(self, max_shear: float = 10.0) -> None:
        """Shear horizontally by an angle drawn in ``(-max_shear, max_shear)`` degrees."""
        max_shear = check_float(max_shear, "add_random_shear max_shear", minimum=0.0, maximum=80.0)
        self._add("random_shear", {"max_shear": max_shear})

    def add_random_shift(self, max_shift: float = 0.1) -> None:
        """Translate by up to ``max_shift`` times the height / width (a fraction, e.g. 0.1)."""
        max_shift = check_float(max_shift, "add_random_shift max_shift", minimum=0.0, maximum=1.0)
        self._add("random_shift", {"max_shift": max_shift})

    def add_random_scale(self, min_scale: float = 0.9, max_scale: float = 1.1) -> None:
        """Zoom by a factor drawn in ``(min_scale, max_scale)`` (> 1 enlarges the content)."""
        lo = check_float(min_scale, "add_random_scale min_scale", minimum=0.0, min_inclusive=False)
        hi = check_float(max_scale, "add_random_scale max_scale", minimum=lo)
        self._add("random_scale", {"min_scale": lo, "max_scale": hi})

    def add_random_noise(self, std: float = 0.05) -> None:
        """Add gaussian noise of standard deviation ``std`` to every value."""
        std = check_float(std, "add_random_noise std", minimum=0.0)
        self._add("random_noise", {"std": std})

    # ------------------------------------------------------------------ computations
    @staticmethod
    def _coin(x: torch.Tensor) -> torch.Tensor:
        return torch.rand(x.shape[0], device=x.device) < 0.5  # (batch,) bool

    def _random_crop(self, x, crop_shape, padding):
        n, h, w, _ = x.shape
        ch, cw = crop_shape
        if padding:
            x = F.pad(x, (0, 0, padding, padding, padding, padding))  # pad H and W of NHWC
            h, w = h + 2 * padding, w + 2 * padding
        if ch > h or cw > w:
            fail("ImageAugmentation random_crop", f"images of at least {ch}x{cw} after padding",
                 _Text(f"{h}x{w} images"), "Use a smaller crop_shape or more padding.")
        top = torch.randint(0, h - ch + 1, (n, 1, 1), device=x.device)
        left = torch.randint(0, w - cw + 1, (n, 1, 1), device=x.device)
        rows = top + torch.arange(ch, device=x.device).view(1, ch, 1)  # (batch, ch, 1)
        cols = left + torch.arange(cw, device=x.device).view(1, 1, cw)  # (batch, 1, cw)
        return x[torch.arange(n, device=x.device).view(n, 1, 1), rows, cols]  # (batch, ch, cw, C)

    def _random_flip_leftright(self, x):
        return torch.where(self._coin(x).view(-1, 1, 1, 1), x.flip(2), x)

    def _random_flip_updown(self, x):
        return torch.where(self._coin(x).view(-1, 1, 1, 1), x.flip(1), x)

    def _random_90degrees_rotation(self, x, rotations):
        if x.shape[1] != x.shape[2] and any(k % 2 for k in rotations):
            fail("ImageAugmentation random_90degrees_rotation", "square images for 90/270 degrees",
                 _Text(f"{x.shape[1]}x{x.shape[2]} images"),
                 "Use rotations=[0, 2] for non-square images.")
        choice = torch.tensor(rotations, device=x.device)
        k = choice[torch.randint(0, len(rotations), (x.shape[0],), device=x.device)]
        out = x
        for r in sorted(set(rotations) - {0}):
            out = torch.where((k == r).view(-1, 1, 1, 1), torch.rot90(x, r, dims=(1, 2)), out)
        return out

    def _random_blur(self, x, sigma_max):
        if sigma_max == 0:
            return x
        n, h, w, c = x.shape
        sigma = torch.rand(n, device=x.device) * sigma_max * self._coin(x)  # (batch,)
        radius = max(1, math.ceil(3 * sigma_max))
        offs = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)  # (K,)
        kern = torch.exp(-0.5 * (offs / sigma.clamp(min=1e-3).view(-1, 1).to(x.dtype)) ** 2)
        kern = (kern / kern.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (batch*C, K)
        y = x.permute(0, 3, 1, 2).reshape(1, n * c, h, w)  # (1, batch*C, H, W)
        y = F.pad(y, (radius, radius, radius, radius), mode="replicate")
        y = F.conv2d(y, kern.view(n * c, 1, -1, 1), groups=n * c)  # along height
        y = F.conv2d(y, kern.view(n * c, 1, 1, -1), groups=n * c)  # along width
        return y.view(n, c, h, w).permute(0, 2, 3, 1)  # (batch, H, W, C)

    def _random_noise(self, x, std):
        return x + std * torch.randn_like(x)


def _affine_warp(x: torch.Tensor, ops: list[dict]) -> torch.Tensor:
    """One bilinear warp for a run of rotation / shear / shift / scale steps.

    Each sample's matrix maps output pixel coordinates (centered, in pixels) to input ones;
    working in pixels keeps angles right for non-square images.
    """
    n, h, w, _ = x.shape
    dev, dt = x.device, x.dtype
    a = torch.eye(2, device=dev, dtype=dt).expand(n, 2, 2).clone()  # (batch, 2, 2) on (x, y)
    t = torch.zeros(n, 2, device=dev, dtype=dt)  # (batch, 2) translation in pixels

    def uniform(lo, hi):
        return lo + (hi - lo) * torch.rand(n, device=dev, dtype=dt)

    for spec in ops:
        op, args = spec["op"], spec["args"]
        m = torch.eye(2, device=dev, dtype=dt).expand(n, 2, 2).clone()
        if op == "random_rotation":
            ang = torch.deg2rad(uniform(-args["max_angle"], args["max_angle"]))
            ang = ang * (torch.rand(n, device=dev) < 0.5)  # half of the images, as TFlearn
            cos, sin = torch.cos(ang), torch.sin(ang)
            m = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
        elif op == "random_shear":
            m[:, 0, 1] = torch.tan(torch.deg2rad(uniform(-args["max_shear"], args["max_shear"])))
        elif op == "random_scale":
            s = 1.0 / uniform(args["min_scale"], args["max_scale"])
            m = m * s.view(n, 1, 1)
        elif op == "random_shift":
            f = args["max_shift"]
            shift = torch.stack([uniform(-f, f) * w, uniform(-f, f) * h], 1)
            t = t + torch.einsum("nij,nj->ni", a, shift)
        a = a @ m
    # pixels -> normalized coordinates (align_corners=False): x_norm = x_pix / (w / 2)
    half = torch.tensor([w / 2.0, h / 2.0], device=dev, dtype=dt)
    theta = torch.cat([a * half.view(1, 1, 2) / half.view(1, 2, 1), (t / half).unsqueeze(2)], 2)
    img = x.permute(0, 3, 1, 2)  # (batch, C, H, W)
    grid = F.affine_grid(theta, list(img.shape), align_corners=False)  # (batch, H, W, 2)
    out = F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.permute(0, 2, 3, 1)  # (batch, H, W, C)


_CLASSES = {"DataAugmentation": DataAugmentation, "ImageAugmentation": ImageAugmentation}


class SequenceAugmentation(DataAugmentation):
    """TFlearn declares it and raises at construction (never written); deepscope does the same, with advice."""

    def __init__(self):
        raise NotImplementedError("SequenceAugmentation is not written in TFlearn either: augment sequences "
                                  "yourself before fit (e.g. reversed copies with X[:, ::-1]).")

    def random_reverse(self):  # pragma: no cover - the constructor raises
        raise NotImplementedError
