"""TFlearn's ``tflearn.collections``: the names of the TensorFlow graph collections TFlearn kept its network in.

deepscope keeps a network in the built module instead (``DNN.net``: its ``nodes``, ``inputs`` and layers), so the
names are kept only for code that reads them.
"""
INPUTS = "inputs"
TARGETS = "targets"
TRAIN_OPS = "trainops"
LAYER_VARIABLES = "layer_variables"
LAYER_TENSOR = "layer_tensor"
EXCL_RESTORE_VARS = "restore_variables"
GRAPH_CONFIG = "graph_config"
DATA_PREP = "data_preprocessing"
DATA_AUG = "data_augmentation"
LR_VARIABLES = "lr_variables"
