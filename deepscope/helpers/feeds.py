"""Feed dicts of TFlearn's helpers: ``{key: array}`` with one row per sample, as tensors, and their batches."""
from __future__ import annotations

import torch

from .._checks import Text, fail
from ..data_utils import as_tensor


def to_feed(feed_dict, argument: str) -> dict:
    """``{key: tensor}`` from ``{key: array}`` (every value with the same number of rows)."""
    if not isinstance(feed_dict, dict) or not feed_dict:
        fail(argument, "a dict {placeholder or name: array}", Text(type(feed_dict).__name__), error=TypeError)
    feed = {}
    for key, value in feed_dict.items():
        feed[key] = value if isinstance(value, torch.Tensor) else as_tensor(value, name=f"{argument}[{key!r}]")
    lengths = {len(v) for v in feed.values()}
    if len(lengths) != 1:
        fail(argument, "arrays with the same number of samples", Text(f"lengths {sorted(lengths)}"))
    return feed


def feed_length(feed: dict) -> int:
    return len(next(iter(feed.values())))


def batch_of(feed: dict, rows) -> dict:
    """The rows ``rows`` (a slice or index tensor) of every array of the feed."""
    return {key: value[rows] for key, value in feed.items()}
