"""``DNN``: TFlearn's model class (fit / predict / evaluate / save / load) on a plain nn.Module."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import diagnostics as diagnosticsmod
from .._checks import Text, check_float, check_int, checks_keywords, fail
from .._version import __version__
from ..callbacks.base import Callback, CallbackList, TrainingState
from ..callbacks.progress import ProgressCallback
from ..callbacks.run_folder import find_run_to_resume, runs_root
from ..callbacks.run_logger import RunLogger
from ..graph import Node
from ..layers.estimator import TrainingConfig
from ..network import Network
from ..utils import INFERENCE_BATCH_SIZE, Session, set_seed
from . import checkpoint as checkpointmod
from . import data as datamod
from . import guard as guardmod
from . import serialization
from .compiled import CompiledForward
from .distributed import DataParallel
from .dry_run import dry_run
from .fit_state import (VALIDATION_BATCH_SIZE, EpochPosition, FitRecord, FitSettings, TrainingCheckpoint, current_trial,
                        context_fit_callbacks, fit_shows_progress, resuming_named_runs)
from .lr_find import lr_find as range_test
from .summary import summary_table
from .targets import MultiTarget
from .trainer import Trainer, trainer_type


def default_device() -> torch.device:
    """CUDA if available, else Apple MPS, else CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class DNN:
    """A trainable model around a network (TFlearn's ``tflearn.DNN``).

    Args:
        network: the node returned by ``regression(...)`` (or any layer), or your own ``nn.Module``.
        clip_gradients: clip the global gradient norm at this value (TFlearn: 5.0); 0/None: off.
        tensorboard_verbose: 0 loss/metrics; 1 + gradients; 2 + weights; 3 + activations, sparsity.
        tensorboard_dir: the runs folder (default ``$DEEPSCOPE_RUNS`` or ``./runs``).
        checkpoint_path: save a checkpoint at every snapshot to ``<checkpoint_path>-<step>``.
        best_checkpoint_path: save when validation accuracy beats ``best_val_accuracy``.
        max_checkpoints: keep at most this many snapshot checkpoints (None: all).
        session: accepted for TFlearn compatibility (``model.session`` gives it back, or a
            ``deepscope.utils.Session`` whose ``as_default()`` and ``run()`` work): programs that share a
            session between models share weights through their modules already.
        best_val_accuracy: threshold for ``best_checkpoint_path``.
        device: ``'cpu'``, ``'cuda'``, ... (default: picked automatically).
        mixed_precision: ``'auto'`` (bfloat16 autocast on GPUs that support it, else off),
            ``'bf16'`` (also on CPU) or None/False (full float32).
        compile: run the training step's forward pass through ``torch.compile`` (compiled on the first step;
            where torch cannot compile the network, training goes on without it after a warning that says why).
        loss, optimizer, metric, learning_rate, batch_size: training settings when ``network``
            is your own ``nn.Module`` (else they come from ``regression``).
    """

    @checks_keywords
    def __init__(self, network, clip_gradients=5.0, tensorboard_verbose=0, tensorboard_dir=None,
                 checkpoint_path=None, best_checkpoint_path=None, max_checkpoints=None, session=None,
                 best_val_accuracy=0.0, device=None, loss="categorical_crossentropy", optimizer="adam",
                 metric="default", learning_rate=0.001, batch_size=64, mixed_precision="auto", compile=False):
        self.session = session if session is not None else Session()  # TFlearn's: accepted, not needed
        self.clip_gradients = 0.0 if not clip_gradients else check_float(
            clip_gradients, "DNN clip_gradients", minimum=0.0, min_inclusive=False)
        self.tensorboard_verbose = check_int(tensorboard_verbose, "DNN tensorboard_verbose", 0, 3)
        self.tensorboard_dir = tensorboard_dir
        self.checkpoint_path = checkpoint_path
        self.best_checkpoint_path = best_checkpoint_path
        self.max_checkpoints = None if max_checkpoints is None else check_int(max_checkpoints, "DNN max_checkpoints")
        self.best_val_accuracy = float(best_val_accuracy)
        self.parallel = DataParallel.from_env()  # a torchrun job (before the device: it picks the GPU)
        self.device = _device(device) if device is not None else default_device()
        self.autocast_dtype = _autocast_dtype(mixed_precision, self.device)
        if not isinstance(compile, bool):
            fail("DNN compile", "True or False", compile, error=TypeError)
        self.compile = compile
        self._compiled: CompiledForward | None = None
        self.targets = None  # several regression layers (models/targets.py), else None
        if isinstance(network, Node):
            self.output_node = network
            self.net = Network(network)
            regressions = [n for n in self.net.nodes if n.estimator is not None]
            if network.estimator is None and regressions:  # TFlearn's multi-target graphs
                self.targets = MultiTarget(regressions)
            self.config = network.estimator or (regressions[0].estimator if regressions else TrainingConfig())
            self.output_shape = list(network.shape)
        elif isinstance(network, nn.Module):
            self.output_node = None
            self.net = network
            self.config = TrainingConfig(optimizer, loss, metric, learning_rate,
                                         check_int(batch_size, "DNN batch_size"))
            self.output_shape = None
        else:
            fail("DNN network", "the output of regression(...) or a torch.nn.Module", type(network).__name__,
                 error=TypeError)
        self.net.to(self.device)
        self.net.eval()
        self.loss = self.config.build_loss() if self.targets is None else self.targets
        self.metric = self.config.build_metric() if self.targets is None else self.targets.metric
        self.fused = bool(isinstance(self.net, Network) and getattr(self.loss, "fused_activation", None)
                          and self.net.output_activation == self.loss.fused_activation)
        self.has_penalties = bool(getattr(self.net, "_penalties", None))
        self.optimizer = None  # torch optimizer, created by the first fit and kept across fits
        self.scheduler = None
        self.optimizer_spec = None
        self.step = 0
        self.epoch = 0
        self.history: list[dict] = []
        self.last_run = None
        self.diagnosis = None  # the last fit's findings (deepscope.diagnostics.Diagnosis)

    def __repr__(self) -> str:
        """What the model is: its layers, parameter count, and how far it has been trained."""
        n = sum(p.numel() for p in self.net.parameters())
        if isinstance(self.net, Network):
            layers = " -> ".join(f"{node.name} {list(node.shape[1:])}" for node in self.net.nodes)
        else:
            layers = type(self.net).__name__
        trained = (f"trained {self.epoch} epoch(s), {self.step} steps" if self.step else "not trained yet")
        run = f", last run {self.last_run.path}" if self.last_run is not None else ""
        return f"<deepscope DNN: {layers}; {n:,} parameters; {trained}{run}>"

    # -- loss -------------------------------------------------------------------------------
    def compute_loss(self, xs, y):
        """Forward pass and loss (+ L1/L2 penalties) on one batch.

        Returns:
            ``(output, loss)``: the network output (logits when the loss is fused) and the loss.
        """
        if self.targets is not None:  # several regression layers: their outputs side by side, summed losses
            output, loss = self.targets.output_and_loss(self.net, xs, y)
        elif self.autocast_dtype is not None:  # matmuls and convolutions in bfloat16, the loss in float32
            with torch.autocast(self.device.type, dtype=self.autocast_dtype):
                output = self._forward()(*xs)
            output = output.float()
            loss = self.loss.from_logits(output, y) if self.fused else self.loss(output, y)
        else:
            output = self._forward()(*xs)
            loss = self.loss.from_logits(output, y) if self.fused else self.loss(output, y)
        if self.has_penalties:
            loss = loss + self.net.regularization_loss()
        return output, loss

    def _forward(self):
        """The training forward pass: the network (its logits when the loss is fused), compiled with ``compile``."""
        forward = self.net.logits if self.fused else self.net
        if not self.compile:
            return forward
        if self._compiled is None or self._compiled.eager != forward:
            self._compiled = CompiledForward(forward)
        return self._compiled

    def activate(self, output: torch.Tensor) -> torch.Tensor:
        """Turn what ``compute_loss`` returned into the activated output (for metrics)."""
        return self.net._output_layer.activation(output) if self.fused else output

    # -- fit --------------------------------------------------------------------------------
    @checks_keywords
    def fit(self, X_inputs, Y_targets, n_epoch=10, validation_set=None, show_metric=False, batch_size=None,
            shuffle=None, snapshot_epoch=True, snapshot_step=None, excl_trainops=None,
            validation_batch_size=None, run_id=None, callbacks=None, seed=None, resume=False,
            checkpoint_every=None, checkpoint_dir=None, keep_checkpoints=2, nan_guard="stop", max_steps=None,
            drop_last=False, diagnostics=True, trainer=None):
        """Train the model (TFlearn's arguments).

        Args:
            X_inputs: training inputs (one array, or a list with one per ``input_data``).
            Y_targets: targets (one-hot, class indices or values).
            n_epoch: number of epochs.
            validation_set: ``(X, Y)`` or a fraction of the training data held out (the last samples).
            show_metric: compute and display the training metric.
            batch_size: samples per step (default: ``regression``'s); 1 is stochastic and
                >= the data size is full-batch gradient descent.
            shuffle: shuffle every epoch (default: ``regression``'s ``shuffle_batches``).
            snapshot_epoch: validate (and checkpoint) at the end of every epoch.
            snapshot_step: validate (and checkpoint) every this many steps.
            validation_batch_size: batch size for validation.
            run_id: the name of this run's folder.
            callbacks: a ``Callback`` or a list of them.
            seed: seed for this fit's data order and dropout.
            resume: continue a killed run from its newest good training checkpoint (True: the
                folder of ``checkpoint_dir`` / ``run_id``; or a checkpoint folder or file). Give the
                same arguments as the killed ``fit``; with none on disk, training starts afresh.
                Inside ``deepscope.models.resume_named_runs()`` (what ``deepscope resume`` and a study's
                re-run trials use) every fit with a ``run_id`` or ``checkpoint_dir`` resumes.
            checkpoint_every: write a training checkpoint (weights, optimizer, scheduler, random
                generators, data order, position in the epoch) every this many steps, and at the end.
            checkpoint_dir: the folder for training checkpoints (default:
                ``<runs>/<run_id>/checkpoints``, or the new run folder's when ``run_id`` is None).
            keep_checkpoints: how many training checkpoints to keep (the older ones are removed
                only after the newest is safely on disk).
            nan_guard: ``'stop'`` (default): stop at the first NaN/Inf loss or gradient with an error
                naming the step and the tensor; ``'rollback'``: go back to the last checkpoint with
                half the learning rate (at most 3 times); False: off.
            max_steps: stop after this many optimizer steps (an extension: TFlearn has none); when
                given, it decides the length of the fit and ``n_epoch`` is ignored.
            drop_last: end every epoch at the last full batch (the remaining ``n % batch_size``
                samples sit out that epoch; with shuffling they change every epoch).
            diagnostics: step-level training diagnostics (default on; ``False``: off; or
                ``deepscope.Diagnostics(every=..., first_steps=..., probe_size=..., layers=...)``).
                Their findings are printed at the end, kept in ``model.diagnosis``, and written to the
                run folder (``diagnosis.json``, ``steps.csv``) and TensorBoard.
            trainer: the ``Trainer`` class that runs the loop (default ``deepscope.models.Trainer``);
                give a subclass that overrides ``train_step`` to change what one step does.

        Note on gradient clipping: ``DNN(clip_gradients=5.0)`` (TFlearn's default) clips every step's
        global gradient norm at 5. It changes results: large early steps (a large initialization,
        a large learning rate) are tamed, so some classic failures never appear. Give
        ``DNN(clip_gradients=None)`` to train without clipping, as plain TensorFlow or PyTorch would.

        Returns:
            The model (so calls can be chained).
        """
        trainer_class = trainer_type(trainer, "fit trainer")
        diagnostics = diagnosticsmod.settings_from(diagnostics)
        resume = resume or (resuming_named_runs() and bool(run_id or checkpoint_dir))
        saving = checkpointmod.CheckpointSettings.check(nan_guard, checkpoint_every, checkpoint_dir,
                                                        keep_checkpoints, resume, run_id)
        if seed is not None:
            set_seed(seed)
        xs, y, validation = self._fit_data(X_inputs, Y_targets, validation_set)
        n = y.shape[0]
        settings = FitSettings.check(
            n, n_epoch, self.config.batch_size if batch_size is None else batch_size,
            self.config.shuffle_batches if shuffle is None else shuffle, show_metric, snapshot_epoch, snapshot_step,
            drop_last, max_steps, validation_batch_size or self.config.validation_batch_size)
        self.fit_preprocessing(xs)
        self.ensure_optimizer(settings.total_steps)
        run_config = self.run_config(settings, validation_set, n)
        ckpt, resume_folder = self._resume_point(saving, run_id, run_config)
        state = TrainingState(model=self, n_epoch=settings.n_epoch, steps_per_epoch=settings.steps_per_epoch,
                              batch_size=settings.batch_size, n_samples=n, epoch=self.epoch, step=self.step)
        record = FitRecord(self.epoch, settings.n_epoch, settings.requested_batch_size, n, self._data_seed(),
                           list(self.history))
        stop_at_step = None if settings.max_steps is None else self.step + settings.max_steps
        epochs_left, position = settings.n_epoch, None
        if ckpt is not None:
            epochs_left, position, record = checkpointmod.restore_training(self, ckpt, state, record, settings.n_epoch)
        recorder = None if diagnostics is None else self._diagnostics_recorder(diagnostics, xs, y, settings,
                                                                              validation)
        self.diagnosis = None
        continue_epoch = None if ckpt is None else ckpt.epochs_done
        if resume_folder is not None:  # continue in that folder (from scratch when it has no checkpoint yet)
            run_id = resume_folder.relative_to(runs_root(self.tensorboard_dir)).as_posix()
            continue_epoch = continue_epoch or 0
        callbacks = self._fit_callbacks(callbacks, run_id, settings.show_metric, state, run_config,
                                        continue_epoch=continue_epoch, recorder=recorder)
        saving = saving.in_run(state.run, ckpt is not None, settings.steps_per_epoch)
        if ckpt is not None and recorder is not None:  # one fit's records across the kill
            recorder.continue_from([state.run.path if state.run is not None else None,
                                    Path(ckpt.path).parent.parent], state.step)

        def make_trainer(resume_position: EpochPosition | None) -> Trainer:
            guard = guardmod.NaNGuard(self, self.trainable_parameters(),
                                      self.device) if saving.nan_guard else None
            writes = self.parallel is None or self.parallel.is_main  # one process writes checkpoints
            checkpointer = checkpointmod.Checkpointer(self, saving.folder, saving.every, saving.keep, record,
                                                      guard) if writes and saving.writes else None
            return trainer_class(self, xs, y, settings, callbacks, state, validation=validation,
                                 data_seed=record.data_seed, resume=resume_position, guard=guard,
                                 checkpointer=checkpointer, parallel=self.parallel, stop_at_step=stop_at_step)

        try:
            record = self._train(make_trainer, epochs_left, position, state, record, saving)
        except ValueError as error:
            if "more than 1 value per channel" not in str(error):
                raise
            _refuse_batch_of_one(settings.batch_size, n)
        except guardmod.NonFiniteError as error:
            if recorder is not None:
                recorder.add_nonfinite(error, state)
            raise
        except KeyboardInterrupt as interrupt:
            if isinstance(interrupt, TrainingInterrupted):
                raise
            install_interrupt_hook()
            raise TrainingInterrupted(interrupted_message(state, saving.folder, run_id)) from None
        else:
            if recorder is not None and recorder.diagnosis is not None and recorder.diagnosis.findings and \
                    fit_shows_progress():
                print(recorder.diagnosis, flush=True)
        finally:
            self.step, self.epoch = state.step, state.epoch
            self.history = list(record.prior_history) + list(state.history)
            saving.cleanup()
        return self

    def _data_seed(self) -> int:
        """The seed of this fit's data order (drawn from torch's generator; torchrun: rank 0's)."""
        data_seed = int(torch.randint(0, 2 ** 31 - 1, (1,)))
        if self.parallel is not None:  # every process starts from rank 0's weights and data order
            self.parallel.broadcast_state(self.net)
            data_seed = self.parallel.broadcast_int(data_seed, self.device)
        return data_seed

    def _resume_point(self, saving, run_id, run_config) -> tuple[TrainingCheckpoint | None, Path | None]:
        """The checkpoint a resuming fit continues from, and the run folder it continues in.

        A named run (``run_id`` without ``checkpoint_dir``) resumes in its own folder: the newest run of
        that name with the same configuration.

        Returns:
            ``(checkpoint or None, run folder or None)``.
        """
        resume, resume_dir, folder = saving.resume, saving.folder, None
        if not resume:
            return None, None
        if resume is True and resume_dir is None and run_id is not None:
            folder = find_run_to_resume(self.tensorboard_dir, run_id, run_config)
            resume_dir = None if folder is None else folder / "checkpoints"
        ckpt = checkpointmod.resolve(resume, resume_dir) if resume is not True or resume_dir is not None else None
        if ckpt is None:
            where = resume if resume is not True else resume_dir if resume_dir is not None else f"a run named {run_id!r}"
            print(f"deepscope: no checkpoint to resume from in {where}; starting from the beginning"
                  + (f" in the same run folder ({folder})." if folder is not None else "."))
        if folder is not None:
            warn_if_environment_changed(folder, run_config)
        return ckpt, folder

    def _diagnostics_recorder(self, settings, xs, y, fit: FitSettings, validation=None):
        """The step-diagnostics callback of this fit, with its probe (evenly spaced training samples)."""
        n = xs[0].shape[0]
        probe = [x.index_select(0, diagnosticsmod.probe_indices(n, settings.probe_size).to(x.device)) for x in xs]
        return diagnosticsmod.FitDiagnostics(settings, self, probe, fit.total_steps, n, fit.batch_size, fit.drop_last,
                                             data=(xs, y), shuffle=fit.shuffle,
                                             validation_inputs=None if validation is None else validation[0])

    def _fit_data(self, X_inputs, Y_targets, validation_set):
        """Training tensors and the validation set (given, or the trailing fraction held out)."""
        if Y_targets is None:
            fail("fit Y_targets", "the training targets (an array with one row per sample)", None,
                 "Give fit(X, Y); for predictions without training, use predict(X).", error=TypeError)
        xs, y = self.prepare_data(X_inputs, Y_targets, "fit X_inputs", "fit Y_targets")
        validation = None
        if validation_set is not None:
            if isinstance(validation_set, (tuple, list)) and len(validation_set) == 2:
                validation = self.prepare_data(validation_set[0], validation_set[1],
                                               "fit validation_set[0] (X)", "fit validation_set[1] (Y)")
            elif isinstance(validation_set, (float, int)) and not isinstance(validation_set, bool):
                n_val = datamod.validation_split(validation_set, y.shape[0])
                validation = ([x[-n_val:] for x in xs], y[-n_val:])
                xs, y = [x[:-n_val] for x in xs], y[:-n_val]
            else:
                fail("fit validation_set", "(X, Y) or a fraction such as 0.1", type(validation_set).__name__,
                     error=TypeError)
        if not isinstance(self.net, Network):  # a deepscope Network checked its shapes when built
            dry_run(self.net, xs, y)
        return xs, y, validation

    def _fit_callbacks(self, callbacks, run_id, show_metric, state, run_config, continue_epoch=None,
                       recorder=None) -> CallbackList:
        """The user's callbacks, the step diagnostics, the run logger (it creates the run folder now),
        the progress display."""
        user_callbacks = [] if callbacks is None else (callbacks if isinstance(callbacks, (list, tuple)) else [callbacks])
        user_callbacks = [*user_callbacks, *context_fit_callbacks()]  # e.g. a study's pruning reporter
        for cb in user_callbacks:
            if not isinstance(cb, Callback):
                fail("fit callbacks", "deepscope.callbacks.Callback instances", type(cb).__name__, error=TypeError)
        if self.parallel is not None and not self.parallel.is_main:  # torchrun: rank 0 logs and reports
            state.run = self.last_run = None
            return CallbackList(user_callbacks)
        run_logger = RunLogger(self, run_id, run_config, continue_epoch=continue_epoch)
        state.run = self.last_run = run_logger.run
        if recorder is not None:
            recorder.writer_fn = run_logger.get_writer
        diagnostics = [] if recorder is None else [recorder]
        # the user's callbacks first: what they add to the epoch logs (e.g. HealthMonitor) is logged too
        progress = [ProgressCallback(show_metric=show_metric, metric=self.metric)] if fit_shows_progress() else []
        return CallbackList([*user_callbacks, *diagnostics, run_logger, *progress])

    def _train(self, make_trainer, epochs_left, position, state, record, saving) -> FitRecord:
        """Run the trainer; on a NaN/Inf with ``nan_guard='rollback'``, go back to the last good
        checkpoint with half the learning rate (at most 3 times).

        Returns:
            The fit's record (a rollback restores the one its checkpoint stored).
        """
        rollbacks = 0
        while True:
            trainer = make_trainer(position)
            try:
                trainer.run(epochs_left)
                return record
            except guardmod.NonFiniteError as error:
                rollback = saving.nan_guard == "rollback" and rollbacks < checkpointmod.MAX_ROLLBACKS
                good = checkpointmod.latest_good_checkpoint(saving.folder) if rollback else None
                if good is None:
                    raise
                rollbacks += 1
                print(f"deepscope: non-finite values at step {error.step}; going back to step "
                      f"{good.step} with half the learning rate (rollback {rollbacks} of "
                      f"{checkpointmod.MAX_ROLLBACKS}).")
                epochs_left, position, record = checkpointmod.restore_training(self, good, state, record,
                                                                               state.n_epoch)
                checkpointmod.scale_learning_rate(self, 0.5)
            finally:
                if trainer.guard is not None:
                    trainer.guard.close()

    def ensure_optimizer(self, total_steps: int) -> None:
        """Create the torch optimizer on the first fit; later fits continue with its state."""
        if self.optimizer is not None:
            return
        self.optimizer_spec = self.config.build_optimizer()
        params = self.trainable_parameters()
        if not params:
            fail("DNN", "at least one trainable parameter", "a network with none",
                 "Check trainable=False on the layers.")
        self.optimizer, self.scheduler = self.optimizer_spec.build(params, total_steps)

    def fit_batch(self, X_inputs, Y_targets) -> float:
        """One optimizer step on this batch (TFlearn's): a one-step ``fit`` (loss, regularizers, clipping and the
        optimizer's state as in ``fit``), without its progress line or diagnosis.

        Returns:
            The batch's loss before the step.
        """
        import contextlib
        import io
        with contextlib.redirect_stdout(io.StringIO()):
            self.fit(X_inputs, Y_targets, n_epoch=1, batch_size=10**9, shuffle=False, snapshot_epoch=False,
                     diagnostics=False, show_metric=False)
        return float(self.history[-1].get("loss", float("nan"))) if self.history else float("nan")

    def export(self, path, format=None, tolerance=1e-5):  # noqa: A002 - the natural name
        """Write the model for inference outside deepscope and check it against :meth:`predict`.

        Args:
            path: ``'model.onnx'`` (ONNX; ``pip install 'deepscope[export]'``) or ``'model.pt2'``
                (``torch.export``; load with ``torch.export.load(path).module()``).
            format: ``'onnx'`` or ``'torch.export'`` (None: from the suffix).
            tolerance: the largest absolute difference from ``predict`` accepted on a random batch.

        Returns:
            ``ExportResult`` (``path``, ``format``, ``max_abs_difference``). The inputs are in your layout (NHWC
            images), the batch size is free, the network runs in evaluation mode with its preprocessing.
        """
        from .export import export_model
        return export_model(self, path, format=format, tolerance=tolerance)

    def get_train_vars(self) -> list:
        """The parameters ``fit`` trains (TFlearn's name for :meth:`trainable_parameters`)."""
        return self.trainable_parameters()

    def retrieve_data_preprocessing_and_augmentation(self) -> tuple[dict, dict]:
        """``(augmentation by input name, preprocessing by input name)`` of the ``input_data`` layers that have
        them (TFlearn's order: augmentation first)."""
        inputs = [n for n in self.net.nodes if not n.parents] if isinstance(self.net, Network) else []
        augmentation = {n.name: n.module.augmentation for n in inputs if getattr(n.module, "augmentation", None)}
        preprocessing = {n.name: n.module.preprocessing for n in inputs if getattr(n.module, "preprocessing", None)}
        return augmentation, preprocessing

    def trainable_parameters(self) -> list:
        """The parameters ``fit`` trains: ``regression(trainable_vars=...)`` if given (those of this
        network), else every parameter with ``requires_grad``."""
        chosen = getattr(self.config, "trainable", None)
        if chosen is None:
            return [p for p in self.net.parameters() if p.requires_grad]
        mine = {id(p) for p in self.net.parameters()}
        return [p for p in chosen if id(p) in mine and p.requires_grad]

    @property
    def trains_subset(self) -> bool:
        """Whether ``regression(trainable_vars=...)`` leaves some parameters untrained."""
        return getattr(self.config, "trainable", None) is not None

    def fit_preprocessing(self, xs) -> None:
        """Compute featurewise statistics of preprocessing modules from the training inputs."""
        if not isinstance(self.net, Network):
            return
        for node, x in zip(self.net.inputs, xs):
            prep = getattr(node.module, "preprocessing", None)
            if prep is not None and not getattr(prep, "is_fitted", True):
                prep.fit(x)
            if prep is not None:  # statistics given by hand must fit the data: try one sample now
                try:
                    with torch.no_grad():
                        prep(x[:1])
                except RuntimeError as exc:
                    fail(f"input_data {node.name!r} data_preprocessing",
                         f"statistics that fit inputs of shape {tuple(x.shape[1:])}",
                         Text(f"an error applying them: {str(exc).splitlines()[0][:160]}"),
                         "Check the shape of a mean/std given to add_featurewise_zero_center/_stdnorm "
                         "(one value, or one per channel / feature).")

    def prepare_data(self, X, Y, x_argument: str, y_argument: str):
        """Check and convert ``X`` (and ``Y``) to tensors on the model's device."""
        names = [node.name for node in self.net.inputs] if isinstance(self.net, Network) else ["input"]
        xs = [datamod.to_tensor(x, x_argument) for x in datamod.split_inputs(X, names, x_argument)]
        if isinstance(self.net, Network):
            xs = datamod.check_inputs(xs, [node.shape for node in self.net.inputs], x_argument)
            xs = [self._input_dtype(node, x) for node, x in zip(self.net.inputs, xs)]
        y = None
        if Y is not None and self.targets is not None:
            y = self.targets.prepare(Y, y_argument)
        elif Y is not None:
            Y = datamod.single_target(Y, self.output_node.name if self.output_node is not None else None, y_argument)
            y = self.prepare_targets(datamod.to_tensor(Y, y_argument, integer=True), y_argument)
        datamod.check_same_length(xs, y, f"{x_argument} / {y_argument}")
        return [x.to(self.device) for x in xs], (None if y is None else y.to(self.device))

    @staticmethod
    def _input_dtype(node, x):
        return x.long() if getattr(node, "integer_input", False) else x

    def prepare_targets(self, y: torch.Tensor, argument: str) -> torch.Tensor:
        """Targets in the form the loss wants: class indices for fused softmax losses, else float."""
        units = self.output_shape[-1] if self.output_shape and len(self.output_shape) == 2 else None
        categorical = getattr(self.loss, "fused_activation", None) == "softmax"
        if self.config.to_one_hot and y.dim() == 1:
            y = one_hot(y, self.config.n_classes)
        if y.dim() == 1 and units == 1:
            y = y.reshape(-1, 1)
        if units is not None and y.dim() == 2 and y.shape[1] != units:
            fail(argument, f"targets with {units} columns to match the output layer's {units} units",
                 Text(f"an array of shape {tuple(y.shape)}"),
                 "Use one-hot targets (to_categorical(y, nb_classes)) or change the output layer's n_units.")
        if categorical and units is not None and units > 1:
            if y.dim() == 1:  # class indices
                if y.is_floating_point() and not torch.equal(y, y.round()):
                    fail(argument, "integer class indices or one-hot rows", Text("fractional values"))
                y = y.long()
                if y.min() < 0 or y.max() >= units:
                    fail(argument, f"class indices in [0, {units - 1}]",
                         Text(f"values from {int(y.min())} to {int(y.max())}"))
                return y if self.fused else one_hot(y, units)
            if self.fused and _is_one_hot(y):
                return y.argmax(1)  # indices: the fastest form of cross-entropy
        return y.float()

    # -- evaluation -------------------------------------------------------------------------
    @torch.inference_mode()
    def _forward_batches(self, xs, batch_size):
        self.net.eval()
        n = xs[0].shape[0]
        outputs = [self.net(*[x[i:i + batch_size] for x in xs]) for i in range(0, n, batch_size)]
        return torch.cat(outputs)

    def snapshot(self, state: TrainingState, validation, batch_size: int = VALIDATION_BATCH_SIZE) -> None:
        """Validate (if a validation set was given, ``batch_size`` samples at a time) and write
        checkpoints (TFlearn's snapshot)."""
        if validation is not None:
            val_loss, val_metric = self._validate(validation, batch_size)
            state.epoch_logs["val_loss"] = val_loss
            if val_metric is not None:
                state.epoch_logs["val_" + self.metric.name] = val_metric
                if self.best_checkpoint_path and val_metric > self.best_val_accuracy:
                    self.best_val_accuracy = val_metric
                    self.save(f"{self.best_checkpoint_path}{val_metric:.4f}".replace(".", "_") + ".safetensors")
            self.net.train()
        if self.checkpoint_path:
            serialization.save_snapshot(self, self.checkpoint_path, state.step, self.max_checkpoints)

    @torch.inference_mode()
    def _validate(self, validation, bs: int):
        xs, y = validation
        self.net.eval()
        total = torch.zeros((), device=self.device)
        if self.metric is not None:
            self.metric.reset()
        n = y.shape[0]
        for i in range(0, n, bs):
            batch = [x[i:i + bs] for x in xs]
            output, loss = self.compute_loss(batch, y[i:i + bs])
            total += loss * (min(i + bs, n) - i)
            if self.metric is not None:
                self.metric.update(self.activate(output), y[i:i + bs])
        return float(total) / n, (self.metric.compute() if self.metric is not None else None)

    def predict(self, X):
        """Predictions (activated outputs) as a numpy array."""
        xs, _ = self.prepare_data(X, None, "predict X", "")
        return self._forward_batches(xs, INFERENCE_BATCH_SIZE).float().cpu().numpy()

    def predict_label(self, X):
        """Class indices sorted from most to least likely, per sample (TFlearn's ``predict_label``)."""
        return np.argsort(-self.predict(X), axis=1)

    @checks_keywords
    def evaluate(self, X, Y, batch_size=128):
        """The metric on ``(X, Y)``, as a one-element list (TFlearn returns a list)."""
        if self.metric is None:
            fail("evaluate", "a model with a metric", None, "Give regression(..., metric='accuracy').")
        if Y is None:
            fail("evaluate Y", "the targets of X (one-hot rows, class indices or values)", None,
                 "For outputs without targets use model.predict(X).", error=TypeError)
        batch_size = check_int(batch_size, "evaluate batch_size")
        _, score = self._validate(self.prepare_data(X, Y, "evaluate X", "evaluate Y"), batch_size)
        return [score]

    # -- weights ----------------------------------------------------------------------------
    def get_weights(self, weight_tensor):
        """The value of a parameter (e.g. ``net.W`` of a layer node) as a numpy array."""
        return _parameter(weight_tensor, "get_weights").detach().cpu().numpy()

    def set_weights(self, tensor, weights) -> None:
        """Assign a value to a parameter (e.g. ``net.W``)."""
        param = _parameter(tensor, "set_weights")
        try:
            value = torch.as_tensor(np.asarray(weights, dtype=np.float64), dtype=param.dtype)
        except (TypeError, ValueError):
            fail("set_weights weights", f"numbers (an array of shape {tuple(param.shape)})",
                 weights if isinstance(weights, (str, int, float)) else type(weights).__name__, error=TypeError)
        if value.shape != param.shape:
            fail("set_weights weights", f"shape {tuple(param.shape)}", f"shape {tuple(value.shape)}")
        with torch.no_grad():
            param.copy_(value.to(param.device))

    def save(self, model_file, durable: bool = True) -> str:
        """Save weights (safetensors) with the network description (JSON), atomically.

        Args:
            model_file: the file (``.safetensors``).
            durable: fsync the file (it survives a power loss, not only a killed process).

        Returns:
            The path written.
        """
        return serialization.save_model(self, model_file, durable=durable)

    def load(self, model_file, weights_only=False, variable_name_map=None, scope_for_restore=None,
             create_new_session=True, verbose=False) -> "DNN":
        """Load weights saved by :meth:`save` into this model (same architecture; layers made with
        ``restore=False`` keep theirs).

        Args:
            model_file: the file (``'model.tfl.ckpt-500'`` finds ``model.tfl.ckpt-500.safetensors``).
            weights_only: only the trainable weights (TFlearn's meaning): batch-norm averages,
                preprocessing statistics and the step counter stay as they are.
            variable_name_map: ``(pattern, replacement)``, a regular expression substitution from a layer's
                name here to its name in the file (``('^scopeA/', '')``), or a function doing that (None:
                leave the layer as it is).
            scope_for_restore: load only the layers inside this variable scope, from a file saved without it
                (two trained models into the two scopes of one network).
            create_new_session: TensorFlow only; accepted, nothing to do (weights load into this model).
            verbose: print each renamed layer.

        Returns:
            This model.

        Raises:
            WeightsNotFoundError: the file lacks weights of this network (TensorFlow's NotFoundError).
        """
        name_map = serialization.name_map_of(variable_name_map, scope_for_restore, bool(verbose))
        serialization.load_weights(self, model_file, weights_only=bool(weights_only), name_map=name_map)
        return self

    def lr_find(self, X, Y, start_lr=1e-7, end_lr=10.0, num_steps=100, batch_size=None, **kwargs):
        """The learning-rate range test: a few steps with an exponentially growing learning rate;
        the model is restored afterwards (see :func:`deepscope.models.lr_find.lr_find`).

        Returns:
            ``LRFinderResult`` (``suggestion``, ``lrs``, ``losses``, ``plot(path)``).
        """
        return range_test(self, X, Y, start_lr, end_lr, num_steps, batch_size, **kwargs)  # (trainer=... too)

    def summary(self, print_fn=print) -> str:
        """A table of layers with output shapes and parameter counts."""
        text = summary_table(self.net)
        if print_fn is not None:
            print_fn(text)
        return text

    def run_config(self, settings: FitSettings, validation_set, n: int) -> dict:
        """What the run folder's config.json records (``settings``: the fit's; ``n``: training samples)."""
        trial = current_trial()  # (a study's trial: its swept values and seed)
        return {
            "network": serialization.describe_network(self) if isinstance(self.net, Network) else repr(self.net),
            "training": self.config.describe(),
            "fit": {"n_epoch": settings.n_epoch, "batch_size": settings.requested_batch_size,
                    "shuffle": settings.shuffle, "n_samples": n, "max_steps": settings.max_steps,
                    "drop_last": settings.drop_last,
                    "validation": validation_set if isinstance(validation_set, float) else (
                        None if validation_set is None else "given")},
            "clip_gradients": self.clip_gradients,
            "tensorboard_verbose": self.tensorboard_verbose,
            "device": str(self.device),
            "mixed_precision": str(self.autocast_dtype).replace("torch.", "") if self.autocast_dtype else "float32",
            "compile": self.compile,
            "torch": torch.__version__,
            "environment": environment(),
            **({"trial": trial} if trial is not None else {}),
        }


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``fit``: the message says where the last checkpoint is and how to resume. A
    script that does not catch it ends with that one line instead of a traceback."""


def interrupted_message(state, checkpoint_dir, run_id) -> str:
    import sys

    saved = checkpointmod.list_checkpoints(checkpoint_dir) if checkpoint_dir is not None else []
    where = f"deepscope: training stopped (Ctrl-C) at step {state.step}, epoch {state.epoch}."
    if not saved:
        return (where + " No training checkpoint was written, so it cannot be resumed; give fit(run_id=..., "
                "checkpoint_every=N) to make a run resumable. The model keeps its current weights.")
    script = sys.argv[0] if sys.argv and sys.argv[0].endswith(".py") else None
    how = f"`deepscope resume {' '.join([script, *sys.argv[1:]])}`, or " if script else ""
    target = f"run_id={run_id!r}" if run_id is not None else f"checkpoint_dir={str(checkpoint_dir)!r}"
    return (where + f" The last checkpoint is {saved[-1]}; continue with {how}the same fit with resume=True "
            f"({target}).")


def _quiet_interrupt_hook(previous):
    def hook(kind, value, traceback):
        if isinstance(value, TrainingInterrupted):
            print(value, file=__import__("sys").stderr)
        else:
            previous(kind, value, traceback)
    hook.deepscope = True
    return hook


def install_interrupt_hook() -> None:
    """Print a ``TrainingInterrupted`` that reaches the top of a script as its one line (once)."""
    import sys
    if not getattr(sys.excepthook, "deepscope", False):
        sys.excepthook = _quiet_interrupt_hook(sys.excepthook)


def environment() -> dict:
    """What changes numerics between a run and its resume: torch's thread count and library versions."""
    import platform

    return {"threads": torch.get_num_threads(), "torch": torch.__version__, "numpy": np.__version__,
            "deepscope": __version__, "python": platform.python_version()}


def warn_if_environment_changed(folder: Path, run_config: dict) -> None:
    """Warn when a run resumes under another thread count or library versions (results then differ
    from an uninterrupted run from the next step on, though training is still correct)."""
    try:
        before = json.loads((folder / "config.json").read_text()).get("environment") or {}
    except (OSError, ValueError, AttributeError):
        return
    now = run_config.get("environment", {})
    changed = [f"{k} {before[k]} -> {now.get(k)}" for k in before if before[k] != now.get(k)]
    if changed:
        warnings.warn(f"resuming run {folder.name!r} under a different environment ({', '.join(changed)}): the "
                      "training continues correctly, but not bit for bit as an uninterrupted run would (float "
                      "sums depend on the thread count). Set torch.set_num_threads to the run's to match.",
                      RuntimeWarning, stacklevel=3)


def _device(device) -> torch.device:
    """``device`` as a ``torch.device`` this machine has, or a clear error (torch's own is an AssertionError from
    deep inside ``.to()``: "Torch not compiled with CUDA enabled")."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        fail("DNN device", "a device such as 'cpu', 'cuda', 'cuda:1' or 'mps'", device, error=ValueError)
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            fail("DNN device", "a device this machine has (it has no CUDA GPU: torch.cuda.is_available() is False)",
                 device, "Leave device out (deepscope picks a GPU when there is one) or give device='cpu'.")
        if parsed.index is not None and parsed.index >= count:
            fail("DNN device", f"a GPU index below {count} (this machine has {count} CUDA GPU{'s' * (count > 1)})",
                 device)
    if parsed.type == "mps" and not (getattr(torch.backends, "mps", None) is not None
                                     and torch.backends.mps.is_available()):
        fail("DNN device", "a device this machine has (Apple's MPS is not available here)", device,
             "Leave device out or give device='cpu'.")
    return parsed


def _autocast_dtype(mixed_precision, device: torch.device):
    """bfloat16 for ``'bf16'``, or for ``'auto'`` on a GPU that supports it; else None (float32)."""
    if mixed_precision in (None, False):
        return None
    if mixed_precision == "auto":
        supported = device.type == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if supported else None
    if mixed_precision in ("bf16", "bfloat16"):
        return torch.bfloat16
    fail("DNN mixed_precision", "'auto', 'bf16' or None", mixed_precision)


def one_hot(y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Class indices ``(N,)`` -> float one-hot rows ``(N, n_classes)`` on the same device (the tensor
    twin of ``data_utils.to_categorical``, which checks and converts user arrays)."""
    return torch.nn.functional.one_hot(y.long(), n_classes).float()


def _is_one_hot(y: torch.Tensor) -> bool:
    return bool(((y == 0) | (y == 1)).all() and (y.sum(1) == 1).all())


def _parameter(value, where: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    fail(f"{where}", "a parameter such as net.W or net.b of a layer", type(value).__name__, error=TypeError)


def _refuse_batch_of_one(batch_size: int, n: int) -> None:
    """Batch normalization met a training batch of 1 sample: say so (torch's own error names no layer)."""
    try:
        fail("fit batch_size", "batches of at least 2 samples: batch_normalization normalizes by the batch's own mean "
             "and variance in training", Text(f"a batch of 1 sample (batch_size={batch_size}, {n} samples)"),
             "Give batch_size=32 or more (for a last batch of 1 sample: drop_last=True).")
    except ValueError as clear:
        raise clear from None
