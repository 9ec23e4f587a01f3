"""Objects that may appear in a saved network description, rebuilt from their JSON config.

Only the classes on this allowlist can be named by a file; anything else is refused.
"""
from __future__ import annotations

from typing import Any

from .. import data_augmentation, data_preprocessing, losses, metrics, optimizers
from ..layers import recurrent
from ..graph import LAYERS
from ..layers.core import CUSTOM_FUNCTIONS


def allowed_classes() -> dict[str, Any]:
    """The classes a model file may name (optimizers, losses, metrics, preprocessing, recurrent cells), by name."""
    return _allowlist()


def _allowlist() -> dict[str, Any]:
    allowed: dict[str, Any] = {}
    for module in (optimizers, losses, metrics, data_preprocessing, data_augmentation, recurrent):
        for name in dir(module):
            obj = getattr(module, name)
            if name.startswith(("_", "Function")):  # private helpers; wrappers of Python functions
                continue
            if module is recurrent and not hasattr(obj, "to_config"):  # only the cell descriptions
                continue
            if isinstance(obj, type) and obj.__module__ == module.__name__:
                allowed[name] = obj
    return allowed


def from_json_value(value: Any) -> Any:
    """Inverse of ``graph.to_json_value``: ``{"__class__", "__config__"}`` dicts become objects."""
    if isinstance(value, list):
        return [from_json_value(v) for v in value]
    if isinstance(value, dict):
        if "__layer__" in value:  # a layer function (time_distributed's fn)
            if value["__layer__"] not in LAYERS:
                raise ValueError(f"the model names an unknown layer function {value['__layer__']!r}")
            return LAYERS.get(value["__layer__"])
        if "__custom__" in value:  # a registered custom_layer function
            name = value["__custom__"]
            if name not in CUSTOM_FUNCTIONS:
                raise ValueError(f"the model uses the custom layer function {name!r}: register it before loading "
                                 f"(deepscope.layers.core.register_custom_function({name}))")
            return CUSTOM_FUNCTIONS.get(name)
        if "__class__" in value:
            name, config = value["__class__"], value.get("__config__", {})
            cls = _allowlist().get(name)
            if cls is None:
                raise ValueError(f"class {name!r} is not allowed in a model file")
            if hasattr(cls, "from_config"):
                return cls.from_config(config)
            return cls(**config)
        return {k: from_json_value(v) for k, v in value.items()}
    return value
