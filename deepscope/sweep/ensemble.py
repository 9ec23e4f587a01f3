"""Many small models trained at once: one network, many seeds, one vectorized training run.

::

    def build():
        net = tflearn.input_data(shape=[None, 2])
        net = tflearn.fully_connected(net, 1, activation="sigmoid")
        return tflearn.regression(net, optimizer="sgd", learning_rate=2.0, loss="mean_square")

    result = train_ensemble(build, X, Y, seeds=range(20), n_epoch=2000)
    print(result.summary())              # mean +- std, min, max of each final metric over seeds
    result.models[3].predict(X)          # each model is an ordinary DNN with its trained weights

Each seed's model trains exactly as ``DNN(build(), clip_gradients=...).fit(X, Y, ...)`` after
``set_seed(seed)`` would (same initialization, same data order, same clipping, results equal within
floating-point tolerance, dropout masks included: each model draws them from its own generator): the
models are stacked and trained together by :mod:`deepscope.sweep.stacking`, which a vectorized
``Study`` uses too.
For small networks a step costs about the same for 1 or N models. Batch normalization stacks too: each model
keeps its own running statistics.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from .._checks import check_float, check_int, checks_keywords, fail
from ..graph import Node
from ..models.dnn import DNN
from ..utils import set_seed
from .stack_training import StackFit, evaluate_stack, train_stack
from .stacking import new_member, stack_key


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


@checks_keywords
def train_ensemble(build, X, Y, seeds, n_epoch=10, batch_size=None, validation_set=None, shuffle=None,
                   show_metric=False, clip_gradients=5.0, device=None, diagnostics=False) -> EnsembleResult:
    """Train one network for many seeds at once (see the module doc).

    Args:
        build: ``build() -> node`` returning ``regression(...)``; called once per seed after
            ``deepscope.set_seed(seed)``, so each model gets its own initialization.
        X, Y: training inputs and targets (as for ``DNN.fit``).
        seeds: the seeds (non-empty, distinct non-negative integers).
        n_epoch, batch_size, validation_set, shuffle, show_metric: as ``DNN.fit`` (and its defaults).
        clip_gradients: clip each model's gradient norm at this value (default 5.0, as ``DNN`` and
            TFlearn; None or 0: no clipping).
        device: as ``DNN(device=...)``.
        diagnostics: step diagnostics per model (``model.diagnosis``), as ``DNN.fit(diagnostics=...)``;
            off by default here (an ensemble has no run folders to show them in).

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
    if not callable(build) or isinstance(build, Node):
        fail("train_ensemble build", "a function build() -> the output of regression(...), called once per seed",
             type(build).__name__, "Wrap the network in a function: train_ensemble(lambda: my_network(), X, Y, seeds)"
             if isinstance(build, Node) else "", error=TypeError)
    if validation_set is not None and not (isinstance(validation_set, (tuple, list)) and len(validation_set) == 2):
        fail("train_ensemble validation_set", "(X, Y)", type(validation_set).__name__, error=TypeError)
    members, key, engine = [], None, None
    for seed in seeds:
        set_seed(seed)
        node = build()
        if not isinstance(node, Node):
            fail("train_ensemble build", "a function returning the output of regression(...)",
                 type(node).__name__, error=TypeError)
        member = new_member(DNN(node, clip_gradients=clip_gradients, device=device))
        this_key, this_engine = stack_key(member.dnn)
        if this_key is None:
            fail("train_ensemble build", "a network that can be stacked", this_engine,
                 "Train such networks with separate DNN.fit calls (or a Study).")
        if key is not None and this_key != key:
            fail("train_ensemble build", f"the same architecture and settings for every seed (as for seed {seeds[0]})",
                 f"a different one for seed {seed}", "Make build() independent of the seed.")
        key, engine = this_key, this_engine
        members.append(member)
    first = members[0].dnn
    xs, y = first.prepare_data(X, Y, "train_ensemble X", "train_ensemble Y")
    stack = train_stack(members, engine, StackFit(X, Y, n_epoch, validation_set, batch_size, shuffle, show_metric,
                                                  diagnostics=diagnostics), write_runs=False)
    result = EnsembleResult(seeds=seeds, models=[m.dnn for m in members])
    for e in range(max(len(m.history) for m in members)):
        keys = members[0].history[e].keys() if e < len(members[0].history) else ()
        result.history.append({k: np.array([m.history[e].get(k, np.nan) if e < len(m.history) else np.nan
                                            for m in members]) for k in keys})
    order = [stack.members.index(m) for m in members]  # the stack groups its models by data order
    for prefix, (data_x, data_y) in [("", (xs, y))] + ([("val_", first.prepare_data(
            *validation_set, "train_ensemble validation_set[0] (X)", "train_ensemble validation_set[1] (Y)"))]
            if validation_set is not None else []):
        stack.first.net.eval()
        losses, metric = evaluate_stack(stack, data_x, data_y)
        result.final[prefix + "loss"] = np.array([losses[i] for i in order])
        if metric is not None:
            result.final[prefix + first.metric.name] = np.array([metric[i] for i in order])
    failed = [(seed, m.failed) for seed, m in zip(seeds, members) if m.failed]
    if failed:
        warnings.warn(f"train_ensemble: {len(failed)} of {len(seeds)} models stopped at a non-finite loss or "
                      f"gradient (seeds {[s for s, _ in failed]}); their numbers are those of the last finite step "
                      "or NaN.", RuntimeWarning, stacklevel=2)
    return result
