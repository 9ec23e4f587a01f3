"""TFlearn's ``tflearn.data_flow``: its threaded queues feeding TensorFlow sessions. deepscope feeds batches
from tensors in the training loop (on the device when the data fits), so these names refuse with advice."""
from __future__ import annotations

from ._unsupported import tensorflow_only

_WHY = "it feeds a TensorFlow session from Python threads and queues"
_INSTEAD = ("give DNN.fit arrays, an ImagePreloader or an HDF5 dataset; "
            "batches come from the training loop itself")
DataFlow = tensorflow_only("tflearn.data_flow", "DataFlow", _WHY, _INSTEAD)
FeedDictFlow = tensorflow_only("tflearn.data_flow", "FeedDictFlow", _WHY, _INSTEAD)
TFRecordsFlow = tensorflow_only("tflearn.data_flow", "TFRecordsFlow", "it reads TensorFlow TFRecord files",
                                "convert the records to numpy / HDF5 once and give DNN.fit the arrays")
DataFlowStatus = tensorflow_only("tflearn.data_flow", "DataFlowStatus", _WHY, _INSTEAD)
ArrayFlow = tensorflow_only("tflearn.data_flow", "ArrayFlow", _WHY, _INSTEAD)
generate_data_tensor = tensorflow_only("tflearn.data_flow", "generate_data_tensor", _WHY, _INSTEAD)
