"""TensorBoard details by verbose level (TFlearn's meaning) and the run's hyperparameters.

=======  =====================================================================
verbose  what is written
=======  =====================================================================
0        loss and metrics (the ``RunLogger``'s scalars; this callback is not used)
1        + gradient histograms (``Gradients/<layer>/<param>``)
2        + weight histograms (``Weights/<layer>/<param>``)
3        + activation histograms (``Activations/<layer>``) and the fraction of zeros
         per layer (``Sparsity/<layer>``), on a fixed probe batch of training data
=======  =====================================================================

Costs are kept small: histograms are recorded at most once per epoch and at most every
``min_interval`` seconds (plus once at the end of training); large tensors are subsampled
before their histogram is computed. Gradients are the last training batch's: the training
loop leaves them in ``p.grad`` until the next step, so they are read at the end of the epoch
(no per-batch event is needed). Activations come from forward hooks on ``dnn.net.layers``
during one extra forward pass of the probe batch, in eval mode under ``no_grad``: training
(weights, gradients, random numbers, batch-norm statistics) is untouched. The probe batch is
given (``probe=``) or is the first ``probe_size`` samples of the first training batch, kept by a
one-off forward pre-hook (registered before the trainer is built, so the hook-free fast path for
tiny Dense chains steps aside at verbose 3 and the layers really run).
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import torch

from .._checks import check_int
from .base import Callback, TrainingState
from .tb_writer import EventWriter
from .run_folder import TRAIN_EVENTS, Run
from ..utils import evaluation_pass

MAX_VALUES = 100_000  # values per histogram; larger tensors are subsampled with a stride


class TensorBoardDetails(Callback):
    """Writes gradient, weight and activation histograms and sparsity by verbose level.

    ``RunLogger`` adds one automatically when ``DNN(tensorboard_verbose >= 1)``; you may also
    pass one to ``fit(callbacks=...)``.

    Args:
        writer: an ``EventWriter``, a zero-argument callable returning one (created lazily), a
            run folder (``Run`` or path), or None (the fit's run folder, ``state.run``).
        verbose: 1 gradients, 2 + weights, 3 + activations and sparsity.
        min_interval: least number of seconds between two recordings (0: every epoch).
        probe_size: samples in the probe batch used for activations (verbose 3).
        bins: histogram bins (an int or numpy's bin rule).
        probe: the inputs to record activations on (an array, or a list with one per
            ``input_data``); default: the first ``probe_size`` samples of the first batch.
    """

    def __init__(self, writer: Any = None, verbose: int = 1, min_interval: float = 2.0,
                 probe_size: int = 64, bins: int | str = 30, probe: Any = None):
        self.verbose = check_int(verbose, "TensorBoardDetails verbose", 1, 3)
        self.probe_size = check_int(probe_size, "TensorBoardDetails probe_size", minimum=1)
        self.min_interval = float(min_interval)
        self.bins = bins
        self._source = writer
        self._writer = None
        self._own_writer = False
        self.probe_data = probe
        self.probe: list[torch.Tensor] | None = None
        self._probe_hooks: list = []
        self._attached = False
        self._last_time = -float("inf")
        self._last_step = -1

    # -- writer -----------------------------------------------------------------------------
    def get_writer(self, state: TrainingState | None = None):
        """The ``EventWriter`` to write to (created on first use)."""
        if self._writer is None:
            source = self._source
            if source is None and state is not None:
                source = state.run
            if hasattr(source, "add_summary"):
                self._writer = source
            elif callable(source):
                self._writer = source()
            elif isinstance(source, Run):
                self._writer = EventWriter(source.path / TRAIN_EVENTS)
                self._own_writer = True
            elif source is not None:
                self._writer = EventWriter(source)
                self._own_writer = True
            else:
                raise ValueError("TensorBoardDetails: no writer and no run folder (fit made no run). "
                                 "Pass TensorBoardDetails(writer=EventWriter(folder)).")
        return self._writer

    # -- events -----------------------------------------------------------------------------
    def attach(self, dnn) -> None:
        """Prepare the probe batch for ``dnn`` (verbose 3): convert ``probe`` or hook the inputs.

        Called by ``RunLogger`` when the fit starts (before the trainer is built), else at
        ``on_train_begin``.
        """
        self._attached = True
        if self.verbose < 3 or self.probe is not None:
            return
        if self.probe_data is not None:
            xs, _ = dnn.prepare_data(self.probe_data, None, "TensorBoardDetails probe", "")
            self.probe = xs
        else:
            self._capture_probe(dnn.net)

    def on_train_begin(self, state: TrainingState) -> None:
        self._last_time = -float("inf")
        self._last_step = -1
        if not self._attached:
            self.attach(state.model)

    def on_epoch_end(self, state: TrainingState) -> None:
        if time.perf_counter() - self._last_time >= self.min_interval:
            self.record(state)

    def on_train_end(self, state: TrainingState) -> None:
        self._remove_probe_hooks()
        if state.step != self._last_step and state.step > 0:
            self.record(state)  # the final state is always recorded
        if self._own_writer and self._writer is not None:
            self._writer.close()
        self._writer, self._own_writer, self._attached = None, False, False  # (ready for another fit)
        if self.probe_data is None:
            self.probe = None

    # -- recording --------------------------------------------------------------------------
    def record(self, state: TrainingState) -> None:
        """Write this verbose level's histograms (and sparsity) at ``state.step`` now."""
        from torch.utils.tensorboard.summary import histogram

        writer = self.get_writer(state)
        net = state.model.net
        step = state.step
        for name, param in _named_parameters(net):
            if param.grad is not None:
                self._histogram(writer, histogram, f"Gradients/{name}", param.grad, step)
            if self.verbose >= 2:
                self._histogram(writer, histogram, f"Weights/{name}", param, step)
        if self.verbose >= 3 and self.probe is not None:
            sparsity = {}
            for name, value in probe_activations(net, self.probe).items():
                self._histogram(writer, histogram, f"Activations/{name}", value, step)
                if value.numel():
                    sparsity[f"Sparsity/{name}"] = float((value == 0).float().mean())
            if sparsity:
                writer.add_scalars(step, sparsity)
        writer.flush()
        self._last_time = time.perf_counter()
        self._last_step = step

    def _histogram(self, writer, histogram, tag: str, tensor: torch.Tensor, step: int) -> None:
        values = _sample(tensor)
        if values.size:
            writer.add_summary(histogram(tag, values, self.bins), step)

    # -- probe batch ------------------------------------------------------------------------
    def _capture_probe(self, net: torch.nn.Module) -> None:
        """Keep the first ``probe_size`` samples of the first training batch (via pre-hooks)."""
        targets = _input_modules(net)
        captured: dict[int, torch.Tensor] = {}

        def make_hook(index: int) -> Callable:
            def hook(module, args):
                if index not in captured and args and isinstance(args[0], torch.Tensor):
                    captured[index] = args[0][: self.probe_size].detach().clone()
                    if len(captured) == len(targets):
                        self.probe = [captured[i] for i in range(len(targets))]
                        self._remove_probe_hooks()
            return hook

        self._probe_hooks = [m.register_forward_pre_hook(make_hook(i)) for i, m in enumerate(targets)]

    def _remove_probe_hooks(self) -> None:
        for handle in self._probe_hooks:
            handle.remove()
        self._probe_hooks = []


def probe_activations(net: torch.nn.Module, inputs: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each layer's output on ``inputs``, by one forward pass in eval mode under ``no_grad``.

    Args:
        net: a deepscope ``Network`` (layers from ``net.layers``) or any module (its children).
        inputs: one tensor per network input.

    Returns:
        ``{layer name: output tensor}`` (tensor outputs only; input layers are left out).
    """
    outputs: dict[str, torch.Tensor] = {}
    skip = {id(node.module) for node in getattr(net, "inputs", ()) if getattr(node, "module", None) is not None}

    def make_hook(name: str) -> Callable:
        def hook(module, args, output):
            if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
                output = output[0]
            if isinstance(output, torch.Tensor) and output.is_floating_point():
                outputs[name] = output.detach()
        return hook

    handles = [module.register_forward_hook(make_hook(name)) for name, module in _layers(net)
               if id(module) not in skip]
    with evaluation_pass(net, handles):
        net(*inputs)
    return outputs


def write_hparams(writer, config: dict, metrics: dict[str, float], step: int = 0, trial_id: str | None = None) -> dict:
    """Write the HParams plugin's session summaries (session start with the hyperparameters, session end).

    No experiment summary is written: TensorBoard takes the *first* run's experiment summary as the
    whole experiment's (its hyperparameters listed without the other runs' values, so none looked
    as if it differed, and only that run's metrics, e.g. only Loss). Without one, TensorBoard
    computes the experiment from every run: each hyperparameter's values across runs, and every
    scalar tag under a session's folder as a metric; so ``writer`` should be a folder of its own
    (``<run>/hparams``), and the final ``metrics`` are written there as scalars.

    Args:
        writer: the run's ``EventWriter``.
        config: the run's config (``config.json``): ``training``, ``fit`` and top-level values.
        metrics: ``{scalar tag: final value}``.
        step: step of the events.
        trial_id: the session's name in the HParams table (the run folder's name; None: a hash of the values).

    Returns:
        The hyperparameters written (``{name: value}``).
    """
    from tensorboard.plugins.hparams import summary_v2
    from torch.utils.tensorboard.summary import hparams

    hp = hyperparameters(config)
    _experiment, _untyped_start, session_end = hparams({k: str(v) if isinstance(v, bool) else v for k, v in hp.items()},
                                                       dict(metrics))
    # TensorBoard's own session start keeps booleans as booleans (torch's writes them as 1.0 / 0.0); one session
    # per run (named by its folder), so runs with equal settings are not merged into one row
    session_start = summary_v2.hparams_pb(hp, trial_id=trial_id)
    writer.add_summary(session_start, step)
    writer.add_scalars(step, dict(metrics))
    writer.add_summary(session_end, step)
    writer.flush()
    return hp


def hyperparameters(config: dict) -> dict:
    """The flat ``{name: int|float|str|bool}`` hyperparameters of a run config.

    Args:
        config: a run's config (as ``DNN.run_config`` writes it).

    Returns:
        A study trial's swept parameters and ``seed`` first (``trial``), then ``training`` and ``fit``
        entries (optimizer, learning_rate, batch_size, n_epoch, loss, metric, ...) and top-level scalars
        (clip_gradients, device); numbers, text and booleans keep their types; unset values (None, e.g. no
        ``max_steps``) are left out rather than written as the text 'None'.
    """
    flat: dict = {}
    trial = config.get("trial") or {}
    for key, value in (trial.get("params") or {}).items():
        flat[key] = value
    if "seed" in trial:
        flat["seed"] = trial["seed"]
    for section in ("training", "fit"):
        for key, value in (config.get(section) or {}).items():
            if isinstance(value, dict):
                for sub, v in value.items():
                    flat[f"{key}.{sub}"] = v
            else:
                flat[key] = value
    for key, value in config.items():
        if key not in ("training", "fit", "network", "trial") and not isinstance(value, (dict, list)):
            flat.setdefault(key, value)
    for key, value in layer_settings(config.get("network")).items():
        flat.setdefault(key, value)
    return {k: (v if isinstance(v, (bool, int, float, str)) else str(v)) for k, v in flat.items() if v is not None}


#: the layer arguments a person compares across runs (sizes, activations, dropout, penalties)
LAYER_SETTINGS = ("n_units", "nb_filter", "filter_size", "activation", "keep_prob", "regularizer", "weight_decay",
                  "strides", "kernel_size", "output_dim", "dropout")


def layer_settings(network) -> dict:
    """``{'<layer>.<argument>': value}`` for the :data:`LAYER_SETTINGS` of each layer of a network description
    (``config.json``'s ``network``), scalars only (a weight decay without a regularizer is left out)."""
    found: dict = {}
    if not isinstance(network, dict):
        return found
    for node in network.get("nodes", []):
        args = node.get("args") or {}
        for key in LAYER_SETTINGS:
            value = args.get(key)
            if key == "weight_decay" and not args.get("regularizer"):
                continue
            if isinstance(value, (int, float, str)) and not isinstance(value, bool):
                found[f"{node.get('name')}.{key}"] = value
    return found


# -- helpers --------------------------------------------------------------------------------
def _layers(net: torch.nn.Module):
    layers = getattr(net, "layers", None)
    if isinstance(layers, torch.nn.ModuleDict):
        return list(layers.items())
    return list(net.named_children())


def _named_parameters(net: torch.nn.Module):
    """``(tag name, parameter)`` with ``layers.FullyConnected.W`` shown as ``FullyConnected/W``."""
    for name, param in net.named_parameters():
        if param.requires_grad:
            name = name[len("layers."):] if name.startswith("layers.") else name
            yield name.replace(".", "/"), param


def _input_modules(net: torch.nn.Module) -> list[torch.nn.Module]:
    """Modules whose first positional input is a network input, one per input, in order.

    A chain network skips input layers that do nothing, so its first executed module is
    hooked; a graph network calls every input layer; any other module is hooked itself
    (its ``forward`` receives the batch).
    """
    if getattr(net, "_is_chain", False) and getattr(net, "_chain", None):
        return [net._chain[0]]
    inputs = getattr(net, "inputs", None)
    if inputs and all(getattr(node, "module", None) is not None for node in inputs):
        return [node.module for node in inputs]
    return [net]


def _sample(tensor: torch.Tensor) -> np.ndarray:
    """Finite values of ``tensor`` as float64 numpy, strided down to at most ``MAX_VALUES``."""
    flat = tensor.detach().reshape(-1)
    if flat.numel() > MAX_VALUES:
        flat = flat[:: -(-flat.numel() // MAX_VALUES)]
    values = flat.float().cpu().numpy().astype(np.float64)
    return values[np.isfinite(values)]
