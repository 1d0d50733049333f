"""Rhythm features: the onset-strength envelope and the autocorrelation tempogram.

Both follow librosa (``librosa.onset.onset_strength`` and ``librosa.feature.tempogram``),
computed in torch on the waveform's device, on the shared frame grid:

* **onset strength**: the positive first difference over frames of a dB mel spectrogram
  (``power_to_db``, ``top_db`` 80 below each example's maximum), averaged over the mel bands;
  frame ``k`` holds the rise from frame ``k - 1`` to ``k`` (frame 0 is 0). This is
  ``onset_strength(..., center=False)``: with ``center=True`` librosa shifts the envelope by a
  further ``n_fft // (2 hop)`` frames, which would put it off the centred frame grid.
* **tempogram**: for each frame, the autocorrelation of the Hann-windowed onset envelope over
  ``win_length`` frames centred on it (the envelope padded with linear ramps to 0), each frame
  divided by its maximum (lag 0), lags ``0 .. win_length - 1`` (``win_length`` 384 = 3.84 s at
  10 ms, librosa's default).

Reduction (``n_bins``): the full tempogram has ``win_length`` lag dimensions, most of them
outside any musical tempo. By default it is reduced to ``n_bins`` = 64 log-spaced tempi, 16
per octave from 30 to 480 BPM (4 octaves), each the autocorrelation linearly interpolated at
the fractional lag ``60 frame_rate / bpm``. ``n_bins=None`` keeps all lags.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from musicrep.errors import ConfigError
from musicrep.features.base import (
    DEFAULT_HOP,
    DEFAULT_SAMPLE_RATE,
    FeatureExtractor,
    check_positive_int,
)
from musicrep.frontends.spectral import MelSpectrogram, _to_db

#: librosa's tempogram window (frames) and our default tempo grid.
TEMPOGRAM_WIN = 384
TEMPO_MIN_BPM = 30.0
TEMPO_MAX_BPM = 480.0
TEMPO_BINS = 64


class OnsetStrength(FeatureExtractor):
    """Onset-strength envelope ``(batch, 1, frames)`` (spectral flux of the dB mel spectrogram).

    Parameters
    ----------
    n_fft : int
        FFT size of the mel spectrogram (1024 = 64 ms at 16 kHz).
    n_mels : int
        Mel bands (64).
    lag : int
        Difference lag in frames (1).
    top_db : float
        Dynamic range of the dB mel spectrogram per example (80, librosa's ``power_to_db``).
    sample_rate, hop_length, deltas, delta_width, delta_mode
        See :class:`~musicrep.features.base.FeatureExtractor`.
    """

    name = "onset_strength"
    base_dims = 1

    def __init__(
        self,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        hop_length: int = DEFAULT_HOP,
        n_fft: int = 1024,
        n_mels: int = 64,
        lag: int = 1,
        top_db: float = 80.0,
        **kwargs,
    ):
        super().__init__(sample_rate, hop_length, **kwargs)
        self.lag = check_positive_int("lag", lag)
        self.top_db = float(top_db)
        # librosa.feature.melspectrogram defaults: Slaney scale and area normalisation
        self.melspec = MelSpectrogram(
            sample_rate, n_fft, hop_length, n_mels=n_mels, f_max=None, htk=False, norm="slaney"
        )

    def compute(self, wave: torch.Tensor) -> torch.Tensor:
        stft = self.melspec.stft
        mel = torch.matmul(self.melspec.mel_fb.to(wave.dtype), stft(wave))
        db = _to_db(mel, 2.0, self.top_db)
        flux = (db[..., self.lag :] - db[..., : -self.lag]).clamp(min=0).mean(dim=1, keepdim=True)
        return F.pad(flux, (self.lag, 0))


class Tempogram(FeatureExtractor):
    """Autocorrelation tempogram ``(batch, n_bins or win_length, frames)``.

    Parameters
    ----------
    win_length : int
        Autocorrelation window in frames (384).
    n_bins : int or None
        Tempo bins of the reduced tempogram (64), log-spaced from ``min_bpm`` to ``max_bpm``;
        None keeps all ``win_length`` lags (``librosa.feature.tempogram``'s output).
    min_bpm, max_bpm : float
        Range of the reduced tempogram (30, 480 BPM).
    onset : dict, optional
        Options of the :class:`OnsetStrength` envelope (``n_fft``, ``n_mels``, ``lag``).
    sample_rate, hop_length, deltas, delta_width, delta_mode
        See :class:`~musicrep.features.base.FeatureExtractor`.

    Attributes
    ----------
    bpm : np.ndarray or None
        Tempo of each reduced bin (None when ``n_bins`` is None).
    """

    name = "tempogram"

    def __init__(
        self,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        hop_length: int = DEFAULT_HOP,
        win_length: int = TEMPOGRAM_WIN,
        n_bins: int | None = TEMPO_BINS,
        min_bpm: float = TEMPO_MIN_BPM,
        max_bpm: float = TEMPO_MAX_BPM,
        onset: dict | None = None,
        **kwargs,
    ):
        super().__init__(sample_rate, hop_length, **kwargs)
        self.win_length = check_positive_int("win_length", win_length)
        self.onset = OnsetStrength(sample_rate, hop_length, **(onset or {}))
        window = torch.hann_window(self.win_length, periodic=True, dtype=torch.float64)
        self.register_buffer("window", window.float(), persistent=False)
        self.bpm = None
        if n_bins is None:
            self.base_dims = self.win_length
            self.reduce = None
        else:
            self.base_dims = check_positive_int("n_bins", n_bins)
            reduce, self.bpm = self._reduction(int(n_bins), float(min_bpm), float(max_bpm))
            self.register_buffer("reduce", reduce, persistent=False)

    def _reduction(self, n_bins: int, lo: float, hi: float) -> tuple[torch.Tensor, np.ndarray]:
        """``(n_bins, win_length)`` linear-interpolation matrix from lags to tempo bins."""
        if not 0 < lo < hi:
            raise ConfigError(f"need 0 < min_bpm < max_bpm; got {lo}, {hi}")
        bpm = np.geomspace(lo, hi, n_bins)
        lags = 60.0 * self.frame_rate / bpm
        if lags.max() > self.win_length - 1 or lags.min() < 1:
            raise ConfigError(
                f"tempi {lo:g}-{hi:g} BPM need lags {lags.min():.1f}-{lags.max():.1f} frames "
                f"at {self.frame_rate:g} frames/s; the window has lags 1-{self.win_length - 1}",
                "raise win_length or narrow min_bpm/max_bpm",
            )
        low = np.floor(lags).astype(int)
        frac = lags - low
        m = np.zeros((n_bins, self.win_length), dtype=np.float32)
        m[np.arange(n_bins), low] = 1 - frac
        m[np.arange(n_bins), np.minimum(low + 1, self.win_length - 1)] += frac
        return torch.from_numpy(m), bpm

    def from_onset(self, env: torch.Tensor) -> torch.Tensor:
        """Onset envelope ``(batch, frames)`` -> full tempogram ``(batch, win_length, frames)``."""
        n, w = env.shape[-1], self.win_length
        half = w // 2
        ramp = torch.arange(half, dtype=env.dtype, device=env.device) / half
        left = env[:, :1] * ramp
        right = env[:, -1:] * (half - 1 - torch.arange(half, device=env.device)).to(env.dtype)
        padded = torch.cat([left, env, right / half], dim=-1)
        frames = padded.unfold(-1, w, 1)[:, :n] * self.window.to(env.dtype)  # (B, n, w)
        n_pad = 2 * w - 1
        spec = torch.fft.rfft(frames, n=n_pad)
        ac = torch.fft.irfft(spec.real.square() + spec.imag.square(), n=n_pad)[..., :w]
        peak = ac.abs().amax(dim=-1, keepdim=True)
        peak = torch.where(peak < torch.finfo(ac.dtype).tiny, torch.ones_like(peak), peak)
        return (ac / peak).transpose(1, 2)

    def compute(self, wave: torch.Tensor) -> torch.Tensor:
        tg = self.from_onset(self.onset.compute(wave)[:, 0])
        if self.reduce is None:
            return tg
        return torch.matmul(self.reduce.to(tg.dtype), tg)


__all__ = ["OnsetStrength", "Tempogram"]
