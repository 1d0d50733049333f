"""The feature registry: shapes and frame grid for every extractor, values against librosa."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from conftest import tone
from musicrep.errors import ConfigError
from musicrep.features import (
    FeatureStats,
    create_feature,
    delta,
    list_features,
    mfcc_stats,
    yin,
)
from musicrep.features.prosody import interpolate_unvoiced

SR = 16000


def _music(seconds: float = 1.0, sr: int = SR, seed: int = 0) -> np.ndarray:
    """A chord with vibrato, a rhythmic envelope and a little noise (float32)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = sum(np.sin(2 * np.pi * f * t + 3 * np.sin(2 * np.pi * 5 * t)) for f in (220, 277, 330))
    x = x * (0.6 + 0.4 * np.cos(2 * np.pi * 2 * t) ** 2)
    return (0.2 * x + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def _t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x))


# --------------------------------------------------------------------------- every extractor


@pytest.mark.parametrize("name", list_features())
def test_every_feature_is_on_the_frame_grid(name):
    fx = create_feature(name, deltas=1)
    x = _t(np.stack([_music(0.5), _music(0.5, seed=1)[::-1].copy()]))
    out = fx(x)
    assert out.shape == (2, fx.dims, 1 + x.shape[-1] // fx.hop_length)
    assert fx.dims == 2 * fx.base_dims and fx.frame_rate == 100.0
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    # every example is computed on its own (no statistic shared across the batch)
    alone, batched = fx(x[1:] * 0.1)[0], fx(torch.stack([x[0], x[1] * 0.1]))[1]
    torch.testing.assert_close(alone, batched, rtol=1e-4, atol=1e-3)
    # 1-D input and another hop
    assert fx(x[0]).shape[0] == 1
    assert create_feature(name, hop_length=320).num_frames(8000) == 26


def test_feature_registry_errors():
    with pytest.raises(ConfigError, match="unknown feature 'mfc'"):
        create_feature("mfc")
    with pytest.raises(ConfigError, match="cannot build feature 'mfcc'"):
        create_feature("mfcc", n_bands=3)
    with pytest.raises(ConfigError, match="deltas"):
        create_feature("mfcc", deltas=3)
    with pytest.raises(ConfigError, match="shape"):
        create_feature("mfcc")(torch.zeros(2, 3, 100))


# ----------------------------------------------------------------------------- deltas


@pytest.mark.parametrize("mode", ["interp", "nearest", "mirror", "constant"])
@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("width", [5, 9])
def test_delta_matches_librosa(mode, order, width, rng):
    x = rng.standard_normal((3, 4, 40))
    ref = librosa.feature.delta(x, width=width, order=order, mode=mode)
    np.testing.assert_allclose(delta(_t(x), order, width, mode).numpy(), ref, atol=1e-10)


def test_delta_on_fewer_frames_than_the_window_uses_nearest(rng):
    x = rng.standard_normal((2, 5))
    ref = librosa.feature.delta(x, width=9, mode="nearest")
    np.testing.assert_allclose(delta(_t(x), 1, 9, "interp").numpy(), ref, atol=1e-10)


# ----------------------------------------------------------------- values against librosa


def _close(got: torch.Tensor, ref: np.ndarray, atol: float, rtol: float = 1e-4) -> None:
    np.testing.assert_allclose(got.numpy(), ref, atol=atol, rtol=rtol)


def test_lps_fbank_mfcc_equal_librosa():
    y = _music()
    x = _t(y)[None]
    power = np.abs(librosa.stft(y, n_fft=2048, hop_length=160, win_length=400)) ** 2
    _close(create_feature("lps")(x)[0], librosa.power_to_db(power, top_db=None), atol=2e-3)
    mel = librosa.feature.melspectrogram(
        y=y, sr=SR, n_fft=512, hop_length=160, win_length=400, n_mels=40, htk=True, norm=None
    )
    _close(create_feature("fbank")(x)[0], librosa.power_to_db(mel, top_db=None), atol=2e-3)
    mfcc = librosa.feature.mfcc(
        y=y, sr=SR, n_mfcc=13, n_fft=512, hop_length=160, win_length=400, n_mels=40
    )
    got = create_feature("mfcc", deltas=2)(x)[0]
    _close(got[:13], mfcc, atol=5e-3)
    _close(got[13:26], librosa.feature.delta(mfcc), atol=5e-3)
    _close(got[26:], librosa.feature.delta(mfcc, order=2), atol=5e-3)


def test_chroma_equals_librosa_with_fixed_and_estimated_tuning():
    y = _music()
    x = _t(y)[None]
    kw = {"sr": SR, "n_fft": 2048, "hop_length": 160}
    _close(create_feature("chroma")(x)[0], librosa.feature.chroma_stft(y=y, tuning=0.0, **kw), 1e-4)
    y_sharp = tone(440 * 2 ** (0.3 / 12), 1.0, SR)  # 30 cents sharp
    est = create_feature("chroma", tuning="estimate")(_t(y_sharp)[None])[0]
    _close(est, librosa.feature.chroma_stft(y=y_sharp, **kw), atol=1e-4)
    assert est.mean(-1).argmax() == 9  # A
    silent = create_feature("chroma")(torch.zeros(1, 4000))
    assert (silent == 0).all()


@pytest.mark.parametrize("kind", ["centroid", "bandwidth", "rolloff", "flatness"])
def test_spectral_shape_equals_librosa(kind):
    y = np.concatenate([_music(0.5), np.zeros(2000, np.float32)])  # silent frames at the end
    got = create_feature(f"spectral_{kind}")(_t(y.astype(np.float64))[None])[0]
    ref = getattr(librosa.feature, f"spectral_{kind}")(
        y=y.astype(np.float64),
        n_fft=512,
        hop_length=160,
        **({} if kind == "flatness" else {"sr": SR}),
    )
    _close(got, ref, atol=1e-6, rtol=1e-6)
    assert got.shape == (1, 1 + len(y) // 160)


def test_onset_strength_and_tempogram_equal_librosa():
    y = _music(2.0)
    x = _t(y.astype(np.float64))[None]
    env = librosa.onset.onset_strength(
        y=y.astype(np.float64), sr=SR, n_fft=1024, hop_length=160, n_mels=64, center=False
    )
    got_env = create_feature("onset_strength")(x)[0, 0]
    _close(got_env, env, atol=1e-6)
    tg = create_feature("tempogram", n_bins=None)
    ref = librosa.feature.tempogram(onset_envelope=env, sr=SR, hop_length=160, win_length=384)
    _close(tg.from_onset(got_env[None])[0], ref, atol=1e-6)
    assert tg(x).shape == (1, 384, 201)


def test_tempogram_peaks_at_the_tempo_of_a_click_train():
    sr, bpm = SR, 120
    y = np.zeros(6 * sr, np.float32)
    period = int(60 / bpm * sr)
    for start in range(0, len(y) - 400, period):
        y[start : start + 400] = np.sin(2 * np.pi * 1000 * np.arange(400) / sr) * np.hanning(400)
    tg = create_feature("tempogram")
    out = tg(_t(y)[None])[0, :, 100:-100].mean(-1)
    assert tg.bpm[int(out.argmax())] == pytest.approx(bpm, rel=0.03)
    assert tg.dims == 64 and tg.bpm[0] == 30 and tg.bpm[-1] == pytest.approx(480)


def test_gammatone_and_cqt_peak_at_the_tone():
    x = _t(tone(1000, 0.5, SR))[None]
    gt = create_feature("gammatone")
    band = int(gt(x)[0].mean(-1).argmax())
    centres = gt.gammatone.center_freqs
    assert abs(np.log2(centres[band] / 1000)) < 0.15
    cqt = create_feature("cqt")
    assert cqt.cqt.center_freqs[int(cqt(x)[0].mean(-1).argmax())] == pytest.approx(1000, rel=0.03)


# ------------------------------------------------------------------------------- prosody


def test_yin_equals_librosa():
    y = _music(1.0) + 0.3 * tone(150, 1.0, SR)
    f0, aperiodicity = yin(_t(y.astype(np.float64))[None], SR, 60, 400, 1024, 160)
    ref = librosa.yin(
        y.astype(np.float64), fmin=60, fmax=400, sr=SR, frame_length=1024, hop_length=160
    )
    np.testing.assert_allclose(f0[0].numpy(), ref, rtol=1e-6)
    assert ((aperiodicity >= 0) & (aperiodicity < 2)).all()


def test_prosody_of_a_tone_then_silence():
    sr = SR
    y = np.concatenate([tone(200, 0.5, sr), np.zeros(sr // 2, np.float32)])
    out = create_feature("prosody")(_t(y)[None])[0]
    log_f0, voiced, rms, zcr = out
    assert out.shape == (4, 101)
    assert voiced[5:45].all() and not voiced[60:].any()
    np.testing.assert_allclose(log_f0[5:45].exp().numpy(), 200, rtol=0.01)
    # unvoiced frames after the tone hold the last voiced value
    assert log_f0[60:].exp().numpy() == pytest.approx(log_f0[45].exp().item(), rel=0.02)
    _close(rms, librosa.feature.rms(y=y, frame_length=320, hop_length=160)[0], atol=1e-6)
    ref_zcr = librosa.feature.zero_crossing_rate(y, frame_length=320, hop_length=160)[0]
    _close(zcr, ref_zcr, atol=1e-6)
    noise = create_feature("prosody")(torch.randn(1, 8000))[0]
    assert noise[1].mean() < 0.2  # white noise is mostly unvoiced


def test_interpolate_unvoiced():
    v = torch.tensor([[0.0, 9, 2, 9, 9, 5, 9], [1, 1, 1, 1, 1, 1, 1]])
    voiced = torch.tensor([[False, False, True, False, False, True, False], [False] * 7])
    out = interpolate_unvoiced(v, voiced, fill=-1.0)
    torch.testing.assert_close(out[0], torch.tensor([2.0, 2, 2, 3, 4, 5, 5]))
    assert (out[1] == -1).all()


# --------------------------------------------------------------------------- FeatureStats


def test_feature_stats_merge_batches_like_one_pass(rng):
    a = rng.normal(3.0, 2.0, (4, 5, 30))
    b = rng.normal(-1.0, 0.5, (2, 5, 11))
    stats = FeatureStats(5)
    stats.update(_t(a))
    stats.update(_t(b).float())
    rows = np.concatenate(
        [a.transpose(0, 2, 1).reshape(-1, 5), b.transpose(0, 2, 1).reshape(-1, 5)]
    )
    np.testing.assert_allclose(stats.mean.numpy(), rows.mean(0), rtol=1e-6)
    np.testing.assert_allclose(stats.std.numpy(), rows.std(0), rtol=1e-5)
    z = stats.normalize(_t(a).float())
    assert z.dtype == torch.float32
    torch.testing.assert_close(stats.denormalize(z), _t(a).float(), atol=1e-4, rtol=1e-5)
    state = stats.state_dict()
    again = FeatureStats(5)
    again.load_state_dict(state)
    torch.testing.assert_close(again.std, stats.std)
    with pytest.raises(ConfigError, match="FeatureStats"):
        stats.update(torch.zeros(2, 4, 3))
    with pytest.raises(ConfigError, match="no frames"):
        _ = FeatureStats(3).std


def test_feature_stats_fit_normalises_targets():
    fx = create_feature("fbank")
    batches = [torch.randn(3, 8000) * s for s in (0.1, 1.0)]
    stats = FeatureStats.fit(fx, batches)
    z = torch.cat([stats.normalize(fx(b)) for b in batches], dim=-1)
    torch.testing.assert_close(z.mean(dim=(0, 2)), torch.zeros(40), atol=0.1, rtol=0)


# ----------------------------------------------------------------------- MFCC baseline


def test_mfcc_stats_of_a_tensor_equals_the_numpy_path():
    x = np.stack([_music(1.0, 22050), _music(1.0, 22050, seed=3)])
    ref = mfcc_stats(x, 22050)
    got = mfcc_stats(_t(x), 22050)
    assert isinstance(got, torch.Tensor) and got.shape == (2, 120)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-6)
