"""Callbacks: TFlearn's events around the training loop."""
from .base import Callback, TrainingState
from .early_stopping import EarlyStopping
from .progress import ProgressCallback
from .tflearn_callbacks import ChainCallback, ModelSaver, TermLogger

__all__ = ["Callback", "EarlyStopping", "TrainingState", "ProgressCallback", "ChainCallback", "ModelSaver",
           "TermLogger"]
