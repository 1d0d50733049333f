"""Fixed spectral front-ends (stft, mel, mfcc, cqt, gammatone) and the raw-waveform front-end.

Values are checked against librosa / nnAudio; shapes against each front-end's closed-form
``output_shape``.
"""

from __future__ import annotations

import warnings

import librosa
import numpy as np
import pytest
import torch

from conftest import tone
from musicrep.errors import ConfigError
from musicrep.frontends import create_frontend, list_frontends
from musicrep.frontends.spectral import ConstantQ, Gammatonegram, MelSpectrogram
from musicrep.frontends.waveform import Waveform

SR = 16000

#: (registered name, options) of every configuration tested for shape / gradient / device.
CONFIGS = [
    ("stft", {}),
    ("stft", {"power": 1.0, "scale": "log", "n_fft": 1024, "win_length": 400, "hop_length": 160}),
    ("mel", {}),
    ("mel", {"n_mels": 96, "compression": "logc", "batchnorm": True}),
    ("mfcc", {}),
    ("cqt", {}),
    ("cqt", {"algorithm": "2010", "power": 2.0}),
    ("gammatone", {}),
    ("waveform", {}),
    ("waveform", {"frame_length": 3, "normalize": "rms"}),
    ("waveform", {"frame_length": 400, "hop_length": 160, "normalize": "peak"}),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CONFIGS)]


def _noise(rng: np.random.Generator, n: int, amp: float = 0.1) -> np.ndarray:
    return (amp * rng.standard_normal(n)).astype(np.float32)


def _run(frontend, y: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return frontend(torch.from_numpy(y)[None])[0, 0].numpy()


def test_registered_names():
    assert {"stft", "mel", "mfcc", "cqt", "gammatone", "waveform"} <= set(list_frontends())


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=IDS)
def test_output_shape_matches_forward(name, kwargs):
    fe = create_frontend(name, **kwargs).eval()
    assert fe.sample_rate == SR
    assert fe.kind == ("wave" if name == "waveform" else "tf")
    for n in (1000, 16000, 48001):
        with torch.no_grad():
            out = fe(torch.randn(2, n))
        assert tuple(out.shape) == (2, *fe.output_shape(n)), (name, n)


def test_default_shapes_follow_the_zoo():
    # 16 kHz, hop 256: T = 1 + N // 256 frames (FCN/CRNN 29 s, zoo Musicnn 3 s, short-chunk)
    assert create_frontend("mel").output_shape(48000) == (1, 128, 188)
    assert create_frontend("mel", n_mels=96).output_shape(464000) == (1, 96, 1813)
    assert create_frontend("mel").output_shape(59049) == (1, 128, 231)
    assert create_frontend("stft").output_shape(16000) == (1, 257, 63)
    assert create_frontend("waveform").output_shape(59049) == (1, 59049)
    assert create_frontend("waveform", frame_length=3).output_shape(59049) == (3, 19683)


@pytest.mark.parametrize(("htk", "norm"), [(True, None), (False, "slaney")])
def test_mel_matches_librosa(rng, htk, norm):
    y = _noise(rng, 8000) + tone(1000.0, 0.5)
    fe = MelSpectrogram(htk=htk, norm=norm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # librosa: empty HTK band 0 at n_fft 512
        ref_power = librosa.feature.melspectrogram(
            y=y, sr=SR, n_fft=512, hop_length=256, n_mels=128, fmax=8000, htk=htk, norm=norm
        )
    ref = librosa.power_to_db(ref_power, ref=1.0, amin=1e-10, top_db=None)
    out = _run(fe, y)
    live = ref_power.max(axis=1) > 0  # bands that cover an FFT bin
    assert live.sum() >= 127
    assert np.abs(out[live] - ref[live]).max() < 1e-2
    assert list(np.flatnonzero(~live)) == fe.empty_bands


def test_mel_magnitude_logc_and_top_db(rng):
    y = _noise(rng, 4000)
    kw = dict(y=y, sr=SR, n_fft=512, hop_length=256, n_mels=96, fmax=8000, htk=True, norm=None)
    mag = librosa.feature.melspectrogram(power=1.0, **kw)
    out = _run(MelSpectrogram(n_mels=96, power=1.0, top_db=40.0), y)
    np.testing.assert_allclose(out, librosa.amplitude_to_db(mag, top_db=40.0), atol=1e-2)
    assert out.max() - out.min() <= 40.0 + 1e-4
    power = librosa.feature.melspectrogram(power=2.0, **kw)
    out = _run(MelSpectrogram(n_mels=96, compression="logc"), y)  # musicnn
    np.testing.assert_allclose(out, np.log10(10000 * power + 1), rtol=1e-4, atol=1e-4)
    out = _run(MelSpectrogram(n_mels=96, compression="none"), y)
    np.testing.assert_allclose(out, power, rtol=1e-4, atol=1e-7)


def test_stft_matches_librosa(rng):
    y = _noise(rng, 5000)
    ref = np.abs(librosa.stft(y, n_fft=512, hop_length=256)) ** 2
    out = _run(create_frontend("stft", scale="linear"), y)
    np.testing.assert_allclose(out, ref, rtol=1e-3, atol=1e-6 * ref.max())
    db = _run(create_frontend("stft", power=1.0, scale="db", top_db=80.0), y)
    np.testing.assert_allclose(db, librosa.amplitude_to_db(np.sqrt(ref), top_db=80.0), atol=1e-2)
    log = _run(create_frontend("stft", scale="log", eps=1e-6), y)
    np.testing.assert_allclose(log, np.log(ref + 1e-6), atol=1e-3)
    # shorter window zero-padded to n_fft, as librosa
    ref = np.abs(librosa.stft(y, n_fft=1024, hop_length=160, win_length=400, window="hamming"))
    out = _run(
        create_frontend(
            "stft",
            n_fft=1024,
            hop_length=160,
            win_length=400,
            window="hamming",
            power=1.0,
            scale="linear",
        ),
        y,
    )
    np.testing.assert_allclose(out, ref, rtol=1e-3, atol=1e-5 * ref.max())


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"n_mfcc": 13, "htk": True, "norm": None, "lifter": 22.0, "n_mels": 64}],
    ids=["librosa-defaults", "htk-lifter"],
)
def test_mfcc_matches_librosa(rng, kwargs):
    y = _noise(rng, 8000) + tone(440.0, 0.5)
    fe = create_frontend("mfcc", **kwargs)
    ref = librosa.feature.mfcc(
        y=y,
        sr=SR,
        n_mfcc=kwargs.get("n_mfcc", 20),
        n_fft=512,
        hop_length=256,
        n_mels=kwargs.get("n_mels", 128),
        fmax=8000,
        htk=kwargs.get("htk", False),
        mel_norm=kwargs.get("norm", "slaney"),
        lifter=kwargs.get("lifter", 0.0),
    )
    out = _run(fe, y)
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() < 1e-2  # coefficients are O(100)


@pytest.mark.parametrize("algorithm", ["1992", "2010"])
def test_cqt_a4_peak_and_librosa_magnitude(algorithm):
    fe = ConstantQ(algorithm=algorithm, compression="none")
    a4 = int(round(12 * np.log2(440.0 / fe.f_min)))  # 57 bins above C1
    assert abs(fe.center_freqs[a4] - 440.0) < 0.01
    y = tone(440.0, 1.0)
    out = _run(fe, y)
    assert np.all(out[:, 10:-10].argmax(axis=0) == a4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # librosa: short input, lowest octaves
        ref = np.abs(librosa.cqt(y, sr=SR, hop_length=256, fmin=fe.f_min, n_bins=84))
    mid = slice(10, -10)  # away from the zero-padded edges
    assert np.abs(out[:, mid] - ref[:, mid]).max() < 0.03 * ref.max()


def test_cqt_rejects_bins_above_nyquist():
    with pytest.raises(ConfigError, match="Nyquist"):
        ConstantQ(sample_rate=8000)  # B7 = 3951 Hz, its passband crosses 4 kHz
    with pytest.raises(ConfigError, match="divisible"):
        ConstantQ(algorithm="2010", hop_length=100)


def test_gammatone_peak_band_rises_with_frequency():
    fe = Gammatonegram()
    peaks = []
    for freq in (150.0, 400.0, 1000.0, 2500.0, 6000.0):
        spec = _run(fe, tone(freq, 0.5))
        band = int(np.median(spec[:, 3:-3].argmax(axis=0)))
        peaks.append(band)
        # the peak band's centre lies within ~one ERB of the tone
        erb = 24.7 * (4.37 * freq / 1000 + 1)
        assert abs(fe.center_freqs[band] - freq) < 1.5 * erb, (freq, fe.center_freqs[band])
    assert peaks == sorted(peaks) and len(set(peaks)) == len(peaks)


def test_gammatone_equals_nnaudio(rng):
    from nnAudio.features import Gammatonegram as NNAudioGammatonegram

    y = _noise(rng, 6000)
    ours = _run(Gammatonegram(compression="none"), y)
    ref = NNAudioGammatonegram(
        sr=SR,
        n_fft=512,
        hop_length=256,
        n_bins=64,
        fmin=20.0,
        fmax=8000.0,
        pad_mode="constant",
        verbose=False,
    )(torch.from_numpy(y)[None])[0].numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=1e-5 * ref.max())


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=IDS)
def test_forward_backward_finite(rng, name, kwargs):
    fe = create_frontend(name, **kwargs)
    wave = torch.from_numpy(_noise(rng, 2 * 8000).reshape(2, 8000))
    wave[1, :4000] = 0.0  # silence must not give NaN gradients
    wave.requires_grad_(True)
    out = fe(wave)
    out.square().mean().backward()
    assert torch.isfinite(out).all()
    assert wave.grad is not None and torch.isfinite(wave.grad).all()
    assert wave.grad.abs().sum() > 0


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=IDS)
def test_constants_are_buffers_on_the_module_device(name, kwargs):
    fe = create_frontend(name, **kwargs)
    for module in fe.modules():  # no plain tensor attributes that .to(device) would miss
        stray = [k for k, v in vars(module).items() if isinstance(v, torch.Tensor)]
        assert not stray, (type(module).__name__, stray)
    fe = fe.to("meta")  # every buffer moves, and forward stays on the module's device
    out = fe(torch.zeros(2, 4000, device="meta"))
    assert out.device.type == "meta"
    assert tuple(out.shape[1:]) == fe.output_shape(4000)
    # fixed filterbanks are rebuilt from the config, so they stay out of checkpoints
    assert all(k.startswith("bn.") for k in fe.state_dict())


@pytest.mark.parametrize("name", ["stft", "mel", "mfcc", "cqt", "gammatone"])
def test_batchnorm_train_eval(rng, name):
    fe = create_frontend(name, batchnorm=True)
    wave = torch.from_numpy(_noise(rng, 4 * 4000).reshape(4, 4000))
    out = fe.train()(wave)  # normalised with the batch statistics
    assert abs(out.mean().item()) < 1e-4 and abs(out.std().item() - 1) < 1e-2
    assert fe.bn.num_batches_tracked.item() == 1
    raw = create_frontend(name)(wave)
    with torch.no_grad():
        evaluated = fe.eval()(wave)
    bn = fe.bn
    expected = (raw - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias
    torch.testing.assert_close(evaluated, expected, rtol=1e-4, atol=1e-4)
    assert fe.bn.num_batches_tracked.item() == 1  # eval does not update statistics
    assert not torch.allclose(evaluated, out.detach(), atol=1e-2)


@pytest.mark.parametrize("name", ["stft", "mel", "mfcc", "cqt", "gammatone", "waveform"])
def test_wrong_input_shape_raises(name):
    fe = create_frontend(name)
    for shape in [(2, 2, 1000), (2, 1, 1, 1000)]:
        with pytest.raises(ConfigError, match="batch, samples"):
            fe(torch.zeros(shape))
    # (samples,) and (batch, 1, samples) are accepted
    assert fe(torch.zeros(1000)).shape == fe(torch.zeros(1, 1, 1000)).shape


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("mel", {"f_max": 9000.0}, "Nyquist"),
        ("mel", {"compression": "log"}, "compression"),
        ("mel", {"power": 3.0}, "power"),
        ("mel", {"norm": 1}, "norm"),
        ("stft", {"scale": "mel"}, "scale"),
        ("stft", {"window": "kaiser"}, "window"),
        ("mfcc", {"n_mfcc": 40, "n_mels": 32}, "n_mfcc"),
        ("gammatone", {"f_max": 12000.0}, "Nyquist"),
        ("waveform", {"hop_length": 3}, "frame_length"),
        ("waveform", {"normalize": "max"}, "normalize"),
        ("cqt", {"algorithm": "2020"}, "algorithm"),
    ],
)
def test_bad_options_raise(name, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        create_frontend(name, **kwargs)


def test_waveform_identity_framing_and_normalisation(rng):
    y = torch.from_numpy(_noise(rng, 2 * 3000).reshape(2, 3000))
    assert torch.equal(Waveform()(y), y[:, None])
    framed = Waveform(frame_length=400, hop_length=160)(y)
    assert framed.shape == (2, 400, 1 + (3000 - 400) // 160)
    assert torch.equal(framed[1, :, 5], y[1, 5 * 160 : 5 * 160 + 400])
    # framing L = H = 3 + a 1x1 conv is the sample-level CNN's first strided conv
    conv = torch.nn.Conv1d(1, 8, 3, stride=3)
    pointwise = torch.nn.Conv1d(3, 8, 1)
    pointwise.weight.data = conv.weight.data.transpose(1, 2).clone()
    pointwise.bias.data = conv.bias.data.clone()
    torch.testing.assert_close(pointwise(Waveform(frame_length=3)(y)), conv(y[:, None]))
    peak = Waveform(normalize="peak")(0.3 * y)
    torch.testing.assert_close(peak.abs().amax(-1), torch.ones(2, 1))
    rms = Waveform(normalize="rms")(5 * y)
    torch.testing.assert_close(rms.square().mean(-1).sqrt(), torch.ones(2, 1))
    assert torch.equal(Waveform(normalize="rms")(torch.zeros(1, 100)), torch.zeros(1, 1, 100))
    with pytest.raises(ConfigError, match="shorter than frame_length"):
        Waveform(frame_length=400)(torch.zeros(1, 300))
