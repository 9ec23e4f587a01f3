"""K-means (TFlearn's ``tflearn.estimators.cluster.kmeans``) on scikit-learn."""
from __future__ import annotations

import numpy as np

from ..._checks import check_choice, check_int
from ..base import BaseEstimator, rows, sklearn_modules


class KMeansBase(BaseEstimator):
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
        cluster, _ = sklearn_modules("KMeans")
        self.model = cluster.KMeans(self.n_clusters, init="k-means++" if self.init == "kmeans_plus_plus" else "random",
                                    max_iter=max_steps or self.max_iter, n_init=1, random_state=self.random_state)
        self.model.fit(rows(X, "KMeans.fit X"))
        return self

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
        samples = rows(X, "KMeans.predict X")
        labels = model.predict(samples)
        return (labels, model.transform(samples).min(1) ** 2) if with_distances else labels

    def transform(self, X):
        """Each sample's distance to every cluster center."""
        return self._fitted().transform(rows(X, "KMeans.transform X"))


class KMeans(KMeansBase):
    """K-means clustering (TFlearn's ``KMeans``; scikit-learn's algorithm)."""


class MiniBatchKMeans(KMeans):
    """K-means on mini-batches (TFlearn's ``MiniBatchKMeans``; scikit-learn's ``MiniBatchKMeans``)."""

    def fit(self, X, shuffle=True, display_step=500, n_jobs=1, max_steps=None, verbose=0, batch_size=1024, **kwargs):
        cluster, _ = sklearn_modules("MiniBatchKMeans")
        self.model = cluster.MiniBatchKMeans(self.n_clusters, init="k-means++" if self.init == "kmeans_plus_plus"
                                             else "random", max_iter=max_steps or self.max_iter, n_init=1,
                                             batch_size=batch_size, random_state=self.random_state)
        self.model.fit(rows(X, "MiniBatchKMeans.fit X"))
        return self
