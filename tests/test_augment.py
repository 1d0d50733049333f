"""Augmentations: each transform's effect, shapes, seeded determinism, probabilities, presets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
import torch

from musicrep.augment import (
    AddNoise,
    BandPass,
    BandStop,
    Choice,
    Clip,
    Compressor,
    Delay,
    Downsample,
    Fixed,
    Gain,
    HighPass,
    LowPass,
    Normal,
    OneOf,
    PitchShift,
    PolarityInversion,
    RandomApply,
    RandomCrop,
    Reverb,
    TimeMask,
    TimeStretch,
    Uniform,
    as_param,
    create_augmentation,
    list_augmentations,
)
from musicrep.errors import ConfigError

SR = 16000


def _sines(freqs, seconds=1.0, sr=SR, amp=0.5) -> torch.Tensor:
    t = torch.arange(int(seconds * sr), dtype=torch.float64) / sr
    return torch.stack([amp * torch.sin(2 * math.pi * f * t) for f in freqs]).float()


def _music(batch=4, seconds=0.5) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = _sines([220 + 110 * k for k in range(batch)], seconds)
    return x + 0.05 * torch.randn(x.shape, generator=g)


def _db(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Energy ratio a / b per row in dB."""
    return 10 * torch.log10(a.double().square().sum(-1) / b.double().square().sum(-1))


def _peak_hz(x: torch.Tensor, sr: int = SR) -> float:
    spec = torch.fft.rfft(x * torch.hann_window(x.shape[-1]))
    return float(spec.abs().argmax()) * sr / x.shape[-1]


# ------------------------------------------------------------------------- every transform

TRANSFORMS = {
    "crop": lambda: RandomCrop(4000),
    "gain": lambda: Gain(),
    "polarity": lambda: PolarityInversion(),
    "clip": lambda: Clip(),
    "delay": lambda: Delay(SR),
    "time_mask": lambda: TimeMask(SR),
    "noise": lambda: AddNoise(SR, color=["white", "pink", "brown"]),
    "lowpass": lambda: LowPass(SR),
    "highpass": lambda: HighPass(SR),
    "bandpass": lambda: BandPass(SR),
    "bandstop": lambda: BandStop(SR),
    "downsample": lambda: Downsample(SR, rate=(4000, 12000)),
    "pitch": lambda: PitchShift(SR),
    "reverb": lambda: Reverb(SR),
    "stretch": lambda: TimeStretch(SR, keep_length=True),
    "compressor": lambda: Compressor(SR),
    "random_apply": lambda: RandomApply(Gain(), p=0.5),
    "one_of": lambda: OneOf([LowPass(SR), HighPass(SR)]),
    **{name: (lambda n=name: create_augmentation(n, sample_rate=SR)) for name in ("pase_plus",)},
    "clmr": lambda: create_augmentation("clmr", sample_rate=SR, num_samples=4000),
}
RANDOM = {"crop", "gain", "clip", "delay", "time_mask", "noise", "lowpass", "highpass"} | {
    "bandpass",
    "bandstop",
    "downsample",
    "pitch",
    "reverb",
    "stretch",
    "compressor",
    "random_apply",
    "one_of",
    "pase_plus",
    "clmr",
}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_every_transform_shapes_dtype_and_seeds(name, dtype):
    x = _music(batch=6).to(dtype)
    t = TRANSFORMS[name]()
    out = t(x, generator=torch.Generator().manual_seed(0))
    n = 4000 if name in ("crop", "clmr") else x.shape[-1]
    assert out.shape == (6, n) and out.dtype == dtype and out.device == x.device
    assert torch.isfinite(out).all()
    again = t(x, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, again)
    if name in RANDOM:
        other = t(x, generator=torch.Generator().manual_seed(1))
        assert not torch.equal(out, other)
    # the transform's own seeded generator: same seed, same stream
    t.reseed(3)
    first = t(x)
    t.reseed(3)
    torch.testing.assert_close(t(x), first)
    # 1-D input
    assert t(x[0]).shape == (1, n)


# ----------------------------------------------------------------------------- parameters


def test_parameter_specs():
    g = torch.Generator().manual_seed(0)
    assert (as_param(10).sample(5, g) == 10).all()
    u = as_param((2, 4)).sample(1000, g)
    assert u.min() >= 2 and u.max() <= 4 and abs(float(u.mean()) - 3) < 0.1
    c = as_param({"choice": [0, 5, 10]}).sample(3000, g)
    assert set(c.tolist()) == {0.0, 5.0, 10.0}
    logu = as_param({"uniform": [100, 10000], "log": True}).sample(4000, g)
    assert abs(float(torch.log10(logu).mean()) - 3) < 0.05
    nrm = as_param({"normal": [0.05, 0.025], "low": 0}).sample(4000, g)
    assert nrm.min() >= 0 and abs(float(nrm.mean()) - 0.05) < 0.003
    mix = Choice([Normal(0.0, 0.1), Fixed(5.0)], weights=[1, 3]).sample(4000, g)
    assert abs(float((mix == 5).double().mean()) - 0.75) < 0.03
    assert Choice([1, Uniform(2, 3)]).bounds() == (1, 3)
    for bad in ("loud", [1, 2, 3], {"choice": [1], "what": 2}, True):
        with pytest.raises(ConfigError):
            as_param(bad)
    with pytest.raises(ConfigError, match="low <= high"):
        Uniform(3, 2)


# ------------------------------------------------------------------------------- effects


def test_gain_polarity_and_clip():
    x = _music()
    out = Gain(-6.0)(x)
    torch.testing.assert_close(_db(out, x), torch.full((4,), -6.0, dtype=torch.float64))
    torch.testing.assert_close(PolarityInversion()(x), -x)
    c = Clip(0.3)(x)
    assert torch.allclose(c.amax(-1), 0.3 * x.amax(-1)) and torch.allclose(
        c.amin(-1), 0.3 * x.amin(-1)
    )
    inside = (x < 0.3 * x.amax(-1, keepdim=True)) & (x > 0.3 * x.amin(-1, keepdim=True))
    assert torch.equal(c[inside], x[inside])


@pytest.mark.parametrize("color", ["white", "pink", "brown"])
def test_noise_snr_and_color(color):
    x = _music(batch=4, seconds=2.0)
    out = AddNoise(SR, snr_db=10.0, color=color)(x)
    torch.testing.assert_close(_db(x, out - x), torch.full((4,), 10.0, dtype=torch.float64))
    # spectral slope of the noise: 0, -10, -20 dB per decade (PSD ~ 1 / f^beta)
    noise = (out - x).double()
    psd = torch.fft.rfft(noise).abs().square().mean(0)
    f = torch.fft.rfftfreq(noise.shape[-1], 1 / SR, dtype=torch.float64)
    band = (f > 100) & (f < 4000)
    slope = np.polyfit(np.log10(f[band].numpy()), 10 * np.log10(psd[band].numpy()), 1)[0]
    expected = {"white": 0.0, "pink": -10.0, "brown": -20.0}[color]
    assert slope == pytest.approx(expected, abs=1.5)


def test_noise_ranges_ratio_energy_and_silence():
    x = _music(batch=8)
    snr = _db(x, AddNoise(SR, snr_db=(5, 15))(x) - x)
    assert ((snr > 5 - 1e-3) & (snr < 15 + 1e-3)).all() and snr.std() > 1
    ratio = AddNoise(SR, noise_ratio=0.01)(x) - x
    torch.testing.assert_close(_db(ratio, x), torch.full((8,), -40.0, dtype=torch.float64))
    kept = AddNoise(SR, snr_db=0, preserve_energy=True)(x)
    torch.testing.assert_close(_db(kept, x), torch.zeros(8, dtype=torch.float64), atol=1e-4, rtol=0)
    assert (AddNoise(SR)(torch.zeros(2, 800)) == 0).all()
    with pytest.raises(ConfigError, match="color"):
        AddNoise(SR, color="purple")


def test_noise_from_a_folder(tmp_path):
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "hum.wav", 0.1 * np.sin(np.arange(3000) * 0.3), SR)
    sf.write(tmp_path / "hiss.flac", 0.05 * rng.standard_normal(20000), SR)
    (tmp_path / "broken.wav").write_bytes(b"not audio")
    with pytest.warns(UserWarning, match="1 unreadable"):
        noise = AddNoise(SR, snr_db=3.0, noise_dir=tmp_path)
    assert noise.bank.files == 2
    x = _music(batch=6)
    out = noise(x)
    torch.testing.assert_close(
        _db(x, out - x), torch.full((6,), 3.0, dtype=torch.float64), atol=1e-4, rtol=0
    )
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no audio files"):
        AddNoise(SR, noise_dir=tmp_path / "empty")


def _gain_at(t, freq: float) -> float:
    x = _sines([freq], seconds=1.0)
    out = t(x)
    mid = slice(2000, 14000)
    return float(_db(out[:, mid], x[:, mid])[0])


def test_filters_pass_and_stop_bands():
    low = LowPass(SR, cutoff_hz=1000.0)
    assert _gain_at(low, 250) == pytest.approx(0.0, abs=0.05)
    assert _gain_at(low, 1000) == pytest.approx(-3.01, abs=0.1)
    assert _gain_at(low, 4000) < -45
    high = HighPass(SR, cutoff_hz=1000.0)
    assert _gain_at(high, 4000) == pytest.approx(0.0, abs=0.05)
    assert _gain_at(high, 1000) == pytest.approx(-3.01, abs=0.1)
    assert _gain_at(high, 250) < -45
    band = BandPass(SR, center_hz=1000.0, width_octaves=2.0)
    assert _gain_at(band, 1000) == pytest.approx(0.0, abs=0.1)
    assert _gain_at(band, 125) < -40 and _gain_at(band, 8000 * 0.99) < -30
    stop = BandStop(SR, center_hz=1000.0, width_octaves=1.0, preserve_energy=False)
    assert _gain_at(stop, 1000) < -40 and _gain_at(stop, 3000) == pytest.approx(0.0, abs=0.1)
    down = Downsample(SR, rate=8000, preserve_energy=False)
    assert _gain_at(down, 3000) == pytest.approx(0.0, abs=0.05) and _gain_at(down, 5000) < -40
    with pytest.raises(ConfigError, match="Nyquist"):
        LowPass(SR, cutoff_hz=9000)


def test_filters_draw_cutoffs_per_example():
    x = _sines([1500] * 64)
    out = LowPass(SR, cutoff_hz=(1000, 3000))(x)
    gains = _db(out[:, 2000:14000], x[:, 2000:14000])
    assert gains.min() < -6 and gains.max() > -1  # some cut-offs below, some above 1.5 kHz


@pytest.mark.parametrize("steps", [3.0, -5.0, 7.0])
def test_pitch_shift_moves_a_sine_by_the_ratio(steps):
    x = _sines([440.0], seconds=1.0)
    out = PitchShift(SR, semitones=steps)(x)
    assert out.shape == x.shape
    assert _peak_hz(out[0, 2000:14000]) == pytest.approx(440 * 2 ** (steps / 12), rel=0.01)
    same = PitchShift(SR, semitones=0.0)(x)
    assert torch.corrcoef(torch.stack([same[0, 1000:-1000], x[0, 1000:-1000]]))[0, 1] > 0.99


def test_delay_adds_an_echo():
    x = torch.zeros(1, 8000)
    x[0, 100] = 1.0
    out = Delay(SR, delay_ms=250.0, volume=0.5)(x)
    assert out[0, 100] == 0.5 and out[0, 100 + 4000] == 0.25
    assert torch.count_nonzero(out) == 2


def test_reverb_decay_time_and_direct_to_reverberant_ratio():
    g = torch.Generator().manual_seed(0)
    rev = Reverb(SR, rt60=0.5, drr_db=3.0, preserve_energy=False)
    ir = rev.impulse_responses(8, g, torch.zeros(1, dtype=torch.float64))
    assert ir.shape == (8, 8000)
    assert (ir[:, 0] == 1).all()
    torch.testing.assert_close(
        10 * torch.log10(1 / ir[:, 1:].square().sum(-1)), torch.full((8,), 3.0, dtype=torch.float64)
    )
    # Schroeder backward integration: -5 .. -25 dB slope extrapolated to -60 dB
    tail = ir[:, 1:].square().flip(-1).cumsum(-1).flip(-1).mean(0)
    edc = 10 * torch.log10(tail / tail[0])
    t = torch.arange(len(edc), dtype=torch.float64) / SR
    sel = (edc < -5) & (edc > -25)
    slope = np.polyfit(t[sel].numpy(), edc[sel].numpy(), 1)[0]
    assert -60 / slope == pytest.approx(0.5, rel=0.1)
    x = torch.zeros(1, 16000)
    x[0, 0] = 1.0
    out = Reverb(SR, rt60=0.5, drr_db=3.0, preserve_energy=False)(
        x, generator=torch.Generator().manual_seed(0)
    )
    assert (
        out[0, 0] == pytest.approx(1.0, abs=1e-6)
        and out[0, 1:8000].abs().sum() > 0
        and out[0, 8000:].abs().max() < 1e-6
    )
    kept = Reverb(SR)(_music())
    torch.testing.assert_close(
        _db(kept, _music()), torch.zeros(4, dtype=torch.float64), atol=1e-4, rtol=0
    )


def test_time_mask_zeroes_the_right_span():
    x = torch.ones(3, 16000)
    out = TimeMask(SR, duration=0.1, count=1, position=0.5)(x)
    start = round(0.5 * (16000 - 1600))
    zero = (out == 0).nonzero()
    assert (zero[:, 1].min(), zero[:, 1].max()) == (start, start + 1599)
    assert (out[:, start : start + 1600] == 0).all() and (out == 0).sum() == 3 * 1600
    assert torch.equal(TimeMask(SR, duration=0.1, count=0)(x), x)
    spans = TimeMask(SR, duration=0.01, count=3)(torch.ones(500, 16000))
    frac = float((spans == 0).double().mean())
    assert 0.02 < frac <= 0.03  # three 10 ms spans of 1 s, some overlapping


def test_random_crop_positions():
    x = torch.arange(10000.0)[None].repeat(4, 1)
    torch.testing.assert_close(RandomCrop(1000, position=0)(x), x[:, :1000])
    torch.testing.assert_close(RandomCrop(1000, position=1)(x), x[:, -1000:])
    out = RandomCrop(1000)(x)
    assert ((out[:, 1:] - out[:, :-1]) == 1).all() and len(set(out[:, 0].tolist())) > 1
    short = RandomCrop(1000)(torch.ones(2, 600))
    assert short.shape == (2, 1000) and (short[:, 600:] == 0).all()


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_random_apply_probability(p):
    x = torch.ones(4000, 8)
    out = RandomApply(PolarityInversion(), p=p, seed=0)(x)
    applied = float((out[:, 0] < 0).double().mean())
    assert applied == pytest.approx(p, abs=0.03)


def test_random_apply_and_one_of_reject_length_changes_and_mix_per_example():
    with pytest.raises(ConfigError, match="RandomCrop"):
        RandomApply(RandomCrop(100), p=0.5)
    x = torch.ones(1000, 4)
    out = OneOf([Gain(-6.0), PolarityInversion()], seed=0)(x)
    gained, flipped = (out[:, 0] - 10 ** (-6 / 20)).abs() < 1e-6, out[:, 0] == -1
    assert (gained ^ flipped).all() and 0.45 < float(flipped.double().mean()) < 0.55


def test_presets_registry_and_options(tmp_path):
    assert list_augmentations() == ["clmr", "pase_plus"]
    x = _music(batch=8, seconds=1.0)
    clmr = create_augmentation("clmr", sample_rate=SR, num_samples=8000, seed=0)
    assert clmr(x).shape == (8, 8000)
    everything = create_augmentation("pase_plus", p={"reverb": 1, "noise": 1}, seed=1)
    assert not torch.allclose(everything(x), x)
    nothing = create_augmentation(
        "pase_plus",
        p=dict.fromkeys(("reverb", "noise", "clip", "chop", "banddrop", "downsample"), 0),
    )
    torch.testing.assert_close(nothing(x), x)
    with pytest.raises(ConfigError, match="unknown augmentation"):
        create_augmentation("pase_plus", p={"overlap": 0.1})
    with pytest.raises(ConfigError, match="unknown augmentation 'simclr'"):
        create_augmentation("simclr")


# ----------------------------------------------------------------- time stretch, compressor


@pytest.mark.parametrize("rate", [2**-0.5, 0.8, 1.25, 2**0.5])
def test_time_stretch_changes_the_duration_not_the_pitch(rate):
    x = _sines([440.0, 1000.0], seconds=1.0)
    out = TimeStretch(SR, rate=rate)(x)
    assert out.shape == (2, round(SR / rate))
    for row, f in zip(out, (440.0, 1000.0)):
        assert abs(_peak_hz(row) - f) < 5
    rms = out.square().mean(-1).sqrt() / x.square().mean(-1).sqrt()
    torch.testing.assert_close(rms, torch.ones(2), atol=1e-4, rtol=0)
    # identity at rate 1
    torch.testing.assert_close(TimeStretch(SR, rate=1.0)(x), x, atol=2e-3, rtol=0)


def test_time_stretch_per_example_rates_need_keep_length():
    x = _sines([440.0, 660.0], seconds=0.5)
    with pytest.raises(ConfigError, match="keep_length"):
        TimeStretch(SR, rate=(0.8, 1.25))(x, generator=torch.Generator().manual_seed(0))
    out = TimeStretch(SR, rate=(0.8, 1.25), keep_length=True)(x)
    assert out.shape == x.shape
    with pytest.raises(ConfigError):
        TimeStretch(SR, rate=0.0)


def test_compressor_reduces_the_level_difference_by_the_ratio():
    t = torch.arange(2 * SR, dtype=torch.float64) / SR
    env = torch.where(t < 1, 0.1, 1.0)  # a 20 dB step
    x = (env * torch.sin(2 * math.pi * 440 * t)).float()[None]
    out = Compressor(SR, threshold_db=-10, ratio=4, makeup="none")(x)
    quiet, loud = slice(2000, SR - 2000), slice(SR + 2000, 2 * SR - 2000)
    level = lambda y, s: 10 * torch.log10(y[0, s].square().mean())  # noqa: E731
    # the loud part is 10 dB above the threshold: reduced by 10 * (1 - 1/4) = 7.5 dB
    assert float(level(out, loud) - level(x, loud)) == pytest.approx(-7.5, abs=0.3)
    assert float(level(out, quiet) - level(x, quiet)) == pytest.approx(0.0, abs=0.3)
    # ratio 1 does nothing; makeup restores the RMS
    torch.testing.assert_close(Compressor(SR, threshold_db=-10, ratio=1)(x), x)
    y = Compressor(SR, threshold_db=-30, ratio=8)(x)
    torch.testing.assert_close(y.square().mean(), x.square().mean(), rtol=1e-4, atol=0)
    with pytest.raises(ConfigError):
        Compressor(SR, ratio=0.5)
