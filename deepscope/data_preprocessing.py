"""Real-time data preprocessing (TFlearn's ``DataPreprocessing`` / ``ImagePreprocessing``).

A pipeline is an ``nn.Module`` placed inside the input layer: it runs at train *and* predict
time on batch tensors in the user's layout (``(N, H, W, C)`` images, ``(N, F)`` features), on
the model's device. Featurewise statistics are learned from the training set by ``fit(X)``
(``DNN.fit`` calls it once) and kept in buffers, so they are saved with the weights.

Each statistic is computed on the data as it arrives at its step (after the steps before it):
``add_image_normalization(); add_featurewise_zero_center()`` gives the mean of ``X / 255``.

Example::

    img_prep = ImagePreprocessing()
    img_prep.add_featurewise_zero_center()
    img_prep.add_featurewise_stdnorm()
    img_prep.fit(X_train)          # (N, 32, 32, 3) numpy array; DNN.fit does this for you
    batch = img_prep(x)            # (batch, 32, 32, 3) tensor
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from deepscope._checks import check_float, check_int, fail
from deepscope.data_utils import _numeric_array, _Text

_EPSILON = 1e-8
# op name -> names of its statistics buffers (learned by fit, or given by the user)
_STATS = {
    "featurewise_zero_center": ("mean",),
    "featurewise_stdnorm": ("std",),
    "zca_whitening": ("zca_mean", "pc"),
}


class DataPreprocessing(nn.Module):
    """Base pipeline: samplewise / featurewise normalization and ZCA whitening.

    Args:
        name: a label for messages and summaries.
    """

    def __init__(self, name: str = "DataPreprocessing"):
        super().__init__()
        self.name = name
        self.ops: list[dict] = []  # [{"op": str, "args": dict}] in the order added
        self._fitted: list[bool] = []  # per op: its statistics are set
        self._given: list[bool] = []  # per op: the user gave the statistics (fit keeps them)

    # ------------------------------------------------------------------ adding steps
    def _add(self, op: str, args: dict, stats: dict | None = None) -> None:
        i = len(self.ops)
        self.ops.append({"op": op, "args": args})
        given = bool(stats) and all(v is not None for v in stats.values())
        for stat, value in (stats or {}).items():
            tensor = torch.empty(0) if value is None else torch.as_tensor(
                np.asarray(value, dtype=np.float32))
            self.register_buffer(f"op{i}_{stat}", tensor)
        self._fitted.append(given or not stats)
        self._given.append(given)

    def add_samplewise_zero_center(self, per_channel: bool = False) -> None:
        """Subtract from each sample its own mean (per channel: per last-axis channel)."""
        self._add("samplewise_zero_center", {"per_channel": bool(per_channel)})

    def add_samplewise_stdnorm(self, per_channel: bool = False) -> None:
        """Divide each sample by its own standard deviation (+1e-8)."""
        self._add("samplewise_stdnorm", {"per_channel": bool(per_channel)})

    def add_featurewise_zero_center(self, mean: Any = None, per_channel: bool = False) -> None:
        """Subtract the training-set mean.

        Args:
            mean: a given mean (number or array broadcastable to one sample); None: learned by
                ``fit``, a scalar over all values (TFlearn) or, with ``per_channel``, one per
                channel (last axis).
            per_channel: learn one mean per channel.
        """
        self._add("featurewise_zero_center", {"per_channel": bool(per_channel)}, {"mean": mean})

    def add_featurewise_stdnorm(self, std: Any = None, per_channel: bool = False) -> None:
        """Divide by the training-set standard deviation (+1e-8); arguments as for the mean."""
        self._add("featurewise_stdnorm", {"per_channel": bool(per_channel)}, {"std": std})

    def add_zca_whitening(self, pc: Any = None, epsilon: float = 1e-5) -> None:
        """ZCA whitening of each flattened sample: ``(x - mean) @ W``.

        ``W = U diag(1 / sqrt(S + epsilon)) U^T`` from the eigendecomposition ``U S U^T`` of the
        training covariance (float64); fine up to a few thousand features (32x32x3 = 3072).

        Args:
            pc: a given whitening matrix ``(F, F)`` (then no mean is subtracted, as TFlearn).
            epsilon: added to the covariance eigenvalues (larger smooths more, e.g. 0.1 for pixels).
        """
        epsilon = check_float(epsilon, "add_zca_whitening epsilon", minimum=0.0)
        zca_mean = None if pc is None else np.zeros(np.shape(pc)[0], dtype=np.float32)
        self._add("zca_whitening", {"epsilon": epsilon}, {"zca_mean": zca_mean, "pc": pc})

    # ------------------------------------------------------------------ state
    @property
    def is_fitted(self) -> bool:
        """True when every featurewise statistic is set (fitted, given or loaded)."""
        return all(self._fitted)

    def _stat_names(self, i: int) -> list[str]:
        return [f"op{i}_{s}" for s in _STATS.get(self.ops[i]["op"], ())]

    def _set_buffer(self, name: str, value: torch.Tensor) -> None:
        old = self._buffers[name]
        self._buffers[name] = value.to(device=old.device, dtype=torch.float32)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Statistics arrive with the weights: size empty placeholders, mark the op fitted.
        for i in range(len(self.ops)):
            names = self._stat_names(i)
            if names and all(prefix + n in state_dict for n in names):
                for n in names:
                    if self._buffers[n].numel() == 0:
                        self._set_buffer(n, torch.zeros(state_dict[prefix + n].shape))
                self._fitted[i] = all(state_dict[prefix + n].numel() > 0 for n in names)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------------ fit
    @torch.no_grad()
    def fit(self, X: Any, chunk_size: int = 2048) -> "DataPreprocessing":
        """Learn the featurewise statistics from the training set, in float64, chunk by chunk.

        Args:
            X: training inputs ``(N, ...)`` in the user's layout (numpy array, list or tensor).
            chunk_size: samples per chunk (bounds the memory used).

        Returns:
            self.
        """
        chunk_size = check_int(chunk_size, f"{self.name}.fit chunk_size")
        if not isinstance(X, (np.ndarray, torch.Tensor)) or (
                isinstance(X, np.ndarray) and X.dtype.kind not in "fiub"):
            X = _numeric_array(X, f"{self.name}.fit X")
        if X.ndim < 2 or len(X) == 0:
            fail(f"{self.name}.fit X", "a non-empty array (n_samples, ...)",
                 _Text(f"an array of shape {tuple(X.shape)}"))
        for i, spec in enumerate(self.ops):
            if spec["op"] not in _STATS or self._given[i]:
                continue
            acc = _Moments() if spec["op"] != "zca_whitening" else _Covariance()
            for start in range(0, len(X), chunk_size):
                chunk = torch.as_tensor(np.asarray(X[start:start + chunk_size])) \
                    if not isinstance(X, torch.Tensor) else X[start:start + chunk_size]
                x = self._run(chunk.detach().to("cpu", torch.float64), upto=i)
                if spec["op"] == "zca_whitening":
                    acc.update(x.reshape(len(x), -1))  # (chunk, F)
                else:
                    k = x.shape[-1] if spec["args"]["per_channel"] else 1
                    acc.update(x.reshape(-1, k))  # (values, channels)
            stats = acc.result(spec["op"], spec["args"])
            for stat, value in stats.items():
                if not bool(torch.isfinite(value).all()):
                    fail(f"{self.name}.fit X", "finite numbers", _Text("NaN or Inf values"),
                         "Clean the data (e.g. numpy.nan_to_num) before training.")
                self._set_buffer(f"op{i}_{stat}", value)
            self._fitted[i] = True
        return self

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply every step in order.

        Args:
            x: a batch ``(batch, ...)`` in the user's layout.

        Returns:
            The preprocessed float batch.
        """
        for i, ok in enumerate(self._fitted):
            if not ok:
                op = self.ops[i]["op"]
                arg = {"featurewise_zero_center": "mean=...", "featurewise_stdnorm": "std=...",
                       "zca_whitening": "pc=..."}[op]
                raise RuntimeError(
                    f"{self.name}: step {i} '{op}' has no statistics yet. Call "
                    f"{type(self).__name__}.fit(X_train) first (DNN.fit does it for you), or "
                    f"pass {arg} to add_{op}(...).")
        if not torch.is_floating_point(x):
            x = x.float()
        return self._run(x, upto=len(self.ops))

    def _run(self, x: torch.Tensor, upto: int) -> torch.Tensor:
        for i, spec in enumerate(self.ops[:upto]):
            x = getattr(self, "_" + spec["op"])(x, i, **spec["args"])
        return x

    def _stat(self, i: int, stat: str, x: torch.Tensor) -> torch.Tensor:
        return self._buffers[f"op{i}_{stat}"].to(device=x.device, dtype=x.dtype)

    @staticmethod
    def _sample_dims(x: torch.Tensor, per_channel: bool, op: str) -> tuple:
        if per_channel and x.ndim < 3:
            fail(op, "inputs with a channel axis (N, ..., C) for per_channel=True",
                 _Text(f"a batch of shape {tuple(x.shape)}"), "Use per_channel=False.")
        return tuple(range(1, x.ndim - 1 if per_channel else x.ndim))

    def _samplewise_zero_center(self, x, i, per_channel):
        dims = self._sample_dims(x, per_channel, "samplewise_zero_center")
        return x - x.mean(dim=dims, keepdim=True)

    def _samplewise_stdnorm(self, x, i, per_channel):
        dims = self._sample_dims(x, per_channel, "samplewise_stdnorm")
        return x / (x.std(dim=dims, keepdim=True, correction=0) + _EPSILON)

    def _featurewise_zero_center(self, x, i, per_channel):
        return x - self._stat(i, "mean", x)

    def _featurewise_stdnorm(self, x, i, per_channel):
        return x / (self._stat(i, "std", x) + _EPSILON)

    def _zca_whitening(self, x, i, epsilon):
        w = self._stat(i, "pc", x)  # (F, F)
        flat = x.reshape(len(x), -1)  # (batch, F)
        if flat.shape[1] != w.shape[0]:
            fail(f"{self.name} zca_whitening", f"samples with {w.shape[0]} values",
                 _Text(f"a batch of shape {tuple(x.shape)}"))
        return ((flat - self._stat(i, "zca_mean", x)) @ w).reshape(x.shape)

    # ------------------------------------------------------------------ config
    def to_config(self) -> dict:
        """JSON-able description: the steps, their arguments and the statistics' shapes."""
        ops = []
        for i, spec in enumerate(self.ops):
            entry = {"op": spec["op"], "args": dict(spec["args"])}
            if spec["op"] in _STATS:
                entry["buffers"] = {n[len(f"op{i}_"):]: list(self._buffers[n].shape)
                                    for n in self._stat_names(i)}
                entry["given"] = self._given[i]
            ops.append(entry)
        return {"class": type(self).__name__, "name": self.name, "ops": ops}

    @classmethod
    def from_config(cls, config: dict) -> "DataPreprocessing":
        """Rebuild a pipeline from ``to_config()``; load the statistics with ``load_state_dict``."""
        klass = _CLASSES.get(config.get("class"), cls)
        obj = klass() if klass is ImagePreprocessing else klass(config.get("name", klass.__name__))
        for i, entry in enumerate(config["ops"]):
            getattr(obj, "add_" + entry["op"])(**entry.get("args", {}))
            for stat, shape in entry.get("buffers", {}).items():
                obj._set_buffer(f"op{i}_{stat}", torch.zeros(shape))
            obj._given[i] = bool(entry.get("given", False))
        return obj

    def extra_repr(self) -> str:
        return ", ".join(f"{s['op']}({', '.join(f'{k}={v}' for k, v in s['args'].items())})"
                         for s in self.ops)


class ImagePreprocessing(DataPreprocessing):
    """Preprocessing for image batches ``(N, H, W, C)``: adds pixel scaling and center crop."""

    def __init__(self):
        super().__init__(name="ImagePreprocessing")

    def add_image_normalization(self) -> None:
        """Scale pixels from 0-255 to 0-1 (divide by 255)."""
        self._add("image_normalization", {})

    def add_crop_center(self, shape: Any) -> None:
        """Crop the center ``(height, width)`` of each image (changes the input shape).

        Args:
            shape: ``(height, width)`` of the crop.
        """
        if not isinstance(shape, (list, tuple)) or len(shape) < 2:
            fail("add_crop_center shape", "(height, width)", shape, error=TypeError)
        h = check_int(shape[0], "add_crop_center shape[0]")
        w = check_int(shape[1], "add_crop_center shape[1]")
        self._add("crop_center", {"shape": [h, w]})

    def resize(self, height, width):
        """TFlearn declares it and raises; so does deepscope, with what to use instead."""
        raise NotImplementedError("ImagePreprocessing.resize is not written in TFlearn either: resize the images "
                                  "when loading them (image_preloader(..., image_shape=(w, h)) or resize_image).")

    def blur(self):
        """TFlearn declares it and raises; so does deepscope, with what to use instead."""
        raise NotImplementedError("ImagePreprocessing.blur is not written in TFlearn either: blur as augmentation "
                                  "with ImageAugmentation().add_random_blur(sigma_max).")

    def _image_normalization(self, x, i):
        return x / 255.0

    def _crop_center(self, x, i, shape):
        h, w = shape
        if x.ndim != 4 or x.shape[1] < h or x.shape[2] < w:
            fail("ImagePreprocessing crop_center", f"images (N, H, W, C) of at least {h}x{w}",
                 _Text(f"a batch of shape {tuple(x.shape)}"))
        top, left = (x.shape[1] - h) // 2, (x.shape[2] - w) // 2
        return x[:, top:top + h, left:left + w]  # (batch, h, w, channels)


_CLASSES = {"DataPreprocessing": DataPreprocessing, "ImagePreprocessing": ImagePreprocessing}


class _Moments:
    """Running count / mean / sum of squared deviations per column (Chan's merge, float64)."""

    def __init__(self):
        self.n, self.mean, self.m2 = 0, None, None

    def update(self, x: torch.Tensor) -> None:  # x: (values, k)
        n_b, mean_b = x.shape[0], x.mean(0)
        m2_b = ((x - mean_b) ** 2).sum(0)
        if self.mean is None:
            self.n, self.mean, self.m2 = n_b, mean_b, m2_b
            return
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n_b / n)
        self.m2 = self.m2 + m2_b + delta ** 2 * (self.n * n_b / n)
        self.n = n

    def result(self, op: str, args: dict) -> dict:
        squeeze = (lambda t: t.reshape(())) if not args["per_channel"] else (lambda t: t)
        if op == "featurewise_zero_center":
            return {"mean": squeeze(self.mean)}
        return {"std": squeeze(torch.sqrt(self.m2 / self.n))}


class _Covariance:
    """Mean and covariance of flattened samples, shifted by the first chunk's mean (float64)."""

    def __init__(self):
        self.n, self.ref, self.s, self.ss = 0, None, None, None

    def update(self, x: torch.Tensor) -> None:  # x: (chunk, F)
        if self.ref is None:
            self.ref = x.mean(0)
            self.s = torch.zeros_like(self.ref)
            self.ss = torch.zeros(x.shape[1], x.shape[1], dtype=x.dtype)
        d = x - self.ref
        self.n += x.shape[0]
        self.s += d.sum(0)
        self.ss += d.T @ d

    def result(self, op: str, args: dict) -> dict:
        shift = self.s / self.n
        cov = self.ss / self.n - torch.outer(shift, shift)  # (F, F)
        vals, vecs = torch.linalg.eigh(cov)
        w = (vecs * (1.0 / torch.sqrt(vals.clamp(min=0) + args["epsilon"]))) @ vecs.T
        return {"zca_mean": self.ref + shift, "pc": w}


class SequencePreprocessing(DataPreprocessing):
    """TFlearn's (empty) sequence preprocessing: the generic ``add_*`` steps of :class:`DataPreprocessing`;
    ``sequence_padding`` was never written in TFlearn and points to ``pad_sequences`` here."""

    def __init__(self):
        super().__init__(name="SequencePreprocessing")

    def sequence_padding(self):
        raise NotImplementedError("SequencePreprocessing.sequence_padding does not exist in TFlearn either: pad the "
                                  "sequences before fit with deepscope.data_utils.pad_sequences(X, maxlen=...).")
