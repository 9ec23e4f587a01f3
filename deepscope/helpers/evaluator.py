"""TFlearn's ``Evaluator``: compute tensors of your own (functions of the feed) over a feed dict, in batches."""
from __future__ import annotations

import torch

from .._checks import fail
from .feeds import batch_of, feed_length, to_feed


class Evaluator:
    """Evaluate functions of the feed (TFlearn's graph tensors), or a deepscope network, on a feed dict.

    Args:
        tensors: a function ``feed -> tensor``, or a list of them; a ``DNN`` or regression node also works
            (its prediction of the feed's one input).
        model: TFlearn's; accepted (unused).
        session: TensorFlow's; accepted (unused).
    """

    def __init__(self, tensors, model=None, session=None):
        self.tensors = list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]
        for t in self.tensors:
            if not callable(t) and not hasattr(t, "predict"):
                fail("Evaluator tensors", "functions of the feed (feed -> tensor) or a DNN", t, error=TypeError)

    def _run(self, fn, feed):
        if hasattr(fn, "predict"):
            return torch.as_tensor(fn.predict(next(iter(feed.values()))))
        with torch.no_grad():
            return torch.as_tensor(fn(feed))

    def predict(self, feed_dict):
        """The first tensor on the whole feed, as numpy (TFlearn's)."""
        feed = to_feed(feed_dict, "Evaluator.predict feed_dict")
        return self._run(self.tensors[0], feed).cpu().numpy()

    def evaluate(self, feed_dict, ops, batch_size=128):
        """The mean of each op over batches of ``batch_size`` (each batch weighted by its size).

        Returns:
            A list of floats, one per op.
        """
        feed = to_feed(feed_dict, "Evaluator.evaluate feed_dict")
        return evaluate_ops(ops if isinstance(ops, (list, tuple)) else [ops], feed, batch_size)


def evaluate_ops(ops, feed: dict, batch_size: int) -> list[float]:
    """Sample-weighted means of ``ops`` (functions of the feed) over batches of ``feed``."""
    n = feed_length(feed)
    totals = [0.0] * len(ops)
    with torch.no_grad():
        for start in range(0, n, batch_size):
            batch = batch_of(feed, slice(start, min(start + batch_size, n)))
            size = min(start + batch_size, n) - start
            for i, op in enumerate(ops):
                totals[i] += float(torch.as_tensor(op(batch)).float().mean()) * size
    return [t / n for t in totals] if n else [float("nan")] * len(ops)
