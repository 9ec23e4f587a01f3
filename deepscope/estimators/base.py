"""TFlearn's estimator bases (``tflearn.estimators.base``) and the helpers the scikit-learn estimators share."""
from __future__ import annotations

import numpy as np

from .._checks import fail


def sklearn_modules(name: str):
    try:
        from sklearn import cluster, ensemble
    except ImportError:
        fail(f"deepscope.estimators.{name}", "scikit-learn installed (pip install 'deepscope[brain]')", None,
             error=ImportError)
    return cluster, ensemble


def rows(X, where: str) -> np.ndarray:
    array = np.asarray(X, dtype=np.float64)
    if array.ndim == 1:
        array = array[None, :]  # one sample, as TFlearn's predict(testX[0]) passes it
    if array.ndim != 2:
        array = array.reshape(len(array), -1)
    if not np.isfinite(array).all():
        fail(where, "finite numbers", "NaN or Inf values")
    return array


def labels_of(Y) -> np.ndarray:
    y = np.asarray(Y)
    return y.argmax(1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(-1)


class GraphBranch:
    """TFlearn's holder of a part of an estimator's graph: an input, an output and parameters (kept as given)."""

    def __init__(self, input_tensor=None, output_tensor=None, params=None):
        self.build(input_tensor, output_tensor, params)
        self._is_ready = input_tensor is not None and output_tensor is not None

    def build(self, input_tensor, output_tensor, params=None):
        self.input_tensor, self.output_tensor = input_tensor, output_tensor
        self.params = dict(params or {})
        self._is_ready = True

    @property
    def is_ready(self) -> bool:
        return self._is_ready

    def get_params(self, x):
        return self.params.get(x)


class BaseEstimator:
    """What every estimator here has: ``model`` (the fitted scikit-learn object, None before ``fit``) and
    ``_fitted()`` (a clear error before ``fit``)."""

    model = None

    def _fitted(self):
        if self.model is None:
            fail(type(self).__name__, "a fitted model", None, "Call fit(...) first.")
        return self.model


class SupervisedEstimator(BaseEstimator):
    """An estimator fitted on ``(X, Y)``: ``predict`` and ``evaluate``."""

    def predict(self, X):
        return self._fitted().predict(rows(X, f"{type(self).__name__}.predict X"))
