"""deepscope: TFlearn's few-line API on PyTorch, for scientists."""
__version__ = "0.1.0"
