"""Ensemble estimators (TFlearn's ``tflearn.estimators.ensemble``)."""
from .forest import RandomForestClassifier, RandomForestRegressor

__all__ = ["RandomForestClassifier", "RandomForestRegressor"]
