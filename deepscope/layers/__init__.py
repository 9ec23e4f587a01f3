"""Layer functions with TFlearn's module paths (``deepscope.layers.conv.conv_2d`` ...)."""
from .conv import (avg_pool_1d, avg_pool_2d, conv_1d, conv_2d, conv_2d_transpose, global_avg_pool, global_max_pool,
                   max_pool_1d, max_pool_2d, upsample_2d)
from .blocks import (densenet_block, grouped_conv_2d, highway, highway_conv_2d, residual_block, residual_bottleneck,
                     resnext_block)
from .core import (activation, custom_layer, dropout, elementwise, flatten, fully_connected, input_data,
                   register_custom_function, reshape, single_unit)
from .embedding_ops import embedding
from .estimator import regression
from .merge_ops import merge, merge_outputs
from .normalization import batch_normalization, l2_normalize, local_response_normalization
from .recurrent import BasicLSTMCell, BasicRNNCell, GRUCell, bidirectional_rnn, gru, lstm, simple_rnn

__all__ = ["activation", "dropout", "flatten", "fully_connected", "input_data", "reshape", "single_unit", "regression",
           "conv_1d", "conv_2d", "conv_2d_transpose", "max_pool_1d", "avg_pool_1d", "max_pool_2d", "avg_pool_2d",
           "global_avg_pool", "global_max_pool", "upsample_2d",
           "batch_normalization", "local_response_normalization", "l2_normalize",
           "simple_rnn", "lstm", "gru", "embedding", "merge", "merge_outputs", "elementwise",
           "residual_block", "residual_bottleneck", "resnext_block", "densenet_block", "grouped_conv_2d", "highway",
           "highway_conv_2d", "custom_layer", "register_custom_function", "bidirectional_rnn", "BasicLSTMCell", "BasicRNNCell", "GRUCell"]
