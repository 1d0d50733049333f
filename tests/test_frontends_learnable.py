"""Learnable front-ends: harmonic filterbank, SincNet filters, ModNet / SincModNet."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import tone
from musicrep.errors import ConfigError
from musicrep.frontends import create_frontend
from musicrep.frontends.harmonic import HarmonicFilterbank
from musicrep.frontends.modulation import SincModNet, progressive_factors
from musicrep.frontends.sinc import SincConv1d

LEARNABLE = ("harmonic", "sinc", "modulation", "sinc_modulation")


def projection_loss(out: torch.Tensor) -> torch.Tensor:
    """A fixed random projection of the output (a squared-norm loss after a training-mode
    BatchNorm is constant, so its gradient would vanish)."""
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(0))
    return (out * weights).sum()


def magnitude_response(kernels: torch.Tensor, sample_rate: float, n_fft: int = 8192):
    """(channels, 1, taps) -> frequencies (n_fft // 2 + 1,), |H| (channels, n_fft // 2 + 1)."""
    mag = torch.fft.rfft(kernels[:, 0].detach().double(), n=n_fft).abs()
    return np.fft.rfftfreq(n_fft, 1 / sample_rate), mag.numpy()


# --------------------------------------------------------------------------------------------
# harmonic


def test_harmonic_center_frequencies_follow_half_semitone_grid():
    fe = HarmonicFilterbank()
    midi = 24 + np.arange(128) / 2  # C1 .. E6 (exclusive), half-semitone steps
    f0 = 440.0 * 2.0 ** ((midi - 69) / 12)
    expected = np.arange(1, 7)[:, None] * f0[None, :]
    fc = fe.center_frequencies().detach().numpy()
    assert fc.shape == (6, 128)
    np.testing.assert_allclose(fc, expected, rtol=1e-5)
    np.testing.assert_allclose(fe.midi.numpy(), midi)
    assert fc.max() < 8000


def test_harmonic_bandwidths_are_erb_over_q():
    fe = HarmonicFilterbank(q_init=2.0)
    fc = fe.center_frequencies().detach()
    np.testing.assert_allclose(
        fe.bandwidths().detach().numpy(), ((0.1079 * fc + 24.7) / 2.0).numpy(), rtol=1e-5
    )


def test_harmonic_filters_peak_at_center_and_vanish_beyond_half_bandwidth():
    # sample_rate 16000, n_fft 1600 -> bins every 10 Hz; pitches at MIDI 69 (440 Hz) land on bins.
    fe = HarmonicFilterbank(n_fft=1600, semitone_scale=1, low_midi=45, learn_bw="fix")
    fb = fe.filterbank().detach()  # (H, P, n_freqs)
    freqs = fe.fft_freqs
    fc, bw = fe.center_frequencies().detach(), fe.bandwidths().detach()
    k = int(torch.nonzero(fe.midi == 69)[0])
    for h in range(fe.n_harmonic):
        row = fb[h, k]
        peak = int(row.argmax())
        assert freqs[peak].item() == pytest.approx(fc[h, k].item(), abs=1e-3)
        assert row[peak].item() == pytest.approx(1.0, abs=1e-5)
    # everywhere: zero beyond BW/2, positive inside, never above 1
    dist = (freqs[None, None, :] - fc[..., None]).abs()
    assert torch.all(fb[dist >= bw[..., None] / 2] == 0)
    assert torch.all(fb[dist < bw[..., None] / 2 - 1e-3] > 0)
    assert fb.max() <= 1.0


@pytest.mark.parametrize(
    ("options", "learned"),
    [
        ({}, ["bw_Q"]),
        ({"learn_bw": "full"}, ["bw_Q", "bw_alpha", "bw_beta"]),
        ({"learn_f0": True}, ["bw_Q", "f0"]),
    ],
)
def test_harmonic_gradients_reach_learnable_filter_parameters(options, learned):
    fe = HarmonicFilterbank(**options)
    wave = torch.from_numpy(tone(440.0, 0.25)) + 0.01 * torch.randn(4000)
    projection_loss(fe(wave[None].repeat(2, 1))).backward()
    params = dict(fe.named_parameters())
    for name in learned:
        assert params[name].grad is not None and torch.isfinite(params[name].grad).all()
        assert params[name].grad.abs().sum() > 0, name


def test_harmonic_fix_mode_learns_no_filter_parameter():
    fe = HarmonicFilterbank(learn_bw="fix", batchnorm=False)
    assert list(fe.parameters()) == []
    with pytest.raises(ConfigError):
        HarmonicFilterbank(learn_bw="everything")


def test_harmonic_440hz_tone_lights_a4_in_h1_and_a3_in_h2():
    fe = HarmonicFilterbank(batchnorm=False).eval()
    with torch.no_grad():
        out = fe(torch.from_numpy(tone(440.0, 1.0)))[0].mean(-1)  # (6, 128)
    midi = fe.midi
    assert midi[out[0].argmax()].item() == 69.0  # A4 in harmonic 1
    assert midi[out[1].argmax()].item() == 57.0  # A3: its 2nd harmonic is 440 Hz


def test_harmonic_output_shape_and_registry():
    fe = create_frontend("harmonic")
    assert fe.kind == "tf" and fe.sample_rate == 16000
    assert fe.output_shape(80000) == (6, 128, 313)
    for n in (4000, 8001):
        with torch.no_grad():
            assert tuple(fe.eval()(torch.zeros(1, n)).shape[1:]) == fe.output_shape(n)


# --------------------------------------------------------------------------------------------
# sinc


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"normalize": "gain", "frequency_unit": "normalized"},
        # envelope-rate use: 200 Hz, log-spaced 0.5-64 Hz bands placed exactly
        {
            "sample_rate": 200,
            "kernel_size": 401,
            "min_low_hz": 0.1,
            "min_band_hz": 0.1,
            "init_low_hz": 2.0,
            "init_high_hz": 64.0,
            "init_scale": "log",
            "init_offset": "exact",
            "frequency_unit": "normalized",
        },
    ],
)
def test_sinc_filters_peak_inside_their_band(options):
    conv = SincConv1d(out_channels=16, **options)
    freqs, mag = magnitude_response(conv.filters(), conv.sample_rate)
    peak = freqs[mag.argmax(1)]
    low, high = conv.low_hz.detach().numpy(), conv.high_hz.detach().numpy()
    assert np.all((peak >= low) & (peak <= high)), (peak, low, high)


def test_sinc_init_follows_sincconv_fast():
    conv = SincConv1d()  # 80 filters, 251 taps, 16 kHz
    edges = 700 * (
        10
        ** (np.linspace(2595 * np.log10(1 + 30 / 700), 2595 * np.log10(1 + 7900 / 700), 81) / 2595)
        - 1
    )
    np.testing.assert_allclose(conv.low_hz.detach().numpy(), edges[:-1] + 50, rtol=1e-4)
    expected_high = np.minimum(edges[1:] + 100, 8000)
    np.testing.assert_allclose(conv.high_hz.detach().numpy(), expected_high, rtol=1e-4)
    kernels = conv.filters().detach()[:, 0]
    torch.testing.assert_close(kernels[:, 125], torch.ones(80))  # normalised by 2 * band
    torch.testing.assert_close(kernels, kernels.flip(-1))  # linear phase


def test_sinc_exact_init_and_gain_normalisation():
    conv = SincConv1d(
        8,
        1001,
        sample_rate=16000,
        init_low_hz=500,
        init_high_hz=6000,
        init_scale="log",
        init_offset="exact",
        normalize="gain",
    )
    edges = np.geomspace(500, 6000, 9)
    np.testing.assert_allclose(conv.low_hz.detach().numpy(), edges[:-1], rtol=1e-5)
    np.testing.assert_allclose(conv.high_hz.detach().numpy(), edges[1:], rtol=1e-5)
    freqs, mag = magnitude_response(conv.filters(), 16000)
    centre = np.abs(freqs[None, :] - conv.center_hz.detach().numpy()[:, None]).argmin(1)
    np.testing.assert_allclose(mag[np.arange(8), centre], 1.0, atol=0.02)
    with pytest.raises(ConfigError, match="init_offset='exact'"):
        SincConv1d(80, init_offset="exact")  # the first mel bands are narrower than 50 Hz


def test_sinc_hz_and_normalized_parameters_give_the_same_filters():
    a = SincConv1d(10, 101, sample_rate=8000, frequency_unit="hz")
    b = SincConv1d(10, 101, sample_rate=8000, frequency_unit="normalized")
    torch.testing.assert_close(a.filters(), b.filters())
    assert b.low_param.abs().max() < 0.5  # stored in cycles per sample


def test_sinc_quadrature_pair_is_analytic():
    conv = SincConv1d(
        6,
        201,
        sample_rate=1000,
        min_low_hz=1,
        min_band_hz=1,
        init_low_hz=20,
        init_high_hz=400,
        init_offset="exact",
        normalize="gain",
    )
    analytic = torch.complex(conv.filters()[:, 0], conv.filters(quadrature=True)[:, 0]).detach()
    spectrum = torch.fft.fft(analytic, n=4096).abs()
    positive, negative = spectrum[:, 1:2048], spectrum[:, 2049:]
    assert negative.max() < 0.02 * positive.max()
    torch.testing.assert_close(conv.filters(quadrature=True).sum(-1), torch.zeros(6, 1))


def test_sinc_cutoffs_stay_above_minimums_and_receive_gradients():
    conv = SincConv1d(12, 101, sample_rate=16000)
    x = torch.randn(2, 1, 800)
    projection_loss(conv(x)).backward()
    for p in (conv.low_param, conv.band_param):
        assert p.grad is not None and p.grad.abs().sum() > 0
    conv.zero_grad()
    # push both the low cut-offs and the widths down, far past zero
    (conv.low_hz.sum() + (conv.high_hz - conv.low_hz).sum()).backward()
    with torch.no_grad():
        for p in (conv.low_param, conv.band_param):
            p -= 1e4 * p.grad
    assert torch.all(conv.low_param < 0) and torch.all(conv.band_param < 0)  # crossed zero
    assert torch.all(conv.low_hz >= 50.0)
    assert torch.all(conv.high_hz - conv.low_hz >= 50.0 - 1e-3)
    assert torch.isfinite(conv.filters()).all()


def test_sinc_rejects_bad_configurations():
    with pytest.raises(ConfigError, match="odd"):
        SincConv1d(8, 250)
    with pytest.raises(ConfigError, match="Nyquist"):
        SincConv1d(8, 11, sample_rate=100, min_low_hz=30, min_band_hz=30)
    with pytest.raises(ConfigError):
        SincConv1d(8, 11)(torch.zeros(2, 100))


def test_sinc_frontend_shapes():
    fe = create_frontend("sinc").eval()
    assert fe.kind == "wave" and fe.sample_rate == 16000
    assert fe.output_shape(16000) == (80, (16000 - 250) // 3)
    for n, options in ((1000, {}), (4001, {"padding": "same", "pool_size": 1, "norm": "batch"})):
        fe = create_frontend("sinc", **options).eval()
        with torch.no_grad():
            assert tuple(fe(torch.randn(2, n)).shape[1:]) == fe.output_shape(n)
    with pytest.raises(ConfigError):
        create_frontend("sinc")(torch.zeros(1, 200))  # shorter than the kernel


# --------------------------------------------------------------------------------------------
# modulation


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"subsample": 4, "envelope_lowpass": "avg", "compression": "log1p"},
        {"subsample": "progressive", "modulation_output": "rectified"},
        {"subsample": [2, 2, 4, 4, 4, 8, 8, 16], "batchnorm": False},
    ],
)
@pytest.mark.parametrize("name", ["modulation", "sinc_modulation"])
def test_modulation_shapes_match_output_shape(name, options):
    fe = create_frontend(name, n_bands=6, **options).eval()
    assert fe.kind == "tf"
    for n in (1, 79, 80, 8001, 12345):
        with torch.no_grad():
            out = fe(torch.randn(2, n))
        assert tuple(out.shape) == (2, *fe.output_shape(n)), (n, options)
        assert torch.isfinite(out).all()
    assert fe.output_shape(16000)[:2] == (8, 6)


def am_tone(mod_hz: float, seconds: float = 2.0, carrier: float = 1000.0, sr: int = 16000):
    t = np.arange(int(seconds * sr)) / sr
    x = 0.5 * (1 + np.sin(2 * np.pi * mod_hz * t)) * np.sin(2 * np.pi * carrier * t)
    return torch.from_numpy(x.astype(np.float32))[None]


@pytest.mark.parametrize("mod_hz", [4.0, 16.0])
def test_sinc_modulation_am_tone_peaks_in_the_channel_containing_its_rate(mod_hz):
    fe = SincModNet(batchnorm=False).eval()
    with torch.no_grad():
        out = fe(am_tone(mod_hz))[0]  # (M, F, frames)
    band = int((fe.acoustic.low_hz <= 1000).logical_and(fe.acoustic.high_hz >= 1000).nonzero()[0])
    level = out[:, band].mean(-1)  # dB per modulation channel
    low, high = fe.modulation.low_hz.detach(), fe.modulation.high_hz.detach()
    expected = int(((low <= mod_hz) & (high >= mod_hz)).nonzero()[0])
    assert int(level.argmax()) == expected
    others = torch.cat([level[:expected], level[expected + 1 :]])
    assert level[expected] > others.max() + 10  # dB
    # the AM shows in the bands around the carrier, not far away from it
    assert out[expected, band].mean() > out[expected, -1].mean() + 20


def test_modnet_starts_where_sincmodnet_starts():
    wave = am_tone(8.0, seconds=0.5)
    fir, sinc = create_frontend("modulation").eval(), create_frontend("sinc_modulation").eval()
    with torch.no_grad():
        torch.testing.assert_close(fir(wave), sinc(wave), atol=1e-3, rtol=1e-4)
    random = create_frontend("modulation", fir_init="random").eval()
    with torch.no_grad():
        assert not torch.allclose(random(wave), sinc(wave), atol=1e-1)


def test_progressive_subsampling_holds_slow_channels():
    fe = create_frontend("sinc_modulation", n_bands=4, subsample="progressive").eval()
    rate, high = fe.envelope_rate, fe.modulation.high_hz.detach().numpy()
    factors = np.array(fe.subsample_factors)
    assert factors.tolist() == progressive_factors(high.tolist(), rate)
    assert np.all(rate / factors >= 2 * high) and np.all(rate / (2 * factors) < 2 * high)
    assert factors[0] > factors[-1] == 1  # slow channels at a reduced rate
    with torch.no_grad():
        out = fe(torch.randn(1, 16000))[0, :, 0]  # (M, frames) of the first band
    s = int(factors[0])
    runs = out[0, : (out.shape[-1] // s) * s].reshape(-1, s)
    torch.testing.assert_close(runs, runs[:, :1].expand_as(runs))


def test_modulation_rejects_bad_configurations():
    with pytest.raises(ConfigError, match="Nyquist"):
        create_frontend("sinc_modulation", envelope_hop=160)  # 100 Hz envelope < 2 x 64 Hz
    with pytest.raises(ConfigError, match="multiples"):
        create_frontend("modulation", subsample=[2, 3, 2, 2, 2, 2, 2, 2])
    with pytest.raises(ConfigError):
        create_frontend("modulation", subsample=[1, 2])


# --------------------------------------------------------------------------------------------
# all learnable front-ends


@pytest.mark.parametrize("name", LEARNABLE)
def test_forward_backward_reaches_every_parameter(name):
    options = {"n_bands": 8} if "modulation" in name else {}
    fe = create_frontend(name, **options).train()
    wave = torch.randn(3, 8000, generator=torch.Generator().manual_seed(1))
    out = fe(wave)
    assert tuple(out.shape) == (3, *fe.output_shape(8000))
    projection_loss(out).backward()
    for pname, p in fe.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, pname
