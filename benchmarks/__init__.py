"""deepscope's benchmark suite: ``python benchmarks/run.py`` (see BENCHMARKS.md)."""
