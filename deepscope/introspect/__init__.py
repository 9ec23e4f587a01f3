"""Open the black box: what the layers compute, how healthy the units are, what they respond to.

``recording``: forward hooks in context managers (``Recorder``, ``activations``).
"""
from .recording import Recorder, activations, layer_modules

__all__ = ["Recorder", "activations", "layer_modules"]
