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
                     conv_2d_transpose, dropout, embedding, flatten, fully_connected, global_avg_pool,
                     global_max_pool, gru, input_data, l2_normalize, local_response_normalization, lstm,
                     max_pool_1d, max_pool_2d, merge, merge_outputs, regression, reshape, simple_rnn,
                     single_unit, upsample_2d)
from .metrics import R2, Accuracy, Top_k
from .optimizers import SGD, AdaDelta, AdaGrad, Adam, AdamW, Momentum, Nesterov, RMSProp
from .diagnostics import Diagnostics
from .models import DNN, ModelFileError
from .models import load_model as load
from .utils import init_graph, set_seed

__version__ = "0.1.0"
__all__ = ["DNN", "Diagnostics", "ImageAugmentation", "ImagePreprocessing", "ModelFileError", "load", "init_graph", "set_seed",
           "activations", "callbacks", "data_augmentation", "data_preprocessing", "data_utils", "datasets",
           "initializations", "layers", "losses", "metrics", "optimizers", "regularizers", "sweep",
           "SGD", "AdaDelta", "AdaGrad", "Adam", "AdamW", "Momentum", "Nesterov", "RMSProp",
           "Accuracy", "R2", "Top_k", *layers.__all__]
