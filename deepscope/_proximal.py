"""Two TensorFlow optimizers torch does not have, as ``torch.optim.Optimizer`` classes: FTRL-Proximal
(McMahan et al. 2013) and proximal AdaGrad, with TensorFlow's update rules (``ApplyFtrl``,
``ApplyProximalAdagrad``), so TFlearn's ``Ftrl`` and ``ProximalAdaGrad`` train the same way. Small exact
code: no maintained PyTorch library provides them."""
from __future__ import annotations

import torch


class _Accumulating(torch.optim.Optimizer):
    """The step both share: each parameter with a gradient, its squared-gradient accumulator ``n`` started at
    ``initial_accumulator_value``; subclasses write ``_update(w, g, state, group)``."""

    @torch.no_grad()
    def step(self, closure=None):
        loss = None if closure is None else torch.enable_grad()(closure)()
        for group in self.param_groups:
            for w in group["params"]:
                if w.grad is None:
                    continue
                state = self.state[w]
                if not state:
                    state["accumulator"] = torch.full_like(w, group["initial_accumulator_value"])
                self._update(w, w.grad, state, group)
        return loss

    def _update(self, w, g, state, group) -> None:
        raise NotImplementedError


class FtrlProximal(_Accumulating):
    """FTRL-Proximal, TensorFlow's ``ApplyFtrl`` per element::

        n' = n + g^2;  z += g - (n'^-p - n^-p) / lr * w;  n = n'
        w = (sign(z) * l1 - z) / (n^-p / lr + 2 * l2)  where |z| > l1, else 0

    Args:
        params: parameters or groups.
        lr: learning rate.
        lr_power: ``p`` (TensorFlow's ``learning_rate_power``, <= 0; -0.5 is the usual square root).
        initial_accumulator_value: the starting ``n`` (> 0).
        l1, l2: regularization strengths (>= 0).
    """

    def __init__(self, params, lr: float = 3.0, lr_power: float = -0.5, initial_accumulator_value: float = 0.1,
                 l1: float = 0.0, l2: float = 0.0):
        super().__init__(params, dict(lr=lr, lr_power=lr_power, initial_accumulator_value=initial_accumulator_value,
                                      l1=l1, l2=l2))

    def _update(self, w, g, state, group) -> None:
        lr, power, l1, l2 = group["lr"], -group["lr_power"], group["l1"], group["l2"]
        n = state["accumulator"]
        z = state.setdefault("linear", torch.zeros_like(w))
        n_new = n + g * g
        z.add_(g - (n_new.pow(power) - n.pow(power)) / lr * w)
        n.copy_(n_new)
        quadratic = n.pow(power) / lr + 2 * l2
        w.copy_(torch.where(z.abs() > l1, (torch.sign(z) * l1 - z) / quadratic, torch.zeros_like(w)))


class ProximalAdagrad(_Accumulating):
    """Proximal AdaGrad, TensorFlow's ``ApplyProximalAdagrad`` per element::

        n += g^2;  v = w - lr * g / sqrt(n);  w = sign(v) / (1 + lr * l2) * max(|v| - lr * l1, 0)

    Args:
        params: parameters or groups.
        lr: learning rate.
        initial_accumulator_value: the starting ``n`` (> 0).
        l1, l2: regularization strengths (>= 0; TFlearn passes 0).
    """

    def __init__(self, params, lr: float = 0.001, initial_accumulator_value: float = 0.1, l1: float = 0.0,
                 l2: float = 0.0):
        super().__init__(params, dict(lr=lr, initial_accumulator_value=initial_accumulator_value, l1=l1, l2=l2))

    def _update(self, w, g, state, group) -> None:
        lr, l1, l2 = group["lr"], group["l1"], group["l2"]
        n = state["accumulator"]
        n.addcmul_(g, g)
        v = w - lr * g / n.sqrt()
        w.copy_(torch.sign(v) / (1 + lr * l2) * (v.abs() - lr * l1).clamp_min(0.0))
