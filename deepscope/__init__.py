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
from .data_augmentation import ImageAugmentation
from .data_preprocessing import ImagePreprocessing
from .layers import (activation, avg_pool_1d, avg_pool_2d, batch_normalization, conv_1d, conv_2d,
                     conv_2d_transpose, custom_layer, densenet_block, dropout, elementwise, embedding, flatten,
                     fully_connected,
                     global_avg_pool, global_max_pool, grouped_conv_2d, gru, highway, highway_conv_2d, input_data,
                     l2_normalize, local_response_normalization, lstm, max_pool_1d, max_pool_2d, merge, merge_outputs,
                     regression, reshape, residual_block, residual_bottleneck, resnext_block, simple_rnn, single_unit,
                     upsample_2d, bidirectional_rnn, BasicLSTMCell, BasicRNNCell, GRUCell)
from .metrics import R2, Accuracy, Top_k, accuracy_op
from .optimizers import SGD, AdaDelta, AdaGrad, Adam, AdamW, Momentum, Nesterov, RMSProp
from .diagnostics import Diagnostics
from .models import DNN, ModelFileError, SequenceGenerator
from .models import load_model as load
from .runs.report import report
from .utils import init_graph, set_seed

from . import estimators, objectives, variables
from .variables import (get_all_trainable_variable, get_all_variables, get_layer_variables_by_name,
                        get_layer_variables_by_scope, get_value, set_value, variable)
from .activations import (crelu, elu, leaky_relu, linear, prelu, relu, relu6, selu, sigmoid, softmax, softplus,
                          softsign, tanh)
from .objectives import (binary_crossentropy, categorical_crossentropy, hinge_loss, mean_square,
                         softmax_categorical_crossentropy, weighted_crossentropy)

from ._version import __version__

# TFlearn names deepscope does not provide (yet), with what to use instead
NOT_PROVIDED = {
    "time_distributed": "not built yet",
}


def __getattr__(name: str):
    """A TFlearn name that deepscope does not provide gets an error saying so and what to use instead."""
    if name in NOT_PROVIDED:
        raise AttributeError(f"deepscope does not provide TFlearn's {name!r}: {NOT_PROVIDED[name]}.")
    raise AttributeError(f"module 'deepscope' has no attribute {name!r} (not one of the TFlearn names deepscope "
                         "provides; README 'What is inside' lists them).")
__all__ = ["DNN", "SequenceGenerator", "Diagnostics", "ImageAugmentation", "ImagePreprocessing", "ModelFileError", "load", "init_graph", "set_seed",
           "activations", "callbacks", "data_augmentation", "data_preprocessing", "data_utils", "datasets",
           "initializations", "layers", "losses", "metrics", "optimizers", "regularizers", "sweep",
           "SGD", "AdaDelta", "AdaGrad", "Adam", "AdamW", "Momentum", "Nesterov", "RMSProp",
           "Accuracy", "R2", "Top_k", "objectives", "elu", "leaky_relu", "linear", "prelu", "relu", "sigmoid",
           "softmax", "tanh", "crelu", "relu6", "selu", "softplus", "softsign",
           "binary_crossentropy", "categorical_crossentropy", "hinge_loss", "mean_square",
           "softmax_categorical_crossentropy", "weighted_crossentropy", "variables", "report", "estimators", "accuracy_op",
           "get_all_trainable_variable", "get_all_variables", "get_layer_variables_by_name",
           "get_layer_variables_by_scope", "get_value", "set_value", "variable", *layers.__all__]
