"""Rebuild a saved model without its code: ``deepscope.load(path)`` (above both the model and its file
format, so neither imports the other)."""
from __future__ import annotations

import json

from .dnn import DNN
from .serialization import (ModelFileError, check_shapes_before_building, load_weights, migrate, read_file,
                            rebuild_network)


def load_model(path, device=None, **dnn_kwargs):
    """Rebuild a model from a file written by ``DNN.save``, without the original code.

    Args:
        path: the model file.
        device: where to put the model (default: automatic).
        dnn_kwargs: further ``DNN`` arguments.

    Returns:
        A ``DNN`` with the saved weights.
    """
    tensors, meta = read_file(path)
    try:
        description = json.loads(meta["network"])
    except (KeyError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"model file {str(path)!r} has a damaged network description "
                             f"({type(exc).__name__}: {str(exc)[:200]}).") from None
    if description is None:
        raise ModelFileError(f"model file {str(path)!r} holds a custom nn.Module's weights: build the module "
                             f"yourself, wrap it in DNN and call model.load(path).")
    if not isinstance(description, dict):
        raise ModelFileError(f"model file {str(path)!r}: the network description is not an object.")
    description = migrate(description, str(meta.get("version")), str(path))
    check_shapes_before_building(description, tensors, str(path))
    try:
        output = rebuild_network(description, str(path))
        dnn = DNN(output, device=device, **dnn_kwargs)
    except (RuntimeError, MemoryError, OverflowError, KeyError, RecursionError) as exc:
        raise ModelFileError(f"model file {str(path)!r}: the network it describes cannot be built "
                             f"({type(exc).__name__}: {str(exc)[:200]}); the file is damaged or was changed "
                             "after saving. Nothing was loaded.") from None
    load_weights(dnn, path)
    return dnn
