"""The shipped pretrained musicnn/VGG taggers: files, loading by name, the original's faults."""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch

from musicrep.errors import ConfigError
from musicrep.io import load_model
from musicrep.models.musicnn_tf import N_FRAMES, log_compress
from musicrep.pretrained import MODELS_DIR, extract, list_pretrained
from musicrep.pretrained.tf_checkpoint import crc32c, masked_crc32c

#: sha256 of the shipped weights (scripts/convert_musicnn.py on musicnn-0.1.0-py3-none-any.whl)
SHA256 = {
    "musicnn-msd": "98ca361ef08c01991ebc01d1ab176b4945607f28fee1302410d0c7c9fae01c98",
    "musicnn-mtt": "3d4cdd843e1b35c5521bf7ffc896a28de0811a5a7f3c5db918cecad1823b40ff",
    "vgg-msd": "fb1263bc213d6bf84849172066a717f4ffae04a0d269708ff0a5fb2589fbf7bb",
    "vgg-mtt": "4f71d52ebfcdb8cd25258f7d734beb2b49f6a5934981c42103860607602b3ffe",
}


def test_shipped_weights_are_the_converted_ones():
    assert list_pretrained() == sorted(SHA256)
    for name, digest in SHA256.items():
        data = (MODELS_DIR / name / "model.safetensors").read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, name
        assert (
            "ISC" in (MODELS_DIR / name / "LICENSE").read_text()
            or "Permission to use" in (MODELS_DIR / name / "LICENSE").read_text()
        )


def test_crc32c_known_values():
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert crc32c(b"") == 0
    crc = 0xE3069283
    assert masked_crc32c(b"123456789") == (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


@pytest.mark.parametrize("name", ["musicnn-mtt", "vgg-msd"])
def test_load_by_name_predicts_the_vocabulary(name):
    model, meta, identity = load_model(name, untrained_ok=False)
    assert identity == name and meta["kind"] == "musicnn_tf" and len(meta["vocab"]) == 50
    wave = 0.1 * torch.randn(2, meta["input_samples"], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(wave)
        emb = model.encoder(wave)
    assert logits.shape == (2, 50) and torch.isfinite(logits).all()
    assert emb.shape == (2, meta["embed_dim"])


def test_bare_zoo_name_is_not_silently_untrained():
    with pytest.raises(ConfigError) as err:
        load_model("musicnn", untrained_ok=False)
    assert "musicnn-mtt" in err.value.hint
    with pytest.warns(UserWarning, match="UNTRAINED"):
        _, meta, identity = load_model("musicnn")
    assert meta["kind"] == "untrained" and identity.startswith("untrained:musicnn")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, meta, _ = load_model("untrained:musicnn", seed=3)
    assert meta["kind"] == "untrained"
    with pytest.raises(ConfigError):
        load_model("untrained:no_such_arch")


def test_float16_preprocessing_does_not_overflow():
    # musicnn: np.log10(10000 * mel.astype(np.float16) + 1). With NumPy >= 2 (NEP 50) the
    # product stays float16 and overflows to inf for mel > 6.55; NumPy 1.x promoted to float32.
    mel = np.array([0.0, 1e-3, 2.0, 7.0, 500.0, 1e5], dtype=np.float32)
    ours = log_compress(torch.from_numpy(mel)).numpy()
    assert np.isfinite(ours).all()
    rounded = np.minimum(mel, np.finfo(np.float16).max).astype(np.float16).astype(np.float64)
    np.testing.assert_allclose(ours, np.log10(10000 * rounded + 1), rtol=1e-6)
    if np.lib.NumpyVersion(np.__version__) >= "2.0.0":
        with np.errstate(over="ignore"):
            original = np.log10(10000 * mel.astype(np.float16) + 1)
        assert np.isinf(original[3])  # the original's fault, which ours does not have


def test_extractor_computes_every_patch(tmp_path):
    # the original extractor concatenates the first patch's penultimate (and cnn1-3) features
    # for every patch; ours must match running each patch alone
    sr = 16000
    t = np.arange(int(sr * 6.2)) / sr
    tone, square = np.sin(2 * np.pi * 220 * t), np.sign(np.sin(2 * np.pi * 3 * t))
    wave = np.where(t < 3, 0.3 * tone, 0.05 * square)
    path = tmp_path / "two.wav"
    sf.write(path, wave.astype(np.float32), sr)
    taggram, tags, feats = extract("musicnn-mtt", path)
    assert taggram.shape == (2, 50) and len(tags) == 50
    assert feats["penultimate"].shape == (2, 200)
    assert not np.allclose(feats["penultimate"][0], feats["penultimate"][1], atol=1e-3)
    model, _, _ = load_model("musicnn-mtt")
    with torch.no_grad():
        mel = model.encoder.mel(torch.from_numpy(wave.astype(np.float32))[None])[0]
        second = model.encoder.net.layers(mel[None, N_FRAMES : 2 * N_FRAMES])
    np.testing.assert_allclose(feats["penultimate"][1], second["penultimate"][0], atol=2e-4)
    ref = second["cnn3"][0].numpy()
    scale = np.abs(ref).max()
    assert np.abs(feats["cnn3"][N_FRAMES:] - ref).max() < 1e-2 * scale
    assert np.abs(feats["cnn3"][:N_FRAMES] - ref).max() > 0.1 * scale  # not the first patch


def test_cli_predict_pretrained_top5(tmp_path, capsys):
    from musicrep.cli import main

    sr = 16000
    path = tmp_path / "song.wav"
    tone = 0.2 * np.sin(2 * np.pi * 440 * np.arange(sr * 4) / sr)
    sf.write(path, tone.astype(np.float32), sr)
    assert main(["predict", str(path), "--model", "musicnn-mtt", "--top", "5"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == str(path) and len(lines) == 6
    assert main(["predict", str(path), "--model", "musicnn"]) == 2  # an architecture, no labels


def test_models_lists_pretrained_with_data_and_tags(capsys):
    from musicrep.cli import main

    assert main(["models", "musicnn-msd"]) == 0
    out = capsys.readouterr().out
    assert "Million Song Dataset" in out and "female vocalists" in out and "ISC" in out


def test_init_builds_the_pretrained_encoder_with_a_new_head():
    from musicrep.training.config import resolve_config
    from musicrep.training.run import build_parts

    cfg = resolve_config({"model": {"init": "vgg-mtt"}})
    assert cfg["model"]["name"] == "vgg-mtt"
    encoder, objective = build_parts(cfg, "singlelabel", ["a", "b", "c"])
    model, _, _ = load_model("vgg-mtt")
    for k, v in model.encoder.state_dict().items():
        assert torch.equal(encoder.state_dict()[k], v), k  # starts from the trained weights
    wave = torch.zeros(2, encoder.input_samples)
    assert objective.logits(encoder.eval(), wave).shape == (2, 3)


def test_finetuned_model_exports_and_reloads(tmp_path):
    """A TaggingModel on a pretrained tagger's encoder (what ``train --init`` gives) exports
    with a config that rebuilds it, and loads back by path with identical outputs."""
    from musicrep.io import load, save_model
    from musicrep.training.config import resolve_config
    from musicrep.training.run import build_parts

    cfg = resolve_config({"model": {"init": "musicnn-mtt"}})
    encoder, objective = build_parts(cfg, "multilabel", ["a", "b", "c"])
    with torch.no_grad():
        for p in objective.head.parameters():
            p.normal_()
    model = objective.export_model(encoder).eval()
    out = save_model(model, tmp_path / "ft", vocab=["a", "b", "c"], task="multilabel")
    again, meta = load(out)
    assert meta["model"]["encoder"]["kind"] == "musicnn_tf" and meta["format_version"] == 2
    wave = torch.randn(2, encoder.input_samples) * 0.1
    with torch.no_grad():
        assert torch.equal(again(wave), model(wave)) and again(wave).shape == (2, 3)
        assert torch.equal(again.embed(wave), model.embed(wave))


@pytest.mark.slow
def test_cli_finetune_export_then_use_by_path(tmp_path, capsys):
    """train --init -> export -> predict / embed / evaluate with the exported folder."""
    from musicrep.cli import main

    sr, rows = 16000, []
    rng = np.random.default_rng(0)
    for i in range(12):
        label = ("low", "high")[i // 4 % 2]
        f0 = 220.0 if label == "low" else 2200.0
        x = 0.3 * np.sin(2 * np.pi * f0 * np.arange(sr * 3) / sr) + 0.01 * rng.standard_normal(
            sr * 3
        )
        sf.write(tmp_path / f"{i}.wav", x.astype(np.float32), sr)
        rows.append(f"{i}.wav,{label},{('train', 'train', 'valid', 'test')[i % 4]}")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,labels,split\n" + "\n".join(rows) + "\n")
    run, exported = tmp_path / "run", tmp_path / "exported"
    args = ["train", "--init", "vgg-mtt", "--manifest", str(manifest), "--out", str(run)]
    assert main([*args, "--max-epochs", "1", "--set", "training.batch_size=4"]) == 0
    assert main(["export", str(run), str(exported)]) == 0
    assert "exported vgg (singlelabel, 2 labels" in capsys.readouterr().out
    assert main(["predict", str(tmp_path / "0.wav"), "--model", str(exported), "--top", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert {ln.split()[-1] for ln in lines[1:]} == {"low", "high"}
    assert (
        main(
            [
                "embed",
                str(tmp_path / "0.wav"),
                "--model",
                str(exported),
                "--out",
                str(tmp_path / "emb"),
                "-q",
            ]
        )
        == 0
    )
    assert np.load(tmp_path / "emb" / "0.npz")["embedding"].shape[-1] == 256
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(exported),
                "--manifest",
                str(manifest),
                "--repeats",
                "1",
                "-q",
                "--out",
                str(tmp_path / "ev.json"),
            ]
        )
        == 0
    )
    assert (tmp_path / "ev.json").is_file()


def test_other_window_lengths():
    """musicnn (global pooling over time) takes any window; VGG only its native one."""
    from musicrep.embed import resolve_model
    from musicrep.models.musicnn_tf import INPUT_SAMPLES

    emb = resolve_model("musicnn-mtt", input_samples=5 * 16000)
    assert emb.encoder.input_samples == 80000
    native, _, _ = load_model("musicnn-mtt")
    for k, v in native.encoder.state_dict().items():
        assert torch.equal(emb.encoder.state_dict()[k], v), k  # same trained weights
    wave = 0.1 * torch.randn(1, 80000)
    with torch.no_grad():
        assert emb.encoder(wave).shape == (1, 200)
    assert resolve_model("vgg-msd", input_samples=INPUT_SAMPLES).encoder.input_samples == 47616
    with pytest.raises(ConfigError, match="VGG taggers only take their native 47616"):
        resolve_model("vgg-msd", input_samples=5 * 16000)


def _two_class_manifest(root, n=12, seconds=3):
    """``n`` clips (220 Hz 'low' / 2200 Hz 'high' tones), train/valid/test, both labels in each."""
    sr, rows = 16000, []
    rng = np.random.default_rng(0)
    t = np.arange(sr * seconds) / sr
    for i in range(n):
        label = ("low", "high")[i // 4 % 2]
        f0 = (220.0 if label == "low" else 2200.0) * (1 + 0.05 * rng.standard_normal())
        x = 0.3 * np.sin(2 * np.pi * f0 * t) + 0.01 * rng.standard_normal(t.size)
        sf.write(root / f"{i}.wav", x.astype(np.float32), sr)
        rows.append(f"{i}.wav,{label},{('train', 'train', 'valid', 'test')[i % 4]}")
    manifest = root / "m.csv"
    manifest.write_text("path,labels,split\n" + "\n".join(rows) + "\n")
    return manifest


def test_embed_and_hear_take_pretrained_names(tmp_path):
    from musicrep import hear
    from musicrep.cli import main

    manifest = _two_class_manifest(tmp_path, n=1)
    out = tmp_path / "emb"
    assert main(["embed", str(tmp_path / "0.wav"), "--model", "vgg-mtt", "--out", str(out)]) == 0
    saved = np.load(out / "0.npz")
    assert saved["embedding"].shape == (2, 256) and str(saved["model"]) == "vgg-mtt"
    model = hear.load_model("musicnn-msd", hop_ms=500)
    emb, ts = hear.get_timestamp_embeddings(torch.zeros(1, 16000), model)
    assert emb.shape[-1] == 200 and model.scene_embedding_size == 200
    assert manifest.is_file()


@pytest.mark.slow
def test_every_model_command_takes_pretrained_names(tmp_path, capsys):
    """evaluate, benchmark, analyze cca and analyze similarity with pretrained names."""
    from musicrep.cli import main

    manifest = str(_two_class_manifest(tmp_path))
    ev = tmp_path / "ev.json"
    assert (
        main(
            [
                "evaluate",
                "--model",
                "musicnn-mtt",
                "--manifest",
                manifest,
                "--repeats",
                "1",
                "-q",
                "--out",
                str(ev),
            ]
        )
        == 0
    )
    assert ev.is_file()
    bench = ["benchmark", "--tasks", f"small={manifest}", "--models", "musicnn-mtt,vgg-msd"]
    assert main([*bench, "--repeats", "1", "--out", str(tmp_path / "bench"), "-q"]) == 0
    assert "vgg-msd" in (tmp_path / "bench" / "report.md").read_text()
    cca = ["analyze", "cca", "--model", "musicnn-msd", "--manifest", manifest]
    assert main([*cca, "--permutations", "0", "--out", str(tmp_path / "cca"), "--no-progress"]) == 0
    sim = ["analyze", "similarity", "--model", "vgg-mtt", "--manifest", manifest, "--no-probe"]
    sim += ["--reference", "mfcc", "--permutations", "0", "--out", str(tmp_path / "sim")]
    assert main([*sim, "--no-progress"]) == 0
    assert "convs.4" in (tmp_path / "sim" / "report.md").read_text()
