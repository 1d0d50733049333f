"""COALA: log-mel patches, the audio/tag autoencoders, the losses, the objective, training from
the CLI on a tiny tagged dataset, export and embedding through the Encoder contract."""

from __future__ import annotations

import copy

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch

from musicrep.cli import main
from musicrep.errors import ConfigError, MusicrepError
from musicrep.models import coala as C
from musicrep.models import create_model, model_spec
from musicrep.objectives import build_objective
from musicrep.objectives.coala import CoalaObjective, contrastive_loss, generalized_kl

SR = C.SAMPLE_RATE
#: A small COALA model for training tests: 32 bands, 32-frame patches, 8 filters per block
#: (the same 5 stride-2 blocks; an 8-d embedding).
TINY = {"frontend_kwargs": {"n_mels": 32, "patch_frames": 32}, "backend_kwargs": {"channels": 8}}
TINY_TAGS = {"tag_hidden": (16, 16)}


@pytest.fixture(autouse=True, scope="module")
def _threads():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models; the test machine's cores are shared
    yield
    torch.set_num_threads(before)


def tiny_model(variant: str = "ae_c", num_tags: int = 4, dropout: float = 0.25) -> C.CoalaModel:
    kw = copy.deepcopy(TINY)
    kw["backend_kwargs"]["dropout"] = dropout
    return create_model("coala", num_outputs=num_tags, variant=variant, dropout=dropout, **kw)


def tiny_objective(model: C.CoalaModel, **kw) -> CoalaObjective:
    """The objective training ``model``'s encoder; its head replaces ``model.head`` (so that
    ``model`` is what the objective exports)."""
    obj = build_objective(
        {"name": "coala", **TINY_TAGS, **kw},
        encoder=model.encoder,
        task="multilabel",
        num_outputs=model.num_outputs,
        model_config=model.config,
    )
    model.head = obj.head
    return obj


def clips(n: int = 8, seconds: float = 3.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Tone bursts at 4 pitches (one tag each) at random positions in quiet noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    waves, tags = [], []
    for i in range(n):
        k = i % 4
        w = 0.01 * rng.standard_normal(len(t))
        start = rng.uniform(0, seconds - 1.0)
        on = (t >= start) & (t < start + 1.0)
        w[on] += 0.5 * np.sin(2 * np.pi * [110, 440, 1760, 5000][k] * t[on])
        waves.append(w)
        tags.append(np.eye(4)[k])
    return torch.tensor(np.array(waves), dtype=torch.float32), torch.tensor(np.array(tags)).float()


# ------------------------------------------------------------------------ patches


def test_log_mel_matches_librosa():
    fe = C.CoalaLogMel()
    x = np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1
    ours = fe.log_mel(torch.from_numpy(x)[None])[0, 0].numpy()
    mel = librosa.feature.melspectrogram(
        y=x, sr=SR, n_fft=1024, hop_length=512, n_mels=96, power=1.0, window="hamming",
        pad_mode="reflect",
    )  # fmt: skip
    ref = np.log(mel + np.finfo(np.float32).eps)
    assert ours.shape == ref.shape == (96, 1 + SR // 512)
    np.testing.assert_allclose(ours, ref, atol=2e-3)


def test_max_energy_patch_matches_the_code_and_finds_the_loud_part():
    rng = np.random.default_rng(1)
    spec = rng.standard_normal((3, 1, 96, 250)).astype(np.float32)
    patches, starts = C.max_energy_patches(torch.from_numpy(spec))
    assert patches.shape == (3, 1, 96, 96)
    for b in range(3):  # the code: librosa.util.frame + argmax of the summed values
        frames = librosa.util.frame(np.asfortranarray(spec[b, 0]), frame_length=96, hop_length=12)
        best = int(np.argmax(frames.sum(axis=(0, 1))))
        assert starts[b] == 12 * best
        np.testing.assert_array_equal(patches[b, 0].numpy(), frames[:, :, best])
    # a 10-s clip of quiet noise with a loud tone from 6 to 7 s: the patch holds the tone
    t = np.arange(10 * SR) / SR
    x = 1e-3 * rng.standard_normal(len(t)) + ((t >= 6) & (t < 7)) * np.sin(2 * np.pi * 440 * t)
    fe = C.CoalaLogMel()
    _, start = C.max_energy_patches(fe.log_mel(torch.tensor(x, dtype=torch.float32)[None]))
    first, last = start.item() * 512 / SR, (start.item() + 95) * 512 / SR
    assert first <= 6.0 and last >= 7.0
    with pytest.raises(ConfigError, match="fewer than one patch"):
        C.max_energy_patches(torch.zeros(1, 1, 96, 95))


def test_scaler_fitted_on_training_patches_is_stored_and_scales_to_unit_range():
    model = tiny_model()
    obj = tiny_objective(model, clip_seconds=3.0)
    waves, tags = clips()
    fe = model.encoder.frontend
    assert not fe.is_fitted
    with pytest.raises(MusicrepError, match="not fitted"):
        obj(model.encoder, {"wave": waves, "target": tags})
    obj.prepare(model.encoder, [{"wave": waves}])
    assert fe.is_fitted and fe.scale_min.shape == (32,) and (fe.scale_max > fe.scale_min).all()
    obj.eval()
    patches = obj.patches(model.encoder, waves)  # the training patches (fixed noise seed)
    assert patches.shape == (8, 1, 32, 32)
    assert patches.min() == 0.0 and patches.max().item() == pytest.approx(1.0, abs=1e-4)
    per_time = patches.amax(dim=(0, 1, 2))
    assert torch.allclose(per_time, torch.ones(32), atol=1e-4)
    assert (patches.amin(dim=(0, 1, 2)) == 0).all()
    # quieter audio than anything seen is clamped at 0; the statistics travel with the model
    assert fe(torch.zeros(1, fe.min_samples())).min() == 0
    clone = tiny_model()
    clone.load_state_dict(model.state_dict())
    assert torch.equal(clone.encoder.frontend.scale_min, fe.scale_min)


# ------------------------------------------------------------------------ architecture


def test_shapes_of_the_autoencoders():
    model = create_model("coala", num_outputs=10).eval()
    backend = model.encoder.backend
    x = torch.rand(2, 1, 96, 96)
    z = backend.encode_patches(x)
    assert z.shape == (2, 1152) and backend.feature_shape == (128, 3, 3) and (z >= 0).all()
    dec = C.CoalaAudioDecoder(backend.feature_shape, backend.patch_shape).eval()
    x_hat = dec(z)
    assert x_hat.shape == (2, 1, 96, 96) and 0 <= x_hat.min() and x_hat.max() <= 1
    tag_enc, tag_dec = C.CoalaTagEncoder(10).eval(), C.CoalaTagDecoder(10).eval()
    z_t = tag_enc(torch.eye(10)[:3])
    assert z_t.shape == (3, 1152) and tag_dec(z_t).shape == (3, 10)
    assert [m.out_features for m in tag_enc.modules() if isinstance(m, torch.nn.Linear)] == [
        512, 512, 1152
    ]  # fmt: skip
    # the Encoder contract: 22.05 kHz, one patch per native chunk, mean over longer input
    enc = model.encoder
    assert (enc.sample_rate, enc.input_samples, enc.embed_dim) == (22050, 48640, 1152)
    spec = model_spec("coala")
    assert (spec.sample_rate, spec.input_samples) == (22050, 48640)
    wave = torch.randn(2, 3 * 96 * 512)  # 289 frames: 3 whole patches
    with torch.no_grad():
        assert enc(wave[:, :48640]).shape == (2, 1152)
        seq = enc.forward_sequence(wave)
        assert seq.shape == (2, 3, 1152) and enc.sequence_length(wave.shape[1]) == 3
        assert torch.allclose(enc(wave), seq.mean(dim=1), atol=1e-5)
    # ~2.4 M parameters for the audio encoder with its projection (the paper)
    n = sum(p.numel() for p in model.parameters())
    assert abs(n - 2.4e6) / 2.4e6 < 0.02
    with pytest.raises(ConfigError, match="shorter than one COALA patch|fewer than one"):
        enc(torch.randn(1, 40000))


def test_variants_and_rebuild_from_config():
    for variant in C.VARIANTS:
        model = tiny_model(variant, num_tags=6)
        again = create_model(**model.config)
        assert again.variant == variant and type(again.head) is type(model.head)
        with torch.no_grad():
            assert model.eval()(torch.randn(2, model.encoder.input_samples)).shape == (2, 6)
    assert isinstance(tiny_model("cnn").head, C.CoalaTagClassifier)
    with pytest.raises(ConfigError, match="unknown COALA variant"):
        create_model("coala", variant="ae")
    with pytest.raises(ConfigError, match="own front-end"):
        create_model("coala", frontend="mel")


# ------------------------------------------------------------------------ losses


def test_generalized_kl():
    x = torch.rand(2, 1, 4, 5)
    assert generalized_kl(x, x).abs().item() < 1e-7
    y = torch.rand(2, 1, 4, 5)
    assert generalized_kl(x, y) > 0
    eps = 1e-5
    ref = (x * (torch.log(x + eps) - torch.log(y + eps)) + y - x).sum(-1).mean()
    assert torch.allclose(generalized_kl(x, y), ref)


def _cos(a, b):
    return float(a @ b / (a.norm() * b.norm()))


def test_contrastive_loss_matches_the_equations_and_prefers_aligned_pairs():
    g = torch.Generator().manual_seed(0)
    a, t = torch.randn(4, 6, generator=g), torch.randn(4, 6, generator=g)
    tau = 0.5
    xi = lambda u, v: np.exp(_cos(u, v) / tau)  # noqa: E731  eq. (11)-(12)
    # eq. (10): sum_b -log(Xi(a_b, t_b) / sum_{i != b} Xi(a_b, t_i))
    ref = sum(-np.log(xi(a[b], t[b]) / sum(xi(a[b], t[i]) for i in range(4) if i != b))
              for b in range(4))  # fmt: skip
    got = contrastive_loss(a, t, tau, form="paper", reduction="sum")
    assert got.item() == pytest.approx(ref, rel=1e-5)
    # the code: NT-Xent over the 2N vectors, cross-modal positives, 2N-2 negatives
    z = torch.cat([a, t])
    code = []
    for i in range(8):
        pos = (i + 4) % 8
        denom = sum(xi(z[i], z[j]) for j in range(8) if j != i)
        code.append(-np.log(xi(z[i], z[pos]) / denom + 1e-5))
    got = contrastive_loss(a, t, tau, form="code")
    assert got.item() == pytest.approx(np.mean(code), rel=1e-5)
    # aligned pairs give a lower loss than shuffled ones
    aligned = a + 0.1 * torch.randn(4, 6, generator=g)
    for form in ("code", "paper"):
        assert contrastive_loss(a, aligned, 0.1, form) < contrastive_loss(a, aligned.roll(1, 0),
                                                                          0.1, form)  # fmt: skip
    # stable at small temperatures
    assert torch.isfinite(contrastive_loss(100 * a, 100 * t, 0.001, "code"))


def test_total_loss_weights_per_variant():
    model = tiny_model("ae_c")
    obj = tiny_objective(model)
    assert obj.weights == (5.0, 5.0, 10.0)
    parts = {"audio_recon": torch.tensor(1.0), "tag_recon": torch.tensor(2.0),
             "contrastive": torch.tensor(3.0)}  # fmt: skip
    assert obj.total(parts).item() == pytest.approx(5 + 10 + 30)
    ec = tiny_objective(tiny_model("e_c"))
    assert ec.weights == (0.0, 0.0, 10.0) and not hasattr(ec, "audio_decoder")
    assert not hasattr(ec, "tag_decoder") and ec.total(parts).item() == pytest.approx(30)
    with pytest.raises(ConfigError, match="E-C has no decoders"):
        tiny_objective(tiny_model("e_c"), audio_weight=5.0)
    with pytest.raises(ConfigError, match="differs from the model"):
        tiny_objective(tiny_model("e_c"), variant="ae_c")
    with pytest.raises(ConfigError, match="trains COALA encoders"):
        tiny_objective(create_model("fcn", num_outputs=4))


@pytest.mark.parametrize("variant", C.VARIANTS)
def test_short_training_decreases_the_loss(variant):
    torch.manual_seed(0)
    model = tiny_model(variant, dropout=0.0)  # no dropout: the loss of a fixed batch is smooth
    obj = tiny_objective(model, clip_seconds=3.0, dropout=0.0, noise=0.0)
    waves, tags = clips()
    obj.prepare(model.encoder, [{"wave": waves}])
    batch = {"wave": waves, "target": tags}
    params = dict.fromkeys([*model.parameters(), *obj.parameters()])  # the head is shared
    opt = torch.optim.Adam(list(params), lr=1e-2)
    model.train(), obj.train()
    losses = []
    for _ in range(15):
        out = obj(model.encoder, batch)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(out["loss"].item())
    expected = {"ae_c": {"audio_recon", "tag_recon", "contrastive"}, "e_c": {"contrastive"},
                "cnn": {"tag_prediction"}}[variant]  # fmt: skip
    assert expected < set(out) and "logits" not in out or variant == "cnn"
    if variant != "cnn":
        assert out["loss"].item() == pytest.approx(obj.total(out).item(), rel=1e-5)
    assert np.mean(losses[-3:]) < 0.85 * np.mean(losses[:3]), losses
    # evaluation: tag scores (retrieval scores in the aligned space for AE-C / E-C)
    model.eval(), obj.eval()
    with torch.no_grad():
        out = obj(model.encoder, batch)
    assert out["logits"].shape == (8, 4)
    if variant != "cnn":
        assert model.head.has_tag_embeddings
        with torch.no_grad():
            direct = model.head(
                model.encoder.backend.encode_patches(obj.patches(model.encoder, waves))
            )
        assert torch.allclose(direct, out["logits"], atol=1e-5)


def test_shipped_recipes_build():
    from musicrep.training import load_recipe, resolve_config

    for name, variant, weights in [("coala_ae_c", "ae_c", (5.0, 5.0, 10.0)),
                                   ("coala_e_c", "e_c", (0.0, 0.0, 10.0)),
                                   ("coala_cnn", "cnn", (0.0, 0.0, 0.0))]:  # fmt: skip
        cfg = resolve_config(load_recipe(f"configs/{name}.yaml"))
        t = cfg["training"]
        assert (t["optimizer"], t["lr"], t["momentum"], t["batch_size"]) == ("sgd", 0.005, 0, 128)
        assert t["max_epochs"] == (20 if variant == "cnn" else 200)
        assert cfg["data"]["tags"]["max_tags"] == 1000 and cfg["data"]["tags"]["max_df"] == 0.7
        model = create_model(**cfg["model"], num_outputs=1000)
        obj = build_objective(cfg["objective"], encoder=model.encoder, task="multilabel",
                              num_outputs=1000, model_config=model.config)  # fmt: skip
        assert model.variant == obj.variant == variant and obj.weights == weights
        if variant != "cnn":
            assert (obj.temperature, obj.contrastive) == (0.1, "code")


# ------------------------------------------------------------------------ the CLI


def write_tagged_dataset(root) -> str:
    """12 WAVs (16 kHz, 3 s) of tone bursts with free-form tags; train/valid/test."""
    root.mkdir(parents=True, exist_ok=True)
    waves, _ = clips(n=16, seconds=3.0, seed=2)
    words = [["Low tones", "bass"], ["mid tone", "Beeps"], ["high tones", "bright"],
             ["Very high tone", "bright hiss"]]  # fmt: skip
    lines = ["path,labels,split"]
    for i, w in enumerate(waves.numpy()):
        x = librosa.resample(w, orig_sr=SR, target_sr=16000)
        sf.write(root / f"c{i}.wav", x, 16000)
        split = "train" if i < 12 else ("valid" if i < 14 else "test")
        lines.append(f'c{i}.wav,"{";".join(words[i % 4])}",{split}')
    (root / "m.csv").write_text("\n".join(lines) + "\n")
    return str(root / "m.csv")


def test_train_from_the_cli_export_and_embed(tmp_path, capsys):
    import musicrep
    from musicrep.embed import Embedder

    manifest = write_tagged_dataset(tmp_path / "data")
    run = tmp_path / "run"
    args = ["train", "--recipe", "configs/coala_ae_c.yaml", "--manifest", manifest,
            "--out", str(run), "--set", "training.batch_size=4", "training.max_epochs=2",
            "training.num_sanity_val_steps=0", "data.num_workers=0", "objective.clip_seconds=3",
            "objective.tag_hidden=[16,16]", "model.backend_kwargs={channels: 8}",
            "model.frontend_kwargs={n_mels: 32, patch_frames: 32}",
            "evaluation.chunks=2"]  # fmt: skip
    assert main(args) == 0
    import csv

    rows = list(csv.DictReader(open(run / "logs" / "metrics.csv")))
    val = [r for r in rows if r.get("val/contrastive")]
    assert len(val) == 2 and all(float(r["val/audio_recon"]) > 0 for r in val)
    assert {"val/roc_auc", "train/loss", "train/tag_recon"} <= set(rows[0])
    vocab = (run / "tag_vocabulary.json").read_text()
    assert '"tone"' in vocab and '"bright"' in vocab  # "tones" -> "tone"
    assert (run / "results.json").is_file()

    out = tmp_path / "model"
    assert main(["export", str(run), str(out), "--checkpoint", "last"]) == 0
    model, meta = musicrep.load(out)
    assert isinstance(model, C.CoalaModel) and model.encoder.frontend.is_fitted
    assert meta["sample_rate"] == 22050 and model.head.has_tag_embeddings
    # the encoder embeds a file: non-overlapping native chunks, mean over the clip
    emb = Embedder(out)
    frames, times = emb.file(tmp_path / "data" / "c0.wav")
    assert frames.shape == (5, 8) and np.isfinite(frames).all()  # 0.72-s windows of 3 s
    wave, _ = musicrep.audio.load(tmp_path / "data" / "c0.wav", sr=22050)
    chunk = torch.from_numpy(wave[: model.encoder.input_samples])[None]
    with torch.no_grad():
        direct = model.encoder(chunk)[0].numpy()
    np.testing.assert_allclose(frames[0], direct, atol=1e-4)
    # the exported model and the in-memory one after loading the checkpoint agree
    from musicrep.training import load_checkpoint_model

    ckpt_model, _ = load_checkpoint_model(run / "checkpoints" / "last.ckpt")
    with torch.no_grad():
        np.testing.assert_allclose(ckpt_model(chunk).numpy(), model(chunk).numpy(), atol=1e-5)
    copy.deepcopy(model)  # picklable state (buffers only)
