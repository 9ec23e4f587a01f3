"""The NaN/Inf guard: stop training at the first non-finite loss or gradient, before it reaches the weights.

Cheap by design. On CPU each step reads two scalars (the loss and the global gradient norm that
gradient clipping computes anyway) before the optimizer step: a few microseconds. On an accelerator
no host synchronisation is added per step: the flag is accumulated on the device, fused optimizers
receive it as ``found_inf`` (so a non-finite step is skipped on the device), and the flag is read at
epoch end and before every checkpoint.
"""
from __future__ import annotations

import math

import torch

MODES = ("stop", "rollback")


class NonFiniteError(FloatingPointError):
    """Training produced a NaN or Inf loss or gradient. ``step`` is the first bad step."""

    def __init__(self, message: str, step: int, tensor: str | None = None):
        super().__init__(message)
        self.step = step
        self.tensor = tensor


class NaNGuard:
    """Watches the loss and the gradients of one training run.

    Args:
        dnn: the ``DNN`` (network, optimizer, learning rate for messages).
        params: the trainable parameters (the optimizer's).
        device: where training runs.
    """

    def __init__(self, dnn, params, device: torch.device):
        self.dnn = dnn
        self.params = params
        self.sync_free = device.type != "cpu"
        self.bad = None  # device flag (accelerators): 1 once a non-finite value was seen
        self.first_bad_step = None  # device tensor: the first bad step (accelerators)
        if self.sync_free:
            self.bad = torch.zeros((), device=device)
            self.first_bad_step = torch.zeros((), dtype=torch.long, device=device)
            if getattr(dnn.optimizer, "defaults", {}).get("fused"):
                dnn.optimizer.found_inf = self.bad  # fused kernels skip the update while it is 1

    def check_step(self, loss: torch.Tensor, grad_norm: torch.Tensor | None, step: int) -> None:
        """Called after backward (and clipping), before the optimizer step of step ``step``."""
        if self.bad is not None:  # accelerator: accumulate, no sync
            if grad_norm is None:
                grad_norm = _grad_norm(self.params)
            now = (~torch.isfinite(loss.detach() + grad_norm)).float()
            self.first_bad_step.copy_(torch.where((self.bad == 0) & (now > 0),
                                                  torch.full_like(self.first_bad_step, step), self.first_bad_step))
            self.bad.copy_(torch.maximum(self.bad, now))
            return
        if not math.isfinite(loss.item()):
            self.fail(step, loss)
        if grad_norm is None:
            grad_norm = _grad_norm(self.params)
        if grad_norm is not None and not math.isfinite(grad_norm.item()):
            self.fail(step, loss)

    def check_now(self, fallback_step: int) -> None:
        """Read the device flag (epoch end, before a checkpoint); raise if a step was non-finite."""
        if self.bad is not None and bool(self.bad):
            self.fail(int(self.first_bad_step), None, approximate=fallback_step)

    def close(self) -> None:
        if self.bad is not None and getattr(self.dnn.optimizer, "found_inf", None) is self.bad:
            del self.dnn.optimizer.found_inf

    def fail(self, step: int, loss: torch.Tensor | None, approximate: int | None = None):
        """Raise ``NonFiniteError`` naming the step, the first non-finite tensor and likely causes."""
        loss_text = "" if loss is None else f"loss = {loss.item()}"
        tensor = first_non_finite(self.dnn.net)
        lr = None
        if self.dnn.optimizer is not None:
            lr = self.dnn.optimizer.param_groups[0].get("lr")
        causes = ["the learning rate is too high" + (f" (now {lr:g})" if isinstance(lr, float) else "")
                  + ": try a 10x smaller learning_rate",
                  "gradients explode: keep DNN(clip_gradients=5.0) on, add batch_normalization",
                  "a log or division of zero in a custom loss or layer (use the built-in losses: they "
                  "compute from logits)",
                  "inputs with huge values: scale the data (e.g. featurewise standardization)"]
        where = f"first non-finite tensor: {tensor}" if tensor else (
            f"loss is non-finite ({loss_text}) while every parameter and gradient is finite" if loss_text
            else "first non-finite tensor: unknown")
        message = (f"training stopped at step {step}: a non-finite (NaN/Inf) loss or gradient. {where}. "
                   f"The weights are those before step {step}; checkpoints on disk are untouched. "
                   "Likely causes: " + "; ".join(causes) + ". fit(nan_guard='rollback') goes back to the "
                   "last checkpoint with half the learning rate.")
        raise NonFiniteError(message, step, tensor)


def _grad_norm(params) -> torch.Tensor | None:
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return None
    norms = torch._foreach_norm(grads)
    return torch.stack(norms).sum() if len(norms) > 1 else norms[0]


def first_non_finite(net: torch.nn.Module) -> str | None:
    """``"layer 'fc1' parameter 'W' gradient (3 of 200 values NaN/Inf)"`` for the first parameter
    (in network order) whose gradient or value is not finite, else None."""
    names = _layer_names(net)
    for kind in ("value", "gradient"):
        for name, p in net.named_parameters():
            t = p if kind == "value" else p.grad
            if t is None:
                continue
            bad = ~torch.isfinite(t.detach())
            if bool(bad.any()):
                module, _, attr = name.rpartition(".")
                layer = names.get(module, module or type(net).__name__)
                return (f"layer '{layer}' parameter '{attr}' {kind} "
                        f"({int(bad.sum())} of {t.numel()} values NaN/Inf)")
    return None


def _layer_names(net) -> dict[str, str]:
    """Module path -> the layer's name in the graph (when the network is a deepscope Network)."""
    out = {}
    for node in getattr(net, "nodes", []) or []:
        module = getattr(node, "module", None)
        if module is None:
            continue
        for path, m in net.named_modules():
            if m is module:
                out[path] = node.name
                break
    return out
