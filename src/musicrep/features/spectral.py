"""STFT-based and constant-Q frame features: LPS, fbank, gammatone, MFCC, CQT, chroma, shape.

Each extractor computes on the waveform's device and reuses the project's front-ends for the
parts they already compute (:mod:`musicrep.frontends.spectral`: the STFT, the librosa mel
filterbank, the DCT, nnAudio's gammatone matrix and CQT kernels); the chroma filterbank comes
from ``librosa.filters.chroma``. Nothing here derives a filterbank by hand.

STFT-based extractors split into ``spectrum(wave)`` (``|STFT|^power``, ``(batch, freqs,
frames)``) and ``from_spectrum(spec)``, so several features can share one STFT (the analysis
descriptors do) and a region of frames can be selected before the features are computed.

=================== ==== ====================================================================
name                dims frame feature (defaults at 16 kHz, hop 160 = 10 ms)
=================== ==== ====================================================================
``lps``             1025 log power spectrum, ``10 log10 |X|^2``, n_fft 2048, Hann window 400
``fbank``             40 log-mel filterbank (dB), n_fft 512, window 400, HTK mel to Nyquist
``gammatone``         40 gammatone filterbank energies (dB), window 400, 100 Hz .. Nyquist
``mfcc``              13 MFCC of a 40-band Slaney mel spectrogram, window 400, top_db 80
``cqt``               84 constant-Q magnitude (dB), C1 .. B7, 12 bins per octave (nnAudio)
``chroma``            12 chroma of the power spectrum (librosa filterbank), n_fft 2048
``spectral_*``         1 centroid / bandwidth / rolloff (Hz) and flatness, n_fft 512
=================== ==== ====================================================================

The PASE+ worker settings (``seed_methods.md`` B) are these defaults; the ``*_long`` workers
only change the window (``win_length=512`` for ``lps``; ``win_length=n_fft=1024`` for
``fbank``; ``2048`` for ``gammatone``; ``n_mfcc=20, win_length=2048`` for ``mfcc``). Where we
differ from PASE's code: the LPS window is Hann (PASE's ``torch.stft`` call had no window, i.e.
a rectangular one), fbank and gammatone are in dB instead of natural log (a constant factor,
removed by the z-normalisation of the targets), gammatone uses nnAudio's FFT-domain
approximation of the filters instead of the ``gammatone`` package's time-domain filters, and
MFCCs come from 40 mel bands (PASE's librosa call used 128 bands of a 201-bin spectrum, which
leaves empty bands).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from musicrep.errors import ConfigError
from musicrep.features.base import DEFAULT_HOP, DEFAULT_SAMPLE_RATE, FeatureExtractor
from musicrep.frontends.base import STFT
from musicrep.frontends.spectral import (
    C1_HZ,
    LIBROSA_MFCC_TOP_DB,
    MFCC,
    ConstantQ,
    Gammatonegram,
    LinearSpectrogram,
    MelSpectrogram,
    _to_db,
)


def _tiny(x: torch.Tensor) -> float:
    return float(torch.finfo(x.dtype).tiny)


class SpectralFeature(FeatureExtractor):
    """An extractor computed from ``|STFT|^power`` (``power`` is 1 or 2)."""

    stft: STFT

    @property
    def power(self) -> float:
        return float(self.stft.power)

    @property
    def n_fft(self) -> int:
        return self.stft.n_fft

    def spectrum(self, wave: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> ``|STFT|^power``, ``(batch, n_fft // 2 + 1, frames)``."""
        return self.stft(wave)

    def from_spectrum(self, spec: torch.Tensor) -> torch.Tensor:
        """``|STFT|^power`` ``(batch, freqs, frames)`` -> ``(batch, base_dims, frames)``."""
        raise NotImplementedError

    def compute(self, wave: torch.Tensor) -> torch.Tensor:
        return self.from_spectrum(self.spectrum(wave))


class LogPowerSpectrum(SpectralFeature):
    """Log power spectrum ``10 log10 max(|X|^2, 1e-10)``: ``(batch, n_fft // 2 + 1, frames)``.

    Parameters
    ----------
    sample_rate, hop_length, deltas, delta_width, delta_mode
        See :class:`~musicrep.features.base.FeatureExtractor`.
    n_fft, win_length : int
        FFT size and window length in samples (2048, 400: PASE's LPS worker).
    window : {"hann", "hamming", "blackman"}
        Analysis window.
    top_db : float, optional
        Clip ``top_db`` below each example's maximum (None: no clip).
    """

    name = "lps"

    def __init__(
        self,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        hop_length: int = DEFAULT_HOP,
        n_fft: int = 2048,
        win_length: int | None = 400,
        window: str = "hann",
        top_db: float | None = None,
        **kwargs,
    ):
        super().__init__(sample_rate, hop_length, **kwargs)
        fe = LinearSpectrogram(
            sample_rate, n_fft, hop_length, win_length, window, power=2.0, top_db=top_db
        )
        self.stft, self.top_db = fe.stft, top_db
        self.base_dims = self.stft.n_freqs

    def from_spectrum(self, spec: torch.Tensor) -> torch.Tensor:
        return _to_db(spec, 2.0, self.top_db)


class LogMelFilterbank(SpectralFeature):
    """Log-mel filterbank energies in dB: ``(batch, n_mels, frames)``.

    ``10 log10 max(M |X|^2, 1e-10)`` with ``M`` from ``librosa.filters.mel`` (via
    :class:`musicrep.frontends.MelSpectrogram`).

    Parameters
    ----------
    n_fft, win_length : int
        FFT size and window (512, 400 = 25 ms: PASE's fbank worker).
    n_mels : int
        Mel bands (40).
    f_min, f_max : float
        Band edges in Hz (0, None = Nyquist).
    htk : bool
        HTK mel scale (True, as ``python_speech_features``, which PASE used).
    norm : {None, "slaney"}
        Filter normalisation (None: unit peak, as ``python_speech_features``).
    top_db : float, optional
        Per-example dynamic-range clip.
    sample_rate, hop_length, window, deltas, delta_width, delta_mode
        As :class:`LogPowerSpectrum`.
    """

    name = "fbank"

    def __init__(
        self,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        hop_length: int = DEFAULT_HOP,
        n_fft: int = 512,
        win_length: int | None = 400,
        n_mels: int = 40,
        f_min: float = 0.0,
        f_max: float | None = None,
        htk: bool = True,
        norm: str | None = None,
        window: str = "hann",
        top_db: float | None = None,
        **kwargs,
    ):
        super().__init__(sample_rate, hop_length, **kwargs)
        self.melspec = MelSpectrogram(
            sample_rate,
            n_fft,
            hop_length,
            win_length,
            n_mels,
            f_min,
            f_max,
            htk=htk,
            norm=norm,
            power=2.0,
            window=window,
        )
        self.stft, self.top_db = self.melspec.stft, top_db
        self.base_dims = self.melspec.n_mels

    def from_spectrum(self, spec: torch.Tensor) -> torch.Tensor:
        mel = torch.matmul(self.melspec.mel_fb.to(spec.dtype), spec)
        return _to_db(mel, 2.0, self.top_db)


class GammatoneFilterbank(SpectralFeature):
    """Gammatone filterbank energies in dB: ``(batch, n_bins, frames)``.

    The STFT power through nnAudio's FFT-domain gammatone matrix (via
    :class:`musicrep.frontends.Gammatonegram`), ERB-spaced bands from ``f_min``.

    Parameters
    ----------
    n_fft, win_length : int
        FFT size and window (512, 400; the ``gtn_long`` worker uses ``win_length=2048``).
    n_bins : int
        Bands (40).
    f_min, f_max : float
        Lowest centre frequency and upper limit in Hz (100, Nyquist).
    sample_rate, hop_length, window, top_db, deltas, delta_width, delta_mode
        As :class:`LogMelFilterbank`.
    """

    name = "gammatone"

    def __init__(
        self,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        hop_length: int = DEFAULT_HOP,
        n_fft: int = 512,
        win_length: int | None = 400,
        n_bins: int = 40,
        f_min: float = 100.0,
        f_max: float | None = None,
        window: str = "hann",
        top_db: float | None = None,
        **kwargs,
    ):
        super().__init__(sample_rate, hop_length, **kwargs)
        if win_length is not None and win_length > n_fft:
            n_fft = int(2 ** np.ceil(np.log2(win_length)))  # a longer window needs a longer FFT
        self.gammatone = Gammatonegram(
            sample_rate, n_fft, hop_length, win_length, n_bins, f_min, f_max, window=window
        )
        self.stft, self.top_db = self.gammatone.stft, top_db
        self.base_dims = self.gammatone.n_bins

    def from_spectrum(self, spec: torch.Tensor) -> torch.Tensor:
        energy = torch.matmul(self.gammatone.gammatone_fb.to(spec.dtype), spec)
        return _to_db(energy, 2.0, self.top_db)


class MFCCFeature(SpectralFeature):
    """Mel-frequency cepstral coefficients: ``(batch, n_mfcc, frames)``.

    The orthonormal DCT-II of ``power_to_db`` of the mel power spectrogram, the dB floor
    ``top_db`` below each example's maximum, as ``librosa.feature.mfcc`` (via
    :class:`musicrep.frontends.MFCC`).

    Parameters
    ----------
    n_mfcc : int
        Coefficients, c0 included (13: PASE's ``mfcc`` worker; 20 for ``mfcc_long``).
    n_fft, win_length : int
        FFT size and window (512, 400).
    n_mels : int
        Mel bands (40).
    f_min, f_max : float
        Mel band edges in Hz (0, Nyquist).
    htk, norm
        Mel scale and filter normalisation (Slaney scale and area: librosa's MFCC defaults).
    top_db : float, optional
        Dynamic range of the dB mel spectrogram (80, librosa's).
    lifter : float
        Cepstral liftering (0: none).
    sample_rate, hop_length, window, deltas, delta_width, delta_mode
        As :class:`LogPowerSpectrum`.
    """

    name = "mfcc"

    def __init__(
        self,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        hop_length: int = DEFAULT_HOP,
        n_mfcc: int = 13,
        n_fft: int = 512,
        win_length: int | None = 400,
        n_mels: int = 40,
        f_min: float = 0.0,
        f_max: float | None = None,
        htk: bool = False,
        norm: str | None = "slaney",
        top_db: float | None = LIBROSA_MFCC_TOP_DB,
        lifter: float = 0.0,
        window: str = "hann",
        **kwargs,
    ):
        super().__init__(sample_rate, hop_length, **kwargs)
        if win_length is not None and win_length > n_fft:
            n_fft = int(2 ** np.ceil(np.log2(win_length)))
        self.mfcc = MFCC(
            sample_rate,
            n_mfcc,
            n_fft,
            hop_length,
            win_length,
            n_mels,
            f_min,
            f_max,
            htk=htk,
            norm=norm,
            top_db=top_db,
            lifter=lifter,
            window=window,
        )
        self.stft = self.mfcc.stft
        self.top_db = top_db
        self.base_dims = self.mfcc.n_mfcc

    @property
    def mel_fb(self) -> torch.Tensor:
        """The mel filterbank ``(n_mels, n_fft // 2 + 1)``."""
        return self.mfcc.melspec.mel_fb

    def from_mel_power(self, mel: torch.Tensor) -> torch.Tensor:
        """Mel power ``(batch, n_mels, frames)`` -> MFCCs ``(batch, n_mfcc, frames)``."""
        return torch.matmul(self.mfcc.dct.to(mel.dtype), _to_db(mel, 2.0, self.top_db))

    def from_spectrum(self, spec: torch.Tensor) -> torch.Tensor:
        return self.from_mel_power(torch.matmul(self.mel_fb.to(spec.dtype), spec))


class ConstantQFeature(FeatureExtractor):
    """Constant-Q magnitude in dB: ``(batch, n_bins, frames)`` (nnAudio, via ``ConstantQ``).

    Parameters
    ----------
    f_min : float
        Centre of the lowest bin in Hz (C1 = 32.70 Hz).
    n_bins, bins_per_octave : int
        84 bins, 12 per octave (C1 .. B7).
    filter_scale : float
        Filter-length scale (1).
    top_db : float, optional
        Per-example dynamic-range clip (None).
    algorithm : {"1992", "2010"}
        nnAudio implementation (see :class:`musicrep.frontends.ConstantQ`).
    sample_rate, hop_length, deltas, delta_width, delta_mode
        See :class:`~musicrep.features.base.FeatureExtractor`.
    """

    name = "cqt"

    def __init__(
        self,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        hop_length: int = DEFAULT_HOP,
        f_min: float = C1_HZ,
        n_bins: int = 84,
        bins_per_octave: int = 12,
        filter_scale: float = 1.0,
        top_db: float | None = None,
        algorithm: str = "1992",
        **kwargs,
    ):
        super().__init__(sample_rate, hop_length, **kwargs)
        self.cqt = ConstantQ(
            sample_rate,
            hop_length,
            f_min,
            n_bins,
            bins_per_octave,
            filter_scale,
            power=1.0,
            compression="db",
            top_db=top_db,
            algorithm=algorithm,
        )
        self.base_dims = self.cqt.n_bins

    def compute(self, wave: torch.Tensor) -> torch.Tensor:
        return self.cqt(wave)[:, 0].to(wave.dtype)


class Chroma(SpectralFeature):
    """Chromagram of the power spectrum: ``(batch, n_chroma, frames)``, each frame max-normalised.

    ``librosa.feature.chroma_stft``: the power spectrum through ``librosa.filters.chroma``
    (centre octave 5, two octaves wide, L2-normalised filters), then each frame divided by its
    maximum (silent frames stay 0).

    Parameters
    ----------
    n_fft, win_length : int
        FFT size and window (2048, None = n_fft: librosa's; a long window resolves low notes).
    n_chroma : int
        Pitch classes (12).
    tuning : float or "estimate"
        Deviation from A440 in fractions of a chroma bin. A number (0.0) is one filterbank for
        every example, computed on the device. ``"estimate"`` estimates each example's tuning
        with ``librosa.estimate_tuning`` on its power spectrogram (on the CPU, one example at a
        time), as ``chroma_stft`` does when no tuning is given.
    sample_rate, hop_length, window, deltas, delta_width, delta_mode
        As :class:`LogPowerSpectrum`.
    """

    name = "chroma"

    def __init__(
        self,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        hop_length: int = DEFAULT_HOP,
        n_fft: int = 2048,
        win_length: int | None = None,
        n_chroma: int = 12,
        tuning: float | str = 0.0,
        window: str = "hann",
        **kwargs,
    ):
        super().__init__(sample_rate, hop_length, **kwargs)
        if not (tuning == "estimate" or isinstance(tuning, (int, float))):
            raise ConfigError(f"tuning must be a number or 'estimate'; got {tuning!r}")
        self.stft = STFT(n_fft, hop_length, win_length, window, power=2.0)
        self.n_chroma, self.tuning = int(n_chroma), tuning
        self.base_dims = self.n_chroma
        fb = self._filterbank(0.0 if tuning == "estimate" else float(tuning))
        self.register_buffer("chroma_fb", torch.from_numpy(fb), persistent=False)

    def _filterbank(self, tuning: float) -> np.ndarray:
        import librosa

        return librosa.filters.chroma(
            sr=self.sample_rate, n_fft=self.n_fft, tuning=tuning, n_chroma=self.n_chroma
        ).astype(np.float32)

    def _estimated_filterbanks(self, spec: torch.Tensor) -> torch.Tensor:
        import librosa

        fbs = []
        for item in spec.detach().cpu().numpy():
            with warnings.catch_warnings():
                # silence has no pitched peaks: librosa warns and uses 0
                warnings.filterwarnings("ignore", message=".*empty frequency set.*")
                t = librosa.estimate_tuning(S=item, sr=self.sample_rate, bins_per_octave=12)
            fbs.append(self._filterbank(float(t)))
        return torch.from_numpy(np.stack(fbs)).to(spec.device, spec.dtype)

    def from_spectrum(self, spec: torch.Tensor) -> torch.Tensor:
        if self.tuning == "estimate":
            raw = torch.matmul(self._estimated_filterbanks(spec), spec)
        else:
            raw = torch.matmul(self.chroma_fb.to(spec.dtype), spec)
        peak = raw.amax(dim=1, keepdim=True)
        peak = torch.where(peak < _tiny(raw), torch.ones_like(peak), peak)
        return raw / peak


_SHAPES = ("centroid", "bandwidth", "rolloff", "flatness")


class SpectralShape(SpectralFeature):
    """One spectral-shape descriptor per frame, ``(batch, 1, frames)``, as librosa computes it.

    From the magnitude spectrum ``S`` (``librosa.feature.spectral_*(S=S)``):

    * ``centroid``: ``sum_f f p_f`` in Hz, ``p = S / sum S`` (0 for a silent frame);
    * ``bandwidth``: ``(sum_f p_f |f - centroid|^2)^(1/2)`` in Hz;
    * ``rolloff``: the lowest bin frequency below which ``roll_percent`` of ``sum S`` lies;
    * ``flatness``: geometric over arithmetic mean of ``max(S^2, 1e-10)`` (0..1).

    Parameters
    ----------
    kind : {"centroid", "bandwidth", "rolloff", "flatness"}
    n_fft, win_length : int
        FFT size and window (512, None = n_fft).
    roll_percent : float
        Fraction of the rolloff (0.85).
    sample_rate, hop_length, window, deltas, delta_width, delta_mode
        As :class:`LogPowerSpectrum`.
    """

    base_dims = 1

    def __init__(
        self,
        kind: str = "centroid",
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        hop_length: int = DEFAULT_HOP,
        n_fft: int = 512,
        win_length: int | None = None,
        roll_percent: float = 0.85,
        window: str = "hann",
        **kwargs,
    ):
        super().__init__(sample_rate, hop_length, **kwargs)
        if kind not in _SHAPES:
            raise ConfigError(f"unknown spectral shape {kind!r}; valid: {', '.join(_SHAPES)}")
        if not 0 < roll_percent < 1:
            raise ConfigError(f"roll_percent must be in (0, 1); got {roll_percent}")
        self.kind, self.roll_percent = kind, float(roll_percent)
        self.stft = STFT(n_fft, hop_length, win_length, window, power=1.0)
        freqs = np.linspace(0, sample_rate / 2, self.stft.n_freqs)  # librosa.fft_frequencies
        self.register_buffer("freqs", torch.from_numpy(freqs)[:, None], persistent=False)

    def _normalised(self, spec: torch.Tensor) -> torch.Tensor:
        total = spec.sum(dim=1, keepdim=True)
        return spec / torch.where(total < _tiny(spec), torch.ones_like(total), total)

    def from_spectrum(self, spec: torch.Tensor) -> torch.Tensor:
        freqs = self.freqs.to(spec.dtype)
        if self.kind == "centroid":
            return (freqs * self._normalised(spec)).sum(dim=1, keepdim=True)
        if self.kind == "bandwidth":
            p = self._normalised(spec)
            centroid = (freqs * p).sum(dim=1, keepdim=True)
            return (p * (freqs - centroid).square()).sum(dim=1, keepdim=True).sqrt()
        if self.kind == "rolloff":
            cum = spec.cumsum(dim=1)
            reached = cum >= self.roll_percent * cum[:, -1:]
            big = torch.full_like(spec, float("inf"))
            return torch.where(reached, freqs.expand_as(spec), big).amin(dim=1, keepdim=True)
        power = spec.square().clamp(min=1e-10)
        gmean = power.log().mean(dim=1, keepdim=True).exp()
        return gmean / power.mean(dim=1, keepdim=True)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, " + super().extra_repr()


def _shape(kind: str) -> type[SpectralShape]:
    """A registrable subclass of :class:`SpectralShape` fixed to ``kind``."""

    def __init__(self, *args, **kwargs):
        SpectralShape.__init__(self, kind, *args, **kwargs)

    cls = type(
        f"Spectral{kind.capitalize()}",
        (SpectralShape,),
        {"__init__": __init__, "name": f"spectral_{kind}", "__doc__": SpectralShape.__doc__},
    )
    return cls


SpectralCentroid = _shape("centroid")
SpectralBandwidth = _shape("bandwidth")
SpectralRolloff = _shape("rolloff")
SpectralFlatness = _shape("flatness")

__all__ = [
    "Chroma",
    "ConstantQFeature",
    "GammatoneFilterbank",
    "LogMelFilterbank",
    "LogPowerSpectrum",
    "MFCCFeature",
    "SpectralBandwidth",
    "SpectralCentroid",
    "SpectralFeature",
    "SpectralFlatness",
    "SpectralRolloff",
    "SpectralShape",
]
