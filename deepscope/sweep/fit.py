"""``Fit``: a study trial's training described instead of written, so a study can train trials together.

::

    def build(l2_first, l2_second):                  # the study's parameters, by name
        net = tflearn.input_data(shape=[None, 784])
        ...
        return tflearn.regression(net, optimizer="sgd", learning_rate=0.1)

    study = Study("l2", Fit(build, X, Y, n_epoch=2, validation_set=(testX, testY)),
                  {"l2_first": [1e-4, 1e-3], "l2_second": [1e-4, 1e-3]}, seeds=range(5))
    study.run()       # the 20 trials train as one vectorized run (deepscope.sweep.stacking)

A ``Fit`` is also an ordinary ``train_fn``: ``fit(params, seed, run_id)`` builds ``DNN(build(**params))``
and calls ``model.fit(X, Y, ...)`` with its arguments; a trial returns the last epoch's logs
(``loss``, the metric, ``val_loss``, ``val_<metric>``).
"""
from __future__ import annotations

import inspect

from .._checks import check_float, check_int, checks_keywords, fail
from ..callbacks.base import Callback
from ..graph import Node
from ..models.dnn import DNN
from ..models.trainer import trainer_type
from .stack_training import StackFit


class Fit:
    """How every trial of a study trains (``DNN.fit``'s arguments), with the network built by ``build``.

    Args:
        build: ``build(**params) -> regression(...)``: the network of one point of the space.
        X, Y: training inputs and targets (as for ``DNN.fit``).
        n_epoch, validation_set, batch_size, shuffle, show_metric, max_steps, drop_last, diagnostics:
            as ``DNN.fit``.
        clip_gradients, device: as ``DNN(...)`` (TFlearn's default clipping at 5.0).
        callbacks: every trial's ``fit(callbacks=...)``: ``Callback`` instances (the same objects for
            every trial, as calling ``fit`` trial after trial would), or a function
            ``callbacks(params, seed) -> [Callback, ...]`` making each trial its own. In a vectorized
            study each model's callbacks get ``on_train_begin``, ``on_epoch_begin``, ``on_epoch_end`` with
            that trial's own epoch logs, ``on_checkpoint`` and ``on_train_end``; ``state.stop_training``
            stops that trial alone. Callbacks with per-batch events make the trials run one by one (a
            stop inside an epoch cannot be honoured in a stack; the study says so).
        trainer: every trial's ``fit(trainer=...)`` (a ``Trainer`` subclass); its ``train_step`` runs
            as written, so such trials run one by one.
    """

    @checks_keywords
    def __init__(self, build, X, Y, n_epoch=10, validation_set=None, batch_size=None, shuffle=None,
                 show_metric=False, max_steps=None, drop_last=False, diagnostics=True, clip_gradients=5.0,
                 device=None, callbacks=None, trainer=None):
        if not callable(build) or isinstance(build, Node):
            fail("Fit build", "a function build(**params) returning regression(...)", type(build).__name__,
                 "Wrap the network in a function of the study's parameters.", error=TypeError)
        self.build = build
        for value, name in ((X, "X"), (Y, "Y")):
            if value is None:
                fail(f"Fit {name}", "the training " + ("inputs" if name == "X" else "targets") + " (arrays, as for "
                     "DNN.fit)", None, error=TypeError)
        if validation_set is not None and not (isinstance(validation_set, (tuple, list)) and len(validation_set) == 2
                                               or isinstance(validation_set, float)):
            fail("Fit validation_set", "(X, Y) or a fraction such as 0.1", type(validation_set).__name__,
                 error=TypeError)
        self.X, self.Y = X, Y
        self.n_epoch = check_int(n_epoch, "Fit n_epoch", minimum=1)
        self.validation_set = validation_set
        self.batch_size = None if batch_size is None else check_int(batch_size, "Fit batch_size", minimum=1)
        self.shuffle, self.show_metric, self.drop_last = shuffle, bool(show_metric), bool(drop_last)
        self.max_steps = None if max_steps is None else check_int(max_steps, "Fit max_steps", minimum=1)
        self.diagnostics = diagnostics
        self.clip_gradients = None if not clip_gradients else check_float(
            clip_gradients, "Fit clip_gradients", minimum=0.0, min_inclusive=False)
        self.device = device
        if callbacks is not None and not callable(callbacks):
            callbacks = [callbacks] if isinstance(callbacks, Callback) else list(callbacks)
            if not all(isinstance(cb, Callback) for cb in callbacks):
                fail("Fit callbacks", "deepscope.callbacks.Callback instances, or a function (params, seed) -> list",
                     callbacks, error=TypeError)
        self.callbacks = callbacks
        self.trainer = None if trainer is None else trainer_type(trainer, "Fit trainer")

    def callbacks_for(self, params: dict, seed) -> list:
        """The callbacks of one trial's fit."""
        if self.callbacks is None:
            return []
        made = self.callbacks(dict(params), seed) if callable(self.callbacks) else self.callbacks
        made = [made] if isinstance(made, Callback) else list(made or [])
        if not all(isinstance(cb, Callback) for cb in made):
            fail("Fit callbacks(params, seed)", "a list of deepscope.callbacks.Callback", made, error=TypeError)
        return made

    def why_not_vectorized(self, callbacks: list) -> str | None:
        """Why a trial with these callbacks (:meth:`callbacks_for`) cannot train in a stack (None: it can)."""
        if self.trainer is not None:
            return f"a trainer= subclass ({self.trainer.__name__}: its train_step runs as written)"
        for cb in callbacks:
            events = [e for e in ("on_batch_begin", "on_batch_end")
                      if getattr(type(cb), e, None) is not getattr(Callback, e)]
            if events:
                return f"a callback with events a stack does not send ({type(cb).__name__}.{events[0]})"
        return None

    def model(self, params: dict) -> DNN:
        """``DNN(build(**params))`` (call it after seeding: the initialization draws from the generator)."""
        try:
            inspect.signature(self.build).bind(**params)
        except TypeError as error:
            fail("Fit build", f"a function taking the study's parameters ({', '.join(params)}) by name",
                 f"{getattr(self.build, '__name__', self.build)}{inspect.signature(self.build)} ({error})",
                 "Name build's arguments after the space's keys.", error=TypeError)
        node = self.build(**params)
        if not isinstance(node, Node):
            fail("Fit build", "a function returning the output of regression(...)", type(node).__name__,
                 error=TypeError)
        return DNN(node, clip_gradients=self.clip_gradients, device=self.device)

    def __call__(self, params: dict, seed: int, run_id: str) -> dict:
        """Train one trial (the study has seeded the generators with ``seed``); its final logs."""
        model = self.model(params)
        model.fit(self.X, self.Y, n_epoch=self.n_epoch, validation_set=self.validation_set,
                  batch_size=self.batch_size, shuffle=self.shuffle, show_metric=self.show_metric,
                  max_steps=self.max_steps, drop_last=self.drop_last, diagnostics=self.diagnostics, run_id=run_id,
                  callbacks=self.callbacks_for(params, seed), trainer=self.trainer)
        return final_logs(model.history)

    def stack_fit(self) -> StackFit:
        """The same arguments for :func:`~deepscope.sweep.stack_training.train_stack`."""
        return StackFit(self.X, self.Y, self.n_epoch, self.validation_set, self.batch_size, self.shuffle,
                        self.show_metric, self.max_steps, self.drop_last, self.diagnostics)

    def __repr__(self) -> str:
        return f"Fit({getattr(self.build, '__name__', 'build')}, n_epoch={self.n_epoch}, batch_size={self.batch_size})"


def final_logs(history: list) -> dict:
    """A trial's result: the last epoch's logs ({} when no epoch finished)."""
    return dict(history[-1]) if history else {}
