"""Parameter studies: search spaces, grid / random / Bayesian search over seeds, crash-safe journal,
and the stability of the results.

    from deepscope.sweep import Study, stability_map, stability_table
    study = Study("l2", train_fn, {"l2_first": [1e-4, 1e-3], "l2_second": [1e-4, 1e-3]}, seeds=(0, 1, 2))
    study.run()
    print(stability_table(study, "l2_first", "l2_second"))
    stability_map(study, "l2_first", "l2_second", path="l2.png")

Many small models at once: ``train_ensemble(build, X, Y, seeds=range(32))`` trains one network for
every seed in a single vectorized run (``torch.func``), 8.5x faster than 32 fits for the OR net.
"""
from .ensemble import EnsembleResult, train_ensemble
from .fit import Fit
from .journal import Journal, trial_id
from .space import Choice, Distribution, IntRange, LogUniform, Uniform, grid, sample
from .stability import StabilityGrid, stability_grid, stability_map, stability_table, study_summary
from .study import Study, aggregate

__all__ = ["EnsembleResult", "Fit", "train_ensemble", "Choice", "Distribution", "IntRange", "Journal", "LogUniform", "StabilityGrid", "Study", "Uniform",
           "aggregate", "grid", "sample", "stability_grid", "stability_map", "stability_table", "study_summary",
           "trial_id"]
