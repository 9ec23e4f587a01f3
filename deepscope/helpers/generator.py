"""TFlearn's path ``tflearn.helpers.generator.SequenceGenerator`` (the model lives in ``deepscope.models``)."""
from ..models.generator import SequenceGenerator

__all__ = ["SequenceGenerator"]
