"""Analysis tools: what a representation captures.

* :mod:`musicrep.analysis.similarity` -- representation similarity of two views of the same
  examples: CCA, SVCCA, PWCCA, linear and kernel CKA, permutation baselines (numpy), and
  the registry of these measures by name (``MEASURES``).
* :mod:`musicrep.analysis.descriptors` -- librosa descriptors of clips (MFCC, chroma, spectral
  centroid / bandwidth / rolloff) summarised by mean, variance and skewness over frames.
* :mod:`musicrep.analysis.cca_report` -- COALA's correlation analysis for any model: the
  similarity of embeddings with each descriptor, written as JSON, Markdown/HTML and a plot
  (``musicrep analyze cca``).
* :mod:`musicrep.analysis.layers`, :mod:`musicrep.analysis.layer_report` -- every block's
  activations, layer x feature-set and layer x layer similarity (``analyze similarity``).
* :mod:`musicrep.analysis.filters` -- learned input filterbanks as frequency responses
  (``analyze filters``).
* :mod:`musicrep.analysis.attention` -- self-attention maps over a clip (``analyze attention``).
* :mod:`musicrep.analysis.saliency` -- gradient / occlusion maps on the STFT
  (``analyze saliency``).
* :mod:`musicrep.analysis.robustness` -- track-level metric under perturbations
  (``analyze robustness``).

Every report goes through the shared :class:`musicrep.report.Report` renderer.
"""

from musicrep.analysis.similarity import (
    MEASURES,
    CCAResult,
    Measure,
    PermutationBaseline,
    PWCCAResult,
    SimilarityError,
    SVCCAResult,
    cca,
    cca_fit,
    center_gram,
    get_measure,
    gram_linear,
    gram_rbf,
    heldout_cca,
    hsic,
    kernel_cka,
    linear_cka,
    mean_cca_similarity,
    permutation_baseline,
    permuted_scores,
    pwcca,
    svcca,
    svd_reduce,
    whitened_basis,
)

__all__ = [
    "MEASURES",
    "CCAResult",
    "Measure",
    "PWCCAResult",
    "PermutationBaseline",
    "SVCCAResult",
    "SimilarityError",
    "cca",
    "cca_fit",
    "center_gram",
    "get_measure",
    "gram_linear",
    "gram_rbf",
    "heldout_cca",
    "hsic",
    "kernel_cka",
    "linear_cka",
    "mean_cca_similarity",
    "permutation_baseline",
    "permuted_scores",
    "pwcca",
    "svcca",
    "svd_reduce",
    "whitened_basis",
]
