"""Fixed spectral front-ends: linear STFT, mel, MFCC, constant-Q and gammatone spectrograms.

Every front-end here maps a batch of waveforms ``(batch, samples)`` to a time-frequency map
``(batch, 1, freq, time)`` (``kind == "tf"``) and computes it inside the model, on the module's
device: the STFT is ``torch.stft`` (:class:`musicrep.frontends.STFT`), filterbank matrices come
from ``librosa.filters`` / ``nnAudio`` and are registered as buffers, and everything is
differentiable with respect to the input waveform.

Frame count: with ``center=True`` (the default everywhere) a clip of ``N`` samples gives
``1 + N // hop_length`` frames, as ``librosa`` and ``torch.stft`` do.

Defaults follow the music-tagging model zoo (Won et al., SMC 2020, ``minzwon/sota-music-tagging-
models``): 16 kHz, ``n_fft=512`` (32 ms Hann window), hop 256 (16 ms), 128 HTK mel bands up to
8 kHz without area normalisation, power spectrogram in dB (``amin=1e-10``, no ``top_db``). The
recipes of the individual models switch on the input BatchNorm ("spec_bn") and set ``n_mels``.
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import librosa
import numpy as np
import scipy.fft
import torch
from torch import nn

from musicrep.errors import ConfigError
from musicrep.frontends import FRONTENDS
from musicrep.frontends.base import STFT, Frontend, amplitude_to_db, stft_frames

# --------------------------------------------------------------------------------------------
# Constants of the published front-ends (one place).

#: Zoo mel front-end (Won et al. 2020, torchaudio MelSpectrogram + AmplitudeToDB).
ZOO_SAMPLE_RATE = 16000
ZOO_N_FFT = 512
ZOO_HOP = 256
ZOO_N_MELS = 128
ZOO_F_MAX = 8000.0
#: dB floor of torchaudio's AmplitudeToDB / librosa's power_to_db.
DB_AMIN = 1e-10
#: musicnn's "logC" compression ``log10(LOGC_GAIN * x + 1)`` (Pons & Serra 2019).
LOGC_GAIN = 10000.0
#: librosa.feature.mfcc applies ``power_to_db`` with its default ``top_db=80``.
LIBROSA_MFCC_TOP_DB = 80.0
#: C1, the lowest note of the default CQT (and of the harmonic filterbank's pitch grid).
C1_HZ = 32.703195662574764

Compression = Literal["db", "logc", "none"]


def _check_positive_int(name: str, value: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def _check_f_range(sample_rate: int, f_min: float, f_max: float | None) -> float:
    """Validate ``0 <= f_min < f_max <= sample_rate / 2``; return ``f_max`` (None -> Nyquist)."""
    nyquist = sample_rate / 2
    f_max = nyquist if f_max is None else float(f_max)
    if f_max > nyquist + 1e-6:
        raise ConfigError(
            f"f_max={f_max} Hz is above the Nyquist frequency {nyquist} Hz of "
            f"sample_rate={sample_rate}",
            "lower f_max or pass f_max=None (Nyquist)",
        )
    if not 0 <= f_min < f_max:
        raise ConfigError(f"need 0 <= f_min < f_max; got f_min={f_min}, f_max={f_max}")
    return f_max


def _check_power(power: float) -> float:
    if power not in (1, 2, 1.0, 2.0):
        raise ConfigError(f"power must be 1 (magnitude) or 2 (power); got {power!r}")
    return float(power)


def _compress(x: torch.Tensor, compression: str, power: float, top_db: float | None):
    """Apply the named compression to a non-negative spectrogram ``x``."""
    if compression == "db":
        return _to_db(x, power, top_db)
    if compression == "logc":
        return torch.log10(LOGC_GAIN * x + 1.0)
    return x


def _to_db(x: torch.Tensor, power: float, top_db: float | None) -> torch.Tensor:
    """dB of a power (``power=2``, ``10 log10``) or magnitude (``power=1``, ``20 log10``) map.

    The floor is the same -100 dB either way: ``amin = 1e-10`` on power, ``1e-5`` on magnitude
    (librosa's ``power_to_db`` / ``amplitude_to_db`` defaults).
    """
    return amplitude_to_db(x, multiplier=20.0 / power, amin=DB_AMIN ** (power / 2), top_db=top_db)


def _check_compression(compression: str) -> str:
    if compression not in ("db", "logc", "none"):
        raise ConfigError(
            f"compression must be 'db', 'logc' or 'none'; got {compression!r}",
            "'db' = 10*log10 (power) or 20*log10 (magnitude); 'logc' = log10(10000*x + 1)",
        )
    return compression


class _SpectralFrontend(Frontend):
    """Shared parts: an :class:`STFT`, closed-form frame count, optional input BatchNorm."""

    kind = "tf"

    def _init_stft(
        self,
        sample_rate: int,
        n_fft: int,
        hop_length: int,
        win_length: int | None,
        window: str,
        power: float,
        center: bool,
    ) -> None:
        self.sample_rate = _check_positive_int("sample_rate", sample_rate)
        _check_positive_int("n_fft", n_fft)
        _check_positive_int("hop_length", hop_length)
        self.stft = STFT(
            n_fft=n_fft,
            hop_length=hop_length,
            win_length=win_length,
            window=window,
            power=_check_power(power),
            center=center,
        )

    def _init_batchnorm(self, batchnorm: bool) -> None:
        self.bn = nn.BatchNorm2d(1) if batchnorm else None

    @property
    def n_fft(self) -> int:
        return self.stft.n_fft

    @property
    def hop_length(self) -> int:
        return self.stft.hop_length

    @property
    def power(self) -> float:
        return self.stft.power

    def num_frames(self, num_samples: int) -> int:
        """Frames for ``num_samples`` input samples (``1 + num_samples // hop`` when centred)."""
        return stft_frames(
            int(num_samples), self.stft.hop_length, self.stft.n_fft, self.stft.center
        )

    def _finish(self, spec: torch.Tensor) -> torch.Tensor:
        """``(batch, freq, time)`` -> ``(batch, 1, freq, time)``, then the optional BatchNorm."""
        spec = spec.unsqueeze(1)
        if self.bn is not None:
            spec = self.bn(spec)
        return spec


# --------------------------------------------------------------------------------------------


@FRONTENDS.register("stft")
class LinearSpectrogram(_SpectralFrontend):
    """Linear-frequency STFT magnitude or power spectrogram.

    Output shape ``(batch, 1, n_fft // 2 + 1, 1 + samples // hop_length)`` (``center=True``).

    Parameters
    ----------
    sample_rate : int
        Input sample rate in Hz (only recorded; the transform does not depend on it).
    n_fft, hop_length, win_length : int
        FFT size, hop and window length in samples (``win_length`` defaults to ``n_fft``; shorter
        windows are zero-padded to ``n_fft`` in the centre, as in librosa).
    window : {"hann", "hamming", "blackman"}
        Periodic window.
    power : {1, 2}
        1 for ``|X|`` (magnitude), 2 for ``|X|^2`` (power).
    scale : {"linear", "log", "db"}
        ``"linear"``: the spectrogram itself; ``"log"``: natural ``log(x + eps)``;
        ``"db"``: ``10 log10`` of power (``20 log10`` of magnitude) with floor ``amin=1e-10`` of the
        power (``1e-5`` of the magnitude), optionally clipped ``top_db`` below each example's
        peak, as ``librosa.power_to_db`` / ``amplitude_to_db`` with ``ref=1``.
    eps : float
        Offset of the ``"log"`` scale (natural log, ``log(x + eps)``), default ``1e-6``.
    top_db : float, optional
        Dynamic-range clip of the ``"db"`` scale.
    center : bool
        Centre frames (pad ``n_fft // 2`` zeros both sides), as librosa.
    batchnorm : bool
        Follow with ``BatchNorm2d(1)`` (a learned input normaliser).
    """

    def __init__(
        self,
        sample_rate: int = ZOO_SAMPLE_RATE,
        n_fft: int = ZOO_N_FFT,
        hop_length: int = ZOO_HOP,
        win_length: int | None = None,
        window: str = "hann",
        power: float = 2.0,
        scale: Literal["linear", "log", "db"] = "db",
        eps: float = 1e-6,
        top_db: float | None = None,
        center: bool = True,
        batchnorm: bool = False,
    ):
        super().__init__()
        self._init_stft(sample_rate, n_fft, hop_length, win_length, window, power, center)
        if scale not in ("linear", "log", "db"):
            raise ConfigError(f"scale must be 'linear', 'log' or 'db'; got {scale!r}")
        if eps <= 0:
            raise ConfigError(f"eps must be > 0; got {eps}")
        self.scale, self.eps, self.top_db = scale, float(eps), top_db
        self._init_batchnorm(batchnorm)

    def output_shape(self, num_samples: int) -> tuple[int, int, int]:
        return (1, self.stft.n_freqs, self.num_frames(num_samples))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> ``(batch, 1, n_fft // 2 + 1, frames)``."""
        spec = self.stft(self.check_input(wave))
        if self.scale == "db":
            spec = _to_db(spec, self.power, self.top_db)
        elif self.scale == "log":
            spec = torch.log(spec + self.eps)
        return self._finish(spec)


@FRONTENDS.register("mel")
class MelSpectrogram(_SpectralFrontend):
    """Mel spectrogram with dB / logC compression and an optional input BatchNorm.

    Output shape ``(batch, 1, n_mels, 1 + samples // hop_length)`` (``center=True``); with the
    defaults, 16000 samples (1 s) give ``(batch, 1, 128, 63)``.

    ``|STFT|^power`` (``torch.stft``, librosa framing) is multiplied by the filterbank of
    ``librosa.filters.mel`` (a buffer), then compressed. With ``compression="db"`` the result equals
    ``librosa.power_to_db(librosa.feature.melspectrogram(...), ref=1, amin=1e-10, top_db=...)``
    for ``power=2`` (``20 log10`` with the same floor on the power for ``power=1``).

    Parameters
    ----------
    sample_rate : int
        Input sample rate in Hz.
    n_fft, hop_length, win_length : int
        STFT sizes in samples (``win_length`` defaults to ``n_fft``).
    n_mels : int
        Number of mel bands.
    f_min, f_max : float
        Band edges in Hz; ``f_max=None`` means Nyquist.
    htk : bool
        HTK mel scale (``2595 log10(1 + f / 700)``) if True, else Slaney's (linear below 1 kHz).
    norm : {None, "slaney"}
        Filter normalisation: None = peak 1 (the zoo, torchaudio's default); "slaney" = equal area.
    power : {1, 2}
        Exponent of the STFT magnitude before the filterbank.
    compression : {"db", "logc", "none"}
        ``"db"``: ``10 log10(max(x, 1e-10))`` (power) as torchaudio's AmplitudeToDB;
        ``"logc"``: ``log10(10000 x + 1)`` (musicnn); ``"none"``: linear.
    top_db : float, optional
        With ``"db"``: clip ``top_db`` below each example's maximum (None = no clip, the zoo).
    batchnorm : bool
        Follow with ``BatchNorm2d(1)`` ("spec_bn" of the tagging models).
    window, center
        As :class:`LinearSpectrogram`.

    Notes
    -----
    Bands narrower than the FFT bin spacing can fall between two bins and come out empty
    (constant); their indices are in ``empty_bands``. The zoo's 128 HTK bands at ``n_fft=512``,
    16 kHz have one (band 0), exactly as torchaudio's and librosa's filterbanks do; it is kept for
    fidelity (librosa's "Empty filters" warning is silenced).
    """

    def __init__(
        self,
        sample_rate: int = ZOO_SAMPLE_RATE,
        n_fft: int = ZOO_N_FFT,
        hop_length: int = ZOO_HOP,
        win_length: int | None = None,
        n_mels: int = ZOO_N_MELS,
        f_min: float = 0.0,
        f_max: float | None = ZOO_F_MAX,
        htk: bool = True,
        norm: Literal["slaney"] | None = None,
        power: float = 2.0,
        compression: Compression = "db",
        top_db: float | None = None,
        batchnorm: bool = False,
        window: str = "hann",
        center: bool = True,
    ):
        super().__init__()
        self._init_stft(sample_rate, n_fft, hop_length, win_length, window, power, center)
        _check_positive_int("n_mels", n_mels)
        f_max = _check_f_range(self.sample_rate, f_min, f_max)
        if norm not in (None, "slaney"):
            raise ConfigError(f"norm must be None or 'slaney'; got {norm!r}")
        self.n_mels, self.f_min, self.f_max = int(n_mels), float(f_min), f_max
        self.htk, self.norm = bool(htk), norm
        self.compression = _check_compression(compression)
        self.top_db = top_db
        with warnings.catch_warnings():
            # librosa warns about empty bands; the zoo's own setting (128 HTK bands, n_fft 512)
            # has one (band 0 lies between two FFT bins), so it is recorded instead.
            warnings.filterwarnings("ignore", message="Empty filters", category=UserWarning)
            fb = librosa.filters.mel(
                sr=self.sample_rate,
                n_fft=n_fft,
                n_mels=self.n_mels,
                fmin=self.f_min,
                fmax=self.f_max,
                htk=self.htk,
                norm=norm,
                dtype=np.float32,
            )
        #: Indices of bands that cover no FFT bin (constant output: the dB floor, or 0).
        self.empty_bands: list[int] = np.flatnonzero(fb.max(axis=1) <= 0).tolist()
        if len(self.empty_bands) == self.n_mels:
            raise ConfigError(f"no mel band between {f_min} and {f_max} Hz covers an FFT bin")
        self.register_buffer("mel_fb", torch.from_numpy(fb), persistent=False)  # (n_mels, freqs)
        self._init_batchnorm(batchnorm)

    def output_shape(self, num_samples: int) -> tuple[int, int, int]:
        return (1, self.n_mels, self.num_frames(num_samples))

    def mel(self, wave: torch.Tensor) -> torch.Tensor:
        """Uncompressed mel spectrogram ``(batch, samples)`` -> ``(batch, n_mels, frames)``."""
        return torch.matmul(self.mel_fb, self.stft(self.check_input(wave)))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> ``(batch, 1, n_mels, frames)``."""
        spec = _compress(self.mel(wave), self.compression, self.power, self.top_db)
        return self._finish(spec)


@FRONTENDS.register("mfcc")
class MFCC(_SpectralFrontend):
    """Mel-frequency cepstral coefficients: DCT-II (orthonormal) of the dB mel spectrogram.

    Output shape ``(batch, 1, n_mfcc, 1 + samples // hop_length)`` (``center=True``).

    Equal to ``librosa.feature.mfcc(y=..., sr=..., n_mfcc=..., n_fft=..., hop_length=...,
    n_mels=..., fmin=..., fmax=..., htk=..., mel_norm=..., lifter=...)`` for a single example:
    ``librosa.power_to_db`` (``ref=1``, ``amin=1e-10``, ``top_db=80``, the clip measured from each
    example's own maximum) of the power mel spectrogram, then the orthonormal DCT-II over the mel
    axis (a ``(n_mfcc, n_mels)`` buffer from ``scipy.fft.dct``), then optional sinusoidal liftering
    ``1 + (lifter / 2) sin(pi (k + 1) / lifter)``.

    The filterbank defaults are librosa's MFCC ones (Slaney mel scale, Slaney area normalisation,
    ``top_db=80``); the framing is the zoo's (16 kHz, ``n_fft=512``, hop 256, up to 8 kHz).

    Parameters
    ----------
    n_mfcc : int
        Number of coefficients kept (the first ``n_mfcc`` DCT rows, including c0).
    lifter : float
        Cepstral liftering coefficient; 0 disables it.
    top_db : float, optional
        Dynamic-range clip of the dB mel spectrogram before the DCT (librosa: 80).
    batchnorm : bool
        Follow with ``BatchNorm2d(1)``.
    sample_rate, n_fft, hop_length, win_length, n_mels, f_min, f_max, htk, norm, window, center
        As :class:`MelSpectrogram` (``power`` is 2, as in librosa).
    """

    def __init__(
        self,
        sample_rate: int = ZOO_SAMPLE_RATE,
        n_mfcc: int = 20,
        n_fft: int = ZOO_N_FFT,
        hop_length: int = ZOO_HOP,
        win_length: int | None = None,
        n_mels: int = ZOO_N_MELS,
        f_min: float = 0.0,
        f_max: float | None = ZOO_F_MAX,
        htk: bool = False,
        norm: Literal["slaney"] | None = "slaney",
        top_db: float | None = LIBROSA_MFCC_TOP_DB,
        lifter: float = 0.0,
        batchnorm: bool = False,
        window: str = "hann",
        center: bool = True,
    ):
        super().__init__()
        self.melspec = MelSpectrogram(
            sample_rate=sample_rate,
            n_fft=n_fft,
            hop_length=hop_length,
            win_length=win_length,
            n_mels=n_mels,
            f_min=f_min,
            f_max=f_max,
            htk=htk,
            norm=norm,
            power=2.0,
            compression="db",
            top_db=top_db,
            batchnorm=False,
            window=window,
            center=center,
        )
        self.sample_rate = self.melspec.sample_rate
        self.stft = self.melspec.stft  # shared, for num_frames / n_fft / hop_length
        _check_positive_int("n_mfcc", n_mfcc)
        if n_mfcc > n_mels:
            raise ConfigError(f"n_mfcc={n_mfcc} must be <= n_mels={n_mels}")
        if lifter < 0:
            raise ConfigError(f"lifter must be >= 0; got {lifter}")
        self.n_mfcc, self.lifter = int(n_mfcc), float(lifter)
        # dct(S, axis=0) == D @ S with D = dct(I, axis=0): rows are the DCT-II basis vectors.
        dct = scipy.fft.dct(np.eye(n_mels), type=2, norm="ortho", axis=0)[: self.n_mfcc]
        if self.lifter > 0:
            k = np.arange(1, self.n_mfcc + 1)
            dct = dct * (1 + (self.lifter / 2) * np.sin(np.pi * k / self.lifter))[:, None]
        self.register_buffer("dct", torch.from_numpy(dct.astype(np.float32)), persistent=False)
        self._init_batchnorm(batchnorm)

    def output_shape(self, num_samples: int) -> tuple[int, int, int]:
        return (1, self.n_mfcc, self.num_frames(num_samples))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> ``(batch, 1, n_mfcc, frames)``."""
        log_mel = self.melspec(wave)[:, 0]  # (batch, n_mels, frames), dB
        return self._finish(torch.matmul(self.dct, log_mel))


@FRONTENDS.register("cqt")
class ConstantQ(Frontend):
    """Constant-Q transform (nnAudio ``CQT1992v2`` by default), magnitude or power, optional dB.

    Output shape ``(batch, 1, n_bins, 1 + samples // hop_length)``; bin ``k`` is centred on
    ``f_min * 2 ** (k / bins_per_octave)`` Hz (``center_freqs``). The defaults (16 kHz, hop 256,
    84 bins from C1 = 32.70 Hz, 12 per octave) span C1 to B7 (3951 Hz).

    Algorithm (``algorithm``):

    * ``"1992"`` (default) — ``nnAudio.features.CQT1992v2``: one strided convolution of the
      waveform with the full-length time-domain CQT kernels (Brown 1992, without the sparse
      spectral kernel). No resampling, so no anti-aliasing error and any ``hop_length`` works; the
      kernels are long (``2 ** ceil(log2(Q sr / f_min))`` = 16384 taps for the defaults, 11 MB of
      buffers). nnAudio's own ``CQT`` alias points to it.
    * ``"2010"`` — ``nnAudio.features.CQT2010v2``: the multirate algorithm of librosa (Schoerkhuber
      & Klapuri 2010): one octave of short kernels applied to the signal repeatedly halved in rate.
      Tiny buffers; needs ``hop_length`` divisible by ``2 ** (n_octaves - 1)``; the lowpass
      filters add a small approximation error. On CPU both run at similar speed (see
      ``benchmarks/README.md``).

    Both use nnAudio's ``"librosa"`` normalisation (magnitudes comparable to ``librosa.cqt``)
    and zero ("constant") padding, as librosa (nnAudio's default ``reflect`` padding would need
    inputs longer than half the longest kernel). The magnitude is computed from nnAudio's complex
    output as ``|C|`` (gradient 0, not NaN, at exact silence).

    Parameters
    ----------
    sample_rate : int
        Input sample rate in Hz.
    hop_length : int
        Hop between frames in samples.
    f_min : float
        Centre frequency of the lowest bin in Hz (default C1).
    n_bins, bins_per_octave : int
        Number of bins and bins per octave.
    filter_scale : float
        Filter-length scale; the quality factor is ``Q = filter_scale / (2 ** (1 / bpo) - 1)``.
    power : {1, 2}
        1 for ``|C|``, 2 for ``|C|^2``.
    compression : {"db", "logc", "none"}
        As :class:`MelSpectrogram` (``"db"``: ``20 log10 |C|`` / ``10 log10 |C|^2``, floor -100 dB).
    top_db : float, optional
        Dynamic-range clip of ``"db"``.
    algorithm : {"1992", "2010"}
        nnAudio implementation, see above.
    batchnorm : bool
        Follow with ``BatchNorm2d(1)``.

    Raises
    ------
    ConfigError
        If the top bin's passband (centre ``f_top``, upper edge ``f_top (1 + 1 / (2 Q))``) reaches
        the Nyquist frequency.
    """

    kind = "tf"

    def __init__(
        self,
        sample_rate: int = ZOO_SAMPLE_RATE,
        hop_length: int = ZOO_HOP,
        f_min: float = C1_HZ,
        n_bins: int = 84,
        bins_per_octave: int = 12,
        filter_scale: float = 1.0,
        power: float = 1.0,
        compression: Compression = "db",
        top_db: float | None = None,
        algorithm: Literal["1992", "2010"] = "1992",
        batchnorm: bool = False,
    ):
        super().__init__()
        from nnAudio.features import CQT1992v2, CQT2010v2

        self.sample_rate = _check_positive_int("sample_rate", sample_rate)
        self.hop_length = _check_positive_int("hop_length", hop_length)
        self.n_bins = _check_positive_int("n_bins", n_bins)
        self.bins_per_octave = _check_positive_int("bins_per_octave", bins_per_octave)
        if f_min <= 0 or filter_scale <= 0:
            raise ConfigError(f"f_min and filter_scale must be > 0; got {f_min}, {filter_scale}")
        self.f_min, self.filter_scale = float(f_min), float(filter_scale)
        self.power = _check_power(power)
        self.compression = _check_compression(compression)
        self.top_db = top_db
        q = self.filter_scale / (2 ** (1 / self.bins_per_octave) - 1)
        f_top = self.f_min * 2 ** ((self.n_bins - 1) / self.bins_per_octave)
        if f_top * (1 + 1 / (2 * q)) >= self.sample_rate / 2:
            raise ConfigError(
                f"the top CQT bin ({f_top:.1f} Hz, bandwidth {f_top / q:.1f} Hz) reaches the "
                f"Nyquist frequency {self.sample_rate / 2} Hz",
                "lower n_bins or f_min, or raise sample_rate",
            )
        #: Centre frequency of each bin in Hz, shape (n_bins,).
        self.center_freqs = self.f_min * 2.0 ** (np.arange(self.n_bins) / self.bins_per_octave)
        common = dict(
            sr=self.sample_rate,
            hop_length=self.hop_length,
            fmin=self.f_min,
            n_bins=self.n_bins,
            bins_per_octave=self.bins_per_octave,
            filter_scale=self.filter_scale,
            pad_mode="constant",
            output_format="Complex",
            verbose=False,
        )
        if algorithm == "1992":
            self.cqt = CQT1992v2(**common)
        elif algorithm == "2010":
            octaves = math.ceil(self.n_bins / self.bins_per_octave)
            if self.hop_length % 2 ** (octaves - 1):
                raise ConfigError(
                    f"algorithm='2010' needs hop_length divisible by 2**(n_octaves-1) = "
                    f"{2 ** (octaves - 1)}; got {self.hop_length}",
                    "use algorithm='1992' or a hop length that is a multiple of it",
                )
            self.cqt = CQT2010v2(**common)
        else:
            raise ConfigError(f"algorithm must be '1992' or '2010'; got {algorithm!r}")
        # nnAudio registers its fixed kernels as persistent buffers; they are rebuilt from the
        # config, so keep them out of checkpoints (11 MB for the default "1992" kernels).
        for name in [n for n, b in self.cqt._buffers.items() if b is not None]:
            self.cqt.register_buffer(name, self.cqt._buffers.pop(name), persistent=False)
        self.algorithm = algorithm
        self.bn = nn.BatchNorm2d(1) if batchnorm else None

    def output_shape(self, num_samples: int) -> tuple[int, int, int]:
        return (1, self.n_bins, 1 + int(num_samples) // self.hop_length)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> ``(batch, 1, n_bins, frames)``."""
        c = self.cqt(self.check_input(wave))  # (batch, n_bins, frames, 2): real, imaginary
        if self.power == 2.0:
            spec = c.square().sum(-1)
        else:
            spec = torch.view_as_complex(c.contiguous()).abs()
        spec = _compress(spec, self.compression, self.power, self.top_db).unsqueeze(1)
        return spec if self.bn is None else self.bn(spec)


@FRONTENDS.register("gammatone")
class Gammatonegram(_SpectralFrontend):
    """Gammatone spectrogram: STFT power through nnAudio's gammatone filterbank, in dB.

    Output shape ``(batch, 1, n_bins, 1 + samples // hop_length)`` (``center=True``).

    The filterbank is ``nnAudio.librosa_functions.fft2gammatonemx`` scaled by ``1 / n_fft`` (the
    matrix ``nnAudio.features.Gammatonegram`` uses, i.e. ``get_gammatone``): Dan Ellis' FFT-domain
    approximation of Slaney's 4th-order gammatone filters, ``n_bins`` bands with centre
    frequencies (``center_freqs``, ascending, from exactly ``f_min`` to just below ``f_max``)
    equally spaced on the ERB-rate scale, bandwidths ``1.019 ERB(f)`` (Glasberg & Moore). It is
    applied to ``|STFT|^power`` from ``torch.stft`` with zero padding, which is what
    ``nnAudio.features.Gammatonegram(pad_mode="constant")`` computes, but with the same STFT as the
    other front-ends.

    Parameters
    ----------
    sample_rate : int
        Input sample rate in Hz.
    n_fft, hop_length, win_length, window, center
        As :class:`MelSpectrogram`.
    n_bins : int
        Number of gammatone bands.
    f_min, f_max : float
        Centre frequency of the lowest band and upper limit of the ERB grid in Hz (``f_max=None``
        is Nyquist). ``f_min`` defaults to 20 Hz (``get_gammatone``'s default; 0 would put a band
        on DC).
    power : {1, 2}
        Exponent of the STFT magnitude (nnAudio: 2).
    compression : {"db", "logc", "none"}, top_db, batchnorm
        As :class:`MelSpectrogram`.
    """

    def __init__(
        self,
        sample_rate: int = ZOO_SAMPLE_RATE,
        n_fft: int = ZOO_N_FFT,
        hop_length: int = ZOO_HOP,
        win_length: int | None = None,
        n_bins: int = 64,
        f_min: float = 20.0,
        f_max: float | None = None,
        power: float = 2.0,
        compression: Compression = "db",
        top_db: float | None = None,
        batchnorm: bool = False,
        window: str = "hann",
        center: bool = True,
    ):
        super().__init__()
        from nnAudio.librosa_functions import fft2gammatonemx

        self._init_stft(sample_rate, n_fft, hop_length, win_length, window, power, center)
        self.n_bins = _check_positive_int("n_bins", n_bins)
        self.f_min, self.f_max = float(f_min), _check_f_range(self.sample_rate, f_min, f_max)
        self.compression = _check_compression(compression)
        self.top_db = top_db
        weights, cfreqs = fft2gammatonemx(
            sr=self.sample_rate,
            n_fft=n_fft,
            n_bins=self.n_bins,
            fmin=self.f_min,
            fmax=self.f_max,
            maxlen=n_fft // 2 + 1,
        )
        #: Centre frequency of each band in Hz, ascending, shape (n_bins,).
        self.center_freqs = np.asarray(cfreqs, dtype=np.float64)
        fb = (weights / n_fft).astype(np.float32)  # (n_bins, n_fft // 2 + 1)
        self.register_buffer("gammatone_fb", torch.from_numpy(fb), persistent=False)
        self._init_batchnorm(batchnorm)

    def output_shape(self, num_samples: int) -> tuple[int, int, int]:
        return (1, self.n_bins, self.num_frames(num_samples))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> ``(batch, 1, n_bins, frames)``."""
        spec = torch.matmul(self.gammatone_fb, self.stft(self.check_input(wave)))
        return self._finish(_compress(spec, self.compression, self.power, self.top_db))
