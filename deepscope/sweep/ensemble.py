"""Many small models trained at once: one network, many seeds, one vectorized training run.

::

    def build():
        net = tflearn.input_data(shape=[None, 2])
        net = tflearn.fully_connected(net, 1, activation="sigmoid")
        return tflearn.regression(net, optimizer="sgd", learning_rate=2.0, loss="mean_square")

    result = train_ensemble(build, X, Y, seeds=range(20), n_epoch=2000)
    print(result.summary())              # mean +- std, min, max of each final metric over seeds
    result.models[3].predict(X)          # each model is an ordinary DNN with its trained weights

The N copies' parameters are stacked (``torch.func.stack_module_state``) and every step runs
``vmap(functional_call)`` over the models on the same batch; the loss is the sum of the models'
mean losses, so each model's slice of the gradient is its own gradient. One torch optimizer over
the stacked tensors: elementwise optimizers (SGD, Momentum, Nesterov, Adam, AdamW, RMSProp,
AdaGrad, AdaDelta) and learning-rate schedules then update every model exactly as its own
optimizer would. For small networks a step costs about the same for 1 or N models.

Differences from N separate ``DNN.fit(..., seed=s)`` calls:
- all models see the same data order (shuffled by a generator seeded with ``seeds[0]``), whereas
  separate fits shuffle per seed; only the initialization (and dropout masks) differ per seed;
- no gradient clipping unless ``clip_gradients`` is given (then per model, as ``clip_grad_norm_``);
- networks with batch normalization are refused (running statistics under ``vmap``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .._checks import check_float, check_int, fail
from ..graph import Node
from ..models.dnn import DNN
from ..utils import INFERENCE_BATCH_SIZE, set_seed


class _Objective(nn.Module):
    """``forward(y, *xs) -> (loss, output)`` of one DNN (output: logits when the loss is fused)."""

    def __init__(self, dnn):
        super().__init__()
        self.net = dnn.net  # registered, so functional_call swaps its parameters as "net.<name>"
        self.dnn = [dnn]  # a list: not a submodule

    def forward(self, y, *xs):
        output, loss = self.dnn[0].compute_loss(list(xs), y)
        return loss, output


@dataclass
class EnsembleResult:
    """What :func:`train_ensemble` returns.

    Attributes:
        seeds: the seeds, in model order.
        history: one dict per epoch, metric name -> array ``(n_models,)``.
        final: metric name -> array ``(n_models,)``, evaluated on the trained models (eval mode).
        models: the ``DNN`` of each seed with its trained weights.
    """

    seeds: list[int]
    history: list[dict] = field(default_factory=list)
    final: dict = field(default_factory=dict)
    models: list = field(default_factory=list)

    def summary(self, print_fn=None) -> str:
        """A table: mean +- std, min and max over the models of each final metric."""
        lines = [f"{len(self.seeds)} models (seeds {self.seeds[0]}..{self.seeds[-1]})",
                 f"{'metric':<14}{'mean':>10} {'':>2}{'std':>9}{'min':>10}{'max':>10}"]
        for name, values in self.final.items():
            v = np.asarray(values, dtype=float)
            lines.append(f"{name:<14}{v.mean():>10.4f} +-{v.std():>9.4f}{v.min():>10.4f}{v.max():>10.4f}")
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text


def _signature(dnn) -> list:
    """Names, shapes and dtypes of a DNN's parameters and buffers (equal for stackable models)."""
    return [(kind, name, tuple(t.shape), t.dtype) for kind, items in
            (("parameter", dnn.net.named_parameters()), ("buffer", dnn.net.named_buffers()))
            for name, t in items]


def _build_models(build, seeds, device):
    dnns = []
    for seed in seeds:
        set_seed(seed)
        node = build()
        if not isinstance(node, Node):
            fail("train_ensemble build", "a function returning the output of regression(...)",
                 type(node).__name__, error=TypeError)
        dnn = DNN(node, clip_gradients=None, device=device)
        for module in dnn.net.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                fail("train_ensemble build", "a network without batch_normalization",
                     type(module).__name__, "Train such networks with separate DNN.fit calls (or a Study).")
        if dnns and _signature(dnn) != _signature(dnns[0]):
            fail("train_ensemble build", f"the same architecture for every seed (as for seed {seeds[0]})",
                 f"a different one for seed {seed}", "Make build() independent of the seed.")
        dnns.append(dnn)
    return dnns


def train_ensemble(build, X, Y, seeds, n_epoch=10, batch_size=None, validation_set=None, shuffle=True,
                   show_metric=False, clip_gradients=5.0, device=None) -> EnsembleResult:
    """Train one network for many seeds at once (vectorized with ``torch.func.vmap``).

    Args:
        build: ``build() -> node`` returning ``regression(...)``; called once per seed after
            ``deepscope.set_seed(seed)``, so each model gets its own initialization.
        X, Y: training inputs and targets (as for ``DNN.fit``).
        seeds: the seeds (non-empty, distinct non-negative integers).
        n_epoch: number of epochs.
        batch_size: samples per step (default: ``regression``'s).
        validation_set: ``(X, Y)``: validation loss and metric of every model after every epoch.
        shuffle: shuffle every epoch (one data order for all models, seeded with ``seeds[0]``).
        show_metric: also evaluate the training metric after every epoch (one extra forward pass).
        clip_gradients: clip each model's gradient norm at this value (default 5.0, as ``DNN`` and
            TFlearn; None or 0: no clipping).
        device: as ``DNN(device=...)``.

    Returns:
        An :class:`EnsembleResult`. ``history[e]['loss']`` is the mean batch loss of epoch ``e``
        (training mode); ``val_*`` / the training metric come from evaluation passes.
    """
    seeds = [check_int(s, "train_ensemble seeds", minimum=0) for s in seeds]
    if not seeds:
        fail("train_ensemble seeds", "at least one seed", seeds, "Give e.g. seeds=range(10).")
    if len(set(seeds)) != len(seeds):
        fail("train_ensemble seeds", "distinct seeds", seeds)
    n_epoch = check_int(n_epoch, "train_ensemble n_epoch", minimum=1)
    clip_gradients = None if not clip_gradients else check_float(
        clip_gradients, "train_ensemble clip_gradients", minimum=0.0, min_inclusive=False)
    if not callable(build):
        fail("train_ensemble build", "a function build() -> the output of regression(...), called once per seed",
             type(build).__name__, "Wrap the network in a function: train_ensemble(lambda: my_network(), X, Y, seeds)"
             if type(build).__name__ == "Node" else "", error=TypeError)
    dnns = _build_models(build, seeds, device)
    first = dnns[0]
    batch_size = check_int(batch_size if batch_size is not None else first.config.batch_size,
                           "train_ensemble batch_size", minimum=1)
    xs, y = first.prepare_data(X, Y, "train_ensemble X", "train_ensemble Y")
    validation = None
    if validation_set is not None:
        if not (isinstance(validation_set, (tuple, list)) and len(validation_set) == 2):
            fail("train_ensemble validation_set", "(X, Y)", type(validation_set).__name__, error=TypeError)
        validation = first.prepare_data(*validation_set, "train_ensemble validation_set[0] (X)",
                                        "train_ensemble validation_set[1] (Y)")
    for dnn in dnns:
        dnn.fit_preprocessing(xs)  # featurewise statistics, identical for every model

    params, buffers = stack_module_state([d.net for d in dnns])  # each (n_models, *shape)
    objective = _Objective(first)

    def one_model(p, b, y_batch, *x_batch):
        state = {**{"net." + k: v for k, v in p.items()}, **{"net." + k: v for k, v in b.items()}}
        return functional_call(objective, state, (y_batch, *x_batch))

    n_in = len(xs)
    forward = vmap(one_model, in_dims=(0, 0, None) + (None,) * n_in, randomness="different")
    trainable = [p for p in params.values() if p.requires_grad]
    n = y.shape[0]
    batch_size = min(batch_size, n)
    steps = -(-n // batch_size)
    optimizer, scheduler = first.config.build_optimizer().build(trainable, steps * n_epoch)

    set_seed(seeds[0])  # dropout masks and data order: reproducible for a given list of seeds
    order_gen = torch.Generator().manual_seed(seeds[0])
    result = EnsembleResult(seeds=seeds, models=dnns)
    epoch_losses = []  # (n_models,) device tensors; synced once at the end
    first.net.train()
    for _ in range(n_epoch):
        total = torch.zeros(len(dnns), device=y.device)
        order = torch.randperm(n, generator=order_gen).to(y.device) if shuffle else None
        for start in range(0, n, batch_size):
            if order is None and steps == 1:
                xb, yb = xs, y  # full batch: no copy
            elif order is None:
                xb, yb = [x[start:start + batch_size] for x in xs], y[start:start + batch_size]
            else:
                idx = order[start:start + batch_size]
                xb, yb = [x[idx] for x in xs], y[idx]
            losses, _ = forward(params, buffers, yb, *xb)  # (n_models,)
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()  # each model's slice of the gradient is its own
            if clip_gradients is not None:
                _clip_per_model(trainable, clip_gradients)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            total += losses.detach() * yb.shape[0]
        epoch_losses.append(total / n)
        logs = {}
        if show_metric or validation is not None:
            first.net.eval()
            if show_metric:
                logs.update(_evaluate(forward, params, buffers, dnns, xs, y, ""))
            if validation is not None:
                logs.update(_evaluate(forward, params, buffers, dnns, *validation, "val_"))
            first.net.train()
        result.history.append(logs)
    for logs, loss in zip(result.history, torch.stack(epoch_losses).cpu().numpy()):
        logs["loss"] = loss
    first.net.eval()
    result.final = _evaluate(forward, params, buffers, dnns, xs, y, "")
    if validation is not None:
        result.final.update(_evaluate(forward, params, buffers, dnns, *validation, "val_"))
    _write_back(dnns, params, buffers)
    return result


def _clip_per_model(trainable, max_norm: float) -> None:
    """Scale each model's gradient (its slice along dim 0) to norm <= ``max_norm``."""
    grads = [p.grad for p in trainable if p.grad is not None]
    norms = torch.stack([g.reshape(g.shape[0], -1).pow(2).sum(1) for g in grads]).sum(0).sqrt()  # (n_models,)
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.reshape(-1, *([1] * (g.dim() - 1))))


@torch.no_grad()
def _evaluate(forward, params, buffers, dnns, xs, y, prefix: str, chunk: int = INFERENCE_BATCH_SIZE) -> dict:
    """Loss and metric of every model on ``(xs, y)`` in chunks; metric name -> array ``(n_models,)``."""
    n = y.shape[0]
    total = torch.zeros(len(dnns), device=y.device)
    metrics = [d.metric for d in dnns]
    for m in metrics:
        if m is not None:
            m.reset()
    for start in range(0, n, chunk):
        xb, yb = [x[start:start + chunk] for x in xs], y[start:start + chunk]
        losses, outputs = forward(params, buffers, yb, *xb)  # (n_models,), (n_models, chunk, ...)
        total += losses * yb.shape[0]
        for dnn, m, out in zip(dnns, metrics, outputs):
            if m is not None:
                m.update(dnn.activate(out), yb)
    out = {prefix + "loss": (total / n).cpu().numpy()}
    if metrics[0] is not None:
        out[prefix + metrics[0].name] = np.array([float(m.compute()) for m in metrics])
    return out


@torch.no_grad()
def _write_back(dnns, params, buffers) -> None:
    """Copy each model's slice of the stacked tensors into its own DNN's network."""
    for i, dnn in enumerate(dnns):
        for name, t in (*dnn.net.named_parameters(), *dnn.net.named_buffers()):
            t.copy_((params if name in params else buffers)[name][i])
