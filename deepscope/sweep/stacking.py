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
layer, dropout, a diverging model). One exception is not the stack's: under Adam, a bias that feeds straight into
batch normalization (conv -> BN, the ResNet pattern) has a true gradient of 0 and a computed one of rounding noise,
which Adam turns into steps of the full learning rate; such a network's predictions differ by ~1e-2 between a stack
and its fit, as between two fits of the same seed on 1 and 2 threads (SGD: 5e-7). Each model draws its dropout masks
from its own generator, in the
state its own fit's generator has when training starts (:func:`new_member`), layer by layer as its
fit would: a model's result does not depend on the stack it landed in. vmap cannot draw per-model
masks, so networks outside the dense engine with dropout run their models one after another (below).

This module decides what stacks (:func:`stack_key`, :func:`stack_groups`) and computes a stack's
forward pass and losses (:class:`Stack`); :mod:`deepscope.sweep.stack_training` runs the training loop.
Two engines compute the stacked forward pass (autograd does the backward for both):

- **dense**: chains of ``fully_connected`` layers, element-wise activations and dropout. Layer 1 is
  one matrix product per data order (``(B, in) @ (in, K * out)`` for the K models sharing batches),
  the rest batched products (``baddbmm``): the arithmetic a hand-written stack does.
- **vmap**: any other network (convolutions, batch normalization: each model's running statistics are its own
  stacked buffers, updated in place under vmap), ``vmap(functional_call)`` over the models (no per-step unit
  statistics). Two kinds of network run each model's forward and backward in turn instead, on views of the
  stacked tensors, with one clipping and one optimizer step for the stack (:attr:`Stack.per_model_forward`):
  networks with dropout (each model's own network and dropout rate, its own generator swapped in as the default
  one: the masks its fit would draw), recurrent networks (torch has no vmap rule for its fused LSTM/GRU/RNN
  kernels), and on a CPU networks with convolutions (vmap's grouped convolution of 16
  small ones is slower there than the 16: ``benchmarks/stack_conv.py``, 0.52-0.88x of one-by-one fits with
  vmap, 0.97-1.10x one after another).

Per-model learning rates: SGD, Momentum and Nesterov scale each model's gradient by ``lr_m / lr_0``
(their updates are linear in the gradient); other optimizers step with ``lr_0`` and then rescale
each model's update by ``lr_m / lr_0`` (every built-in optimizer's update is proportional to lr).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from ..diagnostics import recorder as recordermod
from ..layers.conv import Conv
from ..layers.core import Dense
from .. import losses, regularizers
from ..models.dnn import DNN
from ..models.serialization import describe_network
from ..network import Network

#: arguments a stack carries per model (everything else in the network's description must be equal)
PER_MODEL_ARGUMENTS = ("weights_init", "bias_init", "weight_decay", "keep_prob", "learning_rate")
#: element-wise activations without parameters (the dense engine applies them to (models, batch, units))
ELEMENTWISE = (nn.Identity, nn.ReLU, nn.Sigmoid, nn.Tanh, nn.ELU, nn.LeakyReLU, nn.ReLU6, nn.SELU,
               nn.Softplus, nn.Softsign, nn.GELU, nn.SiLU, nn.Hardtanh)
#: optimizers whose update is linear in the gradient (a per-model lr becomes a gradient scale)
LINEAR_IN_GRADIENT = ("SGD", "Momentum", "Nesterov")
#: stacks are split so that their parameters, gradients, optimizer state and activations stay below this
STACK_BYTES = 2 * 1024 ** 3
#: on a CPU, also so that one stack's parameters stay about cache-sized: past that, every step's memory-bound
#: work (penalties, optimizer, gradients) leaves the cache and a stack of 400 models of seed 000's network took
#: 1.24x of 5 stacks of 80 (1,008 models in stacks as large as memory allowed: 1.66x of 1008/80 x 80 models)
CPU_STACK_PARAMETER_BYTES = 16 * 1024 ** 2
#: on a CPU, stacks of networks with convolutions train each model's forward and backward in turn (one
#: optimizer step for all); False: vmap, whose grouped convolutions oneDNN computes slower than the separate ones
CPU_CONVOLUTIONS_ONE_AFTER_ANOTHER = True


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
        callbacks: its fit's callbacks; they get ``on_train_begin``, ``on_epoch_end`` (with this model's
            own epoch logs) and ``on_train_end``; ``state.stop_training`` stops this model alone.
        stopped_epoch: the epoch after which a callback stopped it, else None.
    """

    dnn: DNN
    data_seed: int
    run_id: str | None = None
    history: list = field(default_factory=list)
    failed: str | None = None
    failed_step: int | None = None
    seconds: float = 0.0
    records: list = field(default_factory=list)
    rng_state: torch.Tensor | None = None  # the random generator as its own fit starts training
    callbacks: list = field(default_factory=list)  # its fit's callbacks (epoch events: see stack_training)
    trial: dict | None = None  # {'params', 'seed'} of the study trial it trains (recorded in its run folder)
    stopped_epoch: int | None = None  # a callback stopped it after this epoch (as its fit would stop)


def new_member(dnn: DNN, run_id: str | None = None) -> Member:
    """A member for ``dnn``, drawing its data seed now, exactly where ``DNN.fit`` would (call it right
    after building the model from a freshly seeded generator, as a study's trial does), and keeping
    the random generator's state at that point: the state its own fit's first step would start from,
    which the stack's dropout masks for this model are drawn from."""
    data_seed = dnn._data_seed()
    cuda = dnn.device.type == "cuda"
    state = torch.cuda.get_rng_state(dnn.device) if cuda else torch.get_rng_state()
    return Member(dnn, data_seed, run_id, rng_state=state)


def model_generator(state: torch.Tensor | None, device: torch.device) -> torch.Generator:
    """A generator on ``device`` in ``state`` (a member's), for that model's own dropout masks."""
    generator = torch.Generator(device=device)
    if state is not None:
        generator.set_state(state)
    return generator


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
        node["args"] = {k: v for k, v in args.items() if k not in PER_MODEL_ARGUMENTS}
    signature = [(name, tuple(t.shape), str(t.dtype)) for name, t in
                 (*net.named_parameters(), *net.named_buffers())]
    key = json.dumps([description, signature, dnn.clip_gradients, str(dnn.device), str(dnn.autocast_dtype)],
                     sort_keys=True, default=repr)
    return key, engine


def one_after_another(members: list[Member]) -> bool:
    """Whether a vmap-engine stack of ``members`` trains its models one after another: with dropout (vmap cannot
    draw each model's masks), recurrent layers (no vmap rule for torch's fused LSTM/GRU/RNN kernels), or on a CPU
    convolutions (one model's small convolutions run faster there than vmap's grouped convolution of all)."""
    net = members[0].dnn.net
    convolutions = any(isinstance(m, Conv) for m in net.modules())
    recurrent = any(isinstance(m, nn.RNNBase) for m in net.modules())
    cpu = members[0].dnn.device.type == "cpu"
    return _has_dropout(members) or recurrent or (cpu and convolutions and CPU_CONVOLUTIONS_ONE_AFTER_ANOTHER)


def engine_label(members: list[Member], engine: str) -> str:
    """How a stack of ``members`` will run, in words: ``'dense'``, ``'vmap'`` or ``'one model after another'``."""
    return "one model after another" if engine == "vmap" and one_after_another(members) else engine


def _has_dropout(members: list[Member]) -> bool:
    return any(isinstance(m, nn.Dropout) and m.p > 0 for member in members for m in member.dnn.net.modules())


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
        modules = {id(m): name for name, m in self.first.net.named_modules()}
        # L1/L2 terms: (stacked parameter name, regularizer, factors (M,)), in the network's order
        self.penalties = []
        for entries in zip(*[m.dnn.net._penalties for m in self.members]):
            module, param_name, regularizer, _ = entries[0]
            name = f"{modules[id(module)]}.{param_name}" if modules[id(module)] else param_name
            factors = torch.tensor([float(e[3]) for e in entries], device=device)
            self.penalties.append((name, regularizer, factors))
        self.layer_of_penalty = [modules[id(e[0])] for e in self.first.net._penalties]
        lrs = torch.tensor([learning_rate(m.dnn) for m in self.members], device=device)
        self.lr_factor = None if bool((lrs == lrs[0]).all()) else lrs / lrs[0]  # (M,) or None: all equal
        self.fused = self.first.fused
        self.loss_fn = self.first.loss.from_logits if self.fused else self.first.loss
        self.batched_loss = vmap(lambda out, y: self.loss_fn(out, y))
        self.per_model_forward = False
        self.vmap_checked = True  # (the vmap engine checks on its first call, below)
        self.generators: list[torch.Generator] = []  # each model's dropout stream, where the engine draws masks
        if engine == "dense":
            self.chain = dense_chain(self.first)
            self.chain_names = [modules[id(m)] for m in self.chain]
            # per dropout layer of the chain, each model's keep probability (None: not a dropout layer)
            self.keep = [[1.0 - float(dict(m.dnn.net.named_modules())[name].p) for m in self.members]
                         if type(module) is nn.Dropout else None for name, module in zip(self.chain_names, self.chain)]
            dropout = any(k is not None and min(k) < 1.0 for k in self.keep)
            self.generators = [model_generator(m.rng_state, device) for m in self.members] if dropout else []
        else:
            self.objective = _DataLoss(self.first)
            self.per_model_forward = one_after_another(self.members)
            if self.per_model_forward:  # each model through its own modules (its own dropout rate)
                self.objectives = [_DataLoss(m.dnn) for m in self.members]
            self.vmap_checked = self.per_model_forward  # (else: a first call checks that vmap runs the network)
            if _has_dropout(self.members):
                self.generators = [model_generator(m.rng_state, device) for m in self.members]

            def one_model(p, b, y, *xs):
                state = {**{"net." + k: v for k, v in p.items()}, **{"net." + k: v for k, v in b.items()}}
                return functional_call(self.objective, state, (y, *xs))
            self.one_model = one_model
        self.unit_stats = None  # set to a dict during a diagnostic step (dense engine)
        self.grad_sq: dict[str, torch.Tensor] = {}  # the last step's squared gradient norms (clip sets them)
        self.resumed_epoch: int | None = None  # training continued from a checkpoint after this epoch

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
        if self.engine == "vmap" and not self.per_model_forward and not self.vmap_checked:
            self._check_vmap(xs, per_group)
        if self.engine == "vmap" and self.per_model_forward:
            return self._one_after_another(xs, per_group, training)
        if self.engine == "vmap":
            return self._vmap_outputs(xs, per_group, training)
        return self._dense(xs[0], per_group, training)

    def _check_vmap(self, xs, per_group: bool) -> None:
        """Run vmap once on two samples (evaluation mode, no gradient: nothing changes); a network it cannot
        batch (a layer calling ``.item()``, a kernel without a batching rule) trains one model after another."""
        self.vmap_checked = True
        try:
            with torch.no_grad():
                self._vmap_outputs([x[:, :2] if per_group else x[:2] for x in xs], per_group, False)
        except Exception:  # noqa: BLE001 - the per-model path runs each model's own modules: a real error shows there
            self.per_model_forward = True
            self.objectives = [_DataLoss(m.dnn) for m in self.members]

    def _vmap_outputs(self, xs, per_group: bool, training: bool) -> torch.Tensor:
        self.first.net.train(training)
        x_models = [x[self.group_of.to(x.device)] if per_group else x for x in xs]
        in_dims = (0, 0) + ((0,) if per_group else (None,)) * len(xs)
        run = vmap(lambda p, b, *x: self.one_model(p, b, None, *x)[1], in_dims=in_dims, randomness="different")
        return run(self.params, self.buffers, *x_models)

    def _one_after_another(self, xs, per_group: bool, training: bool) -> torch.Tensor:
        """Each model's forward pass on its own views of the stacked tensors, ``(M, B, ...)``: autograd
        stacks the gradients back (``unbind``'s backward) and batch normalization updates each model's
        running statistics in place in its slice of the stacked buffers."""
        names = ["net." + k for k in (*self.params, *self.buffers)]
        slices = list(zip(*[t.unbind(0) for t in (*self.params.values(), *self.buffers.values())]))  # per model
        outputs = []
        for i, (group, tensors) in enumerate(zip(self.group_of.tolist(), slices)):
            x = [x[group] for x in xs] if per_group else xs
            outputs.append(self._forward_one(i, dict(zip(names, tensors)), x, training))
        return torch.stack(outputs)

    def _forward_one(self, i: int, state: dict, xs: list, training: bool) -> torch.Tensor:
        """Model ``i``'s output through its own modules with the tensors ``state``; in training with dropout,
        its masks drawn from its own generator (swapped in as the default generator, then back)."""
        objective = self.objectives[i]
        if objective.net.training != training:
            objective.net.train(training)
        if not (training and self.generators):
            return functional_call(objective, state, (None, *xs))[1]
        cuda = self.device.type == "cuda"
        default = torch.cuda.default_generators[torch.cuda.current_device() if self.device.index is None
                                                else self.device.index] if cuda else torch.default_generator
        saved = default.get_state()
        default.set_state(self.generators[i].get_state())
        try:
            return functional_call(objective, state, (None, *xs))[1]
        finally:
            self.generators[i].set_state(default.get_state())
            default.set_state(saved)

    def _dense(self, x: torch.Tensor, per_group: bool, training: bool) -> torch.Tensor:
        """The dense engine: ``(M, B, out)``."""
        if x.dtype != torch.float32:
            x = x.float()
        h = None
        m_count = self.n
        for index, (name, module) in enumerate(zip(self.chain_names, self.chain)):
            if type(module) is nn.Dropout:
                if training:
                    h = self._dropout(h, self.keep[index])
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

    def _dropout(self, h: torch.Tensor, keep: list) -> torch.Tensor:
        """Dropout on ``(M, B, units)``: each model's mask from its own generator, drawn as its own
        fit's ``F.dropout`` draws it (``bernoulli_(keep)`` on a ``(B, units)`` tensor, then ``/ keep``;
        nothing drawn where it keeps everything)."""
        if all(k >= 1.0 for k in keep):
            return h
        noise = torch.ones_like(h)
        for i, (k, generator) in enumerate(zip(keep, self.generators)):
            if k < 1.0:
                noise[i].bernoulli_(k, generator=generator).div_(k)
        return h * noise

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
        categorical cross-entropy (the usual classifier) and a mean square in one call each (vmap costs
        ~1 ms a call: most of a tiny network's step); any other loss under vmap."""
        if self.fused and type(self.first.loss) is losses.CategoricalCrossentropy and out.dim() == 3 and (
                y.shape == out.shape or (y.shape == out.shape[:2] and not y.is_floating_point())):
            m, b, c = out.shape
            target = y.reshape(m * b, c).to(out.dtype) if y.shape == out.shape else y.reshape(m * b).long()
            return F.cross_entropy(out.reshape(m * b, c), target, reduction="none").view(m, b).mean(1)
        if not self.fused and type(self.first.loss) is losses.MeanSquare and y.numel() == out.numel():
            return (out - y.reshape(out.shape).to(out.dtype)).square().reshape(out.shape[0], -1).mean(1)
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

    def backward_one_after_another(self, xs: list[torch.Tensor], y: torch.Tensor):
        """One training step's losses and gradients, each model's forward and backward in turn (the stacks
        of :attr:`per_model_forward`): one model's activations stay in the cache, as in its own fit.

        Each model's parameters are leaf views of the stacked tensors whose ``.grad`` are views of the
        stacked gradients, so its backward writes its own slice; the L1/L2 terms go backward once for all.

        Args:
            xs: inputs ``(G, B, ...)`` per data group; y: targets ``(G, B, ...)``.
        Returns:
            ``(loss (M,), data loss (M,), penalty terms, outputs (M, B, ...))``, detached.
        """
        for p in self.trainable:
            p.grad = torch.zeros_like(p) if p.requires_grad else None
        terms = self.penalty_terms()
        if terms:
            torch.stack(terms).sum().backward()
        autocast = self.first.autocast_dtype
        data, outputs = [], []
        for i, group in enumerate(self.group_of.tolist()):
            state = {}
            for name, p in self.params.items():
                leaf = p.detach()[i].requires_grad_(p.requires_grad)
                if p.requires_grad:
                    leaf.grad = p.grad[i]  # backward adds into the stacked gradient's slice
                state["net." + name] = leaf
            state.update({"net." + name: b[i] for name, b in self.buffers.items()})
            with torch.autocast(self.device.type, dtype=autocast, enabled=autocast is not None):
                out = self._forward_one(i, state, [x[group] for x in xs], True)
            loss = self.data_losses(out.float().unsqueeze(0), y[group].unsqueeze(0))[0]
            loss.backward()
            data.append(loss.detach())
            outputs.append(out.detach().float())
        data = torch.stack(data)
        terms = [t.detach() for t in terms]
        return data + sum(terms) if terms else data, data, terms, torch.stack(outputs)

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
        for i in range(self.n):
            self.write_back_one(i)

    @torch.no_grad()
    def write_back_one(self, i: int) -> None:
        """Copy model ``i``'s slice into its own network."""
        member = self.members[i]
        for name, t in (*member.dnn.net.named_parameters(), *member.dnn.net.named_buffers()):
            t.copy_((self.params if name in self.params else self.buffers)[name][i])

    @torch.no_grad()
    def restore_one(self, i: int) -> None:
        """Copy model ``i``'s own network back into its slice (a stopped model stays where it stopped)."""
        member = self.members[i]
        for name, t in (*member.dnn.net.named_parameters(), *member.dnn.net.named_buffers()):
            (self.params if name in self.params else self.buffers)[name][i].copy_(t)


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
    kind = "saturated" if activation in recordermod.BOUNDED else "dead"
    return recordermod.unit_values(h.detach(), kind, activation, 1)


def norms_per_model(t: torch.Tensor, n: int) -> torch.Tensor:
    """The L2 norm of each model's slice, ``(M,)`` (one pass, no temporaries)."""
    return torch.linalg.vector_norm(t.reshape(n, -1), dim=1)


def stack_groups(members: list[Member]) -> tuple[list[tuple[list[Member], str]], list[tuple[Member, str]]]:
    """Group members by stack key. Returns ``(stacks, singles)``: ``(members, engine)`` per stack of two
    or more (split to stay under :data:`STACK_BYTES`, and :data:`CPU_STACK_PARAMETER_BYTES` of parameters on a
    CPU), and ``(member, reason)`` for the others."""
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
        if group[0].dnn.device.type == "cpu":
            parameter_bytes = 4 * sum(p.numel() for p in group[0].dnn.net.parameters())
            size = max(2, min(size, CPU_STACK_PARAMETER_BYTES // max(1, parameter_bytes)))
        parts = -(-len(group) // size)
        size = -(-len(group) // parts)  # stacks of equal size (not 100, 100, ..., 8)
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
