"""Layer functions with TFlearn's module paths (``deepscope.layers.conv.conv_2d`` ...)."""
from .core import activation, dropout, flatten, fully_connected, input_data, reshape
from .estimator import regression

__all__ = ["activation", "dropout", "flatten", "fully_connected", "input_data", "reshape", "regression"]
