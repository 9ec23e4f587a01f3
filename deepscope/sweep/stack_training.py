"""The training loop of a stack (:mod:`deepscope.sweep.stacking`): ``DNN.fit``'s loop for M models at
once, each model's run folder, diagnosis and step records written as its own fit would write them.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.func import stack_module_state

from .._checks import fail
from ..callbacks.base import CallbackList, TrainingState
from ..callbacks.run_logger import RunLogger
from ..diagnostics import recorder as recordermod
from ..diagnostics import facts
from ..diagnostics.findings import Finding
from ..models.data import validation_split
from ..models.fit_state import FitSettings
from ..models.trainer import Loop
from ..metrics import Accuracy
from ..utils import INFERENCE_BATCH_SIZE
from . import stack_checkpoint
from .stacking import LINEAR_IN_GRADIENT, Member, Stack, norms_per_model, stack_key


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
    progress: bool = False  # one line per epoch for the whole stack (a study's verbose)


def train_stack(members: list[Member], engine: str, fit: StackFit, write_runs: bool = True,
                checkpoint: Path | None = None) -> Stack:
    """Train ``members`` together as their own ``DNN.fit(...)`` calls would (see the module doc).

    Each member gets its ``history``, ``failed`` (non-finite loss or gradient: that model stops
    counting, the others go on), its trained weights in ``member.dnn``, ``dnn.diagnosis`` and, when
    ``write_runs`` and it has a ``run_id``, a run folder like a fit's (metrics, TensorBoard, model,
    ``steps.csv`` and ``diagnosis.json``).

    Args:
        checkpoint: a file (:mod:`.stack_checkpoint`) written every 30 s (inside an epoch or at its end);
            when it holds this stack's state, training continues from it (``stack.resumed_epoch`` says
            from where).

    Returns:
        The :class:`Stack` (its ``members`` are grouped by data order).
    """
    if not members or not all(isinstance(m, Member) for m in members):
        fail("train_stack members", "a non-empty list of Member (see stacking.new_member)", members, error=TypeError)
    if engine not in ("dense", "vmap"):
        fail("train_stack engine", "'dense' or 'vmap' (from stacking.stack_key)", engine)
    started = time.perf_counter()
    trainer = StackTrainer(Stack(members, engine), fit, checkpoint)
    trainer.run(trainer.epochs_left())
    trainer.finish(write_runs, (time.perf_counter() - started) / len(members))
    return trainer.stack


class StackTrainer(Loop):
    """The learner of a stack for the one training loop (``models/trainer.Loop``): every step trains
    the M models at once; each model keeps its own NaN flag, history, callbacks and stop.

    Args:
        stack: the models.
        fit: what each model's ``fit`` was asked.
        checkpoint: the stack's checkpoint file (None: no checkpoints).
    """

    def __init__(self, stack: Stack, fit: StackFit, checkpoint: Path | None = None):
        self.stack, self.fit = stack, fit
        self.key = stack_key(stack.first)[0] if checkpoint is not None else None  # (the checkpoint's fingerprint)
        first = stack.first
        self.xs, self.y, self.validation = _fit_data(first, fit)
        n = self.n = self.y.shape[0]
        self.settings = settings = FitSettings.check(
            n, fit.n_epoch, first.config.batch_size if fit.batch_size is None else fit.batch_size,
            first.config.shuffle_batches if fit.shuffle is None else fit.shuffle, fit.show_metric, True, None,
            fit.drop_last, fit.max_steps, first.config.validation_batch_size)
        for member in stack.members:
            member.dnn.fit_preprocessing(self.xs)
        if any(getattr(node.module, "preprocessing", None) is not None for node in first.net.inputs):
            stack.params, stack.buffers = stack_module_state([m.dnn.net for m in stack.members])  # fitted statistics
            stack.trainable = list(stack.params.values())
        spec = first.config.build_optimizer()
        self.optimizer, self.scheduler = spec.build(stack.trainable, settings.total_steps)
        self.linear = type(spec).__name__ in LINEAR_IN_GRADIENT
        self.diagnostics = recordermod.settings_from(fit.diagnostics)
        self.recorder = None if self.diagnostics is None else _StackRecorder(stack, self.diagnostics, settings.total_steps)
        # each model's weights as initialized (its diagnosis compares them with He/Glorot, as its fit would)
        self.init_scales = [facts.init_scales(recordermod.monitored_layers(m.dnn.net, None)) if self.diagnostics
                            else {} for m in stack.members]
        self.shuffle = settings.shuffle and settings.batch_size < n  # one full batch: order does not matter
        self.end = n - n % settings.batch_size if settings.drop_last else n
        self.alive = torch.ones(stack.n, dtype=torch.bool, device=stack.device)
        self.first_bad = torch.zeros(stack.n, dtype=torch.long, device=stack.device)  # the step it turned NaN
        self.histories: list[list[dict]] = [[] for _ in stack.members]
        self.state = TrainingState(model=None, n_epoch=settings.n_epoch, steps_per_epoch=settings.steps_per_epoch,
                                   batch_size=settings.batch_size, n_samples=n)  # the loop's count of the stack
        self.states = [TrainingState(model=m.dnn, n_epoch=settings.n_epoch, steps_per_epoch=settings.steps_per_epoch,
                                     batch_size=settings.batch_size, n_samples=n) for m in stack.members]
        self.callbacks = [CallbackList(m.callbacks or []) for m in stack.members]
        self.has_batch_events = any(c.has_batch_events for c in self.callbacks)
        self.metric_name = first.metric.name if first.metric is not None else None
        self.metrics = None
        self.stop_at_step = settings.max_steps
        stack.resumed_epoch = None
        if checkpoint is not None:
            self.checkpointer = stack_checkpoint.StackCheckpointer(self, checkpoint)
            if stack_checkpoint.restore(self, checkpoint):
                stack.resumed_epoch = self.epoch  # continue where the checkpoint was written
        self.stopped = [i for i, m in enumerate(stack.members) if m.stopped_epoch is not None]  # (a checkpoint's)
        self.started = time.perf_counter()
        self.first_epoch = self.epoch  # (a resumed stack's progress counts from here)

    @property
    def step(self) -> int:
        """Steps taken by the stack."""
        return self.state.step

    @step.setter
    def step(self, value: int) -> None:
        self.state.step = value

    @property
    def epoch(self) -> int:
        """The stack's epoch (1-based)."""
        return self.state.epoch

    @epoch.setter
    def epoch(self, value: int) -> None:
        self.state.epoch = value

    def epochs_left(self) -> int:
        """``run``'s epochs: those not done, the resumed one included."""
        return self.settings.n_epoch - self.epoch + (self.resume is not None)

    # -- the loop's hooks (``Loop.run``) ---------------------------------------------------------
    def epoch_order(self, epoch: int) -> list[torch.Tensor] | None:
        """One permutation per data order (each as its seed's fit draws it), or None."""
        if not self.shuffle:
            return None
        return [torch.randperm(self.n, generator=torch.Generator().manual_seed(seed + epoch)).to(self.y.device)
                for seed in self.stack.data_seeds]

    def batches(self, orders, start: int = 0):
        """This epoch's batches from the ``start``-th, ``(G, B, ...)``: one per data order."""
        xs, y, batch, groups = self.xs, self.y, self.settings.batch_size, len(self.stack.data_seeds)
        for begin in range(start * batch, self.end, batch):
            if orders is None:
                yield ([x[begin:begin + batch].unsqueeze(0).expand(groups, *x[begin:begin + batch].shape) for x in xs],
                       y[begin:begin + batch].unsqueeze(0).expand(groups, *y[begin:begin + batch].shape))
            else:
                idx = [o[begin:begin + batch] for o in orders]
                yield [torch.stack([x.index_select(0, i) for i in idx]) for x in xs], torch.stack(
                    [y.index_select(0, i) for i in idx])

    def train_step(self, xb, yb):
        """One optimizer step of every model: ``(loss (M,), output)``; a model that failed adds 0."""
        stack, step = self.stack, self.state.step + 1
        record = self.recorder is not None and self.recorder.due(step)
        if record:
            self.recorder.before(step)
        if stack.per_model_forward:
            loss, data, terms, out = stack.backward_one_after_another(xb, yb)
        else:
            loss, data, terms, out = stack.losses(xb, yb, True, True)
            for p in stack.trainable:
                p.grad = None
            loss.sum().backward()  # each model's slice of every gradient is its own
        norms = stack.clip(self.stack.first.clip_gradients or None)
        finite = torch.isfinite(loss.detach()) & torch.isfinite(norms)  # the NaN guard, per model, no sync
        self.first_bad = torch.where(self.alive & ~finite, torch.full_like(self.first_bad, step), self.first_bad)
        self.alive = self.alive & finite
        factor = stack.lr_factor
        if factor is not None and self.linear:  # a per-model learning rate: a gradient scale
            stack.scale_grads(factor)
        before = [p.detach().clone() for p in stack.trainable] if factor is not None and not self.linear else None
        self.optimizer.step()
        if before is not None:  # else: rescale each model's update by lr_m / lr_0
            with torch.no_grad():
                for p, b in zip(stack.trainable, before):
                    p.copy_(b + (p - b) * factor.reshape(-1, *([1] * (p.dim() - 1))))
        if self.scheduler is not None:
            self.scheduler.step()
        if self.stopped:
            self.freeze_stopped()
        if record:
            self.recorder.after(step, self.epoch, loss.detach(), data.detach(), [t.detach() for t in terms], norms)
        loss = loss.detach()
        return torch.where(self.alive, loss, torch.zeros_like(loss)), out.detach()

    def begin_epoch(self, fresh: bool) -> None:
        for net in (m.dnn.net for m in self.stack.members):
            if not net.training:
                net.train()
        if self.settings.show_metric and self.metric_name:
            self.metrics = [_fresh(m.dnn.metric) for m in self.stack.members]
        self.fire("on_epoch_begin")

    def update_metrics(self, output, y) -> None:
        if self.metrics is not None:
            _update_metrics(self.stack, self.metrics, output, y)

    def end_epoch(self, loss_sum, steps: int) -> None:
        if loss_sum is None:
            loss_sum = torch.zeros(self.stack.n, device=self.stack.device)
        self._log_epoch(loss_sum / max(steps, 1), self.metrics)
        self.fire("on_epoch_end")
        if self.fit.progress:
            print(self.progress_line(), flush=True)

    def progress_line(self) -> str:
        """One line (<= 100 columns) on the whole stack after an epoch: the models' loss (median and range),
        the best validation metric, how many failed or stopped, the time so far and the time left."""
        logs = [h[-1] for h, alive in zip(self.histories, self.alive.tolist()) if h and alive]
        line = f"stack of {self.stack.n} models: epoch {self.epoch}/{self.settings.n_epoch}"
        if logs:
            losses = sorted(entry["loss"] for entry in logs)
            line += f" | loss {losses[len(losses) // 2]:.4g} ({losses[0]:.3g}-{losses[-1]:.3g})"
            key = next((k for k in logs[0] if k.startswith("val_") and k != "val_loss"), None)
            if key is not None:
                line += f" | best {key} {max(entry[key] for entry in logs):.4g}"
        failed = self.stack.n - int(self.alive.sum())
        line += f" | {failed} failed" if failed else ""
        line += f" | {len(self.stopped)} stopped" if self.stopped else ""
        elapsed, done = time.perf_counter() - self.started, self.epoch - self.first_epoch
        left = self.settings.n_epoch - self.epoch
        line += f" | {elapsed:.1f} s" + (f", ~{elapsed / done * left:.0f} s left" if done > 0 and left > 0 else "")
        if len(line) > 100:  # within 100 columns: the loss range goes first
            line = re.sub(r" \([^)]*\)", "", line, count=1)
        return line[:100]

    def end_training(self) -> None:
        self.stack.write_back()
        self.fire("on_train_end")

    def fire(self, event: str, **kwargs) -> None:
        """Each model's callbacks get ``event`` with that model's own state (epoch logs, history, its
        batch's loss); a callback that sets ``stop_training`` at an epoch's end stops that model there, as
        its fit would (the stack stops once every model has). A stop asked in a batch event takes effect
        at that epoch's end (a study keeps such callbacks out of stacks: ``Fit.why_not_vectorized``)."""
        loop = self.state
        for i, member in enumerate(self.stack.members):
            if not member.callbacks or (member.stopped_epoch is not None and event != "on_train_end"):
                continue
            state = self.states[i]
            epochs = member.stopped_epoch if member.stopped_epoch is not None else self.epoch
            state.epoch, state.history = epochs, self.histories[i][:epochs]
            state.step = min(self.step, epochs * self.settings.steps_per_epoch)
            state.epoch_logs = dict(state.history[-1]) if state.history else {}
            if event.startswith("on_batch"):
                state.batch_index = loop.batch_index
                state.batch_loss = None if loop.batch_loss is None else loop.batch_loss[i]
            self.callbacks[i].fire(event, state, **kwargs)
            if event == "on_epoch_end" and state.stop_training and member.stopped_epoch is None:
                member.stopped_epoch = self.epoch
                self.stopped.append(i)
                self.stack.write_back_one(i)  # its weights as its fit would end; the slice stays there
        if len(self.stopped) == self.stack.n:
            loop.stop_training = True

    def freeze_stopped(self) -> None:
        """Put the stopped models' weights back into their slices (the step moved them)."""
        for i in self.stopped:
            self.stack.restore_one(i)

    def _log_epoch(self, mean_loss: torch.Tensor, metrics: list | None) -> None:
        """Every model's epoch logs: loss, the training metric, validation loss and metric."""
        logs = [{"loss": v} for v in mean_loss.tolist()]
        if metrics is not None:
            for entry, metric in zip(logs, metrics):
                entry[self.metric_name] = metric.compute()
        if self.validation is not None:
            val_loss, val_metric = evaluate_stack(self.stack, *self.validation, self.settings.validation_batch_size)
            for i, entry in enumerate(logs):
                entry["val_loss"] = val_loss[i]
                if val_metric is not None:
                    entry["val_" + self.metric_name] = val_metric[i]
        for history, entry in zip(self.histories, logs):
            history.append(entry)

    def finish(self, write_runs: bool, seconds: float) -> None:
        """Each member's outcome, history, step count, diagnosis and run folder."""
        bad_steps, alive = self.first_bad.tolist(), self.alive.tolist()
        if self.recorder is not None:
            self.recorder.read()
        for i, member in enumerate(self.stack.members):
            dnn = member.dnn
            dnn.net.eval()
            member.seconds = seconds
            member.history = self.histories[i]
            dnn.step, dnn.epoch = self.step, self.epoch
            if not alive[i]:
                member.failed_step = bad_steps[i]
                member.failed = (f"training stopped at step {bad_steps[i]}: a non-finite (NaN/Inf) loss or gradient "
                                 "(a vectorized trial: this model stopped there, the others went on). Likely causes: "
                                 "a too high learning rate, exploding gradients (keep clip_gradients on), a custom "
                                 "loss dividing by zero.")
                member.history = self.histories[i][:(bad_steps[i] - 1) // self.settings.steps_per_epoch]
                dnn.step, dnn.epoch = bad_steps[i] - 1, len(member.history)
            elif member.stopped_epoch is not None:  # a callback stopped it: as its fit, at that epoch's end
                member.history = self.histories[i][:member.stopped_epoch]
                dnn.epoch = member.stopped_epoch
                dnn.step = min(self.step, member.stopped_epoch * self.settings.steps_per_epoch)
                bad_steps[i], alive[i] = dnn.step + 1, False  # (its step records end there too)
            dnn.history = list(member.history)
            if self.recorder is not None:
                member.records = self.recorder.records_of(i, None if alive[i] else bad_steps[i])
            _finish_member(member, self.settings, self.xs, self.y, self.diagnostics, write_runs, self.fit,
                           self.init_scales[i], None if self.validation is None else self.validation[0])


def _fit_data(first, fit: StackFit):
    """``(xs, y, validation)`` as ``DNN.fit`` prepares them (a fraction holds out the trailing samples)."""
    xs, y = first.prepare_data(fit.X, fit.Y, "fit X_inputs", "fit Y_targets")
    validation = None
    if isinstance(fit.validation_set, (float, int)) and not isinstance(fit.validation_set, bool):
        n_val = validation_split(fit.validation_set, y.shape[0])
        validation = ([x[-n_val:] for x in xs], y[-n_val:])
        xs, y = [x[:-n_val] for x in xs], y[:-n_val]
    elif fit.validation_set is not None:
        if not (isinstance(fit.validation_set, (tuple, list)) and len(fit.validation_set) == 2):
            fail("fit validation_set", "(X, Y) or a fraction such as 0.1", type(fit.validation_set).__name__,
                 error=TypeError)
        validation = first.prepare_data(fit.validation_set[0], fit.validation_set[1],
                                        "fit validation_set[0] (X)", "fit validation_set[1] (Y)")
    return xs, y, validation


def _finish_member(member: Member, settings: FitSettings, xs, y, diagnostics, write_runs: bool, fit: StackFit,
                   init_scale: dict | None = None, validation_inputs=None):
    """The member's diagnosis and run folder, as its own fit would leave them."""
    dnn = member.dnn
    n = y.shape[0]
    state = TrainingState(model=dnn, n_epoch=settings.n_epoch, steps_per_epoch=settings.steps_per_epoch,
                          batch_size=settings.batch_size, n_samples=n, epoch=dnn.epoch, step=dnn.step)
    state.history = list(member.history)
    state.epoch_logs = dict(member.history[-1]) if member.history else {}
    logger = None
    if write_runs and member.run_id is not None:
        config = {**dnn.run_config(settings, fit.validation_set, n), "vectorized": True}
        if member.trial is not None:
            config["trial"] = member.trial
        logger = RunLogger(dnn, member.run_id, config)
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
                                                     writer_fn=logger.get_writer if logger else None,
                                                     data=(xs, y), shuffle=settings.shuffle,
                                                     validation_inputs=validation_inputs)
        fit_diagnostics.records = member.records
        fit_diagnostics.init_scale = dict(init_scale or {})
        dnn.diagnosis = fit_diagnostics.diagnosis = fit_diagnostics.finish(state)
        if member.failed is not None:  # as a fit stopped by its NaN guard reports it
            fit_diagnostics.judge_nonfinite(Finding(
                "non_finite", "error", member.failed[0].upper() + member.failed[1:],
                ["a lower learning rate", "gradient clipping (DNN(clip_gradients=5.0))"], step=member.failed_step,
                summary=f"training stopped at step {member.failed_step} on a NaN/Inf"))
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
    first = stack.first
    # every model's plain multi-class accuracy at once (the per-model metric objects otherwise)
    stacked_accuracy = all(type(m.dnn.metric) is Accuracy for m in stack.members)
    correct = torch.zeros(stack.n, device=stack.device)
    metrics = [_fresh(m.dnn.metric) for m in stack.members]
    for start in range(0, n, batch_size):
        xb, yb = [x[start:start + batch_size] for x in xs], y[start:start + batch_size]
        loss, _, _, out = stack.losses(xb, yb, False, False)
        total += loss * yb.shape[0]
        stacked_accuracy = stacked_accuracy and out.shape[-1] > 1  # (one output unit: binary, per model)
        if stacked_accuracy:  # (the argmax of the activated output: as Accuracy reads it)
            true = yb.argmax(-1) if yb.shape == out.shape[1:] else yb.reshape(-1).long()
            activated = first.activate(out.reshape(-1, out.shape[-1])).reshape(out.shape)  # (per row, as each model's)
            correct += (activated.argmax(-1) == true).sum(1)
            continue
        for member, metric, o in zip(stack.members, metrics, out):
            if metric is not None:
                metric.update(member.dnn.activate(o), yb)
    values = (total / n).tolist()
    if stacked_accuracy:
        return values, (correct / n).tolist()
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
                weight = torch.stack([norms_per_model(stack.params[p].detach(), n) for p in params]).square().sum(0).sqrt()
                update = torch.stack([norms_per_model(stack.params[p].detach() - self._before[p], n)
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
