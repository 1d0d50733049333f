"""Representation similarity (CCA, SVCCA, CKA), descriptors and the ``analyze cca`` report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from conftest import tone
from musicrep.analysis import similarity as sim
from musicrep.analysis.descriptors import (
    DescriptorConfig,
    clip_descriptors,
    descriptor_table,
    frame_descriptors,
    split_stats,
)
from musicrep.cli import main
from musicrep.errors import ConfigError


def _random_orthogonal(rng, d):
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def _related(rng, n=300):
    """Two views sharing a 3-d latent, plus noise and unrelated columns."""
    z = rng.standard_normal((n, 3))
    X = np.c_[z + 0.5 * rng.standard_normal((n, 3)), rng.standard_normal((n, 4))]
    Y = np.c_[
        z @ rng.standard_normal((3, 3)) + rng.standard_normal((n, 3)), rng.standard_normal((n, 2))
    ]
    return X, Y


# --------------------------------------------------------------------------- CCA


def test_cca_of_invertible_linear_map_is_one(rng):
    X = rng.standard_normal((400, 6))
    A = rng.standard_normal((6, 6)) + 3 * np.eye(6)
    Y = X @ A + 5.0  # invertible map and a translation
    np.testing.assert_allclose(sim.cca(X, Y), 1.0, atol=1e-9)
    # a ridge shrinks the correlations, the weakest directions most; still sorted
    rho = sim.cca(X, Y, reg=0.1)
    assert rho.shape == (6,) and np.all((rho > 0.1) & (rho < 0.99))
    assert np.all(np.diff(rho) <= 0)


def test_cca_equals_the_covariance_formula(rng):
    X, Y = _related(rng)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)

    def inv_sqrt(S, reg):
        w, V = np.linalg.eigh(S + reg * np.trace(S) / len(S) * np.eye(len(S)))
        return V @ np.diag(w**-0.5) @ V.T

    for reg in (0.0, 0.2):
        M = inv_sqrt(Xc.T @ Xc, reg) @ (Xc.T @ Yc) @ inv_sqrt(Yc.T @ Yc, reg)
        expected = np.linalg.svd(M, compute_uv=False)
        np.testing.assert_allclose(sim.cca(X, Y, reg=reg), expected, atol=1e-10)
        Wx, Wy = sim.whitened_basis(X, reg), sim.whitened_basis(Y, reg)
        np.testing.assert_allclose(np.linalg.svd(Wx.T @ Wy, compute_uv=False), expected)


def test_cca_of_independent_views_is_small(rng):
    X = rng.standard_normal((5000, 4))
    Y = rng.standard_normal((5000, 3))
    rho = sim.cca(X, Y)
    assert rho.shape == (3,)
    assert rho.max() < 0.1
    assert sim.mean_cca_similarity(X, Y) < 0.06


def test_cca_matches_scikit_learn(rng):
    from sklearn.cross_decomposition import CCA

    X, Y = _related(rng)
    ref = CCA(n_components=2, max_iter=5000, tol=1e-12).fit(X, Y)
    u, v = ref.transform(X, Y)
    expected = [abs(np.corrcoef(u[:, k], v[:, k])[0, 1]) for k in range(2)]
    np.testing.assert_allclose(sim.cca(X, Y, n_components=2, reg=0.0), expected, atol=1e-5)


def test_cca_weights_give_the_canonical_variates(rng):
    X, Y = _related(rng)
    fit = sim.cca_fit(X, Y, reg=0.0)
    u, v = fit.transform(X, Y)
    k = fit.correlations.size
    assert u.shape == v.shape == (len(X), k) == (300, 5)
    c = np.corrcoef(u.T, v.T)
    np.testing.assert_allclose(np.diag(c[:k, k:]), fit.correlations, atol=1e-8)
    np.testing.assert_allclose(c[:k, :k], np.eye(k), atol=1e-8)  # uncorrelated within a view
    np.testing.assert_allclose(u.std(axis=0, ddof=1), 1.0, atol=1e-8)
    assert fit.mean == pytest.approx(fit.correlations.mean())


def test_cca_handles_rank_deficiency_and_overfits_when_dims_reach_n(rng):
    X = rng.standard_normal((100, 5))
    X = np.c_[X, X[:, :2], np.full((100, 1), 7.0)]  # duplicated and constant columns
    Y = rng.standard_normal((100, 3))
    rho = sim.cca(X, Y)
    assert rho.shape == (3,) and np.all(np.isfinite(rho))
    # as many dimensions as examples: every correlation is 1, whatever the data
    wide = rng.standard_normal((40, 60))
    assert np.all(sim.cca(wide, rng.standard_normal((40, 3))) > 0.999)
    # ... which held-out correlations expose
    assert (
        np.mean(sim.heldout_cca(rng.standard_normal((80, 30)), rng.standard_normal((80, 3)))) < 0.4
    )
    Xr, Yr = _related(rng, 600)
    assert sim.heldout_cca(Xr, Yr)[0] > 0.7


def test_similarity_input_errors(rng):
    X = rng.standard_normal((20, 3))
    with pytest.raises(sim.SimilarityError, match="same number of rows"):
        sim.cca(X, X[:10])
    with pytest.raises(sim.SimilarityError, match="constant"):
        sim.cca(X, np.full((20, 2), 1000.0))
    with pytest.raises(sim.SimilarityError, match="NaN"):
        sim.linear_cka(X, np.where(X > 1, np.nan, X))
    with pytest.raises(sim.SimilarityError, match="keep_variance"):
        sim.svcca(X, X, keep_variance=1.5)


# --------------------------------------------------------------------------- SVCCA


def test_svcca_keeps_the_directions_of_a_low_rank_view(rng):
    n = 300
    X = rng.standard_normal((n, 4)) @ rng.standard_normal((4, 30))
    X += 1e-4 * rng.standard_normal((n, 30))  # rank 4 up to tiny noise
    Y = rng.standard_normal((n, 6))
    res = sim.svcca(X, Y)
    assert (res.x_dims, res.y_dims) == (4, 6)
    assert sim.svd_reduce(X, keep_variance=1.0).shape[1] == 30
    assert sim.svcca(X, Y, max_dims=2).x_dims == 2
    # a view with a dominant direction: 99 % of the variance lies in it
    D = np.c_[100 * rng.standard_normal(n), 0.1 * rng.standard_normal((n, 5))]
    assert sim.svd_reduce(D).shape[1] == 1
    # the reduced views are rotations of the projections: CCA of them equals SVCCA's
    np.testing.assert_allclose(res.correlations, sim.cca(sim.svd_reduce(X), Y))
    # keeping every direction is a rotation: CCA (ridge included) does not change
    W = rng.standard_normal((n, 12)) @ rng.standard_normal((12, 40))
    full = sim.svd_reduce(W, keep_variance=1.0)
    assert full.shape == (n, 12)
    np.testing.assert_allclose(sim.cca(full, Y, reg=0.3), sim.cca(W, Y, reg=0.3), atol=1e-10)
    assert res.similarity == pytest.approx(res.correlations.mean())


# --------------------------------------------------------------------------- CKA


def test_linear_cka_invariances_and_hsic(rng):
    X = rng.standard_normal((50, 8))
    Y = X[:, :3] @ rng.standard_normal((3, 5)) + rng.standard_normal((50, 5))
    assert sim.linear_cka(X, X) == pytest.approx(1.0)
    value = sim.linear_cka(X, Y)
    assert 0.0 < value < 1.0
    Q = _random_orthogonal(rng, 8)
    assert sim.linear_cka(3.0 * X @ Q + 1.0, Y) == pytest.approx(value)
    # not invariant to an anisotropic scaling
    assert abs(sim.linear_cka(X * np.arange(1, 9), Y) - value) > 1e-3
    # the direct definition: HSIC with H = I - 11^T/n
    K, L = X @ X.T, Y @ Y.T
    assert sim.hsic(K, L) == pytest.approx(_direct_hsic(K, L))
    assert value == pytest.approx(_direct_cka(K, L))
    # the Gram-matrix path (features >> examples) agrees with the definition too
    W = rng.standard_normal((10, 200))
    V = W[:, :50] + rng.standard_normal((10, 50))
    assert sim.linear_cka(W, V) == pytest.approx(_direct_cka(W @ W.T, V @ V.T))


def _direct_hsic(K, L):
    n = len(K)
    H = np.eye(n) - np.ones((n, n)) / n
    return np.trace(K @ H @ L @ H) / (n - 1) ** 2


def _direct_cka(K, L):
    return _direct_hsic(K, L) / np.sqrt(_direct_hsic(K, K) * _direct_hsic(L, L))


def test_kernel_cka(rng):
    X = rng.standard_normal((80, 4))
    Y = np.tanh(X @ rng.standard_normal((4, 3))) + 0.1 * rng.standard_normal((80, 3))
    assert sim.kernel_cka(X, X) == pytest.approx(1.0)
    related = sim.kernel_cka(X, Y)
    unrelated = sim.kernel_cka(X, rng.standard_normal((80, 3)))
    assert 0.0 < unrelated < related < 1.0
    # RBF distances with the median bandwidth: invariant to rotation and isotropic scaling
    Q = _random_orthogonal(rng, 4)
    assert sim.kernel_cka(2.5 * X @ Q, Y) == pytest.approx(related)
    assert sim.kernel_cka(X, Y, sigma=0.5) != pytest.approx(related)


def test_permutation_baseline_is_below_the_real_similarity(rng):
    X, Y = _related(rng)
    for fn in (sim.linear_cka, lambda a, b: sim.svcca(a, b).similarity):
        base = sim.permutation_baseline(fn, X, Y, n=10, seed=1)
        assert base.values.shape == (10,)
        assert base.mean + 3 * base.std < fn(X, Y)
        again = sim.permutation_baseline(fn, X, Y, n=10, seed=1)
        np.testing.assert_array_equal(base.values, again.values)


# --------------------------------------------------------------------------- descriptors


def test_descriptor_shapes_and_values():
    sr = 22050
    low, high = tone(300, 1.0, sr), tone(3000, 1.0, sr)
    d = clip_descriptors(low, sr)
    assert {k: v.shape for k, v in d.items()} == {
        "mfcc": (60,),
        "chroma": (36,),
        "spectral_centroid": (3,),
        "spectral_bandwidth": (3,),
    }
    assert clip_descriptors(high, sr)["spectral_centroid"][0] > 2 * d["spectral_centroid"][0]
    # the same numbers as librosa computing from the waveform
    ref = librosa.feature.spectral_centroid(y=low, sr=sr, n_fft=1024, hop_length=512)[0]
    assert d["spectral_centroid"][0] == pytest.approx(ref.mean())
    assert d["spectral_centroid"][1] == pytest.approx(ref.var())
    mfcc = librosa.feature.mfcc(y=low, sr=sr, n_fft=1024, hop_length=512, n_mfcc=20)
    np.testing.assert_allclose(split_stats(d["mfcc"])["mean"], mfcc.mean(axis=1), rtol=1e-5)
    # other rates are resampled to the analysis rate
    d16 = clip_descriptors(tone(300, 1.0, 16000), 16000)
    assert d16["spectral_centroid"][0] == pytest.approx(d["spectral_centroid"][0], rel=0.05)
    # silence: finite, skewness of a constant is 0
    quiet = clip_descriptors(np.zeros(8000, np.float32), 16000)
    assert all(np.all(np.isfinite(v)) for v in quiet.values())
    assert np.all(split_stats(quiet["chroma"])["skew"] == 0)


def test_descriptor_region_and_config():
    sr = 22050
    noise = 0.01 * np.random.default_rng(0).standard_normal(3 * sr).astype(np.float32)
    wave = np.concatenate([noise, tone(500, 2.5, sr)])
    cfg = DescriptorConfig(
        region="max_energy", descriptors=("spectral_centroid", "spectral_rolloff")
    )
    patch = frame_descriptors(wave, sr, cfg)
    assert patch["spectral_centroid"].shape == (1, 96)
    whole = clip_descriptors(wave, sr, DescriptorConfig(descriptors=("spectral_centroid",)))
    assert patch["spectral_centroid"].mean() == pytest.approx(500, rel=0.1)
    assert whole["spectral_centroid"][0] > 1.5 * patch["spectral_centroid"].mean()
    with pytest.raises(ConfigError, match="unknown descriptor"):
        DescriptorConfig(descriptors=("mfcc", "loudness"))
    with pytest.raises(ConfigError, match="region"):
        DescriptorConfig(region="middle")
    table = descriptor_table([tone(300, 0.5, sr), tone(600, 0.5, sr)], sr=sr)
    assert table["mfcc"].shape == (2, 60) and table["chroma"].shape == (2, 36)


# --------------------------------------------------------------------------- report / CLI


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """30 short tones (16 kHz WAVs) of random pitch and level, a manifest, stand-in embeddings."""
    root = tmp_path_factory.mktemp("cca")
    rng = np.random.default_rng(1)
    sr, n = 16000, 30
    freqs = np.exp(rng.uniform(np.log(150), np.log(3000), n))
    amps = rng.uniform(0.1, 0.8, n)
    rows = []
    for i, (f, a) in enumerate(zip(freqs, amps)):
        name = f"audio/clip{i:02d}.wav"
        (root / "audio").mkdir(exist_ok=True)
        wave = tone(f, 0.4, sr, a) + 0.01 * rng.standard_normal(int(0.4 * sr)).astype(np.float32)
        sf.write(root / name, wave, sr)
        rows.append({"path": name, "labels": "tone", "split": "test" if i < 24 else "train"})
    with open(root / "m.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, ["path", "labels", "split"])
        w.writeheader()
        w.writerows(rows)
    # stand-in embedding: a random linear map of (log pitch, level) plus noise, 8-d
    latent = np.c_[np.log(freqs), amps]
    emb = latent @ rng.standard_normal((2, 8)) + 0.05 * rng.standard_normal((n, 8))
    np.savez(root / "good.npz", paths=np.array([r["path"] for r in rows]), embeddings=emb)
    abs_paths = np.array([str(root / r["path"]) for r in rows])
    np.savez(root / "noise.npz", paths=abs_paths, embeddings=rng.standard_normal((n, 8)))
    return root


def _zscore(Y):
    return (Y - Y.mean(axis=0)) / Y.std(axis=0)


def _report_views(npz, root, clip_paths):
    """Embeddings (rows in the report's clip order) and descriptor tables of those clips."""
    data = np.load(npz)
    lookup = {str((root / p).resolve()): v for p, v in zip(data["paths"], data["embeddings"])}
    E = np.stack([lookup[str(Path(p).resolve())] for p in clip_paths])
    return E, descriptor_table(clip_paths)


def test_cli_report_from_embedding_files(clips, tmp_path, capsys):
    out = tmp_path / "report"
    argv = ["analyze", "cca", "--manifest", str(clips / "m.csv"), "--out", str(out)]
    argv += ["--embeddings", str(clips / "good.npz"), "--embeddings", f"rand={clips / 'noise.npz'}"]
    argv += ["--split", "test", "--permutations", "5", "--no-progress"]
    assert main(argv) == 0
    doc = json.loads((out / "cca.json").read_text())
    assert doc["n_clips"] == 24 and doc["settings"]["method"] == "svcca"
    assert [m["label"] for m in doc["models"]] == ["good", "rand"]
    centroid = doc["results"]["good"]["spectral_centroid"]["mean"]
    assert centroid["similarity"] > 0.9 > centroid["baseline_mean"] + 3 * centroid["baseline_std"]
    assert doc["results"]["rand"]["spectral_centroid"]["mean"]["similarity"] < 0.8
    assert centroid["x_dims"] <= doc["settings"]["max_dims"] == 2  # auto: N // 10
    assert set(doc["results"]["good"]) == {
        "mfcc",
        "chroma",
        "spectral_centroid",
        "spectral_bandwidth",
    }
    assert set(doc["results"]["good"]["mfcc"]) == {"mean", "var", "skew", "all"}
    # the report's numbers are those of the public functions on the same clips
    E, tables = _report_views(clips / "good.npz", clips, doc["clips"])
    Y = _zscore(split_stats(tables["mfcc"])["mean"])
    entry = doc["results"]["good"]["mfcc"]["mean"]
    assert entry["similarity"] == pytest.approx(sim.svcca(E, Y, max_dims=2).similarity)

    def fn(a, b):
        return sim.svcca(a, b, max_dims=2).similarity

    base = sim.permutation_baseline(fn, E, Y, n=5, seed=0)
    assert entry["baseline_mean"] == pytest.approx(base.mean)
    assert entry["baseline_std"] == pytest.approx(base.std)
    md = (out / "cca.md").read_text()
    assert "N = 24 clips" in md and "| good | rand |" in md and "Spectral centroid | mean" in md
    assert (out / "cca.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Spectral centroid" in capsys.readouterr().out


@pytest.mark.parametrize("method", ["cca", "pwcca", "kernel-cka"])
def test_cli_other_methods_match_the_functions(clips, tmp_path, method):
    out = tmp_path / method
    argv = ["analyze", "cca", "--manifest", str(clips / "m.csv"), "--out", str(out)]
    argv += ["--embeddings", str(clips / "good.npz"), "--method", method, "--permutations", "3"]
    assert main(argv + ["--descriptors", "spectral_bandwidth", "--no-progress"]) == 0
    doc = json.loads((out / "cca.json").read_text())
    E, tables = _report_views(clips / "good.npz", clips, doc["clips"])
    Y = _zscore(tables["spectral_bandwidth"])
    entry = doc["results"]["good"]["spectral_bandwidth"]["all"]
    if method == "cca":
        expected = sim.mean_cca_similarity(E, Y)
        assert (entry["x_dims"], entry["y_dims"]) == (8, 3)
    elif method == "pwcca":
        expected = sim.pwcca(E, Y).similarity
    else:
        expected = sim.kernel_cka(E, Y)
    assert entry["similarity"] == pytest.approx(expected)


def test_cli_methods_failures_and_errors(clips, tmp_path, capsys):
    # a broken file in the manifest: reported, left out, exit status 1, report still written
    broken = tmp_path / "broken.wav"
    broken.write_text("not audio")
    emb = np.load(clips / "good.npz")
    paths = [str(clips / p) for p in emb["paths"][:12]] + [str(broken)]
    with open(tmp_path / "m2.csv", "w", newline="") as fh:
        fh.write("path,labels,split\n" + "".join(f"{p},tone,test\n" for p in paths))
    np.savez(
        tmp_path / "e.npz", paths=paths, embeddings=np.r_[emb["embeddings"][:12], np.zeros((1, 8))]
    )
    base = ["analyze", "cca", "--manifest", str(tmp_path / "m2.csv"), "--no-progress"]
    out = tmp_path / "cka"
    argv = base + ["--embeddings", str(tmp_path / "e.npz"), "--method", "cka", "--out", str(out)]
    assert main(argv + ["--permutations", "3", "--descriptors", "spectral_centroid"]) == 1
    doc = json.loads((out / "cca.json").read_text())
    assert doc["n_clips"] == 12 and len(doc["failures"]) == 1
    assert "broken.wav" in doc["failures"][0]["path"]
    E, tables = _report_views(tmp_path / "e.npz", tmp_path, doc["clips"])
    Y = _zscore(tables["spectral_centroid"])
    assert doc["results"]["e"]["spectral_centroid"]["all"]["similarity"] == pytest.approx(
        sim.linear_cka(E, Y)
    )
    # nothing to analyse, or an unusable embeddings file: exit 2 with a message
    capsys.readouterr()
    assert main(base + ["--out", str(tmp_path / "x")]) == 2
    assert "--model" in capsys.readouterr().err
    np.savez(tmp_path / "bad.npz", vectors=np.zeros((3, 2)))
    assert main(base + ["--embeddings", str(tmp_path / "bad.npz")]) == 2
    assert "'paths' and 'embeddings'" in capsys.readouterr().err


def test_cli_with_the_mfcc_embedder(clips, tmp_path):
    pytest.importorskip("musicrep.embed")
    out = tmp_path / "r"
    argv = ["analyze", "cca", "--model", "mfcc", "--manifest", str(clips / "m.csv")]
    argv += ["--out", str(out), "--permutations", "3", "--no-progress", "--method", "cca"]
    assert main(argv) == 0
    doc = json.loads((out / "cca.json").read_text())
    assert doc["n_clips"] == 30 and doc["models"][0]["label"] == "mfcc"
    assert doc["results"]["mfcc"]["mfcc"]["mean"]["similarity"] > 0.5
