"""Downstream evaluation: COALA / HEAR probes, folds, verification metrics, joining, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from musicrep.cli import main
from musicrep.data import Manifest
from musicrep.embeddings import cache_key, join, load_embeddings
from musicrep.errors import ConfigError, ManifestError
from musicrep.evaluate import evaluate
from musicrep.metrics import eer, min_dcf
from musicrep.probes import PROBES, detect_task, evaluate_embeddings, format_table, read_trials


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run fastest single-threaded (and do not fight other jobs for cores)."""
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(before)


def blobs(rng, n_per: int, k: int, dim: int = 6, sep: float = 6.0, noise: float = 1.0):
    centers = rng.normal(size=(k, dim)) * sep
    X = np.concatenate([centers[c] + noise * rng.normal(size=(n_per, dim)) for c in range(k)])
    return X, np.repeat(np.arange(k), n_per)


def rows_for(y, splits=None, folds=None, prefix="/data/clip"):
    rows = []
    for i, c in enumerate(y):
        row = {"path": f"{prefix}{i:04d}.wav", "labels": [f"class{c}"]}
        row["split"] = splits[i] if splits is not None else "train"
        if folds is not None:
            row["fold"] = int(folds[i])
        rows.append(row)
    return rows


def alternate(n, pattern=("train", "train", "test")):
    return [pattern[i % len(pattern)] for i in range(n)]


# ------------------------------------------------------------------ registry and task


@pytest.mark.parametrize("name", PROBES.names())
def test_every_registered_probe_scores_separable_data(name, rng):
    X, y = blobs(rng, 20, 3)
    rows = rows_for(y, alternate(len(y), ("train", "train", "valid", "test")))
    if PROBES.get(name).kind == "classifier":
        grid = {"hidden_dim": [16], "lr": [1e-2], "patience": [3], "check_val_every_n_epoch": [1]}
        r = evaluate_embeddings(X, rows, protocol=name, repeats=1, grid=grid, progress=False)
        assert r.protocol == name and r.metrics["accuracy"]["mean"] >= 0.9
    else:
        r = evaluate_embeddings(X, rows, task=name, progress=False)
        assert r.task_type == name and r.metrics["eer"]["mean"] <= 0.1


def test_unknown_protocol_lists_the_registered_probes(rng):
    X, y = blobs(rng, 4, 2)
    with pytest.raises(ConfigError, match="use one of coala, hear"):
        evaluate_embeddings(X, rows_for(y, alternate(len(y))), protocol="svm", progress=False)


def test_the_task_used_and_why_are_reported(tmp_path, rng):
    X, y = blobs(rng, 10, 2)
    lines = [f"c{i}.wav,class{c},{s}" for i, (c, s) in enumerate(zip(y, alternate(len(y))))]
    (tmp_path / "m.csv").write_text("path,labels,split\n" + "\n".join(lines) + "\n")
    single = evaluate_embeddings(X, Manifest.read(tmp_path / "m.csv"), repeats=1, progress=False)
    assert single.config["task_reason"] == "auto: every row has exactly one label (2 classes)"
    assert "task: single-label classification (auto: every row" in format_table(single)
    # one empty labels cell does not make the task multi-label (issue 14): it stops, naming
    # the row, unless the multi-label task is asked for
    lines[3] = "c3.wav,,train"
    (tmp_path / "m.csv").write_text("path,labels,split\n" + "\n".join(lines) + "\n")
    m = Manifest.read(tmp_path / "m.csv")
    task, reason = detect_task(m)
    assert task == "singlelabel"
    assert reason.endswith(f"1 row(s) have no label (e.g. line 5: {tmp_path / 'c3.wav'})")
    with pytest.raises(ManifestError, match="m.csv:5: c3.wav has 0 labels"):
        evaluate_embeddings(X, m, repeats=1, progress=False)
    multi = evaluate_embeddings(X, m, task="multilabel", repeats=1, progress=False)
    assert multi.task_type == "multilabel"
    assert "task: multi-label tagging (task=multilabel was asked for)" in format_table(multi)


# ------------------------------------------------------------------ coala


def test_coala_separable_clusters_near_perfect(rng):
    X, y = blobs(rng, 30, 3)
    r = evaluate_embeddings(X, rows_for(y, alternate(len(y))), repeats=2, progress=False)
    assert r.task_type == "singlelabel" and r.protocol == "coala"
    assert r.metrics["accuracy"]["mean"] >= 0.95
    assert r.metrics["macro_f1"]["mean"] >= 0.95
    assert r.n_train == 60 and r.n_test == 30
    assert r["classes"] == ["class0", "class1", "class2"]
    assert r.config["mlp"]["hidden_layer_sizes"] == [256]


def test_coala_random_labels_are_at_chance(rng):
    X = rng.normal(size=(240, 6))
    y = rng.integers(0, 2, size=240)
    r = evaluate_embeddings(X, rows_for(y, alternate(240)), repeats=2, progress=False)
    assert 0.3 < r.metrics["accuracy"]["mean"] < 0.7


class _SpyMLP:
    """Stands in for sklearn's MLPClassifier: records its inputs, returns fixed scores."""

    calls: list[dict] = []
    proba: np.ndarray | None = None

    def __init__(self, **params):
        self.params = params
        self.max_iter = params.get("max_iter", 200)

    def fit(self, X, y):
        y = np.asarray(y)
        self.classes_ = np.arange(y.shape[1]) if y.ndim == 2 else np.unique(y)
        self.n_iter_ = 10
        _SpyMLP.calls.append({"fit_X": np.array(X), "params": self.params})
        return self

    def predict_proba(self, X):
        _SpyMLP.calls[-1]["test_X"] = np.array(X)
        if _SpyMLP.proba is not None:
            return _SpyMLP.proba
        return np.full((len(X), len(self.classes_)), 1.0 / len(self.classes_))


@pytest.fixture
def spy_mlp(monkeypatch):
    import sklearn.neural_network

    _SpyMLP.calls = []
    _SpyMLP.proba = None
    monkeypatch.setattr(sklearn.neural_network, "MLPClassifier", _SpyMLP)
    return _SpyMLP


def test_standardisation_uses_training_statistics_only(rng, spy_mlp):
    X, y = blobs(rng, 20, 2)
    splits = alternate(len(y))
    X[np.array(splits) == "test"] += 100.0  # a test set far away from the training rows
    r = evaluate_embeddings(X, rows_for(y, splits), repeats=2, progress=False)
    train = X[np.array(splits) == "train"]
    test = X[np.array(splits) == "test"]
    mu, sd = train.mean(axis=0), train.std(axis=0)
    assert len(spy_mlp.calls) == 2
    for call in spy_mlp.calls:
        np.testing.assert_allclose(call["fit_X"], (train - mu) / sd, atol=1e-10)
        np.testing.assert_allclose(call["test_X"], (test - mu) / sd, atol=1e-10)
        assert call["test_X"].mean() > 10  # still shifted: test statistics were not used
        assert call["params"]["hidden_layer_sizes"] == (256,)
    assert [c["params"]["random_state"] for c in spy_mlp.calls] == [0, 1]
    assert r.config["standardize"] is True


def test_standardisation_changes_a_linear_probe_as_expected(rng):
    # train: class 0 at -1, class 1 at +1; test: the same pattern shifted by +10. Scaled with
    # the training statistics every test row lies on the class-1 side of a linear probe
    # (accuracy 0.5); scaled with its own statistics the test set would be classified perfectly.
    n = 40
    y = np.tile([0, 1], n)
    X = (2.0 * y - 1.0)[:, None] + 0.1 * rng.normal(size=(2 * n, 1))
    splits = np.array(["train"] * n + ["valid"] * (n // 2) + ["test"] * (n // 2))
    X[splits == "test"] += 10.0
    grid = {"hidden_layers": [0], "lr": [1e-1], "max_epochs": [60], "patience": [100]}
    r = evaluate_embeddings(
        X,
        rows_for(y, list(splits)),
        protocol="hear",
        standardize=True,
        grid=grid,
        grid_points=1,
        repeats=1,
        progress=False,
    )
    assert r.metrics["accuracy"]["mean"] == pytest.approx(0.5)


def test_repeats_vary_and_mean_is_mean_of_values(rng):
    X, y = blobs(rng, 40, 3, sep=0.6)  # overlapping classes: the seed matters
    r = evaluate_embeddings(
        X, rows_for(y, alternate(len(y))), repeats=4, mlp_params={"max_iter": 50}, progress=False
    )
    acc = r.metrics["accuracy"]
    assert len(acc["values"]) == 4 and acc["over"] == "repeats"
    assert acc["std"] > 0
    assert acc["mean"] == pytest.approx(np.mean(acc["values"]))
    assert acc["std"] == pytest.approx(np.std(acc["values"]))
    assert r.config["seeds"] == [0, 1, 2, 3]
    # 50 Adam epochs do not converge: counted and reported, no warning spam
    assert r.config["not_converged"] == 4
    assert any("max_iter" in n for n in r.notes)


def test_multilabel_roc_auc_matches_sklearn_and_skips_single_class_tags(spy_mlp):
    # tags a, b scorable; c has no positive in the test rows; d none in the training rows
    train = [["a", "c"], ["b"], ["a", "b"], ["c"], ["a"], []]
    test = [["a"], ["b"], ["a", "b"], [], ["a", "d"]]
    rows = [
        {"path": f"/x/{i}.wav", "labels": labels, "split": split}
        for i, (labels, split) in enumerate(
            [(t, "train") for t in train] + [(t, "test") for t in test]
        )
    ]
    vocab = ["a", "b", "c", "d"]
    proba = np.array(
        [
            [0.9, 0.2, 0.5, 0.1],
            [0.3, 0.8, 0.5, 0.2],
            [0.6, 0.4, 0.1, 0.3],
            [0.2, 0.5, 0.7, 0.4],
            [0.7, 0.1, 0.2, 0.9],
        ]
    )
    spy_mlp.proba = proba
    X = np.arange(len(rows) * 2, dtype=float).reshape(len(rows), 2)
    r = evaluate_embeddings(X, rows, repeats=1, progress=False)
    assert r.task_type == "multilabel" and r.classes == vocab
    Y = np.array([[t in labels for t in vocab] for labels in test], dtype=int)
    expected = roc_auc_score(Y[:, :2], proba[:, :2], average="macro")
    assert r.metrics["roc_auc"]["mean"] == pytest.approx(expected)
    assert set(r.skipped_tags) == {"c", "d"}
    assert "test" in r.skipped_tags["c"] and "training" in r.skipped_tags["d"]
    assert "2 tag(s) left out" in format_table(r)


def test_leave_one_fold_out(rng):
    X, y = blobs(rng, 24, 2)
    folds = np.tile(np.arange(3), len(y) // 3 + 1)[: len(y)]
    r = evaluate_embeddings(
        X, rows_for(y, folds=folds), repeats=2, mlp_params={"max_iter": 100}, progress=False
    )
    assert [pf["fold"] for pf in r.per_fold] == [0, 1, 2]
    for pf in r.per_fold:
        assert pf["n_test"] == int((folds == pf["fold"]).sum())
        assert pf["n_train"] == len(y) - pf["n_test"] and pf["n_valid"] == 0
        assert len(pf["metrics"]["accuracy"]["values"]) == 2
    acc = r.metrics["accuracy"]
    fold_means = [pf["metrics"]["accuracy"]["mean"] for pf in r.per_fold]
    assert acc["over"] == "folds" and acc["values"] == pytest.approx(fold_means)
    assert acc["mean"] == pytest.approx(np.mean(fold_means))
    assert acc["std"] == pytest.approx(np.std(fold_means))
    assert len(acc["repeat_means"]) == 2 and "std_over_repeats" in acc
    assert r.n_test == len(y) and acc["mean"] > 0.9
    assert "fold" in format_table(r)


# ------------------------------------------------------------------ hear


def test_hear_early_stops_on_an_easy_task(rng):
    X, y = blobs(rng, 20, 2)
    splits = alternate(len(y), ("train", "train", "valid", "test"))
    grid = {"hidden_dim": [16], "lr": [1e-2], "patience": [3], "check_val_every_n_epoch": [1]}
    r = evaluate_embeddings(
        X, rows_for(y, splits), protocol="hear", grid=grid, repeats=2, progress=False
    )
    pf = r.per_fold[0]
    assert max(pf["epochs_run"]) < 500  # max_epochs stays hear's 500
    assert all(b <= e for b, e in zip(pf["best_epoch"], pf["epochs_run"]))
    assert r.metrics["accuracy"]["mean"] >= 0.9
    assert r.config["standardize"] is False  # hear feeds raw embeddings by default
    assert r.config["selected"]["max_epochs"] == 500


def test_hear_selects_on_validation_not_test(rng):
    X, y = blobs(rng, 15, 4)
    splits = np.array(alternate(len(y), ("train", "train", "valid", "test")))
    y_manifest = y.copy()
    test = splits == "test"
    y_manifest[test] = (y[test] + 1) % 4  # test labels disagree with train/valid
    grid = {
        "hidden_dim": [16],
        "lr": [1e-2, 1e-7],
        "initialization": ["xavier_uniform"],
        "max_epochs": [60],
        "check_val_every_n_epoch": [1],
    }
    r = evaluate_embeddings(
        X, rows_for(y_manifest, list(splits)), protocol="hear", grid=grid, repeats=1, progress=False
    )
    scores = {g["lr"]: g["valid_score"] for g in r.config["grid_results"]}
    assert set(scores) == {1e-2, 1e-7}
    assert r.config["selected"]["lr"] == 1e-2 and scores[1e-2] > scores[1e-7]
    assert r.metrics["accuracy"]["mean"] < 0.2  # the validation winner is wrong on this test set


def test_hear_folds_validate_on_the_next_fold(rng):
    X, y = blobs(rng, 15, 2)
    folds = np.arange(len(y)) % 3
    grid = {"hidden_dim": [8], "max_epochs": [6], "check_val_every_n_epoch": [1]}
    r = evaluate_embeddings(
        X, rows_for(y, folds=folds), protocol="hear", grid=grid, grid_points=1, repeats=1
    )
    assert [pf["fold"] for pf in r.per_fold] == [0, 1, 2]
    assert all(pf["n_train"] == pf["n_valid"] == pf["n_test"] == 10 for pf in r.per_fold)
    assert len(r.config["grid_results"]) == 1


def test_hear_holds_out_validation_rows_when_there_are_none(rng):
    X, y = blobs(rng, 20, 2)
    grid = {"hidden_dim": [8], "max_epochs": [6], "check_val_every_n_epoch": [1]}
    r = evaluate_embeddings(
        X, rows_for(y, alternate(len(y))), protocol="hear", grid=grid, grid_points=1, repeats=1
    )
    pf = r.per_fold[0]
    assert pf["n_valid"] == round(0.2 * 27) and pf["n_train"] == 27 - pf["n_valid"]
    assert any("held out" in n for n in r.notes)


# ------------------------------------------------------------------ verification metrics


def test_eer_and_min_dcf_known_cases():
    assert eer([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert min_dcf([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1]) == 0.0
    labels, scores = [1, 1, 1, 0, 0], [0.9, 0.7, 0.2, 0.5, 0.1]
    # (p_fa, p_miss) points: (0, 1) (0, 2/3) (0, 1/3) (1/2, 1/3) (1/2, 0) (1, 0):
    # the segment (0, 1/3) -> (1/2, 1/3) crosses p_miss == p_fa at 1/3
    value, threshold = eer(labels, scores, return_threshold=True)
    assert value == pytest.approx(1 / 3) and threshold == 0.5
    # p_target 0.01: best is (0, 1/3): 0.01 * 1/3 / 0.01
    assert min_dcf(labels, scores) == pytest.approx(1 / 3)
    # p_target 0.9: best is (1/2, 0): 0.1 * 0.5 / min(0.9, 0.1)
    assert min_dcf(labels, scores, p_target=0.9) == pytest.approx(0.5)
    # all wrong way round
    assert eer([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]) == 1.0
    rng = np.random.default_rng(0)
    lab = rng.integers(0, 2, 4000)
    assert eer(lab, rng.normal(size=4000)) == pytest.approx(0.5, abs=0.04)
    with pytest.raises(ValueError, match="both target"):
        eer([1, 1], [0.3, 0.4])


def _identity_embeddings(rng, n_ids=4, per_id=3, dim=8):
    centers = rng.normal(size=(n_ids, dim))
    X = np.repeat(centers, per_id, axis=0) + 0.01 * rng.normal(size=(n_ids * per_id, dim))
    return X, np.repeat(np.arange(n_ids), per_id)


def test_verification_trials_csv_and_txt(tmp_path, rng):
    X, ids = _identity_embeddings(rng)
    names = [f"spk{s}_{i}.wav" for i, s in enumerate(ids)]
    np.savez(tmp_path / "emb.npz", paths=np.array([str(tmp_path / n) for n in names]), embeddings=X)
    lines = ["enroll,test,label"]
    txt = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            lines.append(f"{names[i]},{names[j]},{int(ids[i] == ids[j])}")
            txt.append(f"{int(ids[i] == ids[j])} {names[i]} {names[j]}")
    lines.append(f"{names[0]},missing.wav,0")
    (tmp_path / "trials.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "trials.txt").write_text("\n".join(txt) + "\n")
    r = evaluate(tmp_path / "emb.npz", tmp_path / "trials.csv", progress=False)
    assert r.task_type == "verification"
    assert r.metrics["eer"]["mean"] == 0.0 and r.metrics["min_dcf"]["mean"] == 0.0
    assert r.n_test == len(lines) - 2 and r.config["join"]["dropped"] == 1
    assert any("1 of" in n and "missing.wav" in n for n in r.notes)
    r_txt = evaluate(tmp_path / "emb.npz", tmp_path / "trials.txt", progress=False)
    assert r_txt.n_test == len(txt) and r_txt.metrics["eer"]["mean"] == 0.0
    assert "EER" in format_table(r_txt)


def test_verification_from_manifest_pairs_test_rows(rng):
    X, ids = _identity_embeddings(rng, n_ids=3, per_id=4)
    X[0] = X[4]  # one utterance looks like another speaker: errors appear
    rows = rows_for(ids, ["test"] * len(ids))
    r = evaluate_embeddings(X, rows, task="verification", progress=False)
    pf = r.per_fold[0]
    assert r.n_test == 12 * 11 // 2 and pf["n_target"] == 3 * 6
    assert 0.0 < r.metrics["eer"]["mean"] < 0.5


def test_read_trials_rejects_bad_label(tmp_path):
    (tmp_path / "t.csv").write_text("enroll,test,label\na.wav,b.wav,maybe\n")
    with pytest.raises(ManifestError, match=r"t\.csv:2: trial label 'maybe'"):
        read_trials(tmp_path / "t.csv")


# ------------------------------------------------------------------ joining


def test_join_by_path_relative_path_and_unique_name(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text(
        "path,labels,split\n"
        "audio/a.wav,x,train\n"
        "audio/sub/b.wav,y,train\n"
        "audio/c.wav,x,test\n"
        "audio/d.wav,y,test\n"
    )
    manifest = Manifest.read(m)
    paths = [
        "/elsewhere/c.wav",  # unique file name
        "/other/machine/audio/sub/b.wav",  # relative path as a suffix
        str(tmp_path / "audio" / "a.wav"),  # exact
        "/zzz/e.wav",  # not in the manifest
    ]
    X = np.arange(8, dtype=np.float32).reshape(4, 2)
    j = join(manifest, paths, X)
    assert [r.path.name for r in j.manifest] == ["a.wav", "b.wav", "c.wav"]
    np.testing.assert_array_equal(j.X, X[[2, 1, 0]])
    assert j.matched_by == {"path": 1, "relative": 1, "name": 1}
    assert [p.name for p in j.missing] == ["d.wav"]
    assert j.report()["missing"] == 1
    with pytest.raises(ConfigError, match="no manifest row has an embedding"):
        join(manifest, ["/zzz/e.wav"], X[:1])
    with pytest.raises(ConfigError, match="more than once"):
        join(manifest, [paths[2], paths[2]], X[:2])


def test_evaluate_reports_rows_without_embeddings(tmp_path, rng):
    X, y = blobs(rng, 10, 2)
    rows = rows_for(y, alternate(len(y)), prefix=str(tmp_path / "clip"))
    Manifest.from_rows(rows, root=tmp_path).write(tmp_path / "m.csv")
    keep = np.arange(len(y)) != 3
    np.savez(
        tmp_path / "e.npz", paths=np.array([r["path"] for r in rows])[keep], embeddings=X[keep]
    )
    r = evaluate(tmp_path / "e.npz", tmp_path / "m.csv", repeats=1, progress=False)
    assert r.config["join"]["missing"] == 1 and r.config["join"]["matched"] == len(y) - 1
    assert "clip0003.wav" in r.notes[0]


def test_load_embeddings_errors(tmp_path):
    np.savez(tmp_path / "seq.npz", paths=np.array(["a"]), embeddings=np.zeros((1, 3, 4)))
    with pytest.raises(ConfigError, match="pool timestamp"):
        load_embeddings(tmp_path / "seq.npz")
    np.savez(
        tmp_path / "nan.npz", paths=np.array(["a", "b"]), embeddings=np.array([[0.0], [np.nan]])
    )
    with pytest.raises(ConfigError, match="NaN or inf, e.g. b"):
        load_embeddings(tmp_path / "nan.npz")
    np.savez(tmp_path / "bad.npz", x=np.zeros(2))
    with pytest.raises(ConfigError, match="'paths'"):
        load_embeddings(tmp_path / "bad.npz")


# ------------------------------------------------------------------ CLI


def _write_dataset(tmp_path: Path, rng):
    X, y = blobs(rng, 12, 2)
    audio = tmp_path / "audio"
    audio.mkdir()
    rows = []
    for i, c in enumerate(y):
        f = audio / f"c{c}_{i:03d}.wav"
        f.touch()
        rows.append({"path": str(f), "labels": [f"class{c}"], "split": alternate(len(y))[i]})
    Manifest.from_rows(rows, root=tmp_path).write(tmp_path / "m.csv")
    return X, y, rows


def test_cli_embeddings_writes_json(tmp_path, rng, capsys):
    X, _, rows = _write_dataset(tmp_path, rng)
    np.savez(tmp_path / "e.npz", paths=np.array([r["path"] for r in rows]), embeddings=X)
    out = tmp_path / "res" / "r.json"
    argv = ["evaluate", "--embeddings", str(tmp_path / "e.npz"), "--manifest"]
    argv += [str(tmp_path / "m.csv"), "--repeats", "2", "--out", str(out), "-q"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "accuracy" in printed and "±" in printed
    doc = json.loads(out.read_text())
    assert doc["arguments"]["repeats"] == 2 and "sklearn" in doc["environment"]
    assert len(doc["result"]["metrics"]["accuracy"]["values"]) == 2
    assert doc["result"]["metrics"]["accuracy"]["mean"] > 0.9
    missing = ["evaluate", "--embeddings", str(tmp_path / "nope.npz"), "--manifest"]
    assert main([*missing, str(tmp_path / "m.csv")]) == 2  # a usage error, no traceback


def test_cli_model_mode_embeds_once_then_uses_the_cache(tmp_path, rng, monkeypatch, capsys):
    import musicrep.embed

    X, y, rows = _write_dataset(tmp_path, rng)
    by_path = {r["path"]: X[i] for i, r in enumerate(rows)}

    class StandInEmbedder:
        runs = 0

        def __init__(self, model, *, batch_size=16, seed=0, device="cpu", nan_policy="raise"):
            self.model = model

        def files(self, inputs, out_dir, *, combine=None, overwrite=False, progress=True):
            StandInEmbedder.runs += 1
            paths = [str(Path(p).resolve()) for p in inputs]
            np.savez(
                combine, paths=np.array(paths), embeddings=np.stack([by_path[p] for p in inputs])
            )

            class Report:
                failed: list = []

            return Report()

    monkeypatch.setattr(musicrep.embed, "Embedder", StandInEmbedder)
    out = tmp_path / "res" / "r.json"
    argv = ["evaluate", "--model", "mfcc", "--manifest", str(tmp_path / "m.csv")]
    argv += ["--repeats", "1", "--out", str(out), "-q"]
    assert main(argv) == 0
    first = json.loads(out.read_text())["result"]["metrics"]["accuracy"]["mean"]
    assert main(argv) == 0
    assert StandInEmbedder.runs == 1
    assert "using cached embeddings" in capsys.readouterr().err
    cached = list((tmp_path / "res" / ".musicrep-cache").glob("mfcc-*.npz"))
    assert len(cached) == 1
    assert cached[0].stem == cache_key("mfcc", [r["path"] for r in rows])
    assert json.loads(out.read_text())["result"]["metrics"]["accuracy"]["mean"] == first
    assert cache_key("mfcc", [r["path"] for r in rows][:-1]) != cached[0].stem
