"""TFlearn's ``Trainer`` and ``TrainOp``: train losses of your own tensors on deepscope's training loop.

A ``TrainOp`` is one optimization: a loss (a function of a batch of the feed), an optimizer and the parameters it
changes. ``Trainer(train_ops).fit(feed_dicts, ...)`` runs :class:`deepscope.models.trainer.Loop` (the same loop
as ``DNN.fit``): each batch, every op takes one step on it; at each epoch's end the losses, metrics and
validation are printed and written to TensorBoard with the requested summaries.

Example::

    W = tflearn.variable('W', shape=[784, 10], initializer='xavier')
    loss = lambda feed: F.cross_entropy(feed['X'] @ W, feed['Y'].argmax(1))
    op = tflearn.TrainOp(loss=loss, optimizer=tflearn.SGD(0.1), batch_size=128, trainable_vars=[W])
    tflearn.Trainer(train_ops=op).fit({'X': X, 'Y': Y}, n_epoch=5, val_feed_dicts={'X': tX, 'Y': tY})
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from .. import optimizers
from .._checks import Text, check_float, check_int, fail
from .._unsupported import tensorflow_only
from ..callbacks.base import TrainingState
from ..models.fit_state import FitSettings
from ..models.trainer import Loop
from ..variables import LOOSE_PENALTIES
from .evaluator import evaluate_ops
from .feeds import batch_of, feed_length, to_feed
from .summarizer import write_summaries

__all__ = ["TrainOp", "Trainer", "TrainingState", "evaluate", "evaluate_flow", "duplicate_identical_ops",
           "get_current_batch_size"]


class TrainOp:
    """One optimization of a loss (TFlearn's arguments).

    Args:
        loss: a function of a batch of the feed (``{key: tensor}``) returning a scalar tensor.
        optimizer: a deepscope optimizer (``SGD(0.1)``), its name (``'adam'``), or a ``torch.optim`` class.
        metric: None, or a function of the batch returning a scalar (e.g. the accuracy).
        batch_size: samples per step.
        ema: TFlearn's exponential moving average of the loss for display (0: none).
        trainable_vars: the parameters to change (None: every trainable parameter built so far:
            deepscope layers and ``variables.variable(...)``).
        shuffle: reshuffle the samples every epoch.
        step_tensor, validation_monitors, graph: TensorFlow's; accepted and unused.
        validation_batch_size: samples per validation batch (None: ``batch_size``).
        name: the name shown in progress lines.
    """

    def __init__(self, loss, optimizer, metric=None, batch_size=64, ema=0.0, trainable_vars=None, shuffle=True,
                 step_tensor=None, validation_monitors=None, validation_batch_size=None, name=None, graph=None):
        if not callable(loss):
            fail("TrainOp loss", "a function of a batch of the feed returning a scalar tensor", Text(
                type(loss).__name__), "In deepscope a loss is computed, not a graph tensor: "
                "loss=lambda feed: F.mse_loss(net(feed['X']), feed['Y']).", error=TypeError)
        if metric is not None and not callable(metric):
            fail("TrainOp metric", "None or a function of a batch of the feed", Text(type(metric).__name__),
                 error=TypeError)
        self.loss, self.metric = loss, metric
        self.batch_size = check_int(batch_size, "TrainOp batch_size", minimum=1)
        self.validation_batch_size = check_int(validation_batch_size or batch_size,
                                               "TrainOp validation_batch_size", minimum=1)
        self.ema = check_float(ema, "TrainOp ema", minimum=0.0, maximum=1.0, max_inclusive=False)
        self.shuffle = bool(shuffle)
        self.name = name or "TrainOp"
        self.optimizer_spec = optimizer
        if trainable_vars is None:
            from ..variables import get_all_trainable_variable, made_variables
            trainable_vars = get_all_trainable_variable() + [v for v in made_variables() if v.requires_grad]
        self.params = list(dict.fromkeys(trainable_vars))
        if not self.params:
            fail("TrainOp trainable_vars", "the parameters to train", self.params,
                 "Give trainable_vars=[...] (variables.variable(...) or a layer's .W / .b).")
        self.optimizer = self._build_optimizer(optimizer)
        self.smoothed = None  # the loss's moving average (ema > 0)

    def _build_optimizer(self, optimizer) -> torch.optim.Optimizer:
        if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
            return optimizer(self.params)
        if isinstance(optimizer, torch.optim.Optimizer):
            fail("TrainOp optimizer", "a deepscope optimizer, its name, or a torch.optim class (not an instance "
                 "made for other parameters)", Text(type(optimizer).__name__), error=TypeError)
        spec = optimizers.get(optimizer, where="TrainOp optimizer")
        spec = spec() if isinstance(spec, type) else spec
        built, _ = spec.build(self.params)
        return built

    def step(self, batch: dict, clip: float | None) -> torch.Tensor:
        """One optimizer step on ``batch``; returns the detached loss (with the loose penalties)."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = torch.as_tensor(self.loss(batch))
        if loss.dim() != 0:
            loss = loss.mean()
        for variable, (penalty, decay) in list(LOOSE_PENALTIES.items()):
            if any(variable is p for p in self.params):
                loss = loss + penalty(variable, decay)
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(self.params, clip)
        self.optimizer.step()
        value = loss.detach()
        self.smoothed = value if self.smoothed is None or not self.ema else \
            self.ema * self.smoothed + (1 - self.ema) * value
        return value


class Trainer(Loop):
    """Train one or several :class:`TrainOp` on feed dicts (TFlearn's arguments).

    Args:
        train_ops: a TrainOp or a list (each takes one step per batch, in order).
        graph, session: TensorFlow's; accepted and unused.
        clip_gradients: clip each op's global gradient norm to this (0: no clipping).
        tensorboard_dir: the TensorBoard log folder (one subfolder per ``run_id``).
        tensorboard_verbose: 0 writes losses and metrics; the requested summaries are always written.
        checkpoint_path: save the parameters to ``<checkpoint_path>-<step>.safetensors`` at each snapshot.
        best_checkpoint_path, max_checkpoints, keep_checkpoint_every_n_hours, best_val_accuracy: accepted;
            ``max_checkpoints`` keeps that many snapshots.
        random_seed: seed torch and numpy (None: leave them).
    """

    def __init__(self, train_ops, graph=None, clip_gradients=5.0, tensorboard_dir="/tmp/tflearn_logs/",
                 tensorboard_verbose=0, checkpoint_path=None, best_checkpoint_path=None, max_checkpoints=None,
                 keep_checkpoint_every_n_hours=10000.0, random_seed=None, session=None, best_val_accuracy=0.0):
        ops = list(train_ops) if isinstance(train_ops, (list, tuple)) else [train_ops]
        if not ops or not all(isinstance(op, TrainOp) for op in ops):
            fail("Trainer train_ops", "a TrainOp or a list of them", Text(repr(train_ops)[:80]), error=TypeError)
        self.train_ops = ops
        self.clip = check_float(clip_gradients or 0.0, "Trainer clip_gradients", minimum=0.0)
        self.tensorboard_dir = tensorboard_dir
        self.tensorboard_verbose = tensorboard_verbose
        self.checkpoint_path, self.max_checkpoints = checkpoint_path, max_checkpoints
        if random_seed is not None:
            torch.manual_seed(check_int(random_seed, "Trainer random_seed", minimum=0))
            np.random.seed(random_seed % 2**32)
        self.state = TrainingState(model=self, n_epoch=0, steps_per_epoch=0, batch_size=ops[0].batch_size,
                                   n_samples=0)
        self.writer = None
        self.history: list[dict] = []

    # -- Loop hooks -----------------------------------------------------------------------------------
    def epoch_order(self, epoch):
        return torch.randperm(self.n) if self.train_ops[0].shuffle and self.n > self.batch_size else None

    def batches(self, order, start=0):
        for first in range(start * self.batch_size, self.n, self.batch_size):
            rows = slice(first, min(first + self.batch_size, self.n)) if order is None else \
                order[first:first + self.batch_size]
            yield batch_of(self.feed, rows), None

    def train_step(self, xs, y):
        self.last_batch = xs
        losses = [op.step(xs, self.clip) for op in self.train_ops]
        return torch.stack(losses), None

    def end_epoch(self, loss_sum, steps):
        logs = {}
        means = (loss_sum / max(steps, 1)).tolist() if loss_sum is not None else []
        for op, value in zip(self.train_ops, means):
            logs[f"{op.name}/loss"] = value
            if self.show_metric and op.metric is not None:
                logs[f"{op.name}/acc"] = evaluate_ops([op.metric], self.feed, op.validation_batch_size)[0]
            if self.val_feed is not None:
                ops = [op.loss] + ([op.metric] if op.metric is not None else [])
                values = evaluate_ops(ops, self.val_feed, op.validation_batch_size)
                logs[f"{op.name}/val_loss"] = values[0]
                if op.metric is not None:
                    logs[f"{op.name}/val_acc"] = values[1]
        self.state.epoch_logs = logs
        self.history.append(logs)
        shown = " | ".join(f"{k} {v:.5f}" for k, v in logs.items())
        print(f"Training Step: {self.state.step} | epoch {self.state.epoch:03d} | {shown} | "
              f"time: {time.perf_counter() - self.started:.3f}s", flush=True)
        self._write(logs)
        if self.checkpoint_path and self.snapshot_epoch:
            self.save(self.checkpoint_path, global_step=self.state.step)

    def snapshot(self):
        if self.checkpoint_path:
            self.save(self.checkpoint_path, global_step=self.state.step)

    def fire(self, event, **kwargs):
        for callback in self.callbacks:
            getattr(callback, event, lambda *a, **k: None)(self.state, **kwargs)

    # -- TFlearn's methods -----------------------------------------------------------------------------
    def fit(self, feed_dicts, n_epoch=10, val_feed_dicts=None, show_metric=False, snapshot_step=None,
            snapshot_epoch=True, shuffle_all=None, dprep_dict=None, daug_dict=None, excl_trainops=None,
            run_id=None, callbacks=None):
        """Train every op for ``n_epoch`` epochs over ``feed_dicts`` (one dict, or one per op: the first is used
        when they hold the same data).

        Args:
            feed_dicts: ``{key: array}`` (keys as the loss functions read them).
            n_epoch: epochs.
            val_feed_dicts: a feed dict for validation after each epoch (or None).
            show_metric: compute each op's metric on the training data after each epoch.
            snapshot_step, snapshot_epoch: save checkpoints (with ``checkpoint_path``) every this many steps / at
                each epoch's end.
            shuffle_all: None (each op's ``shuffle``), True or False.
            dprep_dict, daug_dict, excl_trainops: TFlearn's; the ops listed in ``excl_trainops`` are skipped.
            run_id: the TensorBoard run name (None: a time stamp).
            callbacks: deepscope callbacks (``on_epoch_end(state)`` ...).

        Returns:
            The list of per-epoch logs.
        """
        feeds = feed_dicts if isinstance(feed_dicts, (list, tuple)) else [feed_dicts]
        self.feed = to_feed(feeds[0], "Trainer.fit feed_dicts")
        val = val_feed_dicts[0] if isinstance(val_feed_dicts, (list, tuple)) else val_feed_dicts
        self.val_feed = None if val is None else to_feed(val, "Trainer.fit val_feed_dicts")
        excluded = set(map(id, excl_trainops or []))
        all_ops, self.train_ops = self.train_ops, [op for op in self.train_ops if id(op) not in excluded]
        self.n = feed_length(self.feed)
        self.batch_size = min(self.train_ops[0].batch_size, self.n)
        if shuffle_all is not None:
            for op in self.train_ops:
                op.shuffle = bool(shuffle_all)
        self.show_metric = bool(show_metric)
        self.snapshot_epoch = bool(snapshot_epoch)
        steps = -(-self.n // self.batch_size)
        self.settings = FitSettings(n_epoch=check_int(n_epoch, "Trainer.fit n_epoch", minimum=1),
                                    batch_size=self.batch_size, steps_per_epoch=steps, snapshot_step=snapshot_step)
        self.state.n_epoch, self.state.steps_per_epoch, self.state.n_samples = n_epoch, steps, self.n
        self.callbacks = list(callbacks or [])
        self.run_id = run_id or time.strftime("trainer-%Y%m%d-%H%M%S")
        self.started = time.perf_counter()
        try:
            self.run(n_epoch)
        finally:
            self.train_ops = all_ops
            if self.writer is not None:
                self.writer.flush()
        return self.history

    def fit_batch(self, feed_dicts, dprep_dict=None, daug_dict=None):
        """One step of every op on one batch (the whole feed dict given). Returns the losses as floats."""
        feed = to_feed(feed_dicts[0] if isinstance(feed_dicts, (list, tuple)) else feed_dicts,
                       "Trainer.fit_batch feed_dicts")
        self.state.step += 1
        return [float(op.step(feed, self.clip)) for op in self.train_ops]

    def _write(self, logs: dict) -> None:
        if self.tensorboard_dir is None:
            return
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter
            self.writer = SummaryWriter(str(Path(self.tensorboard_dir) / self.run_id))
        for tag, value in logs.items():
            self.writer.add_scalar(tag, value, self.state.step)
        write_summaries(self.writer, "tflearn_summ", getattr(self, "last_batch", None), self.state.step)

    def _parameters(self) -> dict[str, torch.Tensor]:
        params = list(dict.fromkeys(p for op in self.train_ops for p in op.params))
        return {f"variable_{i}": p for i, p in enumerate(params)}

    def save(self, model_file, global_step=None, use_val_saver=False):
        """Write every op's parameters (``variable_0`` ... in op order) to safetensors, atomically.

        Returns:
            The file written (``<model_file>-<global_step>.safetensors`` when a step is given).
        """
        from safetensors.torch import save
        from .._io import atomic_write_bytes
        path = Path(f"{model_file}-{global_step}" if global_step is not None else str(model_file))
        path = path if path.suffix == ".safetensors" else path.with_name(path.name + ".safetensors")
        tensors = {k: v.detach().cpu().contiguous() for k, v in self._parameters().items()}
        atomic_write_bytes(path, save(tensors, metadata={"step": str(self.state.step)}))
        if self.max_checkpoints and global_step is not None:
            old = sorted(path.parent.glob(f"{Path(model_file).name}-*.safetensors"), key=lambda p: p.stat().st_mtime)
            for stale in old[: -int(self.max_checkpoints)]:
                stale.unlink(missing_ok=True)
        return str(path)

    def restore(self, model_file, trainable_variable_only=False, variable_name_map=None, scope_for_restore=None,
                create_new_session=True, verbose=False):
        """Read parameters written by :meth:`save` back (same ops, same parameter shapes)."""
        from safetensors import safe_open
        path = Path(model_file) if Path(model_file).is_file() else Path(f"{model_file}.safetensors")
        if not path.is_file():
            fail("Trainer.restore model_file", "a file written by Trainer.save", Text(repr(str(model_file))),
                 error=FileNotFoundError)
        with safe_open(str(path), framework="pt") as file:
            stored = {k: file.get_tensor(k) for k in file.keys()}
            step = int((file.metadata() or {}).get("step", 0))
        own = self._parameters()
        if set(stored) != set(own) or any(stored[k].shape != own[k].shape for k in own):
            fail("Trainer.restore model_file", f"parameters {[(k, tuple(v.shape)) for k, v in own.items()][:5]}",
                 Text(f"{[(k, tuple(v.shape)) for k, v in stored.items()][:5]}"), "Build the same TrainOps.")
        with torch.no_grad():
            for key, param in own.items():
                param.copy_(stored[key])
        self.state.step = step


def evaluate(session, op_to_evaluate, feed_dict, batch_size):
    """The mean of ``op_to_evaluate`` (a function of the feed) over batches of ``feed_dict`` (TFlearn's)."""
    return evaluate_ops([op_to_evaluate], to_feed(feed_dict, "evaluate feed_dict"),
                        check_int(batch_size, "evaluate batch_size", minimum=1))[0]


def duplicate_identical_ops(ops):
    """The ops without repeats (same object), in order."""
    return list(dict.fromkeys(ops))


def get_current_batch_size(feed_batch, dataflow=None):
    """The number of samples in a batch of the feed."""
    return feed_length(feed_batch) if isinstance(feed_batch, dict) and feed_batch else 0


evaluate_flow = tensorflow_only(
    "tflearn.helpers.trainer", "evaluate_flow", "it runs TensorFlow ops over a TFlearn DataFlow of queued batches",
    "helpers.trainer.evaluate(None, fn, feed_dict, batch_size) or DNN.evaluate")
