"""Compare the network with the brain: RSA with noise ceilings and bootstrap, encoding models,
simulated populations, representations over training.

::

    from deepscope import brain
    from deepscope.datasets import kriegeskorte92
    data = kriegeskorte92.load_data()
    stimuli = brain.stimuli_for(model, data.images)               # the 92 images, at the network's size
    result = brain.layer_rsa(model, stimuli, {"human IT": data.human_it_subjects_rdms(),
                                              "monkey IT": data.monkey_it})
    print(result.table())

    result = brain.compare(model, stimuli, rdms={...}, responses={...}, labels=...)   # everything at once
"""
from .compare import BrainComparison, compare
from .crossnobis import crossnobis_rdm, noise_precision
from .data import as_rdms, as_responses, load_npz, stimuli_for
from .simulate import SimulatedPopulation, simulate_v1
from .tracking import (RepresentationTracker, Trajectory, load_trajectory, plot_drift, plot_trajectory,
                       seed_agreement)
from .encoding import EncodingMap, EncodingResult, encoding_scores, layer_encoding, plot_encoding, reliability
from .rsa import (LayerRSA, compare_to_brain, kendall_tau_a, layer_rdms, layer_rsa, noise_ceiling, plot_layer_rsa,
                  rank_rows, upper_vectors)

__all__ = ["plot_drift", "BrainComparison", "compare", "crossnobis_rdm", "noise_precision", "RepresentationTracker", "Trajectory", "load_trajectory", "plot_trajectory", "seed_agreement",
           "EncodingMap", "EncodingResult", "SimulatedPopulation", "encoding_scores", "layer_encoding",
           "plot_encoding", "reliability", "simulate_v1", "LayerRSA", "as_rdms", "as_responses", "compare_to_brain", "kendall_tau_a", "layer_rdms", "layer_rsa",
           "load_npz", "noise_ceiling", "plot_layer_rsa", "rank_rows", "stimuli_for", "upper_vectors"]
