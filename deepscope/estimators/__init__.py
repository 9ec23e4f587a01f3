"""TFlearn's classic estimators (``tflearn.estimators``) on scikit-learn: ``KMeans``, ``MiniBatchKMeans``,
``RandomForestClassifier`` and ``RandomForestRegressor`` with TFlearn's arguments and methods. Needs scikit-learn
(``pip install 'deepscope[brain]'``); the fitting is scikit-learn's, nothing is re-implemented.
"""
from .cluster import KMeans, MiniBatchKMeans
from .ensemble import RandomForestClassifier, RandomForestRegressor

__all__ = ["KMeans", "MiniBatchKMeans", "RandomForestClassifier", "RandomForestRegressor"]
