"""Step-resolution training diagnostics: a callback that records, on a schedule of steps, what
each layer is doing (on by default in ``DNN.fit``; ``fit(diagnostics=False)`` turns it off).

At every diagnostic step it records, per layer: the norm of the layer's parameters, the norm of
their gradient (before clipping), the update-to-weight ratio ``||W_after - W_before|| / ||W_after||``
(for a parameter of more than 65,536 entries, ``||W_after - W_before||`` is estimated from a fixed
random subset of 65,536 of them, which avoids copying the whole tensor),
and the fraction of dead (ReLU-like: never active) or saturated (sigmoid/tanh) units on that step's
batch (or on a small fixed probe batch of training samples, see :class:`StepRecorder`); and the loss
split into the data loss and each layer's L1/L2 penalty. Steps: every step of the first ``first_steps``, then every ``every`` steps (by
default chosen so a fit has about 32 more records), and the last step.

Cost: nothing on the other steps but two Python calls; on a diagnostic step one copy of the
parameters, one foreach norm over parameters, gradients and updates, a reduction per monitored
layer, and one host synchronisation (BENCHMARKS.md measures it).
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .._checks import Text, check_int, fail
from .._io import atomic_write_json, atomic_write_text, csv_text
from ..callbacks.base import Callback, TrainingState
from . import causes, evidence, facts as factsmod, rules
from .findings import DIAGNOSIS_FILE, STEPS_FILE, Diagnosis, Finding
from ..utils import evaluation_pass

BOUNDED = ("sigmoid", "tanh")  # activations that saturate
NOT_MONITORED = (None, "linear", "softmax")  # no dead/saturated statistic (inputs, pools, outputs)
SATURATION = 0.99  # sigmoid above 0.99 or below 0.01, tanh beyond +-0.99
MOST = 0.95  # a unit is saturated when saturated on more than this fraction of probe samples
SAMPLED = 65536  # larger parameters: the update ratio from a fixed random subset of this many entries
MAP_SAMPLES = 32  # feature maps: unit statistics from the first 32 samples of the batch (x positions)
TARGET_RECORDS = 32  # about this many more records per fit after the first steps (>= 50 in all)
INIT_SCALE_FILE = "init_scale.json"  # the weights' scale before training (kept for a resumed fit's rules)


@dataclass
class Diagnostics:
    """Settings of the step diagnostics (``fit(diagnostics=Diagnostics(...))``).

    Args:
        every: record every this many steps after the first ones (None: about 32 more records per fit).
        first_steps: record every one of the first this many steps of a fit (where collapses happen).
        probe_size: training samples (evenly spaced over the training set) in the probe batch.
        layers: layer names to monitor (None: every layer with parameters or an activation).
    """

    every: int | None = None
    first_steps: int = 20
    probe_size: int = 64
    layers: list | None = None

    def checked(self) -> "Diagnostics":
        every = None if self.every is None else check_int(self.every, "Diagnostics every", minimum=1)
        first = check_int(self.first_steps, "Diagnostics first_steps", minimum=0)
        probe = check_int(self.probe_size, "Diagnostics probe_size", minimum=1)
        layers = self.layers
        if layers is not None:
            layers = [layers] if isinstance(layers, str) else list(layers)
            if not layers or not all(isinstance(n, str) for n in layers):
                fail("Diagnostics layers", "a list of layer names (see model.summary())", self.layers, error=TypeError)
        return Diagnostics(every, first, probe, layers)


def settings_from(value) -> Diagnostics | None:
    """``fit``'s ``diagnostics`` argument: True (defaults), False/None (off) or ``Diagnostics``."""
    if value is True:
        return Diagnostics()
    if value is False or value is None:
        return None
    if isinstance(value, Diagnostics):
        return value.checked()
    fail("fit diagnostics", "True, False or deepscope.Diagnostics(every=..., probe_size=...)", value, error=TypeError)


@dataclass
class MonitoredLayer:
    """One layer the recorder watches."""
    name: str
    module: nn.Module
    params: list  # the layer's own trainable parameters (may be empty: a pooling layer)
    kind: str | None  # 'dead' (ReLU-like), 'saturated' (sigmoid/tanh) or None (no unit statistic)
    penalties: list  # (param name, regularizer, weight decay) of this layer's L1/L2 terms


def monitored_layers(net: nn.Module, names: list | None) -> list[MonitoredLayer]:
    """The layers to watch: a deepscope ``Network``'s named layers (or a plain module's children
    that own parameters), with a clear error for unknown names."""
    table = getattr(net, "layers", None)
    if isinstance(table, nn.ModuleDict):
        available = {n: m for n, m in table.items() if not getattr(m, "is_noop", False)}
    else:
        available = {n: m for n, m in net.named_modules() if n and any(True for _ in m.parameters(recurse=False))}
    if names is not None:
        unknown = [n for n in names if n not in available]
        if unknown:
            fail("Diagnostics layers", "names of the network's layers (" + ", ".join(available) + ")",
                 Text(f"unknown {unknown}"), "See model.summary() for the names.")
        available = {n: available[n] for n in names}
    layers = []
    for name, module in available.items():
        params = [p for p in module.parameters() if p.requires_grad]
        activation = getattr(module, "activation_name", None)
        kind = None if activation in NOT_MONITORED else ("saturated" if activation in BOUNDED else "dead")
        if not params and kind is None:
            continue
        layers.append(MonitoredLayer(name, module, params, kind, list(getattr(module, "regularizers", ()))))
    return layers


def saturated(y: torch.Tensor, activation: str | None, level: float = SATURATION) -> torch.Tensor:
    """Where a sigmoid output is above ``level`` or below ``1 - level``, a tanh output beyond
    ``+-level`` (the one definition of a saturated unit: recorder, stacks and ``introspect.health``)."""
    return (y > level) | (y < 1 - level) if activation == "sigmoid" else y.abs() > level


def unit_values(y: torch.Tensor, kind: str, activation: str | None, dims) -> torch.Tensor:
    """Per unit, over ``dims``: the maximum (``kind='dead'``: a unit never above 0 is dead) or the
    fraction of saturated values (``kind='saturated'``)."""
    if kind == "dead":
        return y.amax(dim=dims).float()
    return saturated(y, activation).float().mean(dim=dims)


class _UnitStats:
    """Forward hook: per-unit maximum (dead units) or saturated-sample fraction of one layer's output.
    Units are dim 1 inside the network (features, or channels of NCHW maps), the last dim of (N, T, F)."""

    def __init__(self, kind: str, activation: str | None):
        self.kind, self.activation = kind, activation
        self.value = None

    def __call__(self, module, inputs, output):
        if not isinstance(output, torch.Tensor) or output.dim() < 2 or not output.is_floating_point():
            return
        y = output.detach()
        if y.dim() == 4:
            y = y[:MAP_SAMPLES]  # a channel never active at any position of 32 images is dead
        unit_dim = y.dim() - 1 if y.dim() == 3 else 1
        others = [d for d in range(y.dim()) if d != unit_dim]
        self.value = unit_values(y, self.kind, self.activation, others)  # (units,)


class StepRecorder(Callback):
    """Records :class:`Diagnostics` at the diagnostic steps of one fit (created by ``DNN.fit``).

    Unit statistics come from the training batch itself on a diagnostic step (forward hooks on the
    monitored layers during that step only: no extra forward pass), and from the probe batch when the
    step did not run the layers (the small-network path computes tiny dense chains without calling
    them) and at the end of the fit. A fixed probe pass every record cost 20-30% of the fit time on
    the benchmarks (BENCHMARKS.md); the batch's own forward costs only the reductions.

    Args:
        settings: the checked ``Diagnostics``.
        net: the network.
        probe: one tensor per input: the probe batch, on the model's device.
        total_steps: the steps this fit will run (for the schedule).
        clip: the model's gradient-clipping norm (0: off).

    Attributes:
        records: one dict per diagnostic step: ``step``, ``epoch``, ``loss``, ``data_loss``,
            ``penalty`` (sum), ``grad_norm`` (global, before clipping), and per layer
            ``<layer>/penalty``, ``<layer>/weight_norm``, ``<layer>/grad_norm``, ``<layer>/update_ratio``,
            ``<layer>/dead`` or ``<layer>/saturated``.
        probe_outputs: the network's outputs on the probe at the last probe pass (for the diagnosis).
    """

    def __init__(self, settings: Diagnostics, net: nn.Module, probe: list, total_steps: int, clip: float):
        self.settings, self.net, self.probe, self.clip = settings, net, probe, clip
        self.layers = monitored_layers(net, settings.layers)
        self.total_steps = max(1, total_steps)
        self.every = settings.every or max(1, math.ceil(self.total_steps / TARGET_RECORDS))
        self.records: list[dict] = []
        self.learning_rates: list[tuple[int, float]] = []  # (step, the optimizer's learning rate after it)
        self.probe_outputs: torch.Tensor | None = None
        self.skipped: list[str] = []  # layers whose statistics could not be computed, with why
        self.first_step = 0
        self._before = self._penalties = None
        self._stats: dict[str, _UnitStats] = {}
        self._hooks: list = []
        self._params = [p for layer in self.layers for p in layer.params]
        generator = torch.Generator().manual_seed(0)
        self._subsets = [torch.randperm(p.numel(), generator=generator)[:SAMPLED].to(p.device)
                         if p.numel() > SAMPLED and p.is_contiguous() else None for p in self._params]
        # squared update norms of a subset scale by (entries / subset size)
        self._update_scale = [1.0 if idx is None else p.numel() / SAMPLED for p, idx in zip(self._params, self._subsets)]

    def due(self, fit_step: int) -> bool:
        """Whether the ``fit_step``-th step of this fit (1-based) is a diagnostic step."""
        return fit_step <= self.settings.first_steps or fit_step % self.every == 0 or fit_step == self.total_steps

    def on_train_begin(self, state: TrainingState) -> None:
        self.first_step = state.step

    def on_batch_begin(self, state: TrainingState) -> None:
        if not self.due(state.step + 1 - self.first_step):
            self._before = None
            return
        with torch.no_grad():
            self._before = [w.clone() if idx is None else w for w, idx in zip(self._watched(), self._subsets)]
            # the penalties that enter this step's loss (the weights before the step)
            self._penalties = [[reg(getattr(layer.module, name), wd) for name, reg, wd in layer.penalties]
                               for layer in self.layers]
        self._stats = self._attach()

    def on_batch_end(self, state: TrainingState, snapshot: bool = False) -> None:
        if self._before is None:
            return
        self._detach()
        with torch.no_grad():
            now = [p.detach() for p in self._params]
            grads = [p.grad for p in self._params if p.grad is not None]
            # every norm in one foreach call: weights, updates, gradients (the host does the rest)
            norms = torch._foreach_norm([*now, *torch._foreach_sub(self._watched(), self._before), *grads]) if now else []
            scalars = [state.batch_loss.reshape(()).float()]
            penalty_keys = []
            for layer, penalties in zip(self.layers, self._penalties):
                if penalties:
                    penalty_keys.append(f"{layer.name}/penalty")
                    scalars.append(torch.stack([t.reshape(()).float() for t in penalties]).sum())
            stats = self._stats
            if any(st.value is None for st in stats.values()):
                stats = self._safe_probe()  # the layers did not run on the batch (small-network path)
            units = [st.value for st in stats.values() if st.value is not None]
            same = all(n.dtype == torch.float32 for n in norms)
            parts = ([torch.stack(norms if same else [n.float() for n in norms])] if norms else []) + [
                torch.stack(scalars)] + units
            flat = torch.cat(parts) if len(parts) > 1 else parts[0]
        numbers = flat.tolist()  # the one synchronisation
        record = {"step": state.step, "epoch": state.epoch}
        k = len(now)
        weight_sq = [n * n for n in numbers[:k]]
        update_sq = [n * n * scale for n, scale in zip(numbers[k:2 * k], self._update_scale)]
        grad_sq = [n * n for n in numbers[2 * k:2 * k + len(grads)]]
        rest = numbers[2 * k + len(grads):]
        record["loss"] = rest[0]
        for key, value in zip(penalty_keys, rest[1:]):
            record[key] = value
        if penalty_keys:
            record["penalty"] = sum(rest[1:1 + len(penalty_keys)])
            record["data_loss"] = record["loss"] - record["penalty"]
        self._layer_norms(record, weight_sq, update_sq, grad_sq)
        self._unit_fractions(stats, rest[1 + len(penalty_keys):], record)
        if state.grad_norm is not None and self.clip and record.get("grad_norm"):
            # the gradients on the parameters may already be clipped (scaled by one factor): undo it
            scale = float(state.grad_norm) / record["grad_norm"]
            for key in [key for key in record if key.endswith("grad_norm")]:
                record[key] *= scale
        self.records.append(record)
        groups = getattr(getattr(state.model, "optimizer", None), "param_groups", None)
        if groups and isinstance(groups[0].get("lr"), (int, float)):
            self.learning_rates.append((state.step, float(groups[0]["lr"])))
        self._before = self._penalties = None

    def _watched(self) -> list:
        """The parameters as the update ratio sees them: whole, or the fixed subset of a large one (a copy)."""
        return [p.detach() if idx is None else p.detach().view(-1).index_select(0, idx)
                for p, idx in zip(self._params, self._subsets)]

    def _layer_norms(self, record: dict, weight_sq, update_sq, grad_sq) -> None:
        """Per layer: weight norm, update ratio and gradient norm from the squared norms of its tensors."""
        i = g = 0
        total = 0.0
        for layer in self.layers:
            n = len(layer.params)
            if not n:
                continue
            has_grad = [p.grad is not None for p in layer.params]
            weight_norm = math.sqrt(sum(weight_sq[i:i + n]))
            record[f"{layer.name}/weight_norm"] = weight_norm
            record[f"{layer.name}/update_ratio"] = math.sqrt(sum(update_sq[i:i + n])) / max(weight_norm, 1e-12)
            if any(has_grad):
                square = sum(grad_sq[g:g + sum(has_grad)])
                record[f"{layer.name}/grad_norm"] = math.sqrt(square)
                total += square
                g += sum(has_grad)
            i += n
        if grad_sq:
            record["grad_norm"] = math.sqrt(total)

    def on_train_end(self, state: TrainingState) -> None:
        self._detach()

    def _attach(self) -> dict:
        """Forward hooks collecting unit statistics of the monitored layers (removed by ``_detach``)."""
        stats = {}
        for layer in self.layers:
            if layer.kind is not None:
                stats[layer.name] = _UnitStats(layer.kind, getattr(layer.module, "activation_name", None))
                self._hooks.append(layer.module.register_forward_hook(stats[layer.name]))
        return stats

    def _detach(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks = []

    def _unit_fractions(self, stats: dict, numbers: list, record: dict) -> None:
        """Dead/saturated fraction per layer from the per-unit values (host numbers, in ``stats`` order)."""
        i = 0
        for layer in self.layers:
            st = stats.get(layer.name)
            if st is None:
                continue
            if st.value is None:
                if layer.name not in self.skipped:
                    self.skipped.append(layer.name)
                continue
            n = st.value.numel()
            values = numbers[i:i + n]
            i += n
            bad = sum(v <= 0 for v in values) if layer.kind == "dead" else sum(v > MOST for v in values)
            record[f"{layer.name}/{layer.kind}"] = bad / max(n, 1)

    def _safe_probe(self) -> dict:
        """The unit statistics of a probe pass; none (and a note) if the network cannot run the probe."""
        if self.probe is None:
            return {}
        try:
            return self._probe_statistics()
        except Exception as error:  # noqa: BLE001 - diagnostics never break a fit
            self.skipped.append(f"probe pass failed, unit statistics off: {type(error).__name__}: {error}")
            self.probe = None
            return {}

    def _probe_statistics(self) -> dict:
        """Run the probe (evaluation mode, no grad) with the unit-statistics hooks attached."""
        stats = self._attach()
        try:
            with evaluation_pass(self.net):
                self.probe_outputs = self.net(*self.probe).detach()
        finally:
            self._detach()
        return stats


def probe_indices(n: int, size: int) -> torch.Tensor:
    """``size`` sample indices spread evenly over ``n`` training samples (sorted data gets every class)."""
    size = min(size, n)
    return torch.linspace(0, n - 1, size).round().long()


class FitDiagnostics(StepRecorder):
    """The step recorder plus the end of a fit: the final state, the findings, and the files.

    At ``on_train_end`` it builds the :class:`~deepscope.diagnostics.findings.Diagnosis`
    (``dnn.diagnosis``), writes ``steps.csv`` and ``diagnosis.json`` into the run folder, and the
    records as TensorBoard scalars (``diagnostics/<layer>/<quantity>``) through ``writer_fn``.

    Args:
        dnn: the model (loss, output layer, learning rate).
        facts: ``n_samples``, ``batch_size``, ``drop_last`` of the fit.
        writer_fn: returns the run's TensorBoard writer (None: no TensorBoard).
        data: ``(xs, y)``: the fit's training tensors, for the end-of-fit accuracy and the data checks
            of :mod:`.facts` (None: the rules that need them stay silent).
        shuffle: whether the fit shuffles its samples every epoch.
        validation_inputs: the validation set's input tensors (None: none), compared with the training inputs.
        (others as :class:`StepRecorder`)
    """

    def __init__(self, settings, dnn, probe, total_steps, n_samples, batch_size, drop_last, writer_fn=None,
                 data=None, shuffle: bool = True, validation_inputs=None):
        super().__init__(settings, dnn.net, probe, total_steps, dnn.clip_gradients)
        self.dnn, self.writer_fn, self.data, self.shuffle = dnn, writer_fn, data, shuffle
        self.validation_inputs = validation_inputs
        self.n_samples, self.batch_size, self.drop_last = n_samples, batch_size, drop_last
        self.diagnosis: Diagnosis | None = None
        self.init_scale: dict = {}
        self.facts: factsmod.FitFacts | None = None
        self.written = 0  # records already in the run folder's TensorBoard events

    def on_train_begin(self, state: TrainingState) -> None:
        super().on_train_begin(state)
        if self.records:  # a resumed fit: its schedule counts from the killed fit's first step
            self.first_step = int(self.records[0]["step"]) - 1
        elif state.step == 0:  # the weights as initialized (not after a resume)
            self.init_scale = factsmod.init_scales(self.layers)

    def continue_from(self, folders, step: int) -> None:
        """A resumed fit: take the killed fit's records up to ``step`` (the checkpoint's) from the first
        of ``folders`` with a ``steps.csv``, so the records, the schedule and the rules see one fit."""
        for folder in folders:
            if folder is not None and (Path(folder) / STEPS_FILE).is_file():
                self.records = [r for r in read_steps(folder) if r["step"] <= step]
                self.written = len(self.records)  # already in TensorBoard (flushed with the checkpoint)
                initial = read_init_scale(folder)
                if initial:
                    self.init_scale = initial
                return

    def on_checkpoint(self, state: TrainingState) -> None:
        """Flush the records so far to ``steps.csv`` and TensorBoard: a killed fit keeps them."""
        if state.run is not None:
            self.write(state.run.path, partial=True)

    def on_train_end(self, state: TrainingState) -> None:
        self._detach()
        self.diagnosis = self.finish(state)
        self.dnn.diagnosis = self.diagnosis
        if state.run is not None:
            self.write(state.run.path)

    def finish(self, state: TrainingState, extra: list | None = None) -> Diagnosis:
        """Judge the fit: one last probe pass, then every rule of :mod:`.rules`."""
        stats = self._safe_probe()
        final_units: dict = {}
        if stats:
            units = [st.value for st in stats.values() if st.value is not None]
            self._unit_fractions(stats, torch.cat(units).tolist() if units else [], final_units)
        facts = self._facts(final_units, list(getattr(state, "history", []) or []))
        self.facts = facts
        findings = rules.diagnose(self.records, facts) + list(extra or [])
        final = {"metrics": dict(state.epoch_logs), "step": state.step, "epoch": state.epoch,
                 "n_predicted_classes": facts.n_predicted_classes, "majority_fraction": facts.majority_fraction,
                 "train_accuracy": facts.train_accuracy, "chance": facts.chance,
                 "dead": facts.final_dead, "saturated": facts.final_saturated}
        notes = [f"no unit statistics for layer {name!r} (its output is not a tensor of rank >= 2)"
                 if not name.startswith("probe") else name for name in self.skipped]
        notes += [f"no unit statistics for layer {layer.name!r} (no output recorded on the probe)"
                  for layer in self.layers if layer.kind is not None and f"{layer.name}/{layer.kind}" not in final_units
                  and self.probe is not None and layer.name not in self.skipped]
        return Diagnosis(findings, final, notes, causes.sentence(findings))

    def add_nonfinite(self, error, state: TrainingState) -> None:
        """A NaN/Inf stopped the fit: add it to the diagnosis (and the run folder)."""
        self.judge_nonfinite(Finding(
            "non_finite", "error", f"Training stopped at step {error.step}: {error}",
            ["a lower learning rate", "gradient clipping (DNN(clip_gradients=5.0))", "fit(nan_guard='rollback')"],
            step=error.step, layer=getattr(error, "tensor", None),
            summary=f"training stopped at step {error.step} on a NaN/Inf"))
        if state.run is not None:
            self.write(state.run.path)

    def judge_nonfinite(self, finding: Finding) -> None:
        """Judge the fit again knowing it ended on a NaN/Inf (``finding``, at ``finding.step``): the
        rules whose harm it is (a learning rate too large, ...) now lead, the NaN among the symptoms."""
        if self.diagnosis is None:
            self.diagnosis = Diagnosis()
        findings = self.diagnosis.findings
        if self.facts is not None:
            self.facts.nonfinite_step = finding.step
            findings = rules.diagnose(self.records, self.facts)
        self.diagnosis.findings = causes.link([finding, *[f for f in findings if f.code != "non_finite"]])
        self.diagnosis.summary = causes.sentence(self.diagnosis.findings)
        self.dnn.diagnosis = self.diagnosis

    def _facts(self, final_units: dict, history: list) -> factsmod.FitFacts:
        out = self.probe_outputs
        dnn = self.dnn
        output_activation = getattr(dnn.net, "output_activation", None)
        fused = getattr(dnn.loss, "fused_activation", None)
        classifier = fused == "softmax" or output_activation == "softmax"
        n_outputs = int(out.shape[1]) if out is not None and out.dim() == 2 else None
        binary = n_outputs == 1 and (output_activation == "sigmoid" or fused == "sigmoid")
        n_classes = majority = majority_fraction = spread = None
        if out is not None and out.numel() and out.dim() >= 2 and out.shape[0] > 1:
            flat = out.float().reshape(out.shape[0], -1)
            spread = float(flat.std(0).mean()) if torch.isfinite(flat).all() else None
            if classifier and n_outputs and n_outputs > 1:
                predicted = flat.argmax(1)
                counts = torch.bincount(predicted, minlength=n_outputs)
                n_classes = int((counts > 0).sum())
                majority = int(counts.argmax())
                majority_fraction = float(counts.max()) / out.shape[0]
        lr = getattr(dnn.config, "learning_rate", None)
        spec_lr = getattr(getattr(dnn, "optimizer_spec", None), "learning_rate", None)
        lr = spec_lr if isinstance(spec_lr, (int, float)) else lr
        optimizer = factsmod.optimizer_name(dnn)
        hidden, saturating, batch_norm, n_hidden = factsmod.network_shape(dnn.net, self.layers)
        facts = factsmod.FitFacts(
            n_samples=self.n_samples, batch_size=self.batch_size, drop_last=self.drop_last,
            learning_rate=lr if isinstance(lr, (int, float)) else None, clip_gradients=dnn.clip_gradients,
            n_outputs=n_outputs, classifier=classifier, n_predicted_classes=n_classes, majority_class=majority,
            majority_fraction=majority_fraction, output_spread=spread,
            final_dead={k[:-5]: v for k, v in final_units.items() if k.endswith("/dead")},
            final_saturated={k[:-10]: v for k, v in final_units.items() if k.endswith("/saturated")},
            optimizer=optimizer, adaptive=optimizer in factsmod.ADAPTIVE, loss_name=factsmod.loss_name(dnn),
            output_activation=output_activation, binary=binary, history=history, hidden_units=hidden, hidden_layers=n_hidden,
            saturating_layers=saturating, batch_norm=batch_norm, init_scale=dict(self.init_scale),
            shuffle=self.shuffle, dropout_keep=factsmod.dropout_keep(dnn.net),
            momentum=factsmod.momentum_of(getattr(dnn, "optimizer", None)), learning_rates=list(self.learning_rates))
        if self.probe:
            first = self.probe[0]
            if first.is_floating_point() and first.numel() and bool(torch.isfinite(first).all()):
                features = first.detach().abs().reshape(first.shape[0], -1).amax(0)  # (each input feature's largest)
                facts.input_scale = float(features.max())
                facts.large_inputs, facts.n_inputs = int((features > evidence.RAW_INPUTS).sum()), int(features.numel())
        if self.data is not None:
            try:
                self._measure_data(facts) if classifier or binary else self._measure_targets(facts)
            except Exception as error:  # noqa: BLE001 - diagnostics never break a fit
                self.skipped.append(f"probe: the end-of-fit data checks failed: {type(error).__name__}: {error}")
        return facts

    def _measure_targets(self, facts: factsmod.FitFacts) -> None:
        """A regression's targets (mean, spread, range) and the network's fit of them (R^2) on evenly spaced
        training samples."""
        xs, y = self.data
        if not y.is_floating_point() or not y.numel():
            return
        index = probe_indices(y.shape[0], factsmod.EVAL_SAMPLES).to(y.device)
        target = y.index_select(0, index).float().reshape(len(index), -1)
        if not bool(torch.isfinite(target).all()):
            return
        facts.target_mean, facts.target_std = float(target.mean()), float(target.std()) if target.numel() > 1 else 0.0
        facts.target_min, facts.target_max = float(target.min()), float(target.max())
        out = factsmod.evaluate_outputs(self.net, [x.index_select(0, index) for x in xs])
        if out.shape == target.shape and bool(torch.isfinite(out).all()):
            spread = float(((target - target.mean(0)) ** 2).sum())
            facts.train_r2 = 1.0 - float(((out - target) ** 2).sum()) / spread if spread > 0 else None

    def _measure_data(self, facts: factsmod.FitFacts) -> None:
        """Training accuracy, class shares and (when they matter) the data checks, on evenly spaced
        training samples (see :mod:`.facts` for how many)."""
        xs, y = self.data
        if facts.classifier and not facts.binary and y.dim() == 2 and y.is_floating_point() and y.shape[1] > 1:
            sums = y.sum(1)  # one-hot rows: 1 each
            facts.empty_label_rows = int((sums.abs() < 1e-6).sum())
            facts.multi_label_rows = int((sums > 1 + 1e-3).sum())
        labels = factsmod.class_targets(y, facts.n_outputs, facts.binary)
        if labels is None:
            return
        n_classes = max(facts.n_outputs or 0, 2)
        counts = torch.bincount(labels.reshape(-1).cpu(), minlength=n_classes).double()
        shares = (counts / counts.sum()).tolist()
        facts.class_shares, facts.chance = shares, max(shares)
        if not facts.shuffle and self.batch_size < y.shape[0]:
            facts.batch_purity = factsmod.batch_purity(labels, self.batch_size)
        seen = self.total_steps * self.batch_size  # samples the fit trained on
        size = max(self.settings.probe_size, min(factsmod.EVAL_SAMPLES, int(factsmod.EVAL_FRACTION * seen)))
        index = probe_indices(y.shape[0], size).to(y.device)
        sample = [x.index_select(0, index) for x in xs]
        sample_labels = labels.index_select(0, index)
        probe = self.probe_outputs
        if probe is not None and probe.shape[0] == len(index) and self.probe is not None:
            out = probe.float().reshape(len(index), -1)  # the same samples: the final probe pass's outputs
        else:
            out = factsmod.evaluate_outputs(self.net, sample)
        facts.eval_samples = len(index)
        predicted = (out[:, 0] > 0.5).long() if facts.binary else out.argmax(1)
        facts.train_accuracy = float((predicted == sample_labels).float().mean())
        if not xs[0].is_floating_point() or len(xs) != 1:
            return
        # the data checks need no forward pass: on up to 512 samples, whatever the fit's length
        index = probe_indices(y.shape[0], factsmod.EVAL_SAMPLES).to(y.device)
        x, sample_labels = xs[0].index_select(0, index), labels.index_select(0, index)
        facts.data_samples = len(index)
        flat = x.reshape(len(index), -1)
        facts.varying_inputs = int((flat.amax(0) > flat.amin(0)).sum())  # (exact: equal values, equal extremes)
        if facts.val_accuracy is not None and facts.train_accuracy - facts.val_accuracy >= evidence.OVERFIT_GAP:
            facts.distinct_inputs = int(torch.unique(flat, dim=0).shape[0])  # (a memorized set that repeats itself?)
        val = self.validation_inputs
        if val is not None and len(val) == 1 and val[0].is_floating_point() and val[0].shape[1:] == x.shape[1:]:
            v = val[0].index_select(0, probe_indices(val[0].shape[0], factsmod.EVAL_SAMPLES).to(val[0].device))
            facts.validation_samples = len(v)
            facts.validation_shift, facts.validation_scale = factsmod.distribution_shift(flat, v.reshape(len(v), -1))
        val = facts.val_accuracy
        if len(index) >= 100 and (facts.near_chance or (val is not None and val <= 1.5 / n_classes)):
            facts.knn_accuracy = factsmod.knn_accuracy(x, sample_labels)
            facts.knn_by_chance = factsmod.agreement_by_chance(sample_labels)
        narrow = not facts.hidden_layers or any(u < n_classes for u in facts.hidden_units)
        poor = facts.train_accuracy < facts.chance + 0.5 * (1 - facts.chance)  # (a healthy fit pays nothing)
        if facts.train_accuracy < 0.95 and (narrow or poor or evidence.suspect_recipe(facts)):
            facts.linear_accuracy = factsmod.linear_accuracy(x, sample_labels, n_classes)
            facts.linear_heldout = factsmod.linear_accuracy(x, sample_labels, n_classes, heldout=True)

    def write(self, folder, partial: bool = False) -> None:
        """``steps.csv`` (one row per record), ``diagnosis.json`` (not while ``partial``: the fit
        goes on) and the TensorBoard scalars of the records not written yet."""
        folder = Path(folder)
        if self.records:
            atomic_write_text(folder / STEPS_FILE, csv_text(self.records), durable=False)
        if self.init_scale:
            atomic_write_json(folder / INIT_SCALE_FILE, self.init_scale, durable=False)
        if not partial and self.diagnosis is not None:
            atomic_write_json(folder / DIAGNOSIS_FILE, self.diagnosis.to_json(), durable=False)
        new = self.records[self.written:]
        writer = self.writer_fn() if self.writer_fn is not None and new else None
        if writer is not None:
            for record in new:
                writer.add_scalars(record["step"], {f"diagnostics/{k}": v for k, v in record.items()
                                                    if k not in ("step", "epoch") and math.isfinite(v)})
            writer.flush()
            self.written = len(self.records)


def read_init_scale(run_folder) -> dict:
    """The initial weight scales a fit stored beside its step records ({} when none)."""
    try:
        data = json.loads((Path(run_folder) / INIT_SCALE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}


def read_steps(run_folder) -> list[dict]:
    """The step records of a run folder's ``steps.csv`` ([] when it has none)."""
    path = Path(run_folder) / STEPS_FILE
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        return [{k: (int(v) if k in ("step", "epoch") else float(v)) for k, v in row.items() if v not in ("", None)}
                for row in csv.DictReader(f)]
