"""AV training data and evaluation: the frames view follows the audio, video decoding (PyAV,
frame folders), the AV table command, and the VoxCeleb adapter on a fake layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from musicrep.data.manifest import Manifest
from musicrep.errors import ConfigError
from musicrep.objectives.base import View

SR = 16000


def write_av_data(root: Path, speakers=4, utts=3, seconds=1.0, fps=25) -> Path:
    """Utterances whose video frame ``i`` holds the value ``i`` in the red channel (so the
    frames a view picks tell which times they show); speakers 0-1 test, the others train."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows = ["path,labels,split,video"]
    for s in range(speakers):
        for u in range(utts):
            name = f"s{s}_u{u}"
            n = int(seconds * SR) + 800 * u  # different lengths
            wave = 0.3 * np.sin(2 * np.pi * (200 + 100 * s) * np.arange(n) / SR)
            sf.write(
                root / f"{name}.wav", (wave + 0.01 * rng.standard_normal(n)).astype(np.float32), SR
            )
            t = int(np.ceil(n / SR * fps))
            frames = np.zeros((t, 12, 12, 3), np.uint8)
            frames[..., 0] = np.arange(t)[:, None, None]
            frames[..., 1] = 40 * s
            np.save(root / f"{name}.npy", frames)
            split = "test" if s < 2 else ("valid" if u == utts - 1 else "train")
            rows.append(f"{name}.wav,spk{s},{split},{name}.npy")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root / "manifest.csv"


def _dataset(manifest, views, samples=8000, split="train", seed=0, epoch=0):
    from musicrep.training.data import ViewDataset

    ds = ViewDataset(Manifest.read(manifest), split, views, [], SR, samples, None, seed)
    ds.set_epoch(epoch)
    return ds


def test_frames_view_shows_the_audio_crop(tmp_path):
    manifest = write_av_data(tmp_path)
    opts = {"size": 12, "fps": 25}
    ds = _dataset(manifest, [View("wave"), View("f", "frames", source="wave", options=opts)])
    for epoch in (0, 1):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            item = ds[i]
            start = ds.crop_start(i, (), 8000) / SR  # seconds (same rate)
            first = int(np.floor(start * 25 + 1e-6))
            got = (item["f"][:, 0, 0, 0] * 255).round().long()
            assert item["f"].shape == (13, 3, 12, 12)  # ceil(0.5 s * 25)
            assert got.tolist() == list(range(first, first + 13))
            # the audio is that crop
            full, _ = sf.read(ds.items[i].path, dtype="float32")
            off = ds.crop_start(i, (), 8000)
            np.testing.assert_allclose(item["wave"].numpy(), full[off : off + 8000], atol=1e-4)
            assert bool(item["f_mask"].all())
    # evenly spread frames: num_frames centres of the window
    opts = {"size": 6, "fps": 25, "num_frames": 4}
    ds = _dataset(manifest, [View("wave"), View("f", "frames", source="wave", options=opts)])
    item = ds[0]
    start = ds.crop_start(0, (), 8000) / SR
    want = [int(np.floor((start + (k + 0.5) * 0.5 / 4) * 25 + 1e-6)) for k in range(4)]
    assert item["f"].shape == (4, 3, 6, 6)
    assert (item["f"][:, 0, 0, 0] * 255).round().long().tolist() == want


def test_frames_view_of_a_track_view_masks_frames_past_the_end(tmp_path):
    manifest = write_av_data(tmp_path, seconds=0.5)
    views = [
        View("wave", "track", chunks=2),
        View("f", "frames", source="wave", options={"size": 12}),
    ]
    ds = _dataset(manifest, views, samples=12000, split="test")
    item = ds[0]  # 0.5 s utterance, 0.75-s windows: padded
    assert item["f"].shape == (2, 19, 3, 12, 12) and item["ok"]
    assert item["f_mask"][0].sum() == 13 and not item["f_mask"][0, 13:].any()
    assert (item["f"][0, 13:] == 0).all()
    with pytest.raises(ConfigError, match="unknown option"):
        _dataset(manifest, [View("wave"), View("f", "frames", source="wave", options={"x": 1})])
    with pytest.raises(ConfigError, match="needs a source"):
        View("f", "frames")


def test_missing_video_column_is_a_clear_error(tmp_path):
    from musicrep.errors import AudioError

    manifest = write_av_data(tmp_path)
    text = manifest.read_text().replace(",s2_u0.npy", ",")
    manifest.write_text(text)
    ds = _dataset(manifest, [View("wave"), View("f", "frames", source="wave")])
    with pytest.raises(AudioError, match="no 'video' entry"):
        ds._make(0)


def _write_mp4(path: Path, frames: np.ndarray, fps: int = 25) -> None:
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=fps)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        s.options = {"qscale": "1"}
        for f in frames:
            for pk in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(pk)
        for pk in s.encode():
            c.mux(pk)


def test_pyav_decodes_a_video_the_test_writes(tmp_path):
    pytest.importorskip("av")
    from musicrep import video

    frames = np.zeros((30, 32, 32, 3), np.uint8)
    frames[:] = (np.arange(30) * 8)[:, None, None, None]  # grey level encodes the frame
    _write_mp4(tmp_path / "v.mp4", frames)
    got, fps = video.load_frames(tmp_path / "v.mp4")
    assert got.shape == (30, 32, 32, 3) and fps == 25
    np.testing.assert_allclose(got[..., 0].mean((1, 2)), np.arange(30) * 8, atol=6)
    # frames at given times (only that span decoded), resized, masked past the end
    times = video.frame_times(0.4, 0.2, 25)  # frames 10..14
    x, mask = video.read_frames_at(tmp_path / "v.mp4", times, size=16)
    assert x.shape == (5, 16, 16, 3) and mask.all()
    np.testing.assert_allclose(x[..., 0].mean((1, 2)), np.arange(10, 15) * 8, atol=6)
    x, mask = video.read_frames_at(tmp_path / "v.mp4", video.frame_times(1.1, 0.2, 25))
    assert mask.tolist() == [True, True, True, False, False]  # frames 27-29, then past the end


def test_frame_folders_and_arrays(tmp_path):
    from PIL import Image

    from musicrep import video

    folder = tmp_path / "utt"
    folder.mkdir()
    for i in range(6):
        Image.fromarray(np.full((8, 8, 3), 20 * i, np.uint8)).save(folder / f"{i:05d}.png")
    (folder / "fps.txt").write_text("10\n")
    frames, fps = video.load_frames(folder)
    assert frames.shape == (6, 8, 8, 3) and fps == 10
    x, mask = video.read_frames_at(folder, [0.05, 0.31, 0.7])  # frames 0, 3, past the end
    assert x[:, 0, 0, 0].tolist() == [0, 60, 0] and mask.tolist() == [True, True, False]
    with pytest.raises(Exception, match="not found"):
        video.load_frames(tmp_path / "nothing.mp4")


def _tiny_av_model(fusion: str, classes: int = 4):
    from musicrep.models import create_encoder
    from musicrep.models.av import ConcatFusion, SharedClassifierAV, VisualEncoder

    torch.manual_seed(0)
    audio = create_encoder(
        "shortchunk_cnn",
        input_samples=8000,
        frontend_kwargs={"n_mels": 16, "hop_length": 256},
        backend_kwargs={"channels": [4, 8]},
    )
    visual = VisualEncoder(8, channels=4, blocks=1)
    if fusion == "shared":
        model = SharedClassifierAV(audio, visual, classes, dim=8)
    else:
        model = ConcatFusion(audio, visual, classes, dim=8)
    model.frames = {"size": 12, "num_frames": 3}
    return model


def test_evaluate_av_cli_writes_the_table(tmp_path, capsys):
    import csv

    from musicrep import io
    from musicrep.cli import main
    from musicrep.evaluate_av import embed_av, evaluate_av

    manifest = write_av_data(tmp_path / "data", seconds=0.6)
    lines = [
        "1 s0_u0.wav s0_u1.wav",
        "0 s0_u0.wav s1_u0.wav",
        "1 s1_u1.wav s1_u2.wav",
        "0 s0_u2.wav s1_u2.wav",
        "0 s3_u0.wav s0_u0.wav",
    ]  # the last: not a test row
    (tmp_path / "data" / "trials_test.txt").write_text("\n".join(lines) + "\n")
    for fusion in ("shared", "fusion"):
        io.save_model(_tiny_av_model(fusion if fusion == "shared" else "concat"), tmp_path / fusion)
    loaded, meta = io.load(tmp_path / "shared")
    assert meta["kind"] == "av" and loaded.cross_modal and loaded.frames["num_frames"] == 3
    # embeddings are the means of the windows' embeddings
    paths, labels, emb = embed_av(loaded, Manifest.read(manifest), "test", chunks=2)
    assert len(paths) == 6 and labels[0] == "spk0" and emb["fused"].shape == (6, 16)
    res = evaluate_av(loaded, Manifest.read(manifest), trials=tmp_path / "data" / "trials_test.txt")
    assert res["n_trials"] == 4 and res["trials_left_out"] == 1
    assert np.isfinite(res["conditions"]["audio->visual"]["eer"])

    rc = main(
        [
            "evaluate-av",
            "--model",
            f"shared={tmp_path / 'shared'}",
            "--model",
            f"fusion={tmp_path / 'fusion'}",
            "--manifest",
            str(manifest),
            "--out",
            str(tmp_path / "report"),
            "--no-progress",
        ]
    )
    assert rc == 0
    rows = list(csv.DictReader(open(tmp_path / "report" / "av_table.csv")))
    by = {(r["model"], r["condition"]): r for r in rows}
    assert by[("fusion", "audio->visual")]["refused"] and not by[("fusion", "audio->visual")]["eer"]
    assert by[("shared", "audio->visual")]["eer"] and not by[("shared", "audio->visual")]["refused"]
    assert by[("fusion", "fused")]["trials"] == "4"
    md = (tmp_path / "report" / "av_table.md").read_text()
    assert "refused" in md and "evaluate-av" in md


def _fake_voxceleb(root: Path) -> None:
    """Three test speakers of Vox1-O style ids and three training speakers; videos for some
    utterances as mp4 (written with PyAV when present, else .npy arrays), frames folders for
    others."""
    rng = np.random.default_rng(0)
    for k, spk in enumerate(["id10270", "id10271", "id10300", "id00012", "id00015", "id00020"]):
        for yt in ("aaa", "bbb"):
            for u in (1, 2):
                rel = Path(spk) / yt / f"{u:05d}"
                wav = root / "wav" / rel.with_suffix(".wav")
                wav.parent.mkdir(parents=True, exist_ok=True)
                sf.write(wav, (0.1 * rng.standard_normal(4000)).astype(np.float32), SR)
                if k == 5 and yt == "bbb":
                    continue  # no video
                vid = root / "frames" / rel
                if u == 1:
                    vid.parent.mkdir(parents=True, exist_ok=True)
                    np.save(vid.with_suffix(".npy"), np.zeros((7, 8, 8, 3), np.uint8))
                else:
                    vid.mkdir(parents=True, exist_ok=True)
                    from PIL import Image

                    for i in range(3):
                        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(vid / f"{i}.jpg")
    trials = [
        "1 id10270/aaa/00001.wav id10270/bbb/00002.wav",
        "0 id10270/aaa/00001.wav id10271/aaa/00001.wav",
        "1 id10300/aaa/00002.wav id10300/bbb/00001.wav",
        "0 id10271/bbb/00002.wav id10300/aaa/00001.wav",
    ]
    (root / "veri_test2.txt").write_text("\n".join(trials) + "\n")


def test_voxceleb_adapter_on_a_fake_layout(tmp_path):
    from musicrep.data.adapters import prepare
    from musicrep.evaluate_av import trial_rows

    root = tmp_path / "vox"
    _fake_voxceleb(root)
    res = prepare("voxceleb", root, tmp_path / "out" / "vox.csv")
    m = Manifest.read(res.manifest_path)
    assert len(m) == 24
    split = {r.labels[0]: set() for r in m}
    for r in m:
        split[r.labels[0]].add(r.split)
    assert split["id10270"] == split["id10271"] == split["id10300"] == {"test"}
    assert split["id00012"] == {"train", "valid"}  # speaker-disjoint from test
    assert sum(r.split == "valid" for r in m) == 3
    videos = {Path(r.path).stem + "/" + Path(r.path).parent.name: r.extra["video"] for r in m}
    assert videos["00001/aaa"].endswith(".npy") and Path(videos["00002/aaa"]).is_dir()
    assert sum(not r.extra["video"] for r in m) == 2 and any("no video" in n for n in res.notes)
    # the official trial list (paths relative to wav/) matches the rows by their tails
    paths = [Path(r.path) for r in m if r.split == "test"]
    enroll, test, labels, left = trial_rows(root / "veri_test2.txt", paths, ["x"] * len(paths))
    assert left == 0 and labels.tolist() == [1, 0, 1, 0]
    assert paths[enroll[0]].parts[-3:] == ("id10270", "aaa", "00001.wav")
    assert paths[test[2]].parts[-3:] == ("id10300", "bbb", "00001.wav")
    # --require-video leaves out utterances without one
    res = prepare("voxceleb", root, tmp_path / "out2.csv", require_video=True)
    assert len(res.manifest) == 22 and len(res.skipped) == 2
    with pytest.raises(ConfigError, match="wav"):
        prepare("voxceleb", tmp_path / "out", tmp_path / "x.csv")


@pytest.mark.parametrize("recipe", ["av_shared", "av_fusion"])
def test_av_recipes_build(recipe):
    """The shipped recipes' options are valid: their encoder and objective build."""
    from musicrep.training import load_recipe, resolve_config
    from musicrep.training.run import build_parts

    cfg = resolve_config(load_recipe(Path(__file__).parent.parent / "configs" / f"{recipe}.yaml"))
    encoder, objective = build_parts(cfg, "singlelabel", [f"s{i}" for i in range(5)])
    assert [v.kind for v in objective.training_views()] == ["crop", "frames"]
    model = objective.export_model(encoder)
    assert model.cross_modal is (recipe == "av_shared")
    wave, frames = torch.randn(2, encoder.input_samples) * 0.1, torch.rand(2, 3, 3, 48, 48)
    with torch.no_grad():
        emb = model.eval().embed(wave, frames)
    assert emb["fused"].shape[0] == 2 and emb["audio"].shape == model(wave).shape


@pytest.mark.parametrize("recipe", ["av_shared", "av_fusion"])
def test_av_vocabulary_is_the_training_speakers_only(tmp_path, recipe):
    """Open set: the unseen test speakers are never classes of the speaker classifier (the
    vocabulary of the whole manifest made them classes that training only ever saw as
    negatives), and test rows need no label known to training."""
    from musicrep.training import load_recipe, resolve_config
    from musicrep.training.run import build_parts, load_data

    manifest = write_av_data(tmp_path)  # spk0, spk1: test; spk2, spk3: train/valid
    cfg = resolve_config(load_recipe(Path(__file__).parent.parent / "configs" / f"{recipe}.yaml"))
    cfg["data"]["manifest"] = str(manifest)
    run = load_data(cfg)
    assert run.vocab == ["spk2", "spk3"]
    _, objective = build_parts(cfg, run.task, run.vocab)
    assert objective.num_outputs == 2 and objective.vocab == ["spk2", "spk3"]
    # a test speaker's label unknown to training does not matter
    text = manifest.read_text().replace(",spk0,test,", ",brand_new,test,")
    manifest.write_text(text)
    assert load_data(cfg).vocab == ["spk2", "spk3"]


def test_speaker_bootstrap_interval():
    import importlib.util

    from musicrep.probes.verification import evaluate_verification

    spec = importlib.util.spec_from_file_location(
        "av_speaker_bootstrap", Path(__file__).parent.parent / "benchmarks/av_speaker_bootstrap.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rng = np.random.default_rng(0)
    spk = np.repeat(np.arange(8), 4)
    emb = rng.standard_normal((8, 6))[spk] + 0.8 * rng.standard_normal((32, 6))
    a, b = np.triu_indices(32, k=1)
    target = (spk[a] == spk[b]).astype(np.int64)
    res = mod.bootstrap(
        {"audio": emb, "visual": emb}, [f"s{s}" for s in spk], a, b, target, ["audio"], n=200
    )["audio"]
    ref = 100 * evaluate_verification(emb[a], emb[b], target).metrics["eer"]["mean"]
    assert abs(res["eer"] - ref) < 1.0  # same EER up to interpolation (both in %)
    assert res["ci_low"] <= res["eer"] <= res["ci_high"] and res["speakers"] == 8
    assert (
        mod.weighted_eer(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1]), np.ones(4)) == 0.0
    )
