"""Models: ``DNN`` (fit / predict / evaluate / save / load) and the ``Trainer`` that runs its loop.

To change what one training step does, subclass ``Trainer``, override ``train_step`` and pass the
class to ``fit(..., trainer=MyTrainer)``.
"""
from .dnn import DNN
from .generator import SequenceGenerator
from .fit_state import FitRecord, FitSettings, fit_callbacks, resume_named_runs
from .loading import load_model
from .serialization import ModelFileError
from .trainer import Trainer

__all__ = ["DNN", "SequenceGenerator", "FitRecord", "FitSettings", "ModelFileError", "Trainer", "fit_callbacks", "load_model",
           "resume_named_runs"]
