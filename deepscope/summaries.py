"""TFlearn's ``tflearn.summaries``: the summary-building internals of its trainer. The requests that mean
something here go to :mod:`deepscope.helpers.summarizer` (written by ``helpers.Trainer``); reading TensorFlow
summary protocol buffers is TensorFlow-only."""
from __future__ import annotations

from ._unsupported import tensorflow_only

__all__ = ["monitor_activation", "get_summary", "add_activations_summary", "add_gradients_summary",
           "add_trainable_vars_summary", "add_loss_summaries", "summary_exists", "get_value_from_summary_string"]


def _summarizer():
    from .helpers import summarizer  # (helpers builds on the models; imported when used)
    return summarizer


def monitor_activation(tensor):
    """Ask for a histogram of ``tensor`` (a tensor or a function of the feed)."""
    return _summarizer().summarize(tensor, "histogram", "activations/monitored")


def get_summary(stype, tag, value=None, collection_key=None, break_if_exists=False):
    """Ask for ``value`` as a ``stype`` summary (``'scalar'`` or ``'histogram'``) tagged ``tag``."""
    return _summarizer().summarize(value, stype, tag, collection_key or "tflearn_summ")


def add_activations_summary(activation_ops, name_prefix="", name_suffix="", collection_key=None):
    """Histograms of activations (tensors, or functions of the feed)."""
    return [get_summary("histogram", f"{name_prefix}activation_{i}{name_suffix}", op, collection_key)
            for i, op in enumerate(activation_ops)]


def add_gradients_summary(grads, name_prefix="", name_suffix="", collection_key=None):
    """Histograms of the gradients of these parameters."""
    return _summarizer().summarize_gradients(grads, collection_key or "tflearn_summ")


def add_trainable_vars_summary(variables, name_prefix="", name_suffix="", collection_key=None):
    """Histograms of these parameters."""
    return _summarizer().summarize_variables(variables, collection_key or "tflearn_summ")


def add_loss_summaries(total_loss, loss, regul_losses_collection_key, name_prefix="", summaries_collection_key=None,
                       exp_moving_avg=0.9, ema_num_updates=None):
    """A scalar summary of ``loss`` (a function of the feed, or a tensor)."""
    return get_summary("scalar", f"{name_prefix}loss", loss, summaries_collection_key)


def summary_exists(tag):
    """Whether a summary with this tag was requested."""
    return any(s.tag == tag for entries in _summarizer().COLLECTIONS.values() for s in entries)


get_value_from_summary_string = tensorflow_only(
    "tflearn.summaries", "get_value_from_summary_string", "it parses a serialized TensorFlow Summary protocol buffer",
    "the epoch logs (DNN.history, TrainingState.epoch_logs) or tensorboard's EventAccumulator on the log folder")
