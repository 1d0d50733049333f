"""Representation similarity: CCA, SVCCA, linear and kernel CKA, permutation baselines.

Every function compares two *views* of the same ``n`` examples: ``X`` of shape
``(n_examples, p)`` and ``Y`` of shape ``(n_examples, q)`` (rows are examples, columns are
features: embedding dimensions, neurons, descriptor values). Rows must be paired: row ``i`` of
``X`` and row ``i`` of ``Y`` describe the same clip. All measures are invariant to a translation
of either view (columns are centered first).

Measures
--------
* :func:`cca` / :func:`cca_fit` -- canonical correlation analysis (Hotelling 1936; Hardoon et
  al. 2004): the correlations ``rho_1 >= rho_2 >= ...`` of the pairs of linear projections of
  ``X`` and ``Y`` that are maximally correlated and uncorrelated with the earlier pairs.
  Invariant to any invertible linear map of either view.
* :func:`mean_cca_similarity` -- the mean of all canonical correlations: the summary of Google's
  svcca ``cca_core.get_cca_similarity`` (mean of ``cca_coef1``) that COALA reports (Favory et
  al. 2020, Table 2) and Raghu et al. (2017) call the SVCCA similarity.
* :func:`svcca` -- SVCCA (Raghu et al. 2017): each view is first reduced by an SVD to the top
  directions that explain ``keep_variance`` (99 %) of its variance, then CCA, then the mean.
* :func:`linear_cka`, :func:`kernel_cka` -- centered kernel alignment (Kornblith et al. 2019):
  ``CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))`` with
  ``HSIC(K, L) = tr(K H L H) / (n - 1)^2``, ``H = I - 11^T / n``, on a linear kernel
  (``CKA = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)`` for centered views) or an RBF kernel.
  Invariant to orthogonal transforms and isotropic scaling, not to arbitrary linear maps.
* :func:`pwcca` -- projection-weighted CCA (Morcos et al. 2018): canonical correlations
  averaged with weights given by how much of the first view lies along each direction.
* :data:`MEASURES` / :func:`get_measure` -- the registry of these measures by name
  (``cca``, ``svcca``, ``pwcca``, ``cka``, ``kernel-cka``), read by the analysis commands.
* :func:`permutation_baseline` -- the value a measure takes when the pairing of rows is
  destroyed (rows of ``Y`` shuffled): the chance level to read every similarity against.

Overfitting
-----------
CCA finds the best of all linear projections *on the data it is given*. With ``p + q`` close to
``n`` the canonical correlations approach 1 whatever the data: with ``p >= n`` (more embedding
dimensions than examples) every correlation is exactly 1. Keep ``n`` well above the number of
dimensions (a common rule of thumb is ``n >= 10 (p + q)``), reduce the views first
(:func:`svcca`, ``max_dims``), add a ridge (``reg``), check the
:func:`permutation_baseline`, or measure on held-out rows (:func:`heldout_cca`).

Implementation choice
---------------------
CCA is solved exactly in closed form, by the standard whitening + SVD formulation computed from
thin SVDs of the centered views (Bjorck & Golub 1973): with ``Xc = U_x S_x V_x^T``, the
canonical correlations are the singular values of
``diag(a_x) U_x^T U_y diag(a_y)``, ``a = s / sqrt(s^2 + r)``, where ``r`` is the ridge added
to the covariance (``r = 0`` gives plain CCA, equal to the singular values of
``(S_xx + r I)^(-1/2) S_xy (S_yy + r I)^(-1/2)``, the quantity svcca's ``cca_core`` computes).
Directions with singular values below numerical rank tolerance are dropped, so rank-deficient
views (constant columns, duplicated features, ``p > n``) are handled without inverting a singular
covariance. scikit-learn's :class:`sklearn.cross_decomposition.CCA` was not used as the solver:
it is an iterative NIPALS/PLS algorithm that deflates one component at a time, is approximate and
slow when all ``min(p, q)`` components are needed, and warns or fails to converge on
rank-deficient views. The tests check this solver against scikit-learn's CCA on a small case.

References
----------
Hotelling, "Relations between two sets of variates", Biometrika 1936.
Bjorck & Golub, "Numerical methods for computing angles between linear subspaces", Math. Comp.
1973. Hardoon, Szedmak & Shawe-Taylor, "Canonical correlation analysis: an overview with
application to learning methods", Neural Computation 2004. Raghu, Gilmer, Yosinski &
Sohl-Dickstein, "SVCCA: Singular vector canonical correlation analysis for deep learning
dynamics and interpretability", NeurIPS 2017. Kornblith, Norouzi, Lee & Hinton, "Similarity of
neural network representations revisited", ICML 2019. Morcos, Raghu & Bengio, "Insights on
representational similarity in neural networks with canonical correlation", NeurIPS 2018. Favory, Drossos, Virtanen & Serra,
"COALA: Co-aligned autoencoders for learning semantically enriched audio representations", 2020.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> X = rng.standard_normal((500, 8))
>>> Y = X @ rng.standard_normal((8, 8))          # an invertible linear map of X
>>> bool(np.allclose(cca(X, Y), 1.0, atol=1e-4))
True
>>> round(linear_cka(X, 3.0 * X), 6)
1.0
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from musicrep.errors import MusicrepError

__all__ = [
    "CCAResult",
    "MEASURES",
    "Measure",
    "PWCCAResult",
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
    "pwcca",
    "get_measure",
    "svcca",
    "svd_reduce",
    "whitened_basis",
]

#: Default ridge of :func:`cca`, relative to the mean variance of each view (see ``cca_fit``):
#: none, i.e. plain CCA, as COALA ran svcca's cca_core (``epsilon=1e-20``). Rank deficiency,
#: the reason for cca_core's ``epsilon``, is handled exactly by dropping numerically-null
#: singular directions, so no ridge is needed for the solution to exist.
DEFAULT_RIDGE = 0.0
#: Share of the variance SVCCA keeps in each view (Raghu et al. 2017).
DEFAULT_KEEP_VARIANCE = 0.99


class SimilarityError(MusicrepError, ValueError):
    """Inputs a similarity measure cannot compare (shape mismatch, too few rows, NaN, constant)."""


# --------------------------------------------------------------------------- input checks


def _as_view(A: np.ndarray, name: str) -> np.ndarray:
    A = np.asarray(A, dtype=np.float64)
    if A.ndim == 1:
        A = A[:, None]
    if A.ndim != 2:
        raise SimilarityError(
            f"{name} must be a 2-D array (n_examples, features); got shape {A.shape}"
        )
    if A.shape[0] < 3:
        raise SimilarityError(f"{name} has {A.shape[0]} example(s); at least 3 are needed")
    if A.shape[1] == 0:
        raise SimilarityError(f"{name} has no feature columns")
    if not np.all(np.isfinite(A)):
        bad = int(np.count_nonzero(~np.isfinite(A)))
        raise SimilarityError(f"{name} has {bad} NaN/Inf value(s)", "drop or fix those examples")
    return A


def _check_pair(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = _as_view(X, "X")
    Y = _as_view(Y, "Y")
    if X.shape[0] != Y.shape[0]:
        raise SimilarityError(
            f"X and Y must have the same number of rows (examples); got {X.shape[0]} and "
            f"{Y.shape[0]}"
        )
    return X, Y


def _centered_svd(
    A: np.ndarray, name: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Thin SVD of the centered view, numerically-null directions dropped.

    Returns ``U (n, k)``, ``s (k,)``, ``Vt (k, p)`` and the column means ``(p,)``.
    """
    mean = A.mean(axis=0)
    Ac = A - mean
    U, s, Vt = np.linalg.svd(Ac, full_matrices=False)
    # numpy.linalg.matrix_rank's tolerance, measured against the norm of the *uncentered*
    # columns too, so that a constant view (whose centered values are rounding noise) has rank 0.
    scale = float(np.linalg.norm(A, axis=0).max())
    tol = max(A.shape) * np.finfo(np.float64).eps * max(float(s[0]) if s.size else 0.0, scale)
    keep = s > tol
    if not np.any(keep):
        raise SimilarityError(
            f"{name} is constant across examples (zero variance); it cannot be correlated",
            "drop constant features, or check that the examples really differ",
        )
    return U[:, keep], s[keep], Vt[keep], mean


# --------------------------------------------------------------------------- CCA


@dataclass(frozen=True)
class CCAResult:
    """A fitted CCA.

    Attributes
    ----------
    correlations : np.ndarray, (k,)
        Canonical correlations, sorted in decreasing order, in ``[0, 1]``;
        ``k = min(rank X, rank Y)`` or ``n_components``.
    x_weights : np.ndarray, (p, k)
        Projections of the centered ``X`` giving the canonical variates (unit variance over the
        fitted rows, up to the ridge).
    y_weights : np.ndarray, (q, k)
        Same for ``Y``.
    x_mean, y_mean : np.ndarray, (p,) and (q,)
        Column means of the fitted views.
    """

    correlations: np.ndarray
    x_weights: np.ndarray
    y_weights: np.ndarray
    x_mean: np.ndarray
    y_mean: np.ndarray

    @property
    def mean(self) -> float:
        """Mean canonical correlation (the svcca / COALA summary)."""
        return float(np.mean(self.correlations))

    def transform(self, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Canonical variates of new rows: ``(n, k)`` for ``X`` and for ``Y``."""
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        Y = np.asarray(Y, dtype=np.float64).reshape(len(Y), -1)
        return (X - self.x_mean) @ self.x_weights, (Y - self.y_mean) @ self.y_weights


def cca_fit(
    X: np.ndarray,
    Y: np.ndarray,
    n_components: int | None = None,
    reg: float = DEFAULT_RIDGE,
) -> CCAResult:
    """Canonical correlation analysis, solved exactly (whitening + SVD).

    Parameters
    ----------
    X : np.ndarray, (n_examples, p)
        First view.
    Y : np.ndarray, (n_examples, q)
        Second view, rows paired with ``X``.
    n_components : int, optional
        Keep only the first (largest) ``n_components`` correlations; default all
        ``min(rank X, rank Y)``.
    reg : float
        Ridge added to each view's covariance, relative to the view's mean variance along its
        ``k`` non-null principal directions: ``S_xx`` becomes ``S_xx + reg * tr(S_xx) / k * I``
        (on its range). Relative, so the result depends neither on the units of the features
        nor on a rotation or a rank-preserving reduction of the view (``cca(X, Y)`` equals
        ``cca(svd_reduce(X, 1.0), Y)``). ``0`` gives plain CCA (numerically-null directions are
        still dropped); larger values shrink the correlations of weak directions and make CCA
        better behaved when ``p`` or ``q`` approaches ``n``.

    Returns
    -------
    CCAResult
        Correlations (sorted, decreasing) and the canonical weights.

    Raises
    ------
    SimilarityError
        Different numbers of rows, fewer than 3 rows, NaN/Inf, a constant view, ``reg < 0``.
    """
    X, Y = _check_pair(X, Y)
    if not reg >= 0:
        raise SimilarityError(f"reg must be >= 0; got {reg}")
    if n_components is not None and n_components < 1:
        raise SimilarityError(f"n_components must be >= 1; got {n_components}")
    Ux, sx, Vtx, mx = _centered_svd(X, "X")
    Uy, sy, Vty, my = _centered_svd(Y, "Y")
    dx = _ridge_scale(sx, reg)  # (S^2 + r)^(-1/2) in the view's own basis
    dy = _ridge_scale(sy, reg)
    M = (Ux * (sx * dx)).T @ (Uy * (sy * dy))  # whitened cross-covariance, (kx, ky)
    P, rho, Qt = np.linalg.svd(M, full_matrices=False)
    k = rho.size if n_components is None else min(n_components, rho.size)
    # scale by sqrt(n - 1) so that the canonical variates have unit sample variance
    norm = np.sqrt(X.shape[0] - 1)
    x_weights = (Vtx.T * dx) @ P[:, :k] * norm
    y_weights = (Vty.T * dy) @ Qt.T[:, :k] * norm
    return CCAResult(
        correlations=np.clip(rho[:k], 0.0, 1.0),
        x_weights=x_weights,
        y_weights=y_weights,
        x_mean=mx,
        y_mean=my,
    )


def _ridge_scale(s: np.ndarray, reg: float) -> np.ndarray:
    """``(s^2 + r)^(-1/2)`` with the relative ridge ``r = reg * mean(s^2)``."""
    return 1.0 / np.sqrt(s**2 + reg * np.sum(s**2) / s.size)


def whitened_basis(A: np.ndarray, reg: float = DEFAULT_RIDGE) -> np.ndarray:
    """The centered view in whitened coordinates: ``U_k diag(s / sqrt(s^2 + r))``.

    With ``reg = 0`` an orthonormal basis of the view's centered column space. The canonical
    correlations of two views are the singular values of ``whitened_basis(X).T @
    whitened_basis(Y)``, and permuting the rows of a view permutes the rows of its basis, so a
    permutation baseline only needs this product per permutation (what
    :mod:`musicrep.analysis.cca_report` does).

    Parameters
    ----------
    A : np.ndarray, (n_examples, p)
    reg : float
        Relative ridge, as in :func:`cca_fit`.

    Returns
    -------
    np.ndarray, (n_examples, k)
        ``k`` = numerical rank of the centered view.
    """
    if not reg >= 0:
        raise SimilarityError(f"reg must be >= 0; got {reg}")
    U, s, _, _ = _centered_svd(_as_view(A, "view"), "view")
    return U * (s * _ridge_scale(s, reg))


def cca(
    X: np.ndarray,
    Y: np.ndarray,
    n_components: int | None = None,
    reg: float = DEFAULT_RIDGE,
) -> np.ndarray:
    """Canonical correlations of two views, sorted in decreasing order.

    Parameters
    ----------
    X : np.ndarray, (n_examples, p)
    Y : np.ndarray, (n_examples, q)
    n_components : int, optional
        Number of correlations to return (default ``min(rank X, rank Y)``).
    reg : float
        Relative ridge, see :func:`cca_fit`.

    Returns
    -------
    np.ndarray, (k,)
        Correlations in ``[0, 1]``, largest first.
    """
    return cca_fit(X, Y, n_components=n_components, reg=reg).correlations


def mean_cca_similarity(X: np.ndarray, Y: np.ndarray, reg: float = DEFAULT_RIDGE) -> float:
    """Mean of all canonical correlation coefficients of ``X`` and ``Y``.

    The summary svcca's ``cca_core`` (``np.mean(results["cca_coef1"])``) gives and that COALA's
    correlation analysis reports per descriptor. No dimensionality reduction: see :func:`svcca`
    and the overfitting note of this module when ``p`` or ``q`` is not much smaller than ``n``.
    """
    return float(np.mean(cca(X, Y, reg=reg)))


def heldout_cca(
    X: np.ndarray,
    Y: np.ndarray,
    test_fraction: float = 0.5,
    *,
    seed: int = 0,
    n_components: int | None = None,
    reg: float = DEFAULT_RIDGE,
) -> np.ndarray:
    """Canonical correlations measured on rows the CCA was not fitted on.

    The rows are split at random; CCA is fitted on the training part and the Pearson correlation
    of each pair of canonical variates is measured on the held-out part. Unlike in-sample
    correlations, these do not tend to 1 when the views have many dimensions: directions that
    only fit noise give held-out correlations near 0 (possibly negative).

    Parameters
    ----------
    X, Y : np.ndarray, (n_examples, p) and (n_examples, q)
    test_fraction : float
        Share of rows held out, in ``(0, 1)``.
    seed : int
        Seed of the split.
    n_components, reg
        As in :func:`cca_fit`.

    Returns
    -------
    np.ndarray, (k,)
        Held-out correlations, in the order of the fitted components (largest fitted first).
    """
    X, Y = _check_pair(X, Y)
    if not 0.0 < test_fraction < 1.0:
        raise SimilarityError(f"test_fraction must be in (0, 1); got {test_fraction}")
    n = X.shape[0]
    n_test = int(round(test_fraction * n))
    if n_test < 3 or n - n_test < 3:
        raise SimilarityError(
            f"{n} examples are too few to hold out {test_fraction:g} of them (>= 3 on each side)"
        )
    order = np.random.default_rng(seed).permutation(n)
    test, train = order[:n_test], order[n_test:]
    fit = cca_fit(X[train], Y[train], n_components=n_components, reg=reg)
    u, v = fit.transform(X[test], Y[test])
    u = u - u.mean(axis=0)
    v = v - v.mean(axis=0)
    den = np.sqrt(np.sum(u * u, axis=0) * np.sum(v * v, axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.sum(u * v, axis=0) / den
    return np.where(den > 0, r, 0.0)


# --------------------------------------------------------------------------- SVCCA


def svd_reduce(
    A: np.ndarray,
    keep_variance: float = DEFAULT_KEEP_VARIANCE,
    max_dims: int | None = None,
) -> np.ndarray:
    """Project a view onto its top singular directions (the "SV" step of SVCCA).

    Parameters
    ----------
    A : np.ndarray, (n_examples, p)
    keep_variance : float
        Keep the fewest directions whose variance adds up to at least this share of the total,
        in ``(0, 1]``; ``1.0`` keeps every direction of non-zero variance.
    max_dims : int, optional
        Keep at most this many directions.

    Returns
    -------
    np.ndarray, (n_examples, k)
        The centered view in the basis of its top ``k`` principal directions (``U_k S_k``).
    """
    A = _as_view(A, "view")
    if not 0.0 < keep_variance <= 1.0:
        raise SimilarityError(f"keep_variance must be in (0, 1]; got {keep_variance}")
    if max_dims is not None and max_dims < 1:
        raise SimilarityError(f"max_dims must be >= 1; got {max_dims}")
    U, s, _, _ = _centered_svd(A, "view")
    var = s**2
    share = np.cumsum(var) / var.sum()
    # fewest k with share[k-1] >= keep (tolerance for rounding when keep_variance == 1)
    k = int(np.searchsorted(share, keep_variance - 1e-12) + 1)
    k = min(k, s.size)
    if max_dims is not None:
        k = min(k, max_dims)
    return U[:, :k] * s[:k]


@dataclass(frozen=True)
class SVCCAResult:
    """Result of :func:`svcca`.

    Attributes
    ----------
    similarity : float
        Mean canonical correlation of the reduced views.
    correlations : np.ndarray, (k,)
        All canonical correlations, decreasing.
    x_dims, y_dims : int
        Directions kept in each view by the SVD step.
    """

    similarity: float
    correlations: np.ndarray
    x_dims: int
    y_dims: int


def svcca(
    X: np.ndarray,
    Y: np.ndarray,
    keep_variance: float = DEFAULT_KEEP_VARIANCE,
    *,
    max_dims: int | None = None,
    reg: float = DEFAULT_RIDGE,
) -> SVCCAResult:
    """Singular vector CCA (Raghu et al. 2017).

    Each view is reduced by :func:`svd_reduce` to the top directions explaining
    ``keep_variance`` of its variance (at most ``max_dims``), then :func:`cca` is applied and the
    canonical correlations are averaged. The SVD step discards low-variance directions, which
    are mostly noise and on which CCA would otherwise find spurious correlations. It depends on
    the scale of the columns: standardise the columns of a view whose features have different
    units (e.g. a descriptor vector mixing Hz and dB) before calling.

    Parameters
    ----------
    X : np.ndarray, (n_examples, p)
    Y : np.ndarray, (n_examples, q)
    keep_variance : float
        Share of the variance kept in each view, default 0.99.
    max_dims : int, optional
        Cap on the directions kept per view (keep ``n_examples`` well above it).
    reg : float
        Relative ridge of the CCA step, see :func:`cca_fit`.

    Returns
    -------
    SVCCAResult
    """
    X, Y = _check_pair(X, Y)
    Xr = svd_reduce(X, keep_variance, max_dims)
    Yr = svd_reduce(Y, keep_variance, max_dims)
    rho = cca(Xr, Yr, reg=reg)
    return SVCCAResult(
        similarity=float(np.mean(rho)),
        correlations=rho,
        x_dims=Xr.shape[1],
        y_dims=Yr.shape[1],
    )


# --------------------------------------------------------------------------- CKA


def gram_linear(X: np.ndarray) -> np.ndarray:
    """Linear kernel ``X X^T``, shape ``(n_examples, n_examples)``."""
    X = np.asarray(X, dtype=np.float64)
    return X @ X.T


def gram_rbf(X: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """RBF (Gaussian) kernel ``exp(-||x_i - x_j||^2 / (2 bandwidth^2))``.

    Parameters
    ----------
    X : np.ndarray, (n_examples, p)
    sigma : float
        Bandwidth as a multiple of the median Euclidean distance between distinct examples
        (the median heuristic, as in Kornblith et al. 2019); ``1.0`` is the median itself.

    Returns
    -------
    np.ndarray, (n_examples, n_examples)
    """
    if not sigma > 0:
        raise SimilarityError(f"sigma must be > 0; got {sigma}")
    X = np.asarray(X, dtype=np.float64)
    sq = np.sum(X * X, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (X @ X.T), 0.0)
    np.fill_diagonal(d2, 0.0)
    off = d2[~np.eye(len(X), dtype=bool)]
    median = float(np.median(off)) if off.size else 0.0
    if median <= 0:
        raise SimilarityError(
            "the median distance between examples is 0 (most examples are identical); "
            "the RBF bandwidth cannot be set from it"
        )
    return np.exp(-d2 / (2.0 * sigma**2 * median))


def center_gram(K: np.ndarray) -> np.ndarray:
    """``H K H`` with ``H = I - 11^T / n``, without forming ``H``; ``K`` is ``(n, n)``."""
    K = K - K.mean(axis=0, keepdims=True)
    return K - K.mean(axis=1, keepdims=True)


def hsic(K: np.ndarray, L: np.ndarray) -> float:
    """Hilbert-Schmidt independence criterion ``tr(K H L H) / (n - 1)^2`` of two Gram matrices.

    Parameters
    ----------
    K, L : np.ndarray, (n_examples, n_examples)
        Symmetric kernel (Gram) matrices over the same examples.
    """
    K = np.asarray(K, dtype=np.float64)
    L = np.asarray(L, dtype=np.float64)
    if K.shape != L.shape or K.ndim != 2 or K.shape[0] != K.shape[1]:
        raise SimilarityError(
            f"K and L must be square and equal in shape; got {K.shape}, {L.shape}"
        )
    n = K.shape[0]
    # tr(K H L H) = sum((H K H) * L) for symmetric K and L
    return float(np.sum(center_gram(K) * L) / (n - 1) ** 2)


def _cka_from_grams(K: np.ndarray, L: np.ndarray) -> float:
    Kc = center_gram(K)
    Lc = center_gram(L)
    den = np.sqrt(np.sum(Kc * Kc) * np.sum(Lc * Lc))
    if den <= 0:
        raise SimilarityError("a view is constant across examples; CKA is undefined")
    return float(np.sum(Kc * Lc) / den)


def linear_cka(X: np.ndarray, Y: np.ndarray) -> float:
    """Linear CKA, ``||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)`` on centered views.

    Computed in feature space or through the ``(n, n)`` Gram matrices, whichever is cheaper
    (the two are equal). In ``[0, 1]``; 1 for views equal up to an orthogonal transform, an
    isotropic scaling and a translation.

    Parameters
    ----------
    X : np.ndarray, (n_examples, p)
    Y : np.ndarray, (n_examples, q)

    Returns
    -------
    float
    """
    X, Y = _check_pair(X, Y)
    X = X - X.mean(axis=0)
    Y = Y - Y.mean(axis=0)
    n, p = X.shape
    q = Y.shape[1]
    if n * n * (p + q) < n * (p * q + p * p + q * q):
        return _cka_from_grams(X @ X.T, Y @ Y.T)
    num = np.sum((Y.T @ X) ** 2)
    den = np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y)
    if den <= 0:
        raise SimilarityError("a view is constant across examples; CKA is undefined")
    return float(num / den)


def kernel_cka(X: np.ndarray, Y: np.ndarray, sigma: float = 1.0) -> float:
    """CKA with RBF kernels: ``HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))``.

    Parameters
    ----------
    X : np.ndarray, (n_examples, p)
    Y : np.ndarray, (n_examples, q)
    sigma : float
        RBF bandwidth of each view as a multiple of its median inter-example distance
        (see :func:`gram_rbf`).

    Returns
    -------
    float
        In ``[0, 1]``.
    """
    X, Y = _check_pair(X, Y)
    return _cka_from_grams(gram_rbf(X, sigma), gram_rbf(Y, sigma))


# --------------------------------------------------------------------------- baselines


@dataclass(frozen=True)
class PermutationBaseline:
    """Similarity of unpaired views (rows of ``Y`` shuffled).

    Attributes
    ----------
    mean, std : float
        Mean and standard deviation over the permutations.
    values : np.ndarray, (n,)
        The similarity under each permutation.
    """

    mean: float
    std: float
    values: np.ndarray


def permuted_scores(
    score: Callable[[np.ndarray], float],
    n_examples: int,
    n: int = 20,
    seed: int = 0,
) -> PermutationBaseline:
    """Values of ``score(perm)`` for ``n`` random permutations of ``n_examples`` rows.

    The core of :func:`permutation_baseline`, for callers that precompute what does not change
    between permutations. The permutations are those of :func:`permutation_baseline` with the
    same ``seed``.

    Parameters
    ----------
    score : callable
        ``score(perm) -> float`` with ``perm`` an index array ``(n_examples,)`` to apply to the
        rows of the second view.
    n_examples : int
    n : int
        Number of permutations.
    seed : int

    Returns
    -------
    PermutationBaseline
    """
    if n < 1:
        raise SimilarityError(f"the number of permutations must be >= 1; got {n}")
    rng = np.random.default_rng(seed)
    values = np.array([float(score(rng.permutation(n_examples))) for _ in range(n)])
    return PermutationBaseline(
        mean=float(values.mean()), std=float(values.std(ddof=1)) if n > 1 else 0.0, values=values
    )


def permutation_baseline(
    fn: Callable[[np.ndarray, np.ndarray], float],
    X: np.ndarray,
    Y: np.ndarray,
    n: int = 20,
    seed: int = 0,
) -> PermutationBaseline:
    """Chance level of a similarity measure: its value with the rows of ``Y`` shuffled.

    A similarity is only informative relative to this baseline: CCA-based measures in particular
    come out high for unrelated views when the views have many dimensions relative to the number
    of examples.

    Parameters
    ----------
    fn : callable
        ``fn(X, Y) -> float``, e.g. ``linear_cka`` or
        ``lambda a, b: svcca(a, b, max_dims=20).similarity``.
    X : np.ndarray, (n_examples, p)
    Y : np.ndarray, (n_examples, q)
    n : int
        Number of permutations.
    seed : int
        Seed of the permutations.

    Returns
    -------
    PermutationBaseline
    """
    X, Y = _check_pair(X, Y)
    return permuted_scores(lambda perm: fn(X, Y[perm]), len(Y), n=n, seed=seed)


# --------------------------------------------------------------------------- PWCCA


@dataclass(frozen=True)
class PWCCAResult:
    """Result of :func:`pwcca`.

    Attributes
    ----------
    similarity : float
        ``sum_i alpha_i rho_i``, the projection-weighted mean canonical correlation.
    correlations : np.ndarray, (k,)
        Canonical correlations, decreasing.
    weights : np.ndarray, (k,)
        ``alpha_i`` (non-negative, summing to 1), in the order of ``correlations``.
    """

    similarity: float
    correlations: np.ndarray
    weights: np.ndarray


def pwcca(X: np.ndarray, Y: np.ndarray, reg: float = DEFAULT_RIDGE) -> PWCCAResult:
    """Projection-weighted CCA (Morcos, Raghu & Bengio 2018).

    The canonical correlations ``rho_i`` of ``X`` and ``Y`` are averaged with weights
    ``alpha_i`` proportional to how much of ``X``'s activity lies along each canonical
    variate: ``alpha_i ~ sum_j |<h_i, x_j>|`` with ``h_i`` the ``i``-th canonical variate of
    ``X`` (orthonormalised over the examples by a QR decomposition, as the authors' code) and
    ``x_j`` the ``j``-th centered column (neuron) of ``X``. Directions that CCA finds but that
    ``X`` barely uses get little weight, which makes the measure less sensitive to noise
    directions than the plain mean. The measure is *not* symmetric: ``X`` is the view whose
    columns weigh the directions (pass the layer under study first). Columns are centered
    (the authors' code projects the uncentered activations; centering keeps the measure
    invariant to a translation of either view, as the other measures here).

    Parameters
    ----------
    X : np.ndarray, (n_examples, p)
        The view whose neurons weight the canonical directions.
    Y : np.ndarray, (n_examples, q)
    reg : float
        Relative ridge of the CCA, see :func:`cca_fit`.

    Returns
    -------
    PWCCAResult
    """
    X, Y = _check_pair(X, Y)
    fit = cca_fit(X, Y, reg=reg)
    Xc = X - fit.x_mean
    H = Xc @ fit.x_weights  # canonical variates of X, (n, k)
    Q, _ = np.linalg.qr(H)
    alpha = np.abs(Q.T @ Xc).sum(axis=1)
    total = float(alpha.sum())
    if not total > 0:
        raise SimilarityError("X has no variance along its canonical directions")
    alpha = alpha / total
    return PWCCAResult(
        similarity=float(np.sum(alpha * fit.correlations)),
        correlations=fit.correlations,
        weights=alpha,
    )


# --------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Measure:
    """A similarity measure of the registry: ``fn(X, Y, **options) -> float``.

    Attributes
    ----------
    name : str
        Registry name (the ``--method`` of ``musicrep analyze``).
    fn : callable
        ``fn(X, Y, **options) -> float`` on paired views ``(n, p)`` and ``(n, q)``.
    description : str
        One line for reports.
    symmetric : bool
        Whether ``fn(X, Y) == fn(Y, X)``.
    options : tuple of str
        Keyword options ``fn`` accepts.
    """

    name: str
    fn: Callable[..., float]
    description: str
    symmetric: bool = True
    options: tuple[str, ...] = ()

    def __call__(self, X: np.ndarray, Y: np.ndarray, **options) -> float:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise SimilarityError(
                f"similarity measure {self.name!r} takes no option {', '.join(unknown)}",
                f"its options: {', '.join(self.options) or 'none'}",
            )
        return float(self.fn(X, Y, **options))


#: The similarity measures, by name: the one list the analysis commands read.
MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        Measure(
            "cca",
            mean_cca_similarity,
            "mean canonical correlation (all coefficients)",
            options=("reg",),
        ),
        Measure(
            "svcca",
            lambda X, Y, **kw: svcca(X, Y, **kw).similarity,
            "SVCCA: mean canonical correlation of the SVD-reduced views",
            options=("keep_variance", "max_dims", "reg"),
        ),
        Measure(
            "pwcca",
            lambda X, Y, **kw: pwcca(X, Y, **kw).similarity,
            "PWCCA: canonical correlations weighted by the first view's projections",
            symmetric=False,
            options=("reg",),
        ),
        Measure("cka", linear_cka, "linear CKA"),
        Measure("kernel-cka", kernel_cka, "CKA with RBF kernels", options=("sigma",)),
    )
}


def get_measure(name: str) -> Measure:
    """The registered measure ``name``; a :class:`SimilarityError` lists the valid names."""
    try:
        return MEASURES[name]
    except KeyError:
        raise SimilarityError(
            f"unknown similarity measure {name!r}", f"use one of {', '.join(MEASURES)}"
        ) from None
