"""Models: ``DNN`` (fit / predict / evaluate / save / load)."""
from .dnn import DNN
from .serialization import ModelFileError, load_model

__all__ = ["DNN", "ModelFileError", "load_model"]
