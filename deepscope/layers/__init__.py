"""Layer functions with TFlearn's module paths (``deepscope.layers.conv.conv_2d`` ...)."""
from .conv import (atrous_conv_2d, avg_pool_1d, avg_pool_2d, conv_1d, conv_2d, conv_2d_transpose, deconv_2d,
                   global_avg_pool, global_max_pool, max_pool_1d, max_pool_2d, upsample_2d, upscore_layer)
from .volumetric import avg_pool_3d, conv_3d, conv_3d_transpose, max_pool_3d, upscore_layer3d
from .wrappers import multi_target_data, one_hot_encoding, time_distributed
from .blocks import (densenet_block, grouped_conv_2d, highway, highway_conv_1d, highway_conv_2d, residual_block, residual_bottleneck,
                     resnext_block)
from .core import (activation, custom_layer, dropout, elementwise, flatten, fully_connected, input_data,
                   register_custom_function, reshape, single_unit)
from .embedding_ops import embedding
from .estimator import regression
from .merge_ops import merge, merge_outputs
from .normalization import batch_normalization, l2_normalize, local_response_normalization
from .recurrent import (BasicLSTMCell, BasicRNNCell, DropoutWrapper, GRUCell, bidirectional_rnn, gru, lstm,
                        simple_rnn)

__all__ = ["activation", "dropout", "flatten", "fully_connected", "input_data", "reshape", "single_unit", "regression",
           "conv_1d", "conv_2d", "conv_2d_transpose", "max_pool_1d", "avg_pool_1d", "max_pool_2d", "avg_pool_2d",
           "global_avg_pool", "global_max_pool", "upsample_2d",
           "batch_normalization", "local_response_normalization", "l2_normalize",
           "simple_rnn", "lstm", "gru", "embedding", "merge", "merge_outputs", "elementwise",
           "residual_block", "residual_bottleneck", "resnext_block", "densenet_block", "grouped_conv_2d", "highway",
           "highway_conv_2d", "highway_conv_1d", "custom_layer", "atrous_conv_2d", "deconv_2d", "upscore_layer",
           "conv_3d", "conv_3d_transpose", "max_pool_3d", "avg_pool_3d", "upscore_layer3d", "one_hot_encoding",
           "time_distributed", "multi_target_data", "register_custom_function", "bidirectional_rnn", "BasicLSTMCell", "BasicRNNCell", "GRUCell",
           "DropoutWrapper"]

# TFlearn's paths for the blocks (tflearn.layers.core.highway, tflearn.layers.conv.residual_block, ...): they
# are written in blocks.py, which builds on core and conv, so the package hands them to those modules here.
from . import blocks as _blocks, conv as _conv, core as _core, volumetric as _volumetric  # noqa: E402
from . import wrappers as _wrappers  # noqa: E402

_core.highway = _blocks.highway
for _name in ("one_hot_encoding", "time_distributed", "multi_target_data"):
    setattr(_core, _name, getattr(_wrappers, _name))
for _name in ("conv_3d", "conv_3d_transpose", "max_pool_3d", "avg_pool_3d", "upscore_layer3d"):
    setattr(_conv, _name, getattr(_volumetric, _name))
for _name in ("densenet_block", "grouped_conv_2d", "highway_conv_2d", "highway_conv_1d", "residual_block", "residual_bottleneck",
              "resnext_block"):
    setattr(_conv, _name, getattr(_blocks, _name))
