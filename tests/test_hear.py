"""The HEAR 2021 API: the checks of hear-validator, plus framing exactness.

hear-validator itself (PyPI ``hearvalidator``) requires TensorFlow, so these tests reproduce its
checks: attributes, dtypes, shapes, millisecond timestamps at a regular hop <= 50 ms, first
timestamp within one hop of the start, last one within one hop of the end and not past it,
sounds of several lengths, scene embeddings of a batch; and beyond it: batch independence,
determinism and that window ``k`` is centred on sample ``k * hop``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from musicrep import hear
from musicrep.embed import Embedder
from musicrep.errors import ConfigError


class TinyEncoder(nn.Module):
    sample_rate = 16000
    input_samples = 1601  # odd on purpose: the centre sample is index 800
    embed_dim = 5

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv1d(1, 5, 9, stride=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(x[:, None])).mean(-1)


class CentreProbe(nn.Module):
    """Embedding = the window's centre sample: shows exactly where each window sits."""

    sample_rate = 22050
    input_samples = 2000
    embed_dim = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.input_samples // 2 : self.input_samples // 2 + 1]


def _noise(n_sounds: int, seconds: float, sr: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n_sounds, int(seconds * sr), generator=g) * 2 - 1


def _validate(model: hear.HearModel, lengths=(1.07, 1.98, 4.0), n_sounds=2) -> None:
    """What hear-validator checks on timestamp and scene embeddings."""
    assert isinstance(model, nn.Module)
    assert model.sample_rate in hear.HEAR_SAMPLE_RATES
    assert isinstance(model.scene_embedding_size, int)
    assert isinstance(model.timestamp_embedding_size, int)
    for seconds in lengths:
        audio = _noise(n_sounds, seconds, model.sample_rate)
        emb, ts = hear.get_timestamp_embeddings(audio, model)
        assert emb.dim() == 3 and ts.dim() == 2
        assert emb.shape[:2] == ts.shape and emb.shape[0] == n_sounds
        assert emb.shape[2] == model.timestamp_embedding_size
        assert emb.dtype == torch.float32 and ts.dtype == torch.float32
        diff = torch.diff(ts)
        hop = diff.mean()
        assert hop <= 50.0
        assert torch.all((diff - hop).abs() < 1e-3)  # regular hop (validator: 1e-3 ms)
        assert ts[:, 0].max() <= hop  # starts within one hop
        length_ms = 1000 * audio.shape[1] / model.sample_rate
        assert ts[:, -1].max() <= length_ms  # never past the end
        assert ts[:, -1].min() >= length_ms - hop  # reaches the end
    audio = _noise(4, 2.74, model.sample_rate)
    scene = hear.get_scene_embeddings(audio, model)
    assert scene.shape == (4, model.scene_embedding_size) and scene.dtype == torch.float32


def test_default_model_passes_the_validator_checks():
    model = hear.load_model()
    assert model.hop_ms == 50.0 and model.sample_rate == 22050
    assert model.scene_embedding_size == model.timestamp_embedding_size == 120
    _validate(model, lengths=(1.07, 1.98), n_sounds=1)


def test_module_model_passes_the_validator_checks():
    _validate(hear.load_model(TinyEncoder()), n_sounds=3)


def test_zoo_model_with_options():
    model = hear.load_model("", model="musicnn", hop_ms=40.0, window_seconds=0.5, seed=3)
    assert model.window_samples == 8000 and model.timestamp_embedding_size == 1506
    emb, ts = hear.get_timestamp_embeddings(_noise(1, 0.3, 16000), model)
    assert emb.shape == (1, 8, 1506)
    np.testing.assert_allclose(ts[0].numpy(), 40.0 * np.arange(8))
    with pytest.raises(ConfigError, match="unknown option"):
        hear.load_model("", hop=10)
    with pytest.raises(ConfigError, match="hop_ms"):
        hear.load_model(TinyEncoder(), hop_ms=-1)


def test_windows_are_centred_on_their_timestamps_without_drift():
    # 25 ms at 22.05 kHz is 551.25 samples: each window start is rounded on its own
    model = hear.load_model(CentreProbe(), hop_ms=25.0)
    audio = torch.arange(22050 * 3, dtype=torch.float32)[None] / 1e5
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    centre = emb[0, :, 0].double() * 1e5  # index of the sample at each window centre
    expected = np.floor(np.arange(emb.shape[1]) * 551.25 + 0.5)
    expected[expected >= audio.shape[1]] = 0  # the last centre is the end: padding
    np.testing.assert_allclose(centre.numpy(), expected, atol=1e-3)
    np.testing.assert_allclose(ts[0].numpy() * 22.05, np.arange(emb.shape[1]) * 551.25, rtol=1e-6)
    assert emb.shape[1] == 121  # 0 .. 3000 ms


def test_batch_independence_determinism_and_scene_matches_embedder():
    model = hear.load_model(TinyEncoder(), hop_ms=50.0, batch_size=7)
    audio = _noise(3, 1.3, 16000, seed=1)
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    alone, ts1 = hear.get_timestamp_embeddings(audio[1:2], model)
    torch.testing.assert_close(alone[0], emb[1], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ts1[0], ts[0])
    again, _ = hear.get_timestamp_embeddings(audio, model)
    assert torch.equal(again, emb)
    scene = hear.get_scene_embeddings(audio, model)
    ref = Embedder(TinyEncoder()).scene(audio[2].numpy(), 16000)
    np.testing.assert_allclose(scene[2].numpy(), ref, atol=1e-5)
    with pytest.raises(ConfigError, match="n_sounds"):
        hear.get_scene_embeddings(audio[0], model)


def test_exported_folder_loads(tmp_path):
    from musicrep.io import save_model
    from musicrep.models import create_model

    save_model(
        create_model("samplecnn", num_outputs=2),
        tmp_path / "m",
        vocab=["a", "b"],
        task="singlelabel",
    )
    model = hear.load_model(str(tmp_path / "m"), hop_ms=500.0)
    assert model.sample_rate == 16000 and model.scene_embedding_size == 512
    emb, _ = hear.get_timestamp_embeddings(_noise(1, 1.0, 16000), model)
    assert emb.shape == (1, 3, 512) and torch.isfinite(emb).all()
