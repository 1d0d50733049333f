"""Exported models (config.json + model.safetensors): export, load without pickle, predict."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from musicrep.cli import main
from musicrep.errors import ConfigError
from test_train import SR, TINY_MODEL, write_dataset, write_recipe


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A one-epoch training run of the tiny model on a 3-tag dataset."""
    from musicrep.training import load_recipe, train

    root = tmp_path_factory.mktemp("io")
    recipe = load_recipe(write_recipe(root / "tiny.yaml", max_epochs=1))
    recipe["data"]["manifest"] = str(write_dataset(root / "data", multilabel=True))
    recipe["evaluation"]["enabled"] = False
    return train(recipe, out=root / "run").run_dir


def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    from musicrep import io
    from musicrep.models import create_model

    torch.manual_seed(0)
    model = create_model(**{**TINY_MODEL, "num_outputs": 3}).eval()
    with torch.no_grad():  # non-default BatchNorm statistics must survive too
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    io.save_model(model, tmp_path / "m", vocab=["a", "b", "c"], task="multilabel")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    loaded, meta = io.load(tmp_path / "m")
    x = torch.randn(3, meta["input_samples"])
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert meta["vocab"] == ["a", "b", "c"] and meta["sample_rate"] == SR
    assert not loaded.training


def test_export_run_and_load_never_unpickle(run_dir, tmp_path, monkeypatch, capsys):
    from musicrep import io
    from musicrep.training import load_checkpoint_model

    out = tmp_path / "exported"
    assert main(["export", str(run_dir), str(out)]) == 0
    assert "exported musicnn (multilabel, 3 labels" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    meta = json.loads((out / "config.json").read_text())
    assert meta["task"] == "multilabel" and meta["vocab"] == ["high", "low", "noise"]
    assert meta["input_samples"] == 8000 and meta["model"]["name"] == "musicnn"
    assert meta["source"]["checkpoint"].endswith("best.ckpt")

    reference, _ = load_checkpoint_model(run_dir)

    def forbidden(*args, **kwargs):
        raise AssertionError("loading an exported model must not unpickle anything")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    model, meta = io.load(out)
    x = torch.randn(2, 8000)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=0, atol=0)


def test_load_explains_what_is_wrong(run_dir, tmp_path):
    from musicrep import io

    with pytest.raises(ConfigError, match="export it first"):
        io.load(run_dir)
    with pytest.raises(ConfigError, match="does not exist"):
        io.load(tmp_path / "nothing")
    folder = tmp_path / "renamed"
    assert main(["export", str(run_dir), str(folder)]) == 0
    meta = json.loads((folder / "config.json").read_text())
    meta["model"]["name"] = "musicnnn"
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="valid names: .*musicnn"):
        io.load(folder)


def test_predict_cli_prints_top_tags_and_reports_bad_files(run_dir, tmp_path, capsys):
    out = tmp_path / "model"
    assert main(["export", str(run_dir), str(out)]) == 0
    capsys.readouterr()
    t = np.arange(int(2.3 * SR)) / SR  # not a whole number of chunks
    good = tmp_path / "good.wav"
    sf.write(good, (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), SR)
    assert main(["predict", str(good), "--model", str(out), "--top", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == str(good) and len(lines) == 3
    probs = [float(line.split()[0]) for line in lines[1:]]
    assert probs == sorted(probs, reverse=True) and all(0 <= p <= 1 for p in probs)
    assert {line.split()[1] for line in lines[1:]} <= {"high", "low", "noise"}

    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    rc = main(["predict", str(bad), str(good), "--model", str(out), "--json"])
    captured = capsys.readouterr()
    assert rc == 1
    doc = json.loads(captured.out)
    assert [r["path"] for r in doc["results"]] == [str(good)]
    assert doc["failed"][0]["path"] == str(bad) and "bad.wav" in captured.err
    # the text output rounds to 3 decimals
    assert doc["results"][0]["top"][0]["probability"] == pytest.approx(probs[0], abs=5e-4)


def test_predict_file_averages_chunks_over_the_whole_file(tmp_path):
    from musicrep import audio, io
    from musicrep.models import create_model

    model = create_model(**{**TINY_MODEL, "num_outputs": 2}).eval()
    meta = {"task": "singlelabel", "sample_rate": SR, "input_samples": 8000}
    x = np.random.default_rng(0).standard_normal(int(2.3 * SR)).astype(np.float32) * 0.1
    sf.write(tmp_path / "x.wav", x, SR)
    probs = io.predict_file(model, meta, tmp_path / "x.wav", batch_size=2)
    wave, _ = audio.load(tmp_path / "x.wav")
    chunks = audio.equally_spaced_chunks(wave, 8000, 5, endpoint=True)  # ceil(2.3 / 0.5) = 5
    assert chunks[-1][-1] == wave[-1]  # the last chunk ends at the end of the file
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy(chunks)), -1).mean(0).numpy()
    np.testing.assert_allclose(probs, expected, rtol=1e-5)
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)


def test_predict_streams_and_matches_whole_file_chunking(run_dir, tmp_path, monkeypatch):
    """predict_file reads blocks (never the whole file) and gives the probabilities of the
    equally spaced chunks of the decoded file, for files shorter and longer than one chunk,
    at the model's rate and resampled."""
    from musicrep import audio, io
    from musicrep.evaluate_tracks import activation_for

    out = tmp_path / "model"
    assert main(["export", str(run_dir), str(out)]) == 0
    model, meta = io.load(out)
    n_in, act = int(meta["input_samples"]), activation_for(meta["task"])
    rng = np.random.default_rng(0)
    cases = []
    for name, seconds, rate in [("short", 0.3, SR), ("long", 7.3, SR), ("resampled", 5.1, 22050)]:
        path = tmp_path / f"{name}.wav"
        sf.write(path, 0.2 * rng.standard_normal(int(seconds * rate)).astype(np.float32), rate)
        wave, _ = audio.load(path, sr=int(meta["sample_rate"]))
        n = max(1, -(-len(wave) // n_in))
        chunks = audio.equally_spaced_chunks(wave, n_in, n, endpoint=True)
        with torch.no_grad():
            expected = act(model(torch.from_numpy(chunks)).float()).mean(0).numpy()
        cases.append((path, expected))

    def no_whole_file(*a, **k):
        raise AssertionError("predict_file must stream, not load the whole file")

    monkeypatch.setattr(audio, "load", no_whole_file)
    for path, expected in cases:
        stats = {}
        got = io.predict_file(model, meta, path, batch_size=3, stats=stats)
        np.testing.assert_allclose(got, expected, atol=1e-5, err_msg=path.name)
        assert stats["peak"] > 0 and stats["seconds"] > 0


def test_predict_warns_about_short_and_silent_files(run_dir, tmp_path, capsys):
    out = tmp_path / "model"
    assert main(["export", str(run_dir), str(out)]) == 0
    short, silent = tmp_path / "short.wav", tmp_path / "silent.wav"
    sf.write(short, 0.1 * np.ones(int(0.01 * SR), np.float32), SR)
    sf.write(silent, np.zeros(SR, np.float32), SR)
    capsys.readouterr()
    assert main(["predict", str(short), str(silent), "--model", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert [(w["path"], w["warning"].split()[0]) for w in doc["warnings"]] == [
        (str(short), "only"),
        (str(silent), "digitally"),
    ]
    assert captured.err.count("short.wav") == 1 and captured.err.count("silent.wav") == 1


def test_untrained_folder_is_the_same_architecture_with_seeded_random_weights(run_dir, tmp_path):
    from musicrep import io

    trained, meta, _ = io.load_model(run_dir)
    a, ameta, ident = io.load_model(f"untrained:{run_dir}", seed=3)
    b, _, _ = io.load_model(f"untrained:{run_dir}", seed=3)
    c, _, _ = io.load_model(f"untrained:{run_dir}", seed=4)
    assert ident == f"untrained:{Path(run_dir).resolve()}:seed=3" and ameta["untrained"]
    ta, tt = dict(a.state_dict()), dict(trained.state_dict())
    assert ta.keys() == tt.keys()  # same architecture, same input length
    assert a.encoder.input_samples == trained.encoder.input_samples
    weights = [k for k, v in tt.items() if v.is_floating_point() and v.dim() > 1]
    assert weights and all(not torch.equal(ta[k], tt[k]) for k in weights)
    assert all(torch.equal(ta[k], dict(b.state_dict())[k]) for k in weights)  # seeded
    assert any(not torch.equal(ta[k], dict(c.state_dict())[k]) for k in weights)
    exported = tmp_path / "exported"
    io.save_model(trained, exported, vocab=meta["vocab"], task=meta["task"])
    d, _, _ = io.load_model(f"untrained:{exported}", seed=3)
    assert dict(d.state_dict()).keys() == tt.keys()
    with pytest.raises(ConfigError, match="random weights"):
        io.load_model(f"untrained:{run_dir}", untrained_ok=False)
