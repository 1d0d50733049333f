"""``musicrep.models.inference.optimize_for_inference``: the optimized graphs compute what the
original modules compute (within 1e-5 relative), and the module passed in is left alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from musicrep.embed import Embedder, resolve_model
from musicrep.models.inference import FastMusicnnNet, is_optimized, optimize_for_inference
from musicrep.models.musicnn_tf import INPUT_SAMPLES, MusicnnTF
from musicrep.models.spec import MODEL_SPECS

RTOL = 1e-5


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def _randomised(seed: int = 0, input_samples: int | None = None) -> MusicnnTF:
    """A musicnn with random weights and batch norms of both signs (negative scales too)."""
    torch.manual_seed(seed)
    model = MusicnnTF("musicnn", input_samples=input_samples)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.weight.copy_(torch.randn(n))  # about half negative
                m.weight[0] = 0.0  # a zero scale: the branch is constant
                m.bias.copy_(torch.randn(n))
                m.running_mean.copy_(torch.randn(n) * 0.3)
                m.running_var.copy_(torch.rand(n) + 0.5)
    return model.eval()


def _wave(batch: int, samples: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, samples, generator=g) * 2 - 1) * 0.5


@pytest.mark.parametrize("dft", [True, False])
@pytest.mark.parametrize(("batch", "samples"), [(1, INPUT_SAMPLES), (5, INPUT_SAMPLES), (2, 20000)])
def test_musicnn_random_weights_every_layer(dft, batch, samples):
    model = _randomised(input_samples=None if samples == INPUT_SAMPLES else samples)
    enc = model.encoder
    fast = FastMusicnnNet(enc.net, dft=dft)
    wave = _wave(batch, samples)
    with torch.inference_mode():
        mel = enc.mel(wave)
        ref, out = enc.net.layers(mel), fast.layers(mel)
    assert ref.keys() == out.keys()
    for key in ref:
        assert out[key].shape == ref[key].shape, key
        assert _rel(out[key], ref[key]) < RTOL, key


def test_chunks_give_the_same_result(monkeypatch):
    import musicrep.models.inference as inference

    model = _randomised(3)
    enc = model.encoder
    with torch.inference_mode():
        mel = enc.mel(_wave(3, INPUT_SAMPLES))
        whole = FastMusicnnNet(enc.net).layers(mel)["penultimate"]
        monkeypatch.setattr(inference, "CHUNK_BYTES", 100_000)  # one frame per chunk
        small = FastMusicnnNet(enc.net).layers(mel)["penultimate"]
    assert _rel(small, whole) < RTOL


def test_shipped_musicnn_mtt():
    emb = resolve_model("musicnn-mtt")
    enc = emb.encoder
    fast = optimize_for_inference(enc)
    assert fast is not enc and isinstance(fast.net, FastMusicnnNet)
    assert not is_optimized(enc)  # the module passed in is left as it was
    wave = _wave(4, INPUT_SAMPLES, seed=7)
    with torch.inference_mode():
        ref, out = enc.layers(wave), fast.layers(wave)
        assert _rel(fast(wave), enc(wave)) < RTOL
    for key in ref:
        assert _rel(out[key], ref[key]) < RTOL, key


def test_training_mode_runs_the_original_modules():
    model = _randomised()
    fast = optimize_for_inference(model)
    model.train()
    wave = _wave(2, INPUT_SAMPLES)
    torch.manual_seed(0)
    a = model(wave)
    torch.manual_seed(0)
    b = fast(wave)
    assert torch.equal(a, b)  # same code, same dropout draws
    a.sum().backward()
    assert model.encoder.net.timbral[0].weight.grad is not None


def test_parameters_are_shared_and_updates_seen():
    model = _randomised()
    fast = optimize_for_inference(model)
    wave = _wave(1, INPUT_SAMPLES)
    with torch.no_grad():
        model.encoder.net.timbral[1].weight.mul_(-0.5)
        model.encoder.net.temporal_bn[0].weight.neg_()
    with torch.inference_mode():
        assert _rel(fast(wave), model(wave)) < RTOL


@pytest.mark.parametrize("name", MODEL_SPECS.names())
def test_zoo_models_untouched_or_equal(name):
    """The optimizer touches no zoo model today; any it touches must give equal outputs."""
    emb = resolve_model(f"untrained:{name}")
    enc = emb.encoder
    fast = optimize_for_inference(enc)
    if fast is enc:
        return
    wave = _wave(2, emb.window_samples)
    with torch.inference_mode():
        assert _rel(fast(wave), enc(wave)) < RTOL


def test_embed_outputs_equal_with_and_without_optimization(tmp_path):
    import soundfile as sf

    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(16000 * 7)).astype(np.float32)
    sf.write(tmp_path / "a.wav", x, 16000)
    emb = Embedder("musicnn-mtt", workers=0)
    assert is_optimized(emb.model._inference)
    frames, times, scene, _ = emb.file_embedding(tmp_path / "a.wav")
    emb.model.__dict__["_inference"] = emb.model.encoder  # the unoptimized graph
    frames0, times0, scene0, _ = emb.file_embedding(tmp_path / "a.wav")
    np.testing.assert_array_equal(times, times0)
    assert frames.shape == frames0.shape == (3, 200)
    assert np.abs(frames - frames0).max() <= RTOL * np.abs(frames0).max()
    assert np.abs(scene - scene0).max() <= RTOL * np.abs(scene0).max()


def test_layer_option_uses_original_modules():
    emb = Embedder("musicnn-mtt", layer="net.timbral.0")
    out, _ = emb.timestamps(np.zeros(INPUT_SAMPLES, np.float32) + 0.01, 16000)
    assert out.shape == (1, 204)
