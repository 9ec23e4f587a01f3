"""deepscope: TFlearn's few-line API on PyTorch, for scientists.

``import deepscope as tflearn`` runs TFlearn code::

    net = tflearn.input_data(shape=[None, 2])
    net = tflearn.fully_connected(net, 1, activation='sigmoid')
    net = tflearn.regression(net, optimizer='sgd', learning_rate=2, loss='mean_square')
    model = tflearn.DNN(net)
    model.fit(X, Y, n_epoch=2000)

A built model (``model.net``) is an ordinary ``torch.nn.Module``.
"""
from . import (activations, callbacks, data_augmentation, data_preprocessing, data_utils, initializations,
               layers, losses, metrics, optimizers, regularizers)
from .data_augmentation import ImageAugmentation
from .data_preprocessing import ImagePreprocessing
from .layers import *  # noqa: F401,F403  (TFlearn exposes every layer at top level)
from .layers import __all__ as _layer_names
from .models import DNN, ModelFileError
from .models import load_model as load
from .utils import init_graph, set_seed

__version__ = "0.1.0"
__all__ = ["DNN", "ImageAugmentation", "ImagePreprocessing", "ModelFileError", "load", "init_graph", "set_seed",
           "activations", "callbacks", "data_augmentation", "data_preprocessing", "data_utils",
           "initializations", "layers", "losses", "metrics", "optimizers", "regularizers", *_layer_names]
