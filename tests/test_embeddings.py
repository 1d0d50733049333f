"""musicrep.embeddings: the file format, readers and their errors, joining, the shared cache."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch import nn

from musicrep import embeddings as emb
from musicrep.cli import main
from musicrep.data import Manifest
from musicrep.errors import ConfigError

SR = 16000


class TinyEncoder(nn.Module):
    """0.1 s windows at 16 kHz -> 4-d."""

    sample_rate = SR
    embed_dim = 4
    input_samples = 1600

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.proj = nn.Linear(1600, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


@pytest.fixture
def wavs(tmp_path, rng):
    folder = tmp_path / "audio"
    folder.mkdir()
    for i, seconds in enumerate((0.35, 0.5, 0.2)):
        wave = 0.1 * rng.standard_normal(int(seconds * SR))
        sf.write(folder / f"c{i}.wav", wave.astype(np.float32), SR)
    return sorted(folder.glob("*.wav"))


@pytest.fixture
def embedded(tmp_path, wavs):
    """Per-file outputs and a combined file written by the Embedder (today's writer)."""
    from musicrep.embed import Embedder

    out = tmp_path / "emb"
    report = Embedder(TinyEncoder()).files(wavs, out, combine=out / "all.npz", progress=False)
    assert not report.failed
    return out


# ------------------------------------------------------------------------------- format


def test_writers_match_the_embedders_layout(embedded, tmp_path):
    """write_file_embeddings / write_combined write the arrays, dtypes and shapes that
    `musicrep embed` writes (so the embed pipeline can switch to them)."""
    with np.load(embedded / "c0.npz") as ref:
        ref = {k: ref[k] for k in ref.files}
    out = emb.write_file_embeddings(
        tmp_path / "x.npz",
        ref["embedding"],
        ref["timestamps"],
        ref["scene"],
        source=str(ref["path"]),
        model=str(ref["model"]),
        duration=float(ref["duration"]),
    )
    with np.load(out) as got:
        assert sorted(got.files) == sorted(emb.PER_FILE_KEYS) == sorted(ref)
        for k in ref:
            assert got[k].dtype == ref[k].dtype and got[k].shape == ref[k].shape, k
            np.testing.assert_array_equal(got[k], ref[k])
    with np.load(embedded / "all.npz") as ref:
        ref = {k: ref[k] for k in ref.files}
    out = emb.write_combined(
        tmp_path / "all.npz", list(ref["paths"]), ref["embeddings"], model=str(ref["model"])
    )
    with np.load(out) as got:
        assert sorted(got.files) == sorted(emb.COMBINED_KEYS) == sorted(ref)
        for k in ref:
            assert got[k].dtype == ref[k].dtype, k
            np.testing.assert_array_equal(got[k], ref[k])
    assert not list(tmp_path.glob(".*part*"))  # no temporary file left behind


def test_per_file_reader_round_trip(tmp_path):
    E = np.arange(6, dtype=np.float64).reshape(3, 2)
    emb.write_file_embeddings(
        tmp_path / "a.npz", E, [0.5, 1.5, 2.5], E.mean(0), source="/x/a.wav", model="m", duration=3
    )
    f = emb.read_file_embeddings(tmp_path / "a.npz")
    assert f.embedding.dtype == np.float32 and f.embedding.shape == (3, 2)
    np.testing.assert_array_equal(f.timestamps, [0.5, 1.5, 2.5])
    np.testing.assert_array_equal(f.scene, [2.0, 3.0])
    assert (f.source, f.model, f.duration) == ("/x/a.wav", "m", 3.0)
    one = emb.load(tmp_path / "a.npz")  # a single per-file output reads as one row
    assert list(one.paths) == ["/x/a.wav"] and one.X.shape == (1, 2) and one.model == "m"


def test_folder_of_per_file_outputs_equals_the_combined_file(embedded, wavs):
    combined = emb.load(embedded / "all.npz")
    folder = emb.load(embedded)  # all.npz inside the folder is skipped
    assert sorted(folder.paths) == sorted(combined.paths) == [str(w) for w in wavs]
    order = np.argsort(combined.paths)
    np.testing.assert_array_equal(folder.X[np.argsort(folder.paths)], combined.X[order])
    assert folder.model == combined.model != ""


def test_folder_with_two_models_is_refused(embedded):
    E = np.zeros((1, 4))
    emb.write_file_embeddings(
        embedded / "z.npz", E, [0.1], E[0], source="/z.wav", model="other", duration=0.1
    )
    with pytest.raises(ConfigError, match="different models"):
        emb.load(embedded)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("m.csv", b"path,labels,split\na.wav,x,train\n", "is a CSV, not an embeddings file"),
        ("e.npz", b"", "is empty"),
        ("e.npz", b"RIFF\x00\x00\x00\x00WAVEfmt ", "is an audio file"),
        ("e.txt", b"hello\n", "is a text file"),
    ],
)
def test_not_an_npz_says_what_it_is(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        emb.load(tmp_path / name)


def test_npy_pickle_and_damaged_files(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 3)))
    with pytest.raises(ConfigError, match=r"\.npy array without file paths"):
        emb.load(tmp_path / "x.npy")
    np.savez(
        tmp_path / "obj.npz", paths=np.array(["a", None], dtype=object), embeddings=np.ones((2, 2))
    )
    with pytest.raises(ConfigError, match="object \\(pickled\\) arrays"):
        emb.load(tmp_path / "obj.npz")
    emb.write_combined(tmp_path / "ok.npz", ["a", "b"], np.ones((2, 2)))
    data = (tmp_path / "ok.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ConfigError, match="damaged"):
        emb.load(tmp_path / "cut.npz")


def test_cli_csv_as_embeddings_is_a_usage_error(tmp_path, capsys):
    """Issue 14: a manifest CSV passed as --embeddings said "contains pickled (object) data"."""
    m = tmp_path / "style.csv"
    m.write_text("path,labels,split\na.wav,x,train\nb.wav,y,test\n")
    assert main(["evaluate", "--embeddings", str(m), "--manifest", str(m), "-q"]) == 2
    err = capsys.readouterr().err
    assert "is a CSV, not an embeddings file" in err and "--combine" in err
    assert "pickled" not in err and "Traceback" not in err


# ------------------------------------------------------------------------------- joining


def test_join_reads_relative_paths_against_the_embeddings_folder(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    m = tmp_path / "data" / "m.csv"
    m.write_text("path,labels,split\n../audio/a.wav,x,train\n../audio/b.wav,y,test\n")
    store = tmp_path / "out" / "emb"
    # paths relative to the embeddings file's folder (out/emb/../../audio/...): read against
    # the manifest's folder (data/) they would point outside tmp_path
    emb.write_combined(store / "e.npz", ["../../audio/b.wav", "../../audio/a.wav"], np.eye(2))
    monkeypatch.chdir(tmp_path / "data")  # not the working directory either
    e = emb.load(store / "e.npz")
    j = e.join(Manifest.read(m))
    assert j.matched_by["path"] == 2 and not j.missing
    np.testing.assert_array_equal(j.X, np.eye(2)[[1, 0]])
    np.testing.assert_array_equal(j.positions, [0, 1])


def test_join_positions_and_note(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("path,labels,split\na.wav,x,train\nb.wav,y,train\nc.wav,x,test\n")
    j = emb.join(Manifest.read(m), [str(tmp_path / "c.wav"), str(tmp_path / "a.wav")], np.eye(2))
    np.testing.assert_array_equal(j.positions, [0, 2])
    assert j.note().startswith("1 of 3 manifest row(s) have no embedding") and "b.wav" in j.note()


# ------------------------------------------------------------------------------- cache


def test_cache_key_scheme(tmp_path):
    files = [tmp_path / "a.wav", tmp_path / "b.wav"]
    key = emb.cache_key("musicnn", files)
    assert key.startswith("musicnn-") and len(key.split("-")[-1]) == 16
    assert emb.cache_key("musicnn", files[::-1]) == key  # order of the files does not matter
    assert emb.cache_key("musicnn", files[:1]) != key
    assert emb.cache_key("musicnn", files, seed=1) != key  # untrained weights drawn by the seed
    assert emb.cache_key("musicnn", files, device="cuda") != key
    model = tmp_path / "models" / "m"
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"1234")
    (model / "notes.txt").write_text("not part of the model")
    k1 = emb.cache_key(model, files)
    assert k1.startswith("m-") and emb.cache_key(model, files, seed=5) == k1  # trained: no seed
    (model / "notes.txt").write_text("edited")
    assert emb.cache_key(model, files) == k1
    os.utime(model / "model.safetensors", ns=(1, 1))  # re-exported weights: a new entry
    assert emb.cache_key(model, files) != k1


class _StandIn:
    """An Embedder stand-in that records its runs and fails on files named bad*."""

    runs: list[list[str]] = []
    name, embed_dim, sample_rate, window_seconds = "stand-in", 2, SR, 1.0

    def __init__(self, model, *, batch_size=16, seed=0, device="cpu", nan_policy="raise"):
        self.model = model

    def files(self, inputs, out_dir, *, combine=None, overwrite=False, progress=True):
        _StandIn.runs.append(list(inputs))
        ok = [p for p in inputs if not Path(p).name.startswith("bad")]

        class Report:
            failed = [(p, "cannot decode") for p in inputs if p not in ok]
            outputs = [(p, p) for p in ok]
            written, skipped, elapsed, audio_seconds = ok, [], 0.5, 2.0

        emb.write_combined(combine, ok, np.ones((len(ok), 2)), model=self.name)
        return Report()


def test_cache_reuses_and_retries_failures(tmp_path, monkeypatch):
    import musicrep.embed

    monkeypatch.setattr(musicrep.embed, "Embedder", _StandIn)
    _StandIn.runs = []
    cache = emb.EmbeddingCache(tmp_path / "cache")
    files = [str(tmp_path / "a.wav"), str(tmp_path / "bad.wav")]
    first = cache.get("mfcc", files, progress=False)
    assert not first.cached and first.failed == [(files[1], "cannot decode")]
    assert (cache.root / f"{first.key}.failed.txt").is_file()
    again = cache.get("mfcc", files, progress=False)  # failures: retried
    assert not again.cached and len(_StandIn.runs) == 2
    good = files[:1]
    made = cache.get("mfcc", good, progress=False)
    assert not made.cached and made.meta["embedded"] == 1 and "load_seconds" in made.meta
    hit = cache.get("mfcc", good, progress=False)
    assert hit.cached and hit.key == made.key and len(_StandIn.runs) == 3
    assert hit.meta["model_name"] == "stand-in" and hit.meta["audio_seconds"] == 2.0
    assert list(emb.load(hit.npz).paths) == good
