"""Open the black box: what the layers compute, how healthy the units are, what they respond to.

- ``recording``: forward hooks in context managers (``Recorder``, ``activations``).
- ``health``: dead and saturated units (``unit_health``, the ``HealthMonitor`` callback).
- ``visualize``: filters, feature maps, embeddings of a layer's representations.
- ``similarity``: representational similarity (RDMs, RSA) and linear CKA between layers or models.
- ``attribution``: saliency, gradient x input, integrated gradients, SmoothGrad/VarGrad, Grad-CAM, layer
  and neuron integrated gradients, occlusion (all batched, memory bounded).
- ``synthesis``: activation maximization and DeepDream.
- ``atlas``: every unit's synthesized image beside its strongest dataset images (``top_images``).
- ``lesions``: silence units and measure what the network loses.
- ``tuning``: tuning curves of units to a stimulus parameter (e.g. oriented gratings).
- ``decoding``: cross-validated linear probes per layer, with chance and a permutation test.
- ``dimensionality``: participation ratio, effective dimensionality, power-law exponent, TwoNN.
- ``shape``: Procrustes distance, CCA, SVCCA, PWCCA between layers, seeds or models.
- ``selectivity``: category selectivity (d'), lifetime and population sparseness.
- ``seeds``: any layer analysis over seeds (mean, spread, each seed).
- ``features``: every layer's features recorded in chunks, memory bounded (principal components).
"""
from .atlas import LayerAtlas, layer_atlas, plot_atlas, top_images, unit_responses
from .decoding import Decoding, LayerDecoding, decode, layer_decoding, plot_decoding
from .dimensionality import (LayerDimensionality, effective_dimensionality, eigenspectrum, layer_dimensionality,
                             participation_ratio, plot_dimensionality, powerlaw_exponent, two_nn)
from .features import layer_features
from .seeds import SeedSummary, across_seeds, plot_across_seeds
from .selectivity import LayerSelectivity, Selectivity, layer_selectivity, plot_selectivity, selectivity, sparseness
from .shape import canonical_correlations, procrustes_distance, pwcca, shape_matrix, svcca
from .attribution import (attribution_over_models, completeness_gap, grad_cam, gradient_x_input, guided_backprop,
                          guided_grad_cam, integrated_gradients, layer_conductance, layer_integrated_gradients,
                          neuron_integrated_gradients, occlusion, plot_attribution, saliency, smoothgrad)
from .health import HealthMonitor, LayerHealth, format_health, unit_health
from .lesions import LesionStudy, lesion, lesion_study, lesion_top_k
from .playground import Playground, plot_playground
from .receptive_fields import plot_receptive_fields, receptive_field, receptive_fields
from .recording import Recorder, activations, layer_modules
from .synthesis import deep_dream, maximize_activation, plot_images
from .similarity import LayerSimilarity, cka_matrix, compare_rdms, linear_cka, plot_similarity_matrix, rdm, rsa_matrix
from .tuning import oriented_gratings, plot_tuning_curves, tuning_curves
from .visualize import (embed, feature_maps, filters, layer_embedding, plot_embedding, plot_feature_maps,
                        plot_filters, projector)

__all__ = ["LayerAtlas", "layer_atlas", "plot_atlas", "top_images", "unit_responses",
           "Decoding", "LayerDecoding", "decode", "layer_decoding", "plot_decoding",
           "LayerDimensionality", "effective_dimensionality", "eigenspectrum", "layer_dimensionality",
           "participation_ratio", "plot_dimensionality", "powerlaw_exponent", "two_nn", "layer_features",
           "SeedSummary", "across_seeds", "plot_across_seeds",
           "LayerSelectivity", "Selectivity", "layer_selectivity", "plot_selectivity", "selectivity", "sparseness",
           "canonical_correlations", "procrustes_distance", "pwcca", "shape_matrix", "svcca",
           "Playground", "plot_playground", "plot_receptive_fields", "receptive_field", "receptive_fields", "completeness_gap", "grad_cam", "attribution_over_models", "guided_backprop",
           "guided_grad_cam", "layer_conductance", "gradient_x_input", "layer_integrated_gradients",
           "neuron_integrated_gradients", "smoothgrad", "integrated_gradients", "occlusion", "plot_attribution", "saliency",
           "deep_dream", "maximize_activation", "plot_images",
           "HealthMonitor", "LayerHealth", "format_health", "unit_health",
           "LesionStudy", "lesion", "lesion_study", "lesion_top_k",
           "Recorder", "activations", "layer_modules",
           "LayerSimilarity", "cka_matrix", "compare_rdms", "linear_cka", "plot_similarity_matrix", "rdm", "rsa_matrix",
           "oriented_gratings", "plot_tuning_curves", "tuning_curves",
           "embed", "feature_maps", "filters", "layer_embedding", "plot_embedding", "plot_feature_maps", "plot_filters", "projector"]
