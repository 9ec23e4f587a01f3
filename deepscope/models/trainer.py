"""The training loop: short, readable, and free of per-step host synchronisation.

One step is ``forward -> loss (+ L1/L2) -> backward -> clip -> optimizer step``. Data lives on
the model's device; batches are taken by tensor indexing; the loss is summed on the device and
read once per epoch.
"""
from __future__ import annotations

import math

import torch

from ..callbacks.base import CallbackList, TrainingState


class Trainer:
    """Runs the epochs of one ``DNN.fit``.

    Args:
        dnn: the ``DNN`` (holds the network, loss, metric, optimizer and scheduler).
        xs: training inputs (one tensor per input layer), on the device.
        y: training targets, on the device.
        batch_size: samples per step (>= the data size means full-batch descent).
        shuffle: reshuffle the samples every epoch.
        callbacks: ``CallbackList``.
        state: the ``TrainingState`` shared with callbacks.
        validation: ``(xs, y)`` or None.
        show_metric: compute the training metric every epoch.
        snapshot_epoch / snapshot_step: when to validate and checkpoint (TFlearn's meaning).
    """

    def __init__(self, dnn, xs, y, batch_size, shuffle, callbacks: CallbackList, state: TrainingState,
                 validation=None, show_metric=False, snapshot_epoch=True, snapshot_step=None):
        self.dnn = dnn
        self.xs, self.y = xs, y
        self.n = y.shape[0]
        self.batch_size = min(batch_size, self.n)
        self.full_batch = self.batch_size >= self.n
        self.shuffle = shuffle and not self.full_batch  # one full batch: order does not matter
        self.callbacks = callbacks
        self.state = state
        self.validation = validation
        self.show_metric = show_metric
        self.snapshot_epoch = snapshot_epoch
        self.snapshot_step = snapshot_step
        self.params = [p for p in dnn.net.parameters() if p.requires_grad]
        self.optimizer_step = unhooked_step(dnn.optimizer)

    # -- one step ---------------------------------------------------------------------------
    def train_step(self, xs, y) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One optimizer step on a batch; returns the (detached) loss and the activated output."""
        dnn = self.dnn
        output, loss = dnn.compute_loss(xs, y)
        for p in self.params:  # zero_grad(set_to_none=True) without its dispatch overhead
            p.grad = None
        loss.backward()
        if dnn.clip_gradients:
            clip_grad_norm(self.params, dnn.clip_gradients)
        self.optimizer_step()
        if dnn.scheduler is not None:
            dnn.scheduler.step()
        return loss.detach(), output

    # -- epochs -----------------------------------------------------------------------------
    def run(self, n_epoch: int) -> None:
        state, fire = self.state, self.callbacks.fire
        net = self.dnn.net
        metric = self.dnn.metric if self.show_metric else None
        batch_events = self.callbacks.has_batch_events
        fire("on_train_begin", state)
        try:
            for _ in range(n_epoch):
                if state.stop_training:
                    break
                state.epoch += 1
                if not net.training:  # (validation switches to eval mode)
                    net.train()
                fire("on_epoch_begin", state)
                if metric is not None:
                    metric.reset()
                loss_sum, steps = None, 0
                for index, (xs, y) in enumerate(self.batches()):
                    state.batch_index = index
                    if batch_events:
                        fire("on_batch_begin", state)
                    loss, output = self.train_step(xs, y)
                    loss_sum = loss if loss_sum is None else loss_sum + loss
                    steps += 1
                    state.step += 1
                    state.batch_loss = loss
                    if metric is not None:
                        metric.update(self.dnn.activate(output), y)
                    snapshot = bool(self.snapshot_step) and state.step % self.snapshot_step == 0
                    if snapshot:
                        self.dnn.snapshot(state, self.validation)
                    if batch_events:
                        fire("on_batch_end", state, snapshot=snapshot)
                    if state.stop_training:
                        break
                logs = {"loss": float(loss_sum) / steps} if steps else {}
                if metric is not None:
                    logs[metric.name] = metric.compute()
                state.epoch_logs = logs
                if self.snapshot_epoch:
                    self.dnn.snapshot(state, self.validation)
                state.history.append(state.epoch_logs)
                fire("on_epoch_end", state)
        finally:
            net.eval()
            fire("on_train_end", state)

    def batches(self):
        """Yield ``(xs, y)`` batches by tensor indexing (no per-sample collation)."""
        if self.full_batch:
            yield self.xs, self.y
            return
        n, bs = self.n, self.batch_size
        if self.shuffle:
            order = torch.randperm(n, device=self.y.device)
            for start in range(0, n, bs):
                idx = order[start:start + bs]
                yield [x.index_select(0, idx) for x in self.xs], self.y.index_select(0, idx)
        else:
            for start in range(0, n, bs):
                yield [x[start:start + bs] for x in self.xs], self.y[start:start + bs]


def steps_per_epoch(n: int, batch_size: int) -> int:
    return math.ceil(n / min(batch_size, n))


def unhooked_step(optimizer: torch.optim.Optimizer):
    """``optimizer.step`` without torch's profiling wrapper when no step hooks are registered.

    ``torch.optim`` wraps every ``step`` in a function that runs hooks and opens two profiler
    ranges, about 30 us per step: most of the step time of a tiny network. With no hooks
    registered the unwrapped step does the same update.
    """
    from torch.optim import optimizer as optim_module

    hooks = (getattr(optimizer, "_optimizer_step_pre_hooks", None), getattr(optimizer, "_optimizer_step_post_hooks", None),
             getattr(optim_module, "_global_optimizer_pre_hooks", None),
             getattr(optim_module, "_global_optimizer_post_hooks", None))
    raw = getattr(type(optimizer).step, "__wrapped__", None)
    if raw is None or any(h is None or len(h) for h in hooks):
        return optimizer.step
    return raw.__get__(optimizer)


@torch.no_grad()
def clip_grad_norm(params: list[torch.Tensor], max_norm: float) -> None:
    """Scale gradients so their global L2 norm is at most ``max_norm`` (TensorFlow's
    ``clip_by_global_norm``), with foreach kernels and no host synchronisation.

    ``torch.nn.utils.clip_grad_norm_`` does the same with several layers of dispatch that cost
    about 200 us per call, which dominated the step time of small networks.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    norms = torch._foreach_norm(grads)
    total = torch.linalg.vector_norm(torch.stack(norms)) if len(norms) > 1 else norms[0]
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    torch._foreach_mul_(grads, scale)
