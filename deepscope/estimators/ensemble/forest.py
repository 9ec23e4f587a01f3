"""Random forests (TFlearn's ``tflearn.estimators.ensemble.forest``) on scikit-learn."""
from __future__ import annotations

import numpy as np

from ... import metrics
from ..._checks import check_int
from ..base import SupervisedEstimator, labels_of, rows, sklearn_modules


class ForestEstimator(SupervisedEstimator):
    """A random forest (TFlearn's ``RandomForestClassifier``; scikit-learn's algorithm).

    Args:
        n_estimators: trees.
        max_nodes: leaves per tree at most.
        split_after_samples, num_features, num_classes, ...: accepted for TFlearn compatibility.
    """

    def __init__(self, n_estimators=100, max_nodes=10000, split_after_samples=250, min_samples_split=2,
                 bagging=True, num_classes=None, num_features=None, metric=None, log_dir=None, global_step=None,
                 session=None, graph=None, name=None, random_state=None):
        self.n_estimators = check_int(n_estimators, f"{type(self).__name__} n_estimators", minimum=1)
        self.max_nodes = check_int(max_nodes, f"{type(self).__name__} max_nodes", minimum=2)
        self.min_samples_split = check_int(min_samples_split, f"{type(self).__name__} min_samples_split", minimum=2)
        self.bagging, self.random_state = bool(bagging), random_state
        self.model = None

    def fit(self, X, Y, batch_size=1024, shuffle=True, display_step=500, n_jobs=1, max_steps=None, **kwargs):
        _, ensemble = sklearn_modules("RandomForestClassifier")
        self.model = ensemble.RandomForestClassifier(
            self.n_estimators, max_leaf_nodes=self.max_nodes, min_samples_split=self.min_samples_split,
            bootstrap=self.bagging, n_jobs=n_jobs, random_state=self.random_state)
        self.model.fit(rows(X, "RandomForestClassifier.fit X"), labels_of(Y))
        return self

    def predict(self, X):
        """Class indices."""
        return self._fitted().predict(rows(X, "RandomForestClassifier.predict X"))

    def predict_proba(self, X):
        return self._fitted().predict_proba(rows(X, "RandomForestClassifier.predict_proba X"))

    def evaluate(self, X, Y, metric=None, batch_size=None):
        """The metric on ``(X, Y)`` (default and ``accuracy_op``: accuracy), as a float."""
        predictions = self.predict(X)
        if metric is None or metric is metrics.accuracy_op:
            return float(np.mean(predictions == labels_of(Y)))
        return float(metric(predictions, labels_of(Y)))


class RandomForestClassifier(ForestEstimator):
    """A random forest classifier (TFlearn's ``RandomForestClassifier``; scikit-learn's algorithm)."""


class RandomForestRegressor(ForestEstimator):
    """A random forest regressor (TFlearn's ``RandomForestRegressor``; scikit-learn's algorithm)."""

    def fit(self, X, Y, batch_size=1024, shuffle=True, display_step=500, n_jobs=1, max_steps=None, **kwargs):
        _, ensemble = sklearn_modules("RandomForestRegressor")
        self.model = ensemble.RandomForestRegressor(
            self.n_estimators, max_leaf_nodes=self.max_nodes, min_samples_split=self.min_samples_split,
            bootstrap=self.bagging, n_jobs=n_jobs, random_state=self.random_state)
        target = np.asarray(Y, dtype=np.float64)
        self.model.fit(rows(X, "RandomForestRegressor.fit X"), target.ravel() if target.ndim > 1 and
                       target.shape[1] == 1 else target)
        return self

    def predict_proba(self, X):
        from ..._checks import fail
        fail("RandomForestRegressor.predict_proba", "a classifier", "a regressor", "Use predict(X).")

    def evaluate(self, X, Y, metric=None, batch_size=None):
        """The metric on ``(X, Y)`` (default: R^2), as a float."""
        predictions = self.predict(X)
        target = np.asarray(Y, dtype=np.float64).reshape(predictions.shape)
        if metric is None:
            return float(1 - ((target - predictions) ** 2).sum() / ((target - target.mean()) ** 2).sum())
        return float(metric(predictions, target))
