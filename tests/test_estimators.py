"""TFlearn's estimators on scikit-learn (examples/basics/kmeans.py and random_forest.py)."""
from __future__ import annotations

import numpy as np
import pytest

import deepscope as tflearn

pytest.importorskip("sklearn")
from deepscope.estimators import KMeans, RandomForestClassifier  # noqa: E402


def _blobs():
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [5, 5], [0, 5]], dtype=float)
    y = rng.integers(0, 3, 300)
    return centers[y] + rng.normal(0, 0.3, (300, 2)), y, centers


def test_kmeans_finds_the_clusters():
    X, y, centers = _blobs()
    m = KMeans(n_clusters=3, distance="squared_euclidean", random_state=0, init="kmeans_plus_plus")
    m.fit(X, display_step=10)
    found = m.cluster_centers_vars[np.argsort(m.cluster_centers_vars.sum(1) * 10 + m.cluster_centers_vars[:, 0])]
    np.testing.assert_allclose(np.sort(found.sum(1)), np.sort(centers.sum(1)), atol=0.2)
    assert m.predict(X[0]).shape == (1,) and m.labels_.shape == (300,)
    assert m.transform(X[:4]).shape == (4, 3)
    with pytest.raises(ValueError, match="distance"):
        KMeans(3, distance="cosine")


def test_random_forest_classifies_and_evaluates_with_accuracy_op():
    X, y, _ = _blobs()
    m = RandomForestClassifier(n_estimators=20, max_nodes=50, random_state=0)
    m.fit(X, np.eye(3)[y], batch_size=100, display_step=10)
    assert m.evaluate(X, y, tflearn.accuracy_op) > 0.97
    assert list(m.predict(X[:5])) == list(y[:5])
    with pytest.raises(ValueError, match="fitted"):
        RandomForestClassifier().predict(X)
