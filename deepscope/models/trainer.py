"""The training loop: short, readable, and free of per-step host synchronisation.

One step is ``forward -> loss (+ L1/L2) -> backward -> clip -> optimizer step``. Data lives on
the model's device; batches are taken by tensor indexing; the loss is summed on the device and
read once per epoch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import fail
from ..callbacks.base import CallbackList, TrainingState
from .fit_state import EpochPosition, FitSettings
from .. import losses
from ..layers.core import Dense
from ..network import Network


class Loop:
    """The training loop, written once, for one model (:class:`Trainer`) or a stack of models trained
    together (``sweep/stack_training.StackTrainer``): epochs, resumed epochs, batches, steps, the loss sum,
    callbacks, snapshots, checkpoints and stopping. A learner fills in what differs (the hooks below).

    Attributes a learner sets: ``state`` (the ``TrainingState`` whose ``epoch``/``step`` the loop
    counts), ``settings`` (``FitSettings``), ``resume`` (an ``EpochPosition`` or None),
    ``checkpointer`` (with ``due(step)``, ``save(...)``, ``due_after_epoch(state)``, ``finish(state)``;
    or None), ``parallel`` (torchrun group or None), ``stop_at_step`` (or None) and
    ``has_batch_events``.
    """

    resume = None
    checkpointer = None
    parallel = None
    stop_at_step = None
    has_batch_events = False

    # -- the hooks a learner fills in --------------------------------------------------------
    def fire(self, event: str, **kwargs) -> None:
        """Call the callbacks' ``event``."""

    def epoch_order(self, epoch: int):
        """This epoch's sample order (None: in order)."""

    def batches(self, order, start: int = 0):
        """Yield ``(xs, y)`` batches of the epoch from the ``start``-th."""
        raise NotImplementedError

    def train_step(self, xs, y):
        """One optimizer step: ``(detached loss, output)``."""
        raise NotImplementedError

    def begin_epoch(self, fresh: bool) -> None:
        """Before an epoch's first batch (``fresh``: not a resumed epoch)."""

    def update_metrics(self, output, y) -> None:
        """Add a batch to the running training metric."""

    def snapshot(self) -> None:
        """``snapshot_step``: validate now."""

    def end_epoch(self, loss_sum, steps: int) -> None:
        """The epoch's logs, ``on_epoch_end``."""

    def end_training(self) -> None:
        """After the last epoch (or an interruption): ``on_train_end``."""

    # -- the loop -----------------------------------------------------------------------------
    def run(self, n_epoch: int) -> None:
        """Train ``n_epoch`` epochs (a resumed epoch counts as one)."""
        state = self.state
        batch_events = self.has_batch_events
        snapshot_step = self.settings.snapshot_step
        checkpointer = self.checkpointer
        self.fire("on_train_begin")
        try:
            resume, self.resume = self.resume, None
            for _ in range(n_epoch):
                if state.stop_training:
                    break
                if resume is not None:  # continue the epoch a checkpoint was written in
                    order, start, loss_sum = resume.order, resume.batches_done, resume.loss_sum
                else:
                    state.epoch += 1
                    order, start, loss_sum = self.epoch_order(state.epoch), 0, None
                steps = start
                self.begin_epoch(fresh=resume is None)
                resume = None
                for index, (xs, y) in enumerate(self.batches(order, start), start):
                    state.batch_index = index
                    if batch_events:
                        self.fire("on_batch_begin")
                    if self.parallel is not None:  # torchrun: this process's rows of the batch
                        xs, y = self.parallel.share(xs, y)
                    loss, output = self.train_step(xs, y)
                    loss_sum = loss if loss_sum is None else loss_sum + loss
                    steps += 1
                    state.step += 1
                    state.batch_loss = loss
                    self.update_metrics(output, y)
                    snapshot = bool(snapshot_step) and state.step % snapshot_step == 0
                    if snapshot:
                        self.snapshot()
                    if batch_events:
                        self.fire("on_batch_end", snapshot=snapshot)
                    if checkpointer is not None and checkpointer.due(state.step):
                        checkpointer.save(state, order, index + 1, loss_sum)
                        self.fire("on_checkpoint")
                    if self.stop_at_step is not None and state.step >= self.stop_at_step:
                        state.stop_training = True
                    if state.stop_training:
                        break
                self.end_epoch(loss_sum, steps)
                if checkpointer is not None and checkpointer.due_after_epoch(state):
                    checkpointer.save(state, None, state.steps_per_epoch, None, epoch_finished=True)
                    self.fire("on_checkpoint")
            if checkpointer is not None and checkpointer.finish(state):
                self.fire("on_checkpoint")
        finally:
            self.end_training()


class Trainer(Loop):
    """Runs the epochs of one ``DNN.fit``; subclass it and override :meth:`train_step` to change
    what one step does (``model.fit(X, Y, trainer=MyTrainer)``), as with Keras' ``train_step``.

    Args:
        dnn: the ``DNN`` (holds the network, loss, metric, optimizer and scheduler).
        xs: training inputs (one tensor per input layer), on the device.
        y: training targets, on the device.
        settings: the fit's ``FitSettings`` (batch size, shuffling, snapshots, ...).
        callbacks: ``CallbackList`` (None: no callbacks).
        state: the ``TrainingState`` shared with callbacks (None: a fresh one).
        validation: ``(xs, y)`` or None.
        data_seed: seeds every epoch's sample order (``data_seed + epoch``).
        resume: the ``EpochPosition`` to continue an interrupted epoch from, or None.
        guard: the NaN/Inf guard (``models/guard.py``) or None.
        checkpointer: the training-checkpoint writer (``models/checkpoint.py``) or None.
        parallel: the torchrun process group (``models/distributed.py``) or None.
        stop_at_step: the global step to stop after (``fit(max_steps=...)``), or None.
    """

    def __init__(self, dnn, xs, y, settings: FitSettings, callbacks: CallbackList | None = None,
                 state: TrainingState | None = None, *, validation=None, data_seed: int = 0,
                 resume: EpochPosition | None = None, guard=None, checkpointer=None, parallel=None,
                 stop_at_step: int | None = None):
        self.dnn = dnn
        self.xs, self.y = xs, y
        self.n = y.shape[0]
        self.settings = settings
        self.batch_size = min(settings.batch_size, self.n)
        self.full_batch = self.batch_size >= self.n
        # drop_last: every epoch ends at the last full batch (the rest of the samples is not used that epoch)
        self.end = self.n - self.n % self.batch_size if settings.drop_last else self.n
        self.shuffle = settings.shuffle and not self.full_batch  # one full batch: order does not matter
        self.callbacks = callbacks if callbacks is not None else CallbackList([])
        self.state = state if state is not None else TrainingState(
            model=dnn, n_epoch=settings.n_epoch, steps_per_epoch=settings.steps_per_epoch,
            batch_size=self.batch_size, n_samples=self.n)
        self.validation = validation
        self.show_metric = settings.show_metric and dnn.metric is not None
        self.metric = dnn.metric if self.show_metric else None
        self.has_batch_events = self.callbacks.has_batch_events
        self.data_seed = data_seed
        self.resume = resume
        self.guard, self.checkpointer, self.parallel = guard, checkpointer, parallel
        self.stop_at_step = stop_at_step
        self.params = dnn.trainable_parameters()
        self.subset = dnn.trains_subset  # regression(trainable_vars=...): gradients for those only
        self.optimizer_step = unhooked_step(dnn.optimizer)
        if self.optimizer_step is not dnn.optimizer.step:  # what torch's step wrapper records (else the
            dnn.optimizer._opt_called = True  # LR scheduler warns that it runs before the first step)
        # fast paths (each measured in BENCHMARKS.md; tests/test_fast_paths.py checks they match the plain path)
        self.fold_clip = folds_grad_scale(dnn.optimizer)  # the clip's multiply runs inside the fused step
        # tiny Dense networks: gradients without autograd (only for small steps: no gain from batch x weights
        # of about 5M up, the MLP at batch 128; slightly slower at batch 2000). Never under a subclass: its
        # train_step (or anything else it overrides) must run as written.
        small = self.batch_size * sum(p.numel() for p in self.params) <= DenseChain.MAX_STEP_SIZE
        self.dense_chain = DenseChain.build(dnn) if small and type(self) is Trainer and not self.subset else None

    # -- one step (the extension point) -----------------------------------------------------
    def train_step(self, xs: list[torch.Tensor], y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One optimizer step on a batch. Override it to change training (call the helpers below).

        Args:
            xs: the batch's inputs, one tensor per input layer.
            y: the batch's targets.

        Returns:
            ``(loss, output)``: the detached loss, and the output as ``dnn.compute_loss`` returns it
            (logits when the loss is fused: ``dnn.activate`` turns them into the activated output).
        """
        if self.dense_chain is not None:
            output, loss = self.dense_chain.loss_and_grads(xs[0], y)
        else:
            output, loss = self.dnn.compute_loss(xs, y)
            self.zero_grad()
            loss.backward(inputs=self.params if self.subset else None)
        self.apply_gradients(loss)
        return loss.detach(), output

    def zero_grad(self) -> None:
        """Drop the trainable parameters' gradients (``zero_grad(set_to_none=True)`` without its dispatch)."""
        for p in self.params:
            p.grad = None

    def apply_gradients(self, loss: torch.Tensor) -> None:
        """Everything after ``backward``: average over torchrun processes, clip (TFlearn's
        ``clip_gradients``), check for NaN/Inf, take the optimizer step, step the schedule.

        Args:
            loss: the step's loss (the NaN guard checks it).
        """
        dnn = self.dnn
        if self.parallel is not None:  # torchrun: the whole batch's gradient
            self.parallel.average_gradients(self.params)
        grad_norm = None
        if dnn.clip_gradients:
            grad_norm = clip_grad_norm(self.params, dnn.clip_gradients, dnn.optimizer if self.fold_clip else None)
        self.state.grad_norm = grad_norm
        if self.guard is not None:  # NaN/Inf guard: before the step, so bad values never reach the weights
            self.guard.check_step(loss, grad_norm, self.state.step + 1)
        self.optimizer_step()
        if dnn.scheduler is not None:
            dnn.scheduler.step()

    # -- the loop's hooks (``Loop.run``) ---------------------------------------------------------
    def fire(self, event: str, **kwargs) -> None:
        self.callbacks.fire(event, self.state, **kwargs)

    def begin_epoch(self, fresh: bool) -> None:
        net = self.dnn.net
        if not net.training:  # (validation switches to eval mode)
            net.train()
        self.fire("on_epoch_begin")
        if self.metric is not None and fresh:
            self.metric.reset()

    def update_metrics(self, output, y) -> None:
        if self.metric is not None:
            self.metric.update(self.dnn.activate(output), y)

    def snapshot(self) -> None:
        self.dnn.snapshot(self.state, self.validation, self.settings.validation_batch_size)

    def end_epoch(self, loss_sum, steps: int) -> None:
        state = self.state
        if self.guard is not None:
            self.guard.check_now(state.step)
        if self.parallel is not None and loss_sum is not None:
            loss_sum = self.parallel.mean(loss_sum)
        logs = {"loss": float(loss_sum) / steps} if steps else {}
        if self.metric is not None:
            logs[self.metric.name] = self.metric.compute()
        state.epoch_logs = logs
        if self.settings.snapshot_epoch:
            self.snapshot()
        state.history.append(state.epoch_logs)
        self.fire("on_epoch_end")

    def end_training(self) -> None:
        self.dnn.net.eval()
        self.fire("on_train_end")

    def epoch_order(self, epoch: int) -> torch.Tensor | None:
        """This epoch's sample permutation (None: no shuffling), from a generator seeded with
        ``data_seed + epoch``, so a resumed run draws the same order (stored in checkpoints too)."""
        if not self.shuffle:
            return None
        generator = torch.Generator().manual_seed(self.data_seed + epoch)
        return torch.randperm(self.n, generator=generator).to(self.y.device)

    def batches(self, order: torch.Tensor | None = None, start: int = 0):
        """Yield ``(xs, y)`` batches by tensor indexing (no per-sample collation).

        Args:
            order: the epoch's permutation of the samples (None: in order).
            start: the first batch (a resumed epoch skips the ``start`` batches already done).
        """
        if self.full_batch:
            if start == 0:
                yield self.xs, self.y
            return
        n, bs = self.end, self.batch_size
        if order is not None:
            for begin in range(start * bs, n, bs):
                idx = order[begin:begin + bs]
                yield [x.index_select(0, idx) for x in self.xs], self.y.index_select(0, idx)
        else:
            for begin in range(start * bs, n, bs):
                yield [x[begin:begin + bs] for x in self.xs], self.y[begin:begin + bs]


def trainer_type(trainer, where: str = "fit trainer") -> type:
    """``fit(trainer=...)`` / ``lr_find(trainer=...)``: None (the default ``Trainer``) or a subclass."""
    if trainer is None:
        return Trainer
    if isinstance(trainer, type) and issubclass(trainer, Trainer):
        return trainer
    fail(where, "a subclass of deepscope.models.Trainer (the class, not an instance)",
         type(trainer).__name__ if not isinstance(trainer, type) else trainer.__name__, error=TypeError,
         fix="Write `class MyTrainer(Trainer): def train_step(self, xs, y): ...` and pass trainer=MyTrainer.")


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
def clip_grad_norm(params: list[torch.Tensor], max_norm: float, fused_optimizer=None) -> torch.Tensor | None:
    """Scale gradients so their global L2 norm is at most ``max_norm`` (TensorFlow's
    ``clip_by_global_norm``), with foreach kernels and no host synchronisation.

    ``torch.nn.utils.clip_grad_norm_`` does the same with several layers of dispatch that cost
    about 200 us per call, which dominated the step time of small networks.

    Args:
        params: the parameters whose ``.grad`` to clip.
        max_norm: the largest global norm.
        fused_optimizer: a fused torch optimizer (see :func:`folds_grad_scale`): instead of
            multiplying the gradients, set its ``grad_scale`` (the AMP unscale hook), so its next
            ``step`` divides them by ``max(1, norm / max_norm)`` inside the fused kernel.

    Returns:
        The global gradient norm before clipping (a 0-dim tensor), or None without gradients.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return None
    norms = torch._foreach_norm(grads)
    total = torch.linalg.vector_norm(torch.stack(norms)) if len(norms) > 1 else norms[0]
    if fused_optimizer is not None:
        fused_optimizer.grad_scale = torch.clamp((total + 1e-6) / max_norm, min=1.0)
    else:
        torch._foreach_mul_(grads, torch.clamp(max_norm / (total + 1e-6), max=1.0))
    return total


def folds_grad_scale(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``optimizer`` is one of torch's fused optimizers, whose step divides every gradient
    by ``optimizer.grad_scale`` when set (the hook ``GradScaler`` uses to unscale in the kernel).

    Gradient clipping then costs no separate multiply over the gradients (see BENCHMARKS.md).
    """
    return (type(optimizer) in (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW, torch.optim.Adagrad)
            and all(group.get("fused") for group in optimizer.param_groups))


class DenseChain:
    """The small-model path: analytic gradients for a plain chain of ``fully_connected`` layers.

    For tiny networks (the OR net: 3 weights) a step is almost all fixed overhead, and the largest
    piece is autograd's (building the graph, then ``backward``: about 100 us on a 2-core CPU).
    For a chain of Dense layers with linear / sigmoid / tanh / relu activations and a mean-square,
    fused softmax cross-entropy or fused sigmoid cross-entropy loss, the gradients are a few
    matrix products, computed here directly (same math as autograd; tests compare them).

    ``build`` returns None (the plain autograd path is used) for anything else: other layers,
    dropout, L1/L2 penalties, frozen layers, hooks, non-float32 inputs.
    """

    ACTIVATIONS = (nn.Identity, nn.Sigmoid, nn.Tanh, nn.ReLU)
    LOSSES = ("mean_square", "categorical_crossentropy", "binary_crossentropy")
    MAX_STEP_SIZE = 2 ** 21  # batch size x number of weights

    def __init__(self, layers, loss_name: str, fused: bool):
        self.layers = layers
        self.loss_name = loss_name
        self.fused = fused

    @classmethod
    def build(cls, dnn) -> "DenseChain | None":
        net = dnn.net
        if (not isinstance(net, Network) or not net._is_chain or dnn.has_penalties or dnn.autocast_dtype is not None
                or getattr(dnn, "compile", False)):  # (compile=True: the user asked for torch.compile's forward)
            return None
        layers = net._chain
        if not layers or any(type(m) is not Dense for m in layers):
            return None
        applied = layers[:-1] if dnn.fused else layers  # (a fused loss takes the last layer's logits)
        if any(type(m.activation) not in cls.ACTIVATIONS for m in applied):
            return None
        loss_name = getattr(dnn.loss, "name", None)
        if loss_name not in cls.LOSSES or (loss_name != "mean_square") != dnn.fused:
            return None
        if type(dnn.loss).__call__ is not _loss_call(loss_name):
            return None  # a subclass with its own formula
        if any(getattr(type(dnn), name).__qualname__ != f"DNN.{name}" for name in ("compute_loss", "activate")):
            return None  # a DNN subclass with its own loss: only the general path honours it
        if _has_hooks(net):
            return None
        for m in layers:
            if not m.weight.requires_grad or (m.bias is not None and not m.bias.requires_grad):
                return None
            if m.weight.dtype != torch.float32 or (m.bias is not None and m.bias.dtype != torch.float32):
                return None
        if len(net.inputs) != 1 or len(net.inputs[0].shape) != 2:
            return None
        return cls(layers, loss_name, dnn.fused)

    @torch.no_grad()
    def loss_and_grads(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward, loss, and every parameter's ``.grad`` (replaced, as zero_grad(set_to_none)).

        Returns:
            ``(output, loss)`` as ``DNN.compute_loss`` (logits when the loss is fused).
        """
        if x.dtype != torch.float32:
            x = x.float()
        inputs, outputs = [], []
        h = x
        last = len(self.layers) - 1
        for i, m in enumerate(self.layers):  # forward, keeping each layer's input and output
            inputs.append(h)
            z = torch.addmm(m.bias, h, m.weight.t()) if m.bias is not None else h.mm(m.weight.t())
            h = z if (i == last and self.fused) else _activate(m.activation, z)
            outputs.append(h)
        out = h
        if self.loss_name == "mean_square":
            yt = y if y.dtype == out.dtype else y.to(out.dtype)
            if yt.shape != out.shape:
                yt = yt.reshape(out.shape)
            diff = out - yt
            loss = diff.square().mean()
            grad = diff.mul_(2.0 / diff.numel())  # d loss / d out
            grad = _activation_grad(self.layers[last].activation, outputs[last], grad)
        elif self.loss_name == "binary_crossentropy":
            yt = y if y.dtype == out.dtype else y.to(out.dtype)
            if yt.shape != out.shape:
                yt = yt.reshape(out.shape)
            loss = F.binary_cross_entropy_with_logits(out, yt)
            grad = torch.sigmoid(out).sub_(yt).div_(out.numel())
        else:  # categorical cross-entropy from logits
            probs = torch.softmax(out, dim=1)
            if y.shape == out.shape:  # probabilities / one-hot rows
                yt = y if y.dtype == out.dtype else y.to(out.dtype)
                loss = F.cross_entropy(out, yt)
                grad = probs.mul_(yt.sum(1, keepdim=True)).sub_(yt)
            else:  # class indices
                yi = y.reshape(-1).long()
                loss = F.cross_entropy(out, yi)
                grad = probs
                grad[torch.arange(grad.shape[0], device=grad.device), yi] -= 1.0
            grad = grad.div_(out.shape[0])
        for i in range(last, -1, -1):  # backward: grad is d loss / d (layer i's pre-activation)
            m = self.layers[i]
            m.weight.grad = grad.t().mm(inputs[i])
            if m.bias is not None:
                m.bias.grad = grad.sum(0)
            if i:
                grad = _activation_grad(self.layers[i - 1].activation, outputs[i - 1], grad.mm(m.weight))
        return out, loss


def _activate(activation: nn.Module, z: torch.Tensor) -> torch.Tensor:
    kind = type(activation)
    if kind is nn.Sigmoid:
        return torch.sigmoid(z)
    if kind is nn.Tanh:
        return torch.tanh(z)
    if kind is nn.ReLU:
        return torch.relu(z)
    return z


def _activation_grad(activation: nn.Module, out: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """d loss / d pre-activation from d loss / d ``out`` (the activation's output)."""
    kind = type(activation)
    if kind is nn.Sigmoid:
        return grad * out * (1.0 - out)
    if kind is nn.Tanh:
        return grad * (1.0 - out * out)
    if kind is nn.ReLU:
        return grad * (out > 0)
    return grad


def _loss_call(name: str):
    return {"mean_square": losses.MeanSquare, "categorical_crossentropy": losses.CategoricalCrossentropy,
            "binary_crossentropy": losses.BinaryCrossentropy}[name].__call__


def _has_hooks(net: nn.Module) -> bool:
    from torch.nn.modules import module as module_globals

    if any(len(getattr(module_globals, name, ())) for name in (
            "_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
            "_global_backward_pre_hooks")):
        return True
    for m in net.modules():
        if m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks:
            return True
    return any(getattr(p, "_backward_hooks", None) or getattr(p, "_post_accumulate_grad_hooks", None)
               for p in net.parameters())
