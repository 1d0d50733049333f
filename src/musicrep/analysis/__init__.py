"""Analysis tools: what a representation captures.

* :mod:`musicrep.analysis.similarity` -- representation similarity of two views of the same
  examples: CCA, SVCCA, linear and kernel CKA, permutation baselines (numpy).
* :mod:`musicrep.analysis.descriptors` -- librosa descriptors of clips (MFCC, chroma, spectral
  centroid / bandwidth / rolloff) summarised by mean, variance and skewness over frames.
* :mod:`musicrep.analysis.cca_report` -- COALA's correlation analysis for any model: the
  similarity of embeddings with each descriptor, written as JSON, Markdown and a plot
  (``musicrep analyze cca``).
"""

from musicrep.analysis.similarity import (
    CCAResult,
    PermutationBaseline,
    SimilarityError,
    SVCCAResult,
    cca,
    cca_fit,
    center_gram,
    gram_linear,
    gram_rbf,
    heldout_cca,
    hsic,
    kernel_cka,
    linear_cka,
    mean_cca_similarity,
    permutation_baseline,
    permuted_scores,
    svcca,
    svd_reduce,
    whitened_basis,
)

__all__ = [
    "CCAResult",
    "PermutationBaseline",
    "SVCCAResult",
    "SimilarityError",
    "cca",
    "cca_fit",
    "center_gram",
    "gram_linear",
    "gram_rbf",
    "heldout_cca",
    "hsic",
    "kernel_cka",
    "linear_cka",
    "mean_cca_similarity",
    "permutation_baseline",
    "permuted_scores",
    "svcca",
    "svd_reduce",
    "whitened_basis",
]
