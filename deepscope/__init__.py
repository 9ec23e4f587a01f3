"""deepscope: TFlearn's few-line API on PyTorch, for scientists.

``import deepscope as tflearn`` runs TFlearn code::

    net = tflearn.input_data(shape=[None, 2])
    net = tflearn.fully_connected(net, 1, activation='sigmoid')
    net = tflearn.regression(net, optimizer='sgd', learning_rate=2, loss='mean_square')
    model = tflearn.DNN(net)
    model.fit(X, Y, n_epoch=2000)

A built model (``model.net``) is an ordinary ``torch.nn.Module``.
"""
from . import (activations, callbacks, data_augmentation, data_preprocessing, data_utils, datasets,
               initializations, layers, losses, metrics, optimizers, regularizers, sweep)
from .data_augmentation import DataAugmentation, ImageAugmentation, SequenceAugmentation
from .data_preprocessing import DataPreprocessing, ImagePreprocessing, SequencePreprocessing
from .layers import *  # noqa: F401,F403  (every layer function, by its TFlearn name)
from .layers import normalization
from .metrics import R2, Accuracy, Prediction_Counts, Top_k, accuracy_op, r2_op, top_k_op
from .optimizers import SGD, AdaDelta, AdaGrad, Adam, AdamW, Ftrl, Momentum, Nesterov, ProximalAdaGrad, RMSProp
from .diagnostics import Diagnostics
from .models import DNN, ModelFileError, SequenceGenerator
from .models import load_model as load
from .runs.report import report
from .utils import init_graph, set_seed
from .variables import get_layer_by_name
from . import config, distances, helpers, summaries
from . import tf_collections as collections
from .config import get_training_mode, is_training
from .graph import variable_scope
from .helpers import (Evaluator, TrainOp, Trainer, add_weights_regularizer, summarize, summarize_activations,
                      summarize_all, summarize_gradients, summarize_variables)

from . import estimators, objectives, variables
from .variables import (get_all_trainable_variable, get_all_variables, get_layer_variables_by_name,
                        get_layer_variables_by_scope, get_value, set_value, variable)
from .activations import (crelu, elu, leaky_relu, linear, prelu, relu, relu6, selu, sigmoid, softmax, softplus,
                          softsign, tanh)
from .objectives import (binary_crossentropy, categorical_crossentropy, hinge_loss, mean_square,
                         softmax_categorical_crossentropy, weighted_crossentropy)

from ._version import __version__

# TFlearn names deepscope does not provide, with what to use instead
NOT_PROVIDED: dict[str, str] = {}


def __getattr__(name: str):
    """A TFlearn name that deepscope does not provide gets an error saying so and what to use instead."""
    if name in NOT_PROVIDED:
        raise AttributeError(f"deepscope does not provide TFlearn's {name!r}: {NOT_PROVIDED[name]}.")
    raise AttributeError(f"module 'deepscope' has no attribute {name!r} (not one of the TFlearn names deepscope "
                         "provides; README 'What is inside' lists them).")
__all__ = ["DataAugmentation", "SequenceAugmentation", "DataPreprocessing", "SequencePreprocessing", "normalization",
           "Prediction_Counts", "r2_op", "top_k_op", "Ftrl", "ProximalAdaGrad", "get_layer_by_name", "config",
           "distances", "helpers", "summaries", "collections", "get_training_mode", "is_training", "variable_scope",
           "Evaluator", "TrainOp", "Trainer", "add_weights_regularizer", "summarize", "summarize_activations",
           "summarize_all", "summarize_gradients", "summarize_variables",
           "DNN", "SequenceGenerator", "Diagnostics", "ImageAugmentation", "ImagePreprocessing", "ModelFileError", "load", "init_graph", "set_seed",
           "activations", "callbacks", "data_augmentation", "data_preprocessing", "data_utils", "datasets",
           "initializations", "layers", "losses", "metrics", "optimizers", "regularizers", "sweep",
           "SGD", "AdaDelta", "AdaGrad", "Adam", "AdamW", "Momentum", "Nesterov", "RMSProp",
           "Accuracy", "R2", "Top_k", "objectives", "elu", "leaky_relu", "linear", "prelu", "relu", "sigmoid",
           "softmax", "tanh", "crelu", "relu6", "selu", "softplus", "softsign",
           "binary_crossentropy", "categorical_crossentropy", "hinge_loss", "mean_square",
           "softmax_categorical_crossentropy", "weighted_crossentropy", "variables", "report", "estimators", "accuracy_op",
           "get_all_trainable_variable", "get_all_variables", "get_layer_variables_by_name",
           "get_layer_variables_by_scope", "get_value", "set_value", "variable", *layers.__all__]
