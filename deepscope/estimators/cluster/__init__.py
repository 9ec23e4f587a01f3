"""Clustering estimators (TFlearn's ``tflearn.estimators.cluster``)."""
from .kmeans import KMeans, MiniBatchKMeans

__all__ = ["KMeans", "MiniBatchKMeans"]
