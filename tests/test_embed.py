"""Embedder: framing, timestamps, scene, long files, layers, the MFCC baseline and the CLI."""

from __future__ import annotations

import os

import librosa
import numpy as np
import pytest
import soundfile as sf
import soxr
import torch
from torch import nn

from musicrep import audio
from musicrep.cli import main
from musicrep.embed import (
    Embedder,
    EncoderEmbedding,
    _Framer,
    frame_starts,
    layer_names,
    resolve_model,
)
from musicrep.errors import ConfigError
from musicrep.features import MfccStatsStream, mfcc_stats

SR = 16000


class TinyEncoder(nn.Module):
    """A stand-in encoder: 0.1 s windows at 16 kHz -> 8-d (fast enough for long files)."""

    sample_rate = SR
    embed_dim = 8

    def __init__(self, input_samples: int = 1600):
        super().__init__()
        self.input_samples = input_samples
        torch.manual_seed(0)
        self.conv = nn.Conv1d(1, 6, 16, stride=8)
        self.proj = nn.Linear(6, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv(x[:, None]))
        return self.proj(h.mean(-1))


@pytest.fixture(scope="module")
def tiny() -> Embedder:
    return Embedder(TinyEncoder(), batch_size=5)


def _noise(seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal(int(round(seconds * sr)))).astype(np.float32)


def _direct(enc: nn.Module, windows: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return enc(torch.from_numpy(windows)).numpy()


# ----------------------------------------------------------------------------- framing


def test_timestamps_are_window_centres_and_rows_are_the_windows(tiny):
    x = _noise(1.05)  # 16800 samples: 10 full windows + one padded
    emb, ts = tiny.timestamps(x, SR)
    assert emb.shape == (11, 8) and emb.dtype == np.float32 and ts.dtype == np.float64
    np.testing.assert_allclose(ts[:10], 0.05 + 0.1 * np.arange(10))
    assert ts[10] == pytest.approx((16000 + 800 / 2) / SR)  # centre of the audio it holds
    windows = np.zeros((11, 1600), np.float32)
    for k in range(11):
        seg = x[k * 1600 : (k + 1) * 1600]
        windows[k, : len(seg)] = seg
    np.testing.assert_allclose(emb, _direct(tiny.model.encoder, windows), atol=1e-6)


def test_hop_option_and_fractional_hop_does_not_drift(tiny):
    x = _noise(1.05)
    emb, ts = tiny.timestamps(x, SR, hop=0.05)
    assert emb.shape == (20, 8)  # the 20th window (start 0.95 s) is the first to reach the end
    np.testing.assert_allclose(np.diff(ts[:-1]), 0.05)
    # a hop of 533.28 samples: each start is rounded on its own, so the error stays < 1 sample
    hop = 533.28 / SR
    starts, valid = frame_starts(10 * SR, 1600, hop * SR)
    k = np.arange(len(starts))
    assert np.abs(starts - k * hop * SR).max() <= 0.5
    emb, ts = tiny.timestamps(_noise(10.0), SR, hop=hop)
    np.testing.assert_allclose(ts, (starts + valid / 2) / SR)
    with pytest.raises(ConfigError, match="hop"):
        tiny.timestamps(x, SR, hop=0.0)


def test_framer_matches_frame_starts_for_any_blocks():
    rng = np.random.default_rng(1)
    for n, window, hop in [(1, 50, 50.0), (499, 50, 50.0), (500, 50, 17.3), (1234, 100, 150.0)]:
        x = rng.standard_normal(n).astype(np.float32)
        framer = _Framer(window, hop)
        got = []
        for i in range(0, n, 37):
            got += [(w.copy(), s, v) for w, s, v in framer.push(x[i : i + 37])]
        got += list(framer.finish())
        starts, valid = frame_starts(n, window, hop)
        assert [g[1] for g in got] == starts.tolist()
        assert [g[2] for g in got] == valid.tolist()
        for w, s, v in got:
            np.testing.assert_array_equal(w[:v], x[s : s + v])
            assert not w[v:].any()


def test_short_clip_is_one_zero_padded_window_at_the_clip_centre(tiny):
    x = _noise(0.04)  # 640 samples < 1600
    emb, ts = tiny.timestamps(x, SR)
    assert emb.shape == (1, 8)
    np.testing.assert_allclose(ts, [0.02])
    padded = np.zeros((1, 1600), np.float32)
    padded[0, :640] = x
    np.testing.assert_allclose(emb, _direct(tiny.model.encoder, padded), atol=1e-6)


def test_scene_is_mean_of_frames_and_resamples_and_mixes_down(tiny):
    x = _noise(0.73)
    emb, _ = tiny.timestamps(x, SR)
    np.testing.assert_allclose(tiny.scene(x, SR), emb.mean(0), atol=1e-6)
    stereo = np.stack([x, 0.5 * x])
    np.testing.assert_allclose(tiny.scene(stereo, SR), tiny.scene(0.75 * x, SR), atol=1e-6)
    x8 = _noise(0.73, sr=8000)
    up = soxr.resample(x8, 8000, SR, quality="HQ")
    np.testing.assert_allclose(tiny.scene(x8, 8000), tiny.scene(up, SR), atol=1e-4)
    with pytest.raises(ConfigError, match="empty"):
        tiny.scene(np.zeros(0, np.float32), SR)


def test_three_minute_file_via_blocks_equals_whole_file(tmp_path):
    x = _noise(180.0, seed=3)
    path = tmp_path / "long.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    emb = Embedder(TinyEncoder(8000), batch_size=256, block_seconds=7.3)
    whole, _ = audio.load(path, sr=SR)
    for hop in (None, 0.3712):  # windows across every block boundary, fractional hop
        a, ta = emb.file(path, hop=hop)
        b, tb = emb.timestamps(whole, SR, hop=hop)
        assert a.shape == b.shape and a.shape[0] >= 360
        np.testing.assert_allclose(a, b, atol=1e-5)
        np.testing.assert_array_equal(ta, tb)


def test_resampled_file_via_blocks_matches_whole_file(tmp_path):
    path = tmp_path / "r.flac"
    sf.write(path, _noise(20.0, sr=22050, seed=4), 22050)
    emb = Embedder(TinyEncoder(), block_seconds=3.0)
    a, ta = emb.file(path)
    b, tb = emb.timestamps(*audio.load(path))
    np.testing.assert_allclose(a, b, atol=1e-4)
    np.testing.assert_allclose(ta, tb)


# ----------------------------------------------------------------------------- models


def test_zoo_name_is_seeded_untrained_encoder():
    a = resolve_model("samplecnn", seed=1)
    b = resolve_model("samplecnn", seed=1)
    c = resolve_model("samplecnn", seed=2)
    pa, pb, pc = (next(m.encoder.parameters()) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)
    assert a.name == "untrained:samplecnn:seed=1" and a.embed_dim == 512
    with pytest.raises(ConfigError, match="samplecnn"):  # the hint lists the zoo names
        resolve_model("no_such_model")


def test_zoo_embedder_scene_and_frames():
    emb = Embedder("samplecnn", batch_size=4)
    x = _noise(5.0)
    frames, ts = emb.timestamps(x, SR)
    assert frames.shape == (2, 512) and emb.window_samples == 59049
    np.testing.assert_allclose(ts, [59049 / 2 / SR, (59049 + (80000 - 59049) / 2) / SR])
    np.testing.assert_allclose(emb.scene(x, SR), frames.mean(0), atol=1e-5)


def test_exported_model_folder_is_loaded_with_its_weights(tmp_path):
    from musicrep.io import save_model
    from musicrep.models import create_model

    torch.manual_seed(5)
    model = create_model("samplecnn", num_outputs=3).eval()
    save_model(model, tmp_path / "m", vocab=["a", "b", "c"], task="multilabel")
    emb = resolve_model(tmp_path / "m")
    assert emb.name == str((tmp_path / "m").resolve())
    x = torch.from_numpy(_noise(59049 / SR))[None]
    with torch.no_grad():
        np.testing.assert_allclose(emb(x).numpy(), model.encoder(x).numpy(), atol=1e-5)
    with pytest.raises(ConfigError, match="not an exported model"):
        resolve_model(tmp_path)


def test_layer_embedding_is_pooled_hook_output_and_unknown_layer_lists_names(tiny):
    enc = TinyEncoder()
    emb = Embedder(enc, layer="conv")
    assert emb.embed_dim == 6 and emb.name.endswith("#layer=conv")
    x = _noise(0.3)
    frames, _ = emb.timestamps(x, SR)
    with torch.no_grad():
        w = torch.from_numpy(np.stack([x[i * 1600 : (i + 1) * 1600] for i in range(3)]))
        ref = enc.conv(w[:, None]).mean(-1).numpy()
    np.testing.assert_allclose(frames, ref, atol=1e-6)
    assert layer_names(enc) == ["conv", "proj"]
    with pytest.raises(ConfigError) as err:
        Embedder(enc, layer="nope")
    assert "conv (6)" in str(err.value) and "proj (8)" in str(err.value)
    with pytest.raises(ConfigError, match="neural encoder"):
        Embedder("mfcc", layer="conv")


def test_layer_on_zoo_model_sequence_module_pools_over_time():
    emb = EncoderEmbedding(resolve_model("crnn").encoder, "crnn", layer="backend.rnn")
    assert emb.embed_dim == 32  # GRU outputs (batch, time, hidden): channels last


# ----------------------------------------------------------------------------- MFCC baseline


def test_mfcc_stats_matches_librosa():
    x = _noise(2.5, sr=22050) * np.linspace(0, 1, int(2.5 * 22050), dtype=np.float32)
    got = mfcc_stats(x, 22050)
    m = librosa.feature.mfcc(y=x, sr=22050, n_mfcc=20)
    d1 = librosa.feature.delta(m, width=5, mode="nearest")
    d2 = librosa.feature.delta(m, width=5, order=2, mode="nearest")
    ref = np.concatenate([m.mean(1), m.std(1), d1.mean(1), d1.std(1), d2.mean(1), d2.std(1)])
    assert got.shape == (120,)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-4)
    var = mfcc_stats(x, 22050, spread="var")
    np.testing.assert_allclose(var[20:40], m.var(1), rtol=1e-4)
    batch = mfcc_stats(np.stack([x, 0.01 * x]), 22050)  # items never share a dB floor
    np.testing.assert_allclose(batch[1], mfcc_stats(0.01 * x, 22050), rtol=1e-5, atol=1e-4)


def test_mfcc_stream_equals_whole_clip():
    x = _noise(3.3, sr=22050, seed=7)
    stream = MfccStatsStream(22050)
    for i in range(0, len(x), 5000):
        stream.update(x[i : i + 5000])
    np.testing.assert_allclose(stream.result(), mfcc_stats(x, 22050), rtol=1e-5, atol=1e-4)


def test_mfcc_embedder_scene_is_whole_clip_stats_and_frames_are_per_window(tmp_path):
    emb = Embedder("mfcc")
    assert (emb.embed_dim, emb.sample_rate, emb.window_samples) == (120, 22050, 22050)
    x = _noise(2.5, sr=22050, seed=2)
    np.testing.assert_allclose(emb.scene(x, 22050), mfcc_stats(x, 22050), rtol=1e-5, atol=1e-4)
    frames, ts = emb.timestamps(x, 22050)
    assert frames.shape == (3, 120)
    np.testing.assert_allclose(frames[1], mfcc_stats(x[22050:44100], 22050), rtol=1e-5, atol=1e-4)
    path = tmp_path / "m.wav"
    sf.write(path, x, 22050, subtype="FLOAT")
    f_frames, f_ts, f_scene, seconds = Embedder("mfcc", block_seconds=1.0).file_embedding(path)
    np.testing.assert_allclose(f_scene, mfcc_stats(x, 22050), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(f_frames, frames, rtol=1e-5, atol=1e-4)
    assert seconds == pytest.approx(2.5)


def test_feature_embedder_pools_registry_features_per_window():
    from musicrep.features import create_feature

    emb = Embedder("feature:chroma")
    fx = create_feature("chroma")
    assert (emb.embed_dim, emb.sample_rate, emb.window_samples) == (24, 16000, 16000)
    x = _noise(2.0, sr=16000, seed=4)
    frames, _ = emb.timestamps(x, 16000)
    assert frames.shape == (2, 24)
    f = fx(torch.from_numpy(x[16000:32000]).float()[None])[0]
    expected = torch.cat([f.mean(-1), f.std(-1, unbiased=False)]).numpy()
    np.testing.assert_allclose(frames[1], expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(emb.scene(x, 16000), frames.mean(0), rtol=1e-5, atol=1e-5)
    assert resolve_model("scattering").name == "feature:scattering"
    with pytest.raises(ConfigError, match="unknown feature 'nope'"):
        resolve_model("feature:nope")


# ----------------------------------------------------------------------------- files + CLI


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    sf.write(root / "a.wav", _noise(0.35, seed=1), SR)
    sf.write(root / "sub" / "b.flac", _noise(0.2, sr=22050, seed=2), 22050)
    sf.write(root / "c.wav", _noise(0.05, seed=3), SR)
    (root / "broken.wav").write_text("<html>this is not audio</html>")
    (root / "notes.txt").write_text("ignored: not an audio extension")
    return root


def test_files_writes_npz_mirrors_folders_and_collects_failures(folder, tmp_path, tiny):
    out = tmp_path / "out"
    report = tiny.files([folder], out, recursive=True, combine=out / "all.npz", progress=False)
    assert sorted(p.relative_to(out).as_posix() for p in report.written) == [
        "a.npz",
        "c.npz",
        "sub/b.npz",
    ]
    assert [(p.name, "not a recognised" in r) for p, r in report.failed] == [("broken.wav", True)]
    with np.load(out / "a.npz") as d:
        assert d["embedding"].shape == (4, 8) and d["timestamps"].shape == (4,)
        assert str(d["path"]) == str((folder / "a.wav").resolve())
        assert str(d["model"]) == tiny.name
        np.testing.assert_allclose(d["scene"], d["embedding"].mean(0), atol=1e-6)
    with np.load(out / "all.npz") as d:
        paths, matrix = d["paths"], d["embeddings"]
    assert matrix.shape == (3, 8) and paths.dtype.kind == "U"
    for p, row in zip(paths, matrix):
        wave, sr = audio.load(p)
        np.testing.assert_allclose(row, tiny.scene(wave, sr), atol=1e-5)
    # not recursive: sub-folders are not searched
    flat = tiny.files(folder, tmp_path / "flat", progress=False)
    assert len(flat.written) == 2


def test_rerun_skips_existing_overwrite_rewrites_and_combine_is_complete(folder, tmp_path, tiny):
    out = tmp_path / "out"
    tiny.files([folder / "a.wav"], out, progress=False)
    old = 1_000_000_000
    os.utime(out / "a.npz", (old, old))
    report = tiny.files([folder], out, combine=tmp_path / "all.npz", progress=False)
    assert report.skipped == [out / "a.npz"] and (out / "a.npz").stat().st_mtime == old
    assert [p.name for p in report.written] == ["c.npz"]
    with np.load(tmp_path / "all.npz") as d:  # built from the kept output too
        assert [os.path.basename(p) for p in d["paths"]] == ["a.wav", "c.wav"]
    report = tiny.files([folder], out, overwrite=True, progress=False)
    assert len(report.written) == 2 and (out / "a.npz").stat().st_mtime > old
    other = Embedder(TinyEncoder(), layer="conv")  # another model: its outputs are not reused
    report = other.files([folder / "a.wav"], out, progress=False)
    assert "made by model" in report.failed[0][1]
    (out / "a.npz").write_bytes(b"PK\x03\x04 interrupted")  # a damaged kept output
    report = tiny.files([folder / "a.wav"], out, progress=False)
    assert "is unreadable" in report.failed[0][1] and "--overwrite" in report.failed[0][1]


def test_outputs_are_atomic_when_a_write_fails(folder, tmp_path, tiny, monkeypatch):
    out = tmp_path / "out"
    real = np.savez
    calls = {"n": 0}

    def flaky(fh, **arrays):
        calls["n"] += 1
        if calls["n"] == 2:
            fh.write(b"PK\x03\x04 half a file")
            raise OSError("disk full")
        real(fh, **arrays)

    monkeypatch.setattr(np, "savez", flaky)
    report = tiny.files([folder / "a.wav", folder / "c.wav"], out, progress=False)
    assert [p.name for p in report.written] == ["a.npz"]
    assert "disk full" in report.failed[0][1]
    assert sorted(p.name for p in out.iterdir()) == ["a.npz"]  # no partial file left


def test_name_collisions_get_distinct_outputs(tmp_path, tiny):
    for d in ("x", "y"):
        (tmp_path / d).mkdir()
        sf.write(tmp_path / d / "s.wav", _noise(0.1), SR)
    sf.write(tmp_path / "x" / "s.flac", _noise(0.1), SR)
    files = [tmp_path / "x" / "s.wav", tmp_path / "y" / "s.wav", tmp_path / "x" / "s.flac"]
    report = tiny.files(files, tmp_path / "out", progress=False)
    names = sorted(p.name for p in report.written)
    assert len(set(names)) == 3 and "s.flac.npz" in names


def test_cli_folder_with_corrupt_file(folder, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["embed", str(folder), "--model", "mfcc", "--out", str(out), "--combine"]
    code = main([*argv, str(out / "all.npz"), "--recursive", "-q"])
    captured = capsys.readouterr()
    assert code == 1
    assert "broken.wav" in captured.out and "failed 1" in captured.out
    assert (out / "a.npz").is_file() and (out / "sub" / "b.npz").is_file()
    with np.load(out / "all.npz") as d:
        assert d["embeddings"].shape == (3, 120)
    code = main(["embed", str(folder / "a.wav"), "--model", "mfcc", "--out", str(out)])
    assert code == 0 and "skipped 1" in capsys.readouterr().out
    assert main(["embed", str(folder / "a.wav"), "--model", "nope", "--out", str(out)]) == 2


def test_cli_layer_list(capsys):
    code = main(["embed", "x.wav", "--model", "samplecnn", "--out", "o", "--layer", "list"])
    names = capsys.readouterr().out.split()
    assert code == 0 and "backend.blocks.3" in names


# ----------------------------------------------------------------------------- parallel pipeline


@pytest.fixture
def varied(tmp_path):
    """Files of many lengths and rates (short ones share batches; one long one streams)."""
    root = tmp_path / "varied"
    root.mkdir()
    for i, seconds in enumerate([0.05, 0.1, 0.35, 0.02, 1.3, 0.26, 2.7, 0.6]):
        sr = 22050 if i % 3 == 1 else SR
        sf.write(root / f"f{i}.wav", _noise(seconds, sr=sr, seed=i), sr)
    sf.write(root / "zz_long.flac", _noise(12.0, seed=99), SR)
    (root / "broken.wav").write_text("not audio")
    return root


def _outputs(out):
    result = {}
    for p in sorted(out.rglob("*.npz")):
        with np.load(p) as d:
            result[p.relative_to(out).as_posix()] = {k: d[k] for k in d.files}
    return result


@pytest.mark.parametrize("model, hop", [("tiny", None), ("tiny", 0.037), ("mfcc", 0.5)])
def test_parallel_pipeline_matches_sequential_file_by_file(varied, tmp_path, model, hop):
    def make(workers):
        m = TinyEncoder() if model == "tiny" else "mfcc"
        e = Embedder(m, batch_size=7, workers=workers, block_seconds=1.0)
        e.pack_bytes = 200_000  # the 12 s file streams (the long-file path), the rest pack
        return e

    reports, outs = [], []
    for workers in (0, 2):
        out = tmp_path / f"out{workers}"
        reports.append(
            make(workers).files(varied, out, hop=hop, combine=out / "all.npz", progress=False)
        )
        outs.append(_outputs(out))
    seq, par = outs
    assert sorted(seq) == sorted(par) and len(seq) == 10  # 9 files + all.npz
    for name in seq:
        for key in seq[name]:
            a, b = seq[name][key], par[name][key]
            if a.dtype.kind in "fc":
                np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6, err_msg=f"{name}:{key}")
            else:
                assert (a == b).all(), (name, key)
    assert [p.name for p, _ in reports[0].failed] == [p.name for p, _ in reports[1].failed]
    assert reports[0].warnings == reports[1].warnings
    assert [(s, d.name) for s, d in reports[0].outputs] == [
        (s, d.name) for s, d in reports[1].outputs
    ]


def test_short_batches_are_packed_across_files(varied, tmp_path):
    calls = []
    e = Embedder(TinyEncoder(), batch_size=16, workers=1)
    real = e._run_windows
    e._run_windows = lambda w: calls.append(len(w)) or real(w)
    files = sorted(varied.glob("f*.wav"))
    e.files(files, tmp_path / "o", progress=False)
    # 8 files of 1 to 27 windows: one forward pass per 16 windows, not one per file
    total = sum(calls)
    assert len(calls) == -(-total // 16) and all(c == 16 for c in calls[:-1])


def test_cpu_forward_runs_in_sub_batches_with_the_same_outputs(tmp_path, monkeypatch):
    import musicrep.embed.pipeline as pipeline

    sf.write(tmp_path / "x.wav", _noise(2.0, seed=5), SR)  # 20 windows
    whole = Embedder(TinyEncoder(), batch_size=16)
    assert whole.forward_batch == 16  # tiny layer outputs: the whole batch at once
    monkeypatch.setattr(pipeline, "CPU_TENSOR_BYTES", 2 * 6 * 199 * 4)  # conv output, 2 windows
    split = Embedder(TinyEncoder(), batch_size=16)
    assert split.forward_batch == 2 and split.batch_size == 16
    sizes = []
    real = split._forward
    split._forward = lambda x: sizes.append(len(x)) or real(x)
    a, b = whole.file(tmp_path / "x.wav"), split.file(tmp_path / "x.wav")
    assert sizes == [2] * 10
    np.testing.assert_allclose(b[0], a[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(b[1], a[1])


def test_shards_write_the_same_files_as_one_job(varied, tmp_path):
    one = Embedder(TinyEncoder(), workers=0).files(varied, tmp_path / "one", progress=False)
    out = tmp_path / "sharded"
    for i in range(3):
        Embedder(TinyEncoder(), workers=1).files(varied, out, shard=f"{i}/3", progress=False)
    a, b = _outputs(tmp_path / "one"), _outputs(out)
    assert sorted(a) == sorted(b) and len(a) == len(one.written)
    for name in a:
        np.testing.assert_allclose(b[name]["embedding"], a[name]["embedding"], atol=1e-6)
    with pytest.raises(ConfigError, match="i/N"):
        Embedder(TinyEncoder()).files(varied, out, shard="3", progress=False)
    with pytest.raises(ConfigError, match="0 <= i < N"):
        Embedder(TinyEncoder()).files(varied, out, shard="3/3", progress=False)


# ----------------------------------------------------------------------------- bad input (#14)


def test_missing_input_is_an_argument_error_and_combine_is_kept(folder, tmp_path, capsys):
    out = tmp_path / "out"
    combine = tmp_path / "existing.npz"
    assert (
        main(
            [
                "embed",
                str(folder / "a.wav"),
                "--model",
                "mfcc",
                "--out",
                str(out),
                "--combine",
                str(combine),
                "-q",
            ]
        )
        == 0
    )
    before = combine.read_bytes()
    capsys.readouterr()
    code = main(
        [
            "embed",
            str(tmp_path / "typo_dir"),
            "--model",
            "mfcc",
            "--out",
            str(out),
            "--combine",
            str(combine),
            "-q",
        ]
    )
    assert code == 2 and "typo_dir" in capsys.readouterr().err
    assert combine.read_bytes() == before
    # inputs that all fail: the combine file is not replaced by an empty one
    code = main(
        [
            "embed",
            str(folder / "broken.wav"),
            "--model",
            "mfcc",
            "--out",
            str(out),
            "--combine",
            str(combine),
            "-q",
        ]
    )
    assert code == 1 and combine.read_bytes() == before
    assert "not written: no input was embedded (the existing file is kept)" in (
        capsys.readouterr().out
    )


def test_broken_symlink_in_a_folder_is_listed_as_failed(tmp_path, tiny):
    root = tmp_path / "in"
    root.mkdir()
    sf.write(root / "a.wav", _noise(0.3), SR)
    os.symlink(tmp_path / "gone.wav", root / "link.wav")
    report = tiny.files(root, tmp_path / "out", progress=False)
    assert [p.name for p in report.written] == ["a.npz"]
    assert [(p.name, "broken symbolic link" in r) for p, r in report.failed] == [("link.wav", True)]


def test_short_and_silent_files_are_warned_once_each(tmp_path, tiny, capsys):
    root = tmp_path / "in"
    root.mkdir()
    sf.write(root / "short.wav", _noise(0.01), SR)
    sf.write(root / "silent.wav", np.zeros(SR, np.float32), SR)
    sf.write(root / "ok.wav", _noise(0.5), SR)
    for workers in (0, 1):
        report = Embedder(TinyEncoder(), workers=workers).files(
            root, tmp_path / f"o{workers}", progress=False
        )
        assert len(report.written) == 3 and not report.failed
        got = [(p.name, r.split(" ")[0]) for p, r in report.warnings]
        assert got == [("short.wav", "only"), ("silent.wav", "digitally")]
    out = tmp_path / "cli"
    assert main(["embed", str(root), "--model", "mfcc", "--out", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert "warnings 2" in text and text.count("short.wav") == 1


@pytest.mark.parametrize("hop", ["0", "-1", "nan"])
def test_bad_hop_is_an_argument_error_before_any_work(folder, tmp_path, capsys, hop):
    out = tmp_path / "out"
    code = main(["embed", str(folder), "--model", "mfcc", "--out", str(out), f"--hop={hop}"])
    assert code == 2 and "--hop" in capsys.readouterr().err and not out.exists()
