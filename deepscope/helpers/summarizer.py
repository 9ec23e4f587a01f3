"""TFlearn's summaries: name what TensorBoard should show, and ``helpers.Trainer`` writes it to the run's
TensorBoard log at the end of every epoch (histograms of parameters and gradients, scalars, activations).

A source is a tensor or parameter (read when written) or a function of the feed (``feed -> tensor``, evaluated
on the epoch's last batch).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .._checks import Text, check_choice, fail


@dataclass
class Summary:
    """One requested summary: its TensorBoard tag, ``'histogram'`` or ``'scalar'``, and what to read."""

    tag: str
    kind: str
    source: Any  # a tensor / parameter, or a function of the feed


#: collection name -> the summaries requested (TFlearn's ``summary_collection``)
COLLECTIONS: dict[str, list[Summary]] = {}


def summarize(value, type, name, summary_collection="tflearn_summ"):  # noqa: A002 (TFlearn's argument name)
    """Ask for ``value`` to be written to TensorBoard as ``type`` under ``name`` (TFlearn's arguments).

    Args:
        value: a tensor / parameter, or a function of the feed returning one.
        type: ``'histogram'`` or ``'scalar'``.
        name: the tag.
        summary_collection: the collection ``Trainer`` reads (its default: ``'tflearn_summ'``).

    Returns:
        The recorded :class:`Summary`.
    """
    kind = check_choice(str(type).lower(), "summarize type", ("histogram", "scalar"))
    if not isinstance(name, str) or not name:
        fail("summarize name", "a non-empty tag", name, error=TypeError)
    if not (isinstance(value, torch.Tensor) or callable(value)):
        fail("summarize value", "a tensor, a parameter, or a function of the feed", Text(type_name(value)),
             error=TypeError)
    entry = Summary(name, kind, value)
    COLLECTIONS.setdefault(summary_collection, []).append(entry)
    return entry


def type_name(value) -> str:
    return value.__class__.__name__


def summarize_variables(train_vars=None, summary_collection="tflearn_summ"):
    """Histograms of parameters (None: every trainable parameter built so far)."""
    from ..variables import get_all_trainable_variable
    params = get_all_trainable_variable() if train_vars is None else list(train_vars)
    return [summarize(p, "histogram", f"variables/{i}", summary_collection) for i, p in enumerate(params)]


def summarize_activations(activations, summary_collection="tflearn_summ"):
    """Histograms of activations (tensors, or functions of the feed)."""
    return [summarize(a, "histogram", f"activations/{i}", summary_collection) for i, a in enumerate(activations)]


def summarize_gradients(grads, summary_collection="tflearn_summ"):
    """Histograms of the gradients of these parameters (read from ``.grad`` after each epoch's last step)."""
    return [summarize(lambda feed, p=p: p.grad if p.grad is not None else torch.zeros_like(p), "histogram",
                      f"gradients/{i}", summary_collection) for i, p in enumerate(grads)]


def summarize_all(train_vars, grads, activations, summary_collection="tflearn_summ"):
    """:func:`summarize_variables`, :func:`summarize_gradients` and :func:`summarize_activations` at once."""
    return (summarize_variables(train_vars, summary_collection) + summarize_gradients(grads, summary_collection)
            + summarize_activations(activations, summary_collection))


def write_summaries(writer, collection: str, feed: dict | None, step: int) -> int:
    """Write a collection's summaries with a ``SummaryWriter`` at ``step``; returns how many were written."""
    written = 0
    for entry in COLLECTIONS.get(collection, []):
        value = entry.source
        if callable(value) and not isinstance(value, torch.Tensor):
            if feed is None:
                continue
            value = value(feed)
        value = torch.as_tensor(value).detach().float().cpu()
        if entry.kind == "scalar":
            writer.add_scalar(entry.tag, float(value.mean()), step)
        else:
            writer.add_histogram(entry.tag, value, step)
        written += 1
    return written
