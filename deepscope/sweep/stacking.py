"""Many models of one architecture trained at once, each as its own ``DNN.fit`` would train it.

A *stack* is a list of :class:`Member` models (one per study trial, or per seed of an ensemble) built
by the same code, differing only in values the stack carries as tensors over the model axis:

- the initialization (each model is built after ``set_seed(seed)``, with its own ``weights_init``);
- the L1/L2 factor of every layer (``weight_decay``), the dropout rate (``keep_prob``) and the
  learning rate (``regression(learning_rate=...)``); every other argument must be equal;
- the data order: each model sees its batches in the order its own ``DNN.fit`` would (the fit's data
  seed is drawn the same way), so models with the same seed share batches.

Results equal separate ``DNN.fit(..., run_id=...)`` calls within floating-point tolerance (tests in
``tests/test_stacking.py``: histories, weights, per-model gradient clipping, learning rates, L2 per
layer, a diverging model), except **dropout masks**, which come from another random stream (same
distribution, other draws).

Two engines compute the stacked forward pass (autograd does the backward for both):

- **dense**: chains of ``fully_connected`` layers, element-wise activations and dropout. Layer 1 is
  one matrix product per data order (``(B, in) @ (in, K * out)`` for the K models sharing batches),
  the rest batched products (``baddbmm``): the arithmetic a hand-written stack does.
- **vmap**: any other network without batch normalization, ``vmap(functional_call)`` over the models
  (dropout rates must then be equal within the stack; no per-step unit statistics).

Per-model learning rates: SGD, Momentum and Nesterov scale each model's gradient by ``lr_m / lr_0``
(their updates are linear in the gradient); other optimizers step with ``lr_0`` and then rescale
each model's update by ``lr_m / lr_0`` (every built-in optimizer's update is proportional to lr).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from ..callbacks.base import TrainingState
from ..callbacks.run_logger import RunLogger
from ..diagnostics import recorder as recordermod
from ..diagnostics.findings import Finding
from ..layers.core import Dense
from .. import losses, regularizers
from .._checks import fail
from ..models.data import validation_split
from ..models.dnn import DNN
from ..models.fit_state import FitSettings
from ..models.serialization import describe_network
from ..network import Network
from ..utils import INFERENCE_BATCH_SIZE

#: arguments a stack carries per model (everything else in the network's description must be equal)
PER_MODEL_ARGUMENTS = ("weights_init", "bias_init", "weight_decay", "keep_prob", "learning_rate")
#: element-wise activations without parameters (the dense engine applies them to (models, batch, units))
ELEMENTWISE = (nn.Identity, nn.ReLU, nn.Sigmoid, nn.Tanh, nn.ELU, nn.LeakyReLU, nn.ReLU6, nn.SELU,
               nn.Softplus, nn.Softsign, nn.GELU, nn.SiLU, nn.Hardtanh)
#: optimizers whose update is linear in the gradient (a per-model lr becomes a gradient scale)
LINEAR_IN_GRADIENT = ("SGD", "Momentum", "Nesterov")
#: stacks are split so that their parameters, gradients, optimizer state and activations stay below this
STACK_BYTES = 2 * 1024 ** 3


@dataclass
class Member:
    """One model of a stack.

    Attributes:
        dnn: the model (its network holds the trained weights afterwards).
        data_seed: the seed of its data order (as ``DNN.fit`` draws it).
        run_id: its run folder's name (None: no run folder).
        history: its epoch logs after training (as ``dnn.history``).
        failed: why it stopped (a non-finite loss or gradient), else None.
        failed_step: the step it stopped at, else None.
        seconds: its share of the stack's training time.
    """

    dnn: DNN
    data_seed: int
    run_id: str | None = None
    history: list = field(default_factory=list)
    failed: str | None = None
    failed_step: int | None = None
    seconds: float = 0.0
    records: list = field(default_factory=list)


def new_member(dnn: DNN, run_id: str | None = None) -> Member:
    """A member for ``dnn``, drawing its data seed now, exactly where ``DNN.fit`` would (call it right
    after building the model from a freshly seeded generator, as a study's trial does)."""
    return Member(dnn, dnn._data_seed(), run_id)


# -- which models can share a stack ------------------------------------------------------------
def stack_key(dnn: DNN) -> tuple[str | None, str]:
    """``(key, engine)``: models with equal keys train in one stack; key None with the reason in
    place of the engine when the model cannot be stacked."""
    net = dnn.net
    if not isinstance(net, Network):
        return None, "a custom nn.Module (stacking needs a network of deepscope layers)"
    if dnn.targets is not None:
        return None, "several regression layers"
    if dnn.trains_subset:
        return None, "regression(trainable_vars=...)"
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            return None, "batch normalization (running statistics of each model under vmap)"
    if any(not p.requires_grad for p in net.parameters()):
        return None, "frozen layers (trainable=False)"
    if any(not p.is_floating_point() for p in net.parameters()):
        return None, "non-float parameters"
    try:
        description = describe_network(dnn)
    except (ValueError, TypeError) as error:
        return None, f"the network cannot be described ({error})"
    engine = "dense" if dense_chain(dnn) is not None else "vmap"
    for node in description["nodes"]:
        args = node.get("args", {})
        optimizer = args.get("optimizer")
        if isinstance(optimizer, dict) and isinstance(optimizer.get("__config__"), dict):
            args["optimizer"] = {**optimizer, "__config__": {k: v for k, v in optimizer["__config__"].items()
                                                             if k != "learning_rate"}}
        keep = ("keep_prob",) if engine == "vmap" else ()  # the vmap engine runs the first model's dropout
        node["args"] = {k: v for k, v in args.items() if k not in PER_MODEL_ARGUMENTS or k in keep}
    signature = [(name, tuple(t.shape), str(t.dtype)) for name, t in
                 (*net.named_parameters(), *net.named_buffers())]
    key = json.dumps([description, signature, dnn.clip_gradients, str(dnn.device), str(dnn.autocast_dtype)],
                     sort_keys=True, default=repr)
    return key, engine


def dense_chain(dnn: DNN) -> list | None:
    """The chain's modules (Dense and Dropout) when the dense engine can run it, else None."""
    net = dnn.net
    if not net._is_chain or len(net.inputs) != 1 or len(net.inputs[0].shape) != 2:
        return None
    chain = net._chain
    if not chain or type(chain[-1]) is not Dense:
        return None
    for i, module in enumerate(chain):
        if type(module) is nn.Dropout:
            continue
        if type(module) is not Dense or module.weight.dim() != 2:
            return None
        last = i == len(chain) - 1
        if not isinstance(module.activation, ELEMENTWISE) and not (last and isinstance(module.activation, nn.Softmax)):
            return None
    if any(m._forward_hooks or m._forward_pre_hooks for m in net.modules()):
        return None
    return chain


def learning_rate(dnn: DNN) -> float:
    return float(dnn.config.build_optimizer().learning_rate)


# -- training -----------------------------------------------------------------------------------
class Stack:
    """The stacked parameters of ``members`` (all with one stack key) and their forward pass.

    Args:
        members: the models, in any order (they are grouped by data seed here).
        engine: ``'dense'`` or ``'vmap'`` (from :func:`stack_key`).
    """

    def __init__(self, members: list[Member], engine: str):
        seeds = sorted({m.data_seed for m in members}, key=[m.data_seed for m in members].index)
        self.members = [m for s in seeds for m in members if m.data_seed == s]  # grouped by data order
        self.data_seeds = seeds
        self.group_of = torch.tensor([seeds.index(m.data_seed) for m in self.members])
        sizes = [int((self.group_of == g).sum()) for g in range(len(seeds))]
        self.group_size = sizes[0] if len(set(sizes)) == 1 else None  # equal groups: one GEMM per group
        self.engine = engine
        self.first = self.members[0].dnn
        nets = [m.dnn.net for m in self.members]
        self.params, self.buffers = stack_module_state(nets)  # name -> (M, *shape), leaves
        self.trainable = list(self.params.values())
        self.n = len(self.members)
        device = self.trainable[0].device
        self.device = device
        names = {id(p): name for name, p in self.first.net.named_parameters()}
        modules = {id(m): name for name, m in self.first.net.named_modules()}
        # L1/L2 terms: (stacked parameter name, regularizer, factors (M,)), in the network's order
        self.penalties = []
        for entries in zip(*[m.dnn.net._penalties for m in self.members]):
            module, param_name, regularizer, _ = entries[0]
            name = f"{modules[id(module)]}.{param_name}" if modules[id(module)] else param_name
            factors = torch.tensor([float(e[3]) for e in entries], device=device)
            self.penalties.append((name, regularizer, factors))
        self.layer_of_penalty = [modules[id(e[0])] for e in self.first.net._penalties]
        self.lrs = torch.tensor([learning_rate(m.dnn) for m in self.members], device=device)
        self.lr_factor = None if bool((self.lrs == self.lrs[0]).all()) else self.lrs / self.lrs[0]
        self.fused = self.first.fused
        self.loss_fn = self.first.loss.from_logits if self.fused else self.first.loss
        self.batched_loss = vmap(lambda out, y: self.loss_fn(out, y))
        if engine == "dense":
            self.chain = dense_chain(self.first)
            self.chain_names = [modules[id(m)] for m in self.chain]
            self.keep = [torch.tensor([1.0 - float(dict(m.dnn.net.named_modules())[name].p) for m in self.members],
                                      device=device) if type(module) is nn.Dropout else None
                         for name, module in zip(self.chain_names, self.chain)]
        else:
            self.objective = _DataLoss(self.first)

            def one_model(p, b, y, *xs):
                state = {**{"net." + k: v for k, v in p.items()}, **{"net." + k: v for k, v in b.items()}}
                return functional_call(self.objective, state, (y, *xs))
            self.one_model = one_model
        self.unit_stats = None  # set to a dict during a diagnostic step (dense engine)
        self.grad_sq: dict[str, torch.Tensor] = {}  # the last step's squared gradient norms (clip sets them)

    # -- forward ----------------------------------------------------------------------------
    def outputs(self, xs: list[torch.Tensor], per_group: bool, training: bool) -> torch.Tensor:
        """The models' outputs (logits when the loss is fused), ``(M, B, ...)``.

        Args:
            xs: inputs, ``(G, B, ...)`` per data group when ``per_group``, else ``(B, ...)`` for all.
            training: dropout on.
        """
        autocast = self.first.autocast_dtype
        if autocast is not None:
            with torch.autocast(self.device.type, dtype=autocast):
                return self._outputs(xs, per_group, training).float()
        return self._outputs(xs, per_group, training)

    def _outputs(self, xs, per_group, training):
        if self.engine == "vmap":
            self.first.net.train(training)
            x_models = [x[self.group_of.to(x.device)] if per_group else x for x in xs]
            in_dims = (0, 0) + ((0,) if per_group else (None,)) * len(xs)
            run = vmap(lambda p, b, *x: self.one_model(p, b, None, *x)[1], in_dims=in_dims, randomness="different")
            return run(self.params, self.buffers, *x_models)
        return self._dense(xs[0], per_group, training)

    def _dense(self, x: torch.Tensor, per_group: bool, training: bool) -> torch.Tensor:
        """The dense engine: ``(M, B, out)``."""
        if x.dtype != torch.float32:
            x = x.float()
        h = None
        m_count = self.n
        for index, (name, module) in enumerate(zip(self.chain_names, self.chain)):
            if type(module) is nn.Dropout:
                keep = self.keep[index]
                if training and bool((keep < 1).any()):
                    mask = torch.rand_like(h) < keep.view(-1, 1, 1)
                    h = h * mask / keep.view(-1, 1, 1)
                continue
            weight = self.params[f"{name}.weight"]  # (M, out, in)
            bias = self.params.get(f"{name}.bias")  # (M, out)
            out_features = weight.shape[1]
            if h is None:  # layer 1: one product per data group, the models side by side
                if per_group and self.group_size is not None:
                    groups, k = len(self.data_seeds), self.group_size
                    w = weight.reshape(groups, k * out_features, -1).transpose(1, 2)  # (G, in, K*out)
                    z = torch.bmm(x, w)  # (G, B, K*out)
                    if bias is not None:
                        z = z + bias.reshape(groups, 1, k * out_features)
                    b = x.shape[1]
                    z = z.reshape(groups, b, k, out_features).transpose(1, 2).reshape(m_count, b, out_features)
                elif per_group:  # unequal groups: each model's own copy of its group's batch
                    xm = x[self.group_of.to(x.device)]  # (M, B, in)
                    z = torch.bmm(xm, weight.transpose(1, 2))
                    if bias is not None:
                        z = z + bias.unsqueeze(1)
                else:  # the same inputs for every model (evaluation)
                    z = x @ weight.reshape(m_count * out_features, -1).t()  # (B, M*out)
                    if bias is not None:
                        z = z + bias.reshape(1, -1)
                    z = z.reshape(x.shape[0], m_count, out_features).transpose(0, 1)
            else:
                z = (torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2)) if bias is not None
                     else torch.bmm(h, weight.transpose(1, 2)))  # (M, B, out)
            last = index == len(self.chain) - 1
            if last and self.fused:
                h = z
            elif isinstance(module.activation, nn.Softmax):
                h = torch.softmax(z, dim=-1)
            else:
                h = module.activation(z)
            if self.unit_stats is not None and not last and module.activation_name not in recordermod.NOT_MONITORED:
                self.unit_stats[name] = _unit_values(h, module.activation_name)
        return h

    def penalty_terms(self) -> list[torch.Tensor]:
        """Each L1/L2 term, ``(M,)`` per term (network order); TFlearn's L1/L2 directly, others under vmap."""
        terms = []
        for name, regularizer, factors in self.penalties:
            w = self.params[name]
            dims = tuple(range(1, w.dim()))
            if regularizer is regularizers.L2:
                terms.append(w.square().sum(dims) * (factors / 2.0))
            elif regularizer is regularizers.L1:
                terms.append(w.abs().sum(dims) * factors)
            else:
                terms.append(vmap(regularizer)(w, factors))
        return terms

    def data_losses(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Each model's loss, ``(M,)``, from outputs ``(M, B, ...)`` and targets ``(M, B, ...)``. A fused
        categorical cross-entropy (the usual classifier) in one call; any other loss under vmap."""
        if self.fused and type(self.first.loss) is losses.CategoricalCrossentropy and out.dim() == 3 and (
                y.shape == out.shape or (y.shape == out.shape[:2] and not y.is_floating_point())):
            m, b, c = out.shape
            target = y.reshape(m * b, c).to(out.dtype) if y.shape == out.shape else y.reshape(m * b).long()
            return F.cross_entropy(out.reshape(m * b, c), target, reduction="none").view(m, b).mean(1)
        return self.batched_loss(out, y)

    def losses(self, xs, y, per_group: bool, training: bool):
        """``(loss (M,), data loss (M,), penalty terms, outputs)``: the models' losses on one batch."""
        out = self.outputs(xs, per_group, training)
        index = self.group_of.to(y.device) if per_group else torch.zeros(self.n, dtype=torch.long, device=y.device)
        y = (y if per_group else y.unsqueeze(0))[index]  # (M, B, ...)
        data = self.data_losses(out, y)
        terms = self.penalty_terms()
        loss = data
        for term in terms:
            loss = loss + term
        return loss, data, terms, out

    # -- optimizer helpers ------------------------------------------------------------------
    def clip(self, max_norm: float | None) -> torch.Tensor:
        """Each model's global gradient norm (before clipping), ``(M,)``; clipped at ``max_norm``."""
        self.grad_sq = {name: torch.linalg.vector_norm(p.grad.reshape(self.n, -1), dim=1).square()
                        for name, p in self.params.items() if p.grad is not None}  # per tensor, (M,)
        grads = [p.grad for p in self.trainable if p.grad is not None]
        norms = torch.stack(list(self.grad_sq.values())).sum(0).sqrt()
        if max_norm:
            scale = torch.clamp(max_norm / (norms + 1e-6), max=1.0)
            for g in grads:
                g.mul_(scale.reshape(-1, *([1] * (g.dim() - 1))))
        return norms

    def scale_grads(self, factor: torch.Tensor) -> None:
        for p in self.trainable:
            if p.grad is not None:
                p.grad.mul_(factor.reshape(-1, *([1] * (p.dim() - 1))))

    @torch.no_grad()
    def write_back(self) -> None:
        """Copy each model's slice into its own network."""
        for i, member in enumerate(self.members):
            for name, t in (*member.dnn.net.named_parameters(), *member.dnn.net.named_buffers()):
                t.copy_((self.params if name in self.params else self.buffers)[name][i])


class _DataLoss(nn.Module):
    """``forward(y, *xs) -> (data loss, output)`` of one DNN, without its L1/L2 terms (the stack adds
    those with each model's factors). ``y`` None: the loss is not computed."""

    def __init__(self, dnn):
        super().__init__()
        self.net = dnn.net
        self.fused = dnn.fused
        self.loss = [dnn.loss]

    def forward(self, y, *xs):
        output = self.net.logits(*xs) if self.fused else self.net(*xs)
        if y is None:
            return None, output
        loss = self.loss[0].from_logits(output, y) if self.fused else self.loss[0](output, y)
        return loss, output


def _unit_values(h: torch.Tensor, activation: str | None) -> torch.Tensor:
    """Per model and unit: the maximum over the batch (dead units) or the saturated fraction, ``(M, units)``."""
    h = h.detach()
    if activation in recordermod.BOUNDED:
        near = (h > recordermod.SATURATION) | (h < 1 - recordermod.SATURATION) if activation == "sigmoid" \
            else h.abs() > recordermod.SATURATION
        return near.float().mean(1)
    return h.amax(1).float()


def _norms(t: torch.Tensor, n: int) -> torch.Tensor:
    """The L2 norm of each model's slice, ``(M,)`` (one pass, no temporaries)."""
    return torch.linalg.vector_norm(t.reshape(n, -1), dim=1)


def stack_groups(members: list[Member]) -> tuple[list[tuple[list[Member], str]], list[tuple[Member, str]]]:
    """Group members by stack key. Returns ``(stacks, singles)``: ``(members, engine)`` per stack of two
    or more (split to stay under :data:`STACK_BYTES`), and ``(member, reason)`` for the others."""
    keyed: dict[str, list[Member]] = {}
    engines: dict[str, str] = {}
    singles = []
    for member in members:
        key, engine = stack_key(member.dnn)
        if key is None:
            singles.append((member, engine))
            continue
        keyed.setdefault(key, []).append(member)
        engines[key] = engine
    stacks = []
    for key, group in keyed.items():
        if len(group) == 1:
            singles.append((group[0], "no other trial with the same architecture and settings"))
            continue
        size = max(2, STACK_BYTES // max(1, _bytes_per_model(group[0].dnn)))
        for start in range(0, len(group), size):
            part = group[start:start + size]
            if len(part) == 1:
                singles.append((part[0], "the last model of a split stack"))
            else:
                stacks.append((part, engines[key]))
    return stacks, singles


def _bytes_per_model(dnn: DNN, batch: int = 256) -> int:
    params = sum(p.numel() for p in dnn.net.parameters())
    units = sum(int(math.prod(n.shape[1:])) for n in getattr(dnn.net, "nodes", []) if n.shape)
    return 4 * (5 * params + 3 * batch * units)


@dataclass
class StackFit:
    """What each model's ``DNN.fit`` would have been asked (``Fit`` and ``train_ensemble`` fill it)."""

    X: object
    Y: object
    n_epoch: int = 10
    validation_set: object = None
    batch_size: int | None = None
    shuffle: bool | None = None
    show_metric: bool = False
    max_steps: int | None = None
    drop_last: bool = False
    diagnostics: object = True


def train_stack(members: list[Member], engine: str, fit: StackFit, write_runs: bool = True) -> Stack:
    """Train ``members`` together as their own ``DNN.fit(...)`` calls would (see the module doc).

    Each member gets its ``history``, ``failed`` (non-finite loss or gradient: that model stops
    counting, the others go on), its trained weights in ``member.dnn``, ``dnn.diagnosis`` and, when
    ``write_runs`` and it has a ``run_id``, a run folder like a fit's (metrics, TensorBoard, model,
    ``steps.csv`` and ``diagnosis.json``).

    Returns:
        The :class:`Stack` (its ``members`` are grouped by data order).
    """
    started = time.perf_counter()
    stack = Stack(members, engine)
    first = stack.first
    xs, y = first.prepare_data(fit.X, fit.Y, "fit X_inputs", "fit Y_targets")
    validation = None
    if isinstance(fit.validation_set, (float, int)) and not isinstance(fit.validation_set, bool):
        n_val = validation_split(fit.validation_set, y.shape[0])  # the trailing samples, as fit holds out
        validation = ([x[-n_val:] for x in xs], y[-n_val:])
        xs, y = [x[:-n_val] for x in xs], y[:-n_val]
    elif fit.validation_set is not None:
        if not (isinstance(fit.validation_set, (tuple, list)) and len(fit.validation_set) == 2):
            fail("fit validation_set", "(X, Y) or a fraction such as 0.1", type(fit.validation_set).__name__,
                 error=TypeError)
        validation = first.prepare_data(fit.validation_set[0], fit.validation_set[1],
                                        "fit validation_set[0] (X)", "fit validation_set[1] (Y)")
    n = y.shape[0]
    settings = FitSettings.check(n, fit.n_epoch, first.config.batch_size if fit.batch_size is None else fit.batch_size,
                                 first.config.shuffle_batches if fit.shuffle is None else fit.shuffle, fit.show_metric,
                                 True, None, fit.drop_last, fit.max_steps, first.config.validation_batch_size)
    for member in stack.members:
        member.dnn.fit_preprocessing(xs)
        member.dnn.validation_batch_size = settings.validation_batch_size
    if any(getattr(node.module, "preprocessing", None) is not None for node in first.net.inputs):
        stack.params, stack.buffers = stack_module_state([m.dnn.net for m in stack.members])
        stack.trainable = list(stack.params.values())
    optimizer, scheduler = first.config.build_optimizer().build(stack.trainable, settings.total_steps)
    diagnostics = recordermod.settings_from(fit.diagnostics)
    recorder = _StackRecorder(stack, diagnostics, settings.total_steps) if diagnostics is not None else None
    batch = settings.batch_size
    full_batch = batch >= n
    shuffle = settings.shuffle and not full_batch
    end = n - n % batch if settings.drop_last else n
    linear = type(first.config.build_optimizer()).__name__ in LINEAR_IN_GRADIENT
    clip = first.clip_gradients or None
    alive = torch.ones(stack.n, dtype=torch.bool, device=stack.device)
    first_bad = torch.zeros(stack.n, dtype=torch.long, device=stack.device)
    histories = [[] for _ in stack.members]
    metric_name = first.metric.name if first.metric is not None else None
    step = epoch = 0
    stop_at = settings.max_steps
    for net in (m.dnn.net for m in stack.members):
        net.train()
    first.net.train()
    for _ in range(settings.n_epoch):
        epoch += 1
        orders = [torch.randperm(n, generator=torch.Generator().manual_seed(s + epoch)).to(y.device)
                  for s in stack.data_seeds] if shuffle else None
        loss_sum = torch.zeros(stack.n, device=stack.device)
        steps = 0
        train_metrics = [_fresh(m.dnn.metric) for m in stack.members] if settings.show_metric and metric_name else None
        for begin in range(0, end, batch):
            if orders is None:
                xb = [x[begin:begin + batch].unsqueeze(0).expand(len(stack.data_seeds), *x[begin:begin + batch].shape)
                      for x in xs]
                yb = y[begin:begin + batch].unsqueeze(0).expand(len(stack.data_seeds), *y[begin:begin + batch].shape)
            else:
                idx = [o[begin:begin + batch] for o in orders]
                xb = [torch.stack([x.index_select(0, i) for i in idx]) for x in xs]  # (G, B, ...)
                yb = torch.stack([y.index_select(0, i) for i in idx])
            step += 1
            record = recorder is not None and recorder.due(step)
            if record:
                recorder.before(step)
            loss, data, terms, out = stack.losses(xb, yb, True, True)
            for p in stack.trainable:
                p.grad = None
            loss.sum().backward()  # each model's slice of every gradient is its own
            norms = stack.clip(clip)
            finite = torch.isfinite(loss.detach()) & torch.isfinite(norms)
            first_bad = torch.where(alive & ~finite, torch.full_like(first_bad, step), first_bad)
            alive = alive & finite
            if stack.lr_factor is not None and linear:
                stack.scale_grads(stack.lr_factor)
            before = [p.detach().clone() for p in stack.trainable] if stack.lr_factor is not None and not linear else None
            optimizer.step()
            if before is not None:  # rescale each model's update by lr_m / lr_0
                with torch.no_grad():
                    for p, b in zip(stack.trainable, before):
                        p.copy_(b + (p - b) * stack.lr_factor.reshape(-1, *([1] * (p.dim() - 1))))
            if scheduler is not None:
                scheduler.step()
            loss_sum += torch.where(alive, loss.detach(), torch.zeros_like(loss))
            steps += 1
            if train_metrics is not None:
                _update_metrics(stack, train_metrics, out.detach(), yb)
            if record:
                recorder.after(step, epoch, loss.detach(), data.detach(), [t.detach() for t in terms], norms)
            if stop_at is not None and step >= stop_at:
                break
        values = (loss_sum / max(steps, 1)).tolist()
        logs = [{"loss": v} for v in values]
        if train_metrics is not None:
            for entry, metric in zip(logs, train_metrics):
                entry[metric_name] = metric.compute()
        if validation is not None:
            val_loss, val_metric = evaluate_stack(stack, *validation, settings.validation_batch_size)
            for i, entry in enumerate(logs):
                entry["val_loss"] = val_loss[i]
                if val_metric is not None:
                    entry["val_" + metric_name] = val_metric[i]
        for history, entry in zip(histories, logs):
            history.append(entry)
        if stop_at is not None and step >= stop_at:
            break
    stack.write_back()
    bad_steps = first_bad.tolist()
    alive_now = alive.tolist()
    seconds = (time.perf_counter() - started) / stack.n
    for i, member in enumerate(stack.members):
        dnn = member.dnn
        dnn.net.eval()
        member.seconds = seconds
        if not alive_now[i]:
            member.failed_step = bad_steps[i]
            member.failed = (f"training stopped at step {bad_steps[i]}: a non-finite (NaN/Inf) loss or gradient "
                             "(a vectorized trial: this model stopped there, the others went on). Likely causes: "
                             "a too high learning rate, exploding gradients (keep clip_gradients on), a custom "
                             "loss dividing by zero.")
            member.history = histories[i][:(bad_steps[i] - 1) // settings.steps_per_epoch]
        else:
            member.history = histories[i]
        dnn.history = list(member.history)
        dnn.step, dnn.epoch = (step, epoch) if alive_now[i] else (bad_steps[i] - 1, len(member.history))
        if recorder is not None and i == 0:
            recorder.read()
        if recorder is not None:
            member.records = recorder.records_of(i, None if alive_now[i] else bad_steps[i])
        _finish_member(member, settings, xs, n, diagnostics, write_runs, fit)
    return stack


def _finish_member(member: Member, settings: FitSettings, xs, n: int, diagnostics, write_runs: bool, fit: StackFit):
    """The member's diagnosis and run folder, as its own fit would leave them."""
    dnn = member.dnn
    state = TrainingState(model=dnn, n_epoch=settings.n_epoch, steps_per_epoch=settings.steps_per_epoch,
                          batch_size=settings.batch_size, n_samples=n, epoch=dnn.epoch, step=dnn.step)
    state.history = list(member.history)
    state.epoch_logs = dict(member.history[-1]) if member.history else {}
    logger = None
    if write_runs and member.run_id is not None:
        logger = RunLogger(dnn, member.run_id, {**dnn.run_config(settings, fit.validation_set, n), "vectorized": True})
        state.run = dnn.last_run = logger.run
        logger.on_train_begin(state)
        step_of_epoch = settings.steps_per_epoch
        for e, logs in enumerate(member.history, 1):
            epoch_state = TrainingState(model=dnn, n_epoch=settings.n_epoch, steps_per_epoch=step_of_epoch,
                                        batch_size=settings.batch_size, n_samples=n, epoch=e,
                                        step=min(e * step_of_epoch, dnn.step))
            epoch_state.epoch_logs = logs
            logger.on_epoch_end(epoch_state)
    if diagnostics is not None:
        probe = [x.index_select(0, recordermod.probe_indices(n, diagnostics.probe_size).to(x.device)) for x in xs]
        fit_diagnostics = recordermod.FitDiagnostics(diagnostics, dnn, probe, settings.total_steps, n,
                                                     settings.batch_size, settings.drop_last,
                                                     writer_fn=logger.get_writer if logger else None)
        fit_diagnostics.records = member.records
        dnn.diagnosis = fit_diagnostics.diagnosis = fit_diagnostics.finish(state)
        if member.failed is not None:  # first, as a fit stopped by its NaN guard reports it
            dnn.diagnosis.findings.insert(0, Finding(
                "non_finite", "error", member.failed[0].upper() + member.failed[1:],
                ["a lower learning rate", "gradient clipping (DNN(clip_gradients=5.0))"], step=member.failed_step))
        if logger is not None:
            fit_diagnostics.write(logger.run.path)
    if logger is not None:
        logger.on_train_end(state)


def _fresh(metric):
    if metric is not None:
        metric.reset()
    return metric


def _update_metrics(stack: Stack, metrics: list, out: torch.Tensor, yb: torch.Tensor) -> None:
    y_models = yb[stack.group_of.to(yb.device)]
    for i, (member, metric) in enumerate(zip(stack.members, metrics)):
        metric.update(member.dnn.activate(out[i]), y_models[i])


@torch.no_grad()
def evaluate_stack(stack: Stack, xs, y, batch_size: int = INFERENCE_BATCH_SIZE):
    """Every model's loss (with its L1/L2 terms, as ``DNN.evaluate``'s validation) and metric on
    ``(xs, y)``: two lists of ``M`` floats (the metric None without one)."""
    n = y.shape[0]
    total = torch.zeros(stack.n, device=stack.device)
    metrics = [_fresh(m.dnn.metric) for m in stack.members]
    for start in range(0, n, batch_size):
        xb, yb = [x[start:start + batch_size] for x in xs], y[start:start + batch_size]
        loss, _, _, out = stack.losses(xb, yb, False, False)
        total += loss * yb.shape[0]
        for member, metric, o in zip(stack.members, metrics, out):
            if metric is not None:
                metric.update(member.dnn.activate(o), yb)
    values = (total / n).tolist()
    if metrics[0] is None:
        return values, None
    return values, [float(m.compute()) for m in metrics]


class _StackRecorder:
    """Step diagnostics of every model of a stack (the same records as ``StepRecorder``, per model):
    loss, data loss, L1/L2 terms per layer, weight / gradient norms and update ratios per layer, and
    (dense engine) dead or saturated units per layer on the step's batch. One host read per record."""

    def __init__(self, stack: Stack, settings, total_steps: int):
        self.stack = stack
        self.settings = settings
        self.total_steps = max(1, total_steps)
        self.every = settings.every or max(1, math.ceil(self.total_steps / recordermod.TARGET_RECORDS))
        layers = recordermod.monitored_layers(stack.first.net, settings.layers)
        names = {id(p): name for name, p in stack.first.net.named_parameters()}
        module_names = {id(m): name for name, m in stack.first.net.named_modules()}
        self.layers = [(layer.name, module_names[id(layer.module)], [names[id(p)] for p in layer.params], layer.kind)
                       for layer in layers]
        self.columns: list[list[str]] = []  # per record: the key of each row of its values
        self.values: list[torch.Tensor] = []  # per record: (rows, M) on the device (read at the end)
        self.steps: list[tuple[int, int]] = []
        self._before = None
        self._host: list = []  # per record: M lists of values (filled by read)

    def due(self, step: int) -> bool:
        return step <= self.settings.first_steps or step % self.every == 0 or step == self.total_steps

    def before(self, step: int) -> None:
        self._before = {name: self.stack.params[name].detach().clone()
                        for _, _, params, _ in self.layers for name in params}
        if self.stack.engine == "dense":
            self.stack.unit_stats = {}

    def after(self, step: int, epoch: int, loss, data, terms, norms) -> None:
        stack, n = self.stack, self.stack.n
        rows, keys = [loss.float(), norms.float()], ["loss", "grad_norm"]
        by_layer: dict[str, list] = {}
        for module_name, term in zip(stack.layer_of_penalty, terms):
            by_layer.setdefault(module_name, []).append(term.float())
        if terms:
            rows.append(data.float())
            keys.append("data_loss")
        for display, module_name, params, kind in self.layers:
            if module_name in by_layer:
                rows.append(torch.stack(by_layer[module_name]).sum(0))
                keys.append(f"{display}/penalty")
            if params:
                weight = torch.stack([_norms(stack.params[p].detach(), n) for p in params]).square().sum(0).sqrt()
                update = torch.stack([_norms(stack.params[p].detach() - self._before[p], n)
                                      for p in params]).square().sum(0).sqrt()
                rows += [weight, update / weight.clamp(min=1e-12)]
                keys += [f"{display}/weight_norm", f"{display}/update_ratio"]
                grads = [stack.grad_sq[p] for p in params if p in stack.grad_sq]  # before clipping
                if grads:
                    rows.append(torch.stack(grads).sum(0).sqrt())
                    keys.append(f"{display}/grad_norm")
            stats = (stack.unit_stats or {}).get(module_name)
            if kind is not None and stats is not None:
                bad = (stats <= 0) if kind == "dead" else (stats > recordermod.MOST)
                rows.append(bad.float().mean(1))
                keys.append(f"{display}/{kind}")
        stack.unit_stats = None
        self.values.append(torch.stack(rows))
        self.columns.append(keys)
        self.steps.append((step, epoch))
        self._before = None

    def records_of(self, i: int, stopped_at: int | None) -> list[dict]:
        """Model ``i``'s records (those before ``stopped_at``, the step it failed, if any)."""
        out = []
        for (step, epoch), keys, values in zip(self.steps, self.columns, [v[i] for v in self._host]):
            if stopped_at is not None and step >= stopped_at:
                break
            record = {"step": step, "epoch": epoch}
            record.update(zip(keys, values))
            if "data_loss" in record:
                record["penalty"] = record["loss"] - record["data_loss"]
            out.append(record)
        return out

    def read(self) -> None:
        """One host read of every record (call before ``records_of``)."""
        if self.values:
            full = torch.cat([v for v in self.values], 0).cpu()
            self._host, start = [], 0
            for v in self.values:
                self._host.append(full[start:start + v.shape[0]].t().tolist())
                start += v.shape[0]
