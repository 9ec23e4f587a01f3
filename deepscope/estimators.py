"""TFlearn's classic estimators (``tflearn.estimators``) on scikit-learn: ``KMeans`` and
``RandomForestClassifier`` with TFlearn's arguments and methods. Needs scikit-learn
(``pip install 'deepscope[brain]'``); the fitting is scikit-learn's, nothing is re-implemented.
"""
from __future__ import annotations

import numpy as np

from . import metrics
from ._checks import check_choice, check_int, fail


def _sklearn(name: str):
    try:
        from sklearn import cluster, ensemble
    except ImportError:
        fail(f"deepscope.estimators.{name}", "scikit-learn installed (pip install 'deepscope[brain]')", None,
             error=ImportError)
    return cluster, ensemble


def _rows(X, where: str) -> np.ndarray:
    array = np.asarray(X, dtype=np.float64)
    if array.ndim == 1:
        array = array[None, :]  # one sample, as TFlearn's predict(testX[0]) passes it
    if array.ndim != 2:
        array = array.reshape(len(array), -1)
    if not np.isfinite(array).all():
        fail(where, "finite numbers", "NaN or Inf values")
    return array


class KMeans:
    """K-means clustering (TFlearn's ``KMeans``; scikit-learn's algorithm).

    Args:
        n_clusters: number of clusters.
        max_iter: iterations at most.
        init: ``'random'`` or ``'kmeans_plus_plus'``.
        distance: ``'squared_euclidean'`` (the only one scikit-learn's k-means minimizes).
        random_state: seed.
    """

    def __init__(self, n_clusters, max_iter=300, init="random", distance="squared_euclidean", random_state=None,
                 num_features=None, log_dir=None, global_step=None, session=None, graph=None, name=None):
        self.n_clusters = check_int(n_clusters, "KMeans n_clusters", minimum=1)
        self.max_iter = check_int(max_iter, "KMeans max_iter", minimum=1)
        self.init = check_choice(init, "KMeans init", ("random", "kmeans_plus_plus"))
        check_choice(distance, "KMeans distance", ("squared_euclidean",))
        self.random_state = random_state
        self.model = None

    def fit(self, X, shuffle=True, display_step=500, n_jobs=1, max_steps=None, verbose=0, **kwargs):
        cluster, _ = _sklearn("KMeans")
        self.model = cluster.KMeans(self.n_clusters, init="k-means++" if self.init == "kmeans_plus_plus" else "random",
                                    max_iter=max_steps or self.max_iter, n_init=1, random_state=self.random_state)
        self.model.fit(_rows(X, "KMeans.fit X"))
        return self

    def _fitted(self):
        if self.model is None:
            fail("KMeans", "a fitted model", None, "Call m.fit(X) first.")
        return self.model

    @property
    def cluster_centers_vars(self) -> np.ndarray:
        return self._fitted().cluster_centers_

    cluster_centers_ = cluster_centers_vars

    @property
    def labels_(self) -> np.ndarray:
        return self._fitted().labels_

    def predict(self, X, with_distances=False):
        """The nearest cluster of each sample (one sample: a 1-D input)."""
        model = self._fitted()
        rows = _rows(X, "KMeans.predict X")
        labels = model.predict(rows)
        return (labels, model.transform(rows).min(1) ** 2) if with_distances else labels

    def transform(self, X):
        """Each sample's distance to every cluster center."""
        return self._fitted().transform(_rows(X, "KMeans.transform X"))


class RandomForestClassifier:
    """A random forest (TFlearn's ``RandomForestClassifier``; scikit-learn's algorithm).

    Args:
        n_estimators: trees.
        max_nodes: leaves per tree at most.
        split_after_samples, num_features, num_classes, ...: accepted for TFlearn compatibility.
    """

    def __init__(self, n_estimators=100, max_nodes=10000, split_after_samples=250, min_samples_split=2,
                 bagging=True, num_classes=None, num_features=None, metric=None, log_dir=None, global_step=None,
                 session=None, graph=None, name=None, random_state=None):
        self.n_estimators = check_int(n_estimators, "RandomForestClassifier n_estimators", minimum=1)
        self.max_nodes = check_int(max_nodes, "RandomForestClassifier max_nodes", minimum=2)
        self.min_samples_split = check_int(min_samples_split, "RandomForestClassifier min_samples_split", minimum=2)
        self.bagging, self.random_state = bool(bagging), random_state
        self.model = None

    def fit(self, X, Y, batch_size=1024, shuffle=True, display_step=500, n_jobs=1, max_steps=None, **kwargs):
        _, ensemble = _sklearn("RandomForestClassifier")
        self.model = ensemble.RandomForestClassifier(
            self.n_estimators, max_leaf_nodes=self.max_nodes, min_samples_split=self.min_samples_split,
            bootstrap=self.bagging, n_jobs=n_jobs, random_state=self.random_state)
        self.model.fit(_rows(X, "RandomForestClassifier.fit X"), _labels(Y))
        return self

    def _fitted(self):
        if self.model is None:
            fail("RandomForestClassifier", "a fitted model", None, "Call m.fit(X, Y) first.")
        return self.model

    def predict(self, X):
        """Class indices."""
        return self._fitted().predict(_rows(X, "RandomForestClassifier.predict X"))

    def predict_proba(self, X):
        return self._fitted().predict_proba(_rows(X, "RandomForestClassifier.predict_proba X"))

    def evaluate(self, X, Y, metric=None, batch_size=None):
        """The metric on ``(X, Y)`` (default and ``accuracy_op``: accuracy), as a float."""
        predictions = self.predict(X)
        if metric is None or metric is metrics.accuracy_op:
            return float(np.mean(predictions == _labels(Y)))
        return float(metric(predictions, _labels(Y)))


def _labels(Y) -> np.ndarray:
    y = np.asarray(Y)
    return y.argmax(1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(-1)
