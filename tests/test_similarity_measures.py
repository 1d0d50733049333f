"""PWCCA and the measure registry: direct computations and known cases."""

import numpy as np
import pytest

from musicrep.analysis import MEASURES, SimilarityError, cca, get_measure, linear_cka, pwcca


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_pwcca_matches_a_direct_computation(rng):
    X = rng.standard_normal((300, 5))
    Y = X[:, :3] @ rng.standard_normal((3, 4)) + 0.5 * rng.standard_normal((300, 4))
    res = pwcca(X, Y)
    # direct: CCA by the covariance formula, variates of X, weights from |<h_i, x_j>|
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    Sxx, Syy, Sxy = Xc.T @ Xc, Yc.T @ Yc, Xc.T @ Yc

    def inv_sqrt(S):
        w, V = np.linalg.eigh(S)
        return V @ np.diag(w**-0.5) @ V.T

    U, rho, _ = np.linalg.svd(inv_sqrt(Sxx) @ Sxy @ inv_sqrt(Syy))
    H = Xc @ inv_sqrt(Sxx) @ U[:, : len(rho)]
    H /= np.linalg.norm(H, axis=0)
    alpha = np.abs(H.T @ Xc).sum(axis=1)
    alpha /= alpha.sum()
    np.testing.assert_allclose(res.correlations, rho, atol=1e-8)
    np.testing.assert_allclose(res.weights, alpha, atol=1e-8)
    assert res.similarity == pytest.approx(float(alpha @ rho), abs=1e-10)


def test_pwcca_known_cases(rng):
    X = rng.standard_normal((400, 6))
    R, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    assert pwcca(X, X).similarity == pytest.approx(1.0, abs=1e-8)
    assert pwcca(X, X @ R + 3.0).similarity == pytest.approx(1.0, abs=1e-8)  # rotated, shifted
    independent = pwcca(X, rng.standard_normal((400, 6))).similarity
    assert independent < 0.2
    # a shared strong neuron and a weak, noisy one: PWCCA follows the neuron X uses
    z1, z2 = rng.standard_normal((2, 400))
    Xw = np.stack([z1, 0.01 * z2], axis=1)
    Yw = np.stack([z1 + 0.05 * rng.standard_normal(400), z2 + 2 * rng.standard_normal(400)], 1)
    rho = cca(Xw, Yw)
    pw = pwcca(Xw, Yw)
    assert pw.similarity > np.mean(rho) + 0.2
    assert pw.similarity == pytest.approx(rho[0], abs=0.02)


def test_registry_names_options_and_known_cases(rng):
    assert list(MEASURES) == ["cca", "svcca", "pwcca", "cka", "kernel-cka"]
    X = rng.standard_normal((200, 4))
    R, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    for name, m in MEASURES.items():
        assert m(X, X) == pytest.approx(1.0, abs=1e-6), name
        assert m(X, 2.0 * X @ R) == pytest.approx(1.0, abs=1e-6), name  # rotation + scale
        assert m(X, rng.standard_normal((200, 4))) < 0.3, name
    assert get_measure("cka")(X, X[:, :2]) == pytest.approx(linear_cka(X, X[:, :2]))
    assert get_measure("svcca")(X, X, keep_variance=0.5) == pytest.approx(1.0)
    assert not MEASURES["pwcca"].symmetric and MEASURES["cka"].symmetric
    with pytest.raises(SimilarityError, match="unknown similarity measure 'ckaa'"):
        get_measure("ckaa")
    with pytest.raises(SimilarityError, match="no option sigma"):
        get_measure("cka")(X, X, sigma=2.0)
