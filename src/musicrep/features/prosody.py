"""Prosody features: fundamental frequency (YIN), voicing, RMS energy, zero-crossing rate.

PASE's ``prosody`` worker target (``seed_methods.md`` B): per 10 ms frame
``[log F0, voiced, RMS energy, zero-crossing rate]`` (+ deltas: 12 values), log F0 linearly
interpolated through unvoiced frames.

F0 estimator (a choice; PASE used SWIPE from ``pysptk``, 60-300 Hz)
--------------------------------------------------------------------
:func:`yin` is librosa's YIN (``librosa.yin``: cumulative mean normalised difference function,
first trough below ``trough_threshold``, else the global minimum, parabolic interpolation)
re-implemented batched in torch, so the targets are computed on the device with the rest of the
batch; the tests check it against ``librosa.yin`` frame by frame. pYIN (``librosa.pyin``, an HMM
over YIN candidates) gives better voicing decisions but runs per clip in numpy on the CPU,
about 30x slower than this estimator on 2 CPU cores (``benchmarks/features.py``); for a
regression target that is z-normalised and interpolated through unvoiced frames the cheaper
estimator is the better trade.

Voicing (our choice, YIN has none): a frame is voiced when the normalised difference at the
chosen period (its aperiodicity) is below ``voicing_threshold`` (0.2) and the frame is not
silent (mean square above ``silence`` = 1e-8, -80 dB). Unvoiced frames take the log F0 of their
voiced neighbours (linear interpolation, held flat before the first and after the last voiced
frame); a clip without voiced frames gets ``log(f_min)`` everywhere, as PASE.

RMS energy and zero-crossing rate are ``librosa.feature.rms`` (zero padding) and
``librosa.feature.zero_crossing_rate`` (edge padding) over centred frames of ``frame_length``
samples (320 = 20 ms, PASE's).
"""

from __future__ import annotations

import math

import torch

from musicrep.errors import ConfigError
from musicrep.features.base import (
    DEFAULT_HOP,
    DEFAULT_SAMPLE_RATE,
    FeatureExtractor,
    check_positive_int,
    frame_signal,
)

#: PASE's prosody settings (``pase/transforms.py``, ``Prosody``).
PROSODY_F_MIN = 60.0
PROSODY_F_MAX = 300.0
PROSODY_FRAME = 320
#: ``librosa.yin``'s trough threshold.
YIN_TROUGH_THRESHOLD = 0.1


def _check_yin(sample_rate: int, f_min: float, f_max: float, frame_length: int) -> None:
    if not 0 < f_min < f_max:
        raise ConfigError(f"need 0 < f_min < f_max; got f_min={f_min}, f_max={f_max}")
    if f_max > sample_rate / 2:
        raise ConfigError(f"f_max={f_max} Hz is above the Nyquist frequency {sample_rate / 2}")
    if sample_rate / f_min >= frame_length - 1:
        raise ConfigError(
            f"f_min={f_min} Hz is too low for frame_length={frame_length} at {sample_rate} Hz",
            f"raise f_min above {sample_rate / (frame_length - 1):.1f} Hz or use "
            f"frame_length >= {math.ceil(sample_rate / f_min) + 2}",
        )


def _cmndf(frames: torch.Tensor, min_period: int, max_period: int) -> torch.Tensor:
    """Cumulative mean normalised difference ``(..., L) -> (..., max_period - min_period + 1)``.

    Index ``i`` is period ``min_period + i`` samples (``librosa``'s
    ``_cumulative_mean_normalized_difference``).
    """
    length = frames.shape[-1]
    n_pad = 1 << (2 * length - 1).bit_length()
    spec = torch.fft.rfft(frames, n=n_pad)
    acf = torch.fft.irfft(spec.real.square() + spec.imag.square(), n=n_pad)[..., : max_period + 1]
    energy = frames.square().cumsum(dim=-1)
    diff = torch.zeros_like(acf)
    diff[..., 1:] = 2 * (acf[..., :1] - acf[..., 1:]) - energy[..., :max_period]
    k = torch.arange(1, max_period + 1, dtype=frames.dtype, device=frames.device)
    mean = diff[..., 1:].cumsum(dim=-1) / k
    den = mean[..., min_period - 1 : max_period]
    return diff[..., min_period:] / (den + torch.finfo(den.dtype).tiny)


def _parabolic_shifts(x: torch.Tensor) -> torch.Tensor:
    """Offset of the parabola through each point and its neighbours (0 at the ends)."""
    a = x[..., 2:] + x[..., :-2] - 2 * x[..., 1:-1]
    b = (x[..., 2:] - x[..., :-2]) / 2
    ok = b.abs() < a.abs()
    inner = torch.where(ok, -b / torch.where(ok, a, torch.ones_like(a)), torch.zeros_like(a))
    return torch.nn.functional.pad(inner, (1, 1))


def yin(
    wave: torch.Tensor,
    sample_rate: int,
    f_min: float,
    f_max: float,
    frame_length: int = 1024,
    hop_length: int = DEFAULT_HOP,
    trough_threshold: float = YIN_TROUGH_THRESHOLD,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched YIN, as ``librosa.yin(..., center=True, pad_mode="constant")``.

    Parameters
    ----------
    wave : torch.Tensor, (batch, samples)
    sample_rate : int
        Hz.
    f_min, f_max : float
        Search range in Hz.
    frame_length : int
        Analysis frame in samples (must exceed ``sample_rate / f_min + 1``).
    hop_length : int
        Hop in samples (frame ``k`` centred on sample ``k * hop_length``).
    trough_threshold : float
        First trough below this is the period (librosa's 0.1).

    Returns
    -------
    f0 : torch.Tensor, (batch, frames)
        Estimated F0 in Hz (every frame, voiced or not).
    aperiodicity : torch.Tensor, (batch, frames)
        The normalised difference at the chosen period (0 = perfectly periodic).
    """
    _check_yin(sample_rate, f_min, f_max, frame_length)
    frames = frame_signal(wave, frame_length, hop_length)
    min_period = int(math.floor(sample_rate / f_max))
    max_period = min(int(math.ceil(sample_rate / f_min)), frame_length - 1)
    d = _cmndf(frames, min_period, max_period)  # (B, T, P)
    shifts = _parabolic_shifts(d)
    trough = torch.zeros_like(d, dtype=torch.bool)
    trough[..., 1:-1] = (d[..., 1:-1] < d[..., :-2]) & (d[..., 1:-1] <= d[..., 2:])
    trough[..., 0] = d[..., 0] < d[..., 1]
    trough[..., -1] = d[..., -1] < d[..., -2]
    below = trough & (d < trough_threshold)
    first = below.to(torch.uint8).argmax(dim=-1)
    period = torch.where(below.any(dim=-1), first, d.argmin(dim=-1))
    idx = period.unsqueeze(-1)
    exact = min_period + period.to(d.dtype) + shifts.gather(-1, idx)[..., 0]
    return sample_rate / exact, d.gather(-1, idx)[..., 0]


def interpolate_unvoiced(values: torch.Tensor, voiced: torch.Tensor, fill: float) -> torch.Tensor:
    """Linear interpolation of ``values`` ``(batch, frames)`` through the frames not ``voiced``.

    Frames before the first / after the last voiced frame take its value; rows without a voiced
    frame are ``fill``.
    """
    n = values.shape[-1]
    idx = torch.arange(n, device=values.device).expand_as(values)
    prev = torch.where(voiced, idx, torch.full_like(idx, -1)).cummax(dim=-1).values
    nxt = torch.where(voiced, idx, torch.full_like(idx, n)).flip(-1).cummin(dim=-1).values.flip(-1)
    prev_ok, next_ok = prev >= 0, nxt < n
    prev = torch.where(prev_ok, prev, nxt).clamp(0, n - 1)
    nxt = torch.where(next_ok, nxt, prev).clamp(0, n - 1)
    a, b = values.gather(-1, prev), values.gather(-1, nxt)
    span = (nxt - prev).clamp(min=1).to(values.dtype)
    out = a + (b - a) * (idx - prev).to(values.dtype) / span
    out = torch.where(voiced, values, out)
    any_voiced = voiced.any(dim=-1, keepdim=True)
    return torch.where(any_voiced, out, torch.full_like(out, fill))


def rms_energy(wave: torch.Tensor, frame_length: int, hop_length: int) -> torch.Tensor:
    """``librosa.feature.rms`` (centred, zero padding): ``(batch, samples) -> (batch, frames)``."""
    return frame_signal(wave, frame_length, hop_length).square().mean(dim=-1).sqrt()


def zero_crossing_rate(wave: torch.Tensor, frame_length: int, hop_length: int) -> torch.Tensor:
    """``librosa.feature.zero_crossing_rate`` (centred, edge padding, threshold 1e-10)."""
    frames = frame_signal(wave, frame_length, hop_length, pad_mode="edge")
    frames = torch.where(frames.abs() <= 1e-10, torch.zeros_like(frames), frames)
    sign = torch.signbit(frames)
    crossings = (sign[..., 1:] != sign[..., :-1]).sum(dim=-1)
    return crossings.to(wave.dtype) / frame_length


class Prosody(FeatureExtractor):
    """``[log F0, voiced, RMS energy, zero-crossing rate]`` per frame: ``(batch, 4, frames)``.

    Parameters
    ----------
    f_min, f_max : float
        F0 search range in Hz (60, 300: PASE's speech range; music recipes widen it, e.g.
        50-1000 Hz with ``yin_frame_length=2048``).
    yin_frame_length : int
        YIN analysis frame in samples (1024 = 64 ms at 16 kHz).
    frame_length : int
        Frame of the RMS energy and zero-crossing rate (320 = 20 ms).
    voicing_threshold : float
        Largest aperiodicity of a voiced frame (0.2).
    silence : float
        Mean square below which a frame is unvoiced (1e-8).
    sample_rate, hop_length, deltas, delta_width, delta_mode
        See :class:`~musicrep.features.base.FeatureExtractor` (PASE: ``deltas=2``).
    """

    name = "prosody"
    base_dims = 4

    def __init__(
        self,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        hop_length: int = DEFAULT_HOP,
        f_min: float = PROSODY_F_MIN,
        f_max: float = PROSODY_F_MAX,
        yin_frame_length: int = 1024,
        frame_length: int = PROSODY_FRAME,
        voicing_threshold: float = 0.2,
        silence: float = 1e-8,
        **kwargs,
    ):
        super().__init__(sample_rate, hop_length, **kwargs)
        _check_yin(self.sample_rate, f_min, f_max, yin_frame_length)
        self.f_min, self.f_max = float(f_min), float(f_max)
        self.yin_frame_length = check_positive_int("yin_frame_length", yin_frame_length)
        self.frame_length = check_positive_int("frame_length", frame_length)
        self.voicing_threshold, self.silence = float(voicing_threshold), float(silence)

    def compute(self, wave: torch.Tensor) -> torch.Tensor:
        f0, aperiodicity = yin(
            wave, self.sample_rate, self.f_min, self.f_max, self.yin_frame_length, self.hop_length
        )
        power = frame_signal(wave, self.yin_frame_length, self.hop_length).square().mean(dim=-1)
        voiced = (aperiodicity < self.voicing_threshold) & (power > self.silence)
        log_f0 = interpolate_unvoiced(f0.log(), voiced, math.log(self.f_min))
        rms = rms_energy(wave, self.frame_length, self.hop_length)
        zcr = zero_crossing_rate(wave, self.frame_length, self.hop_length)
        return torch.stack([log_f0, voiced.to(wave.dtype), rms, zcr], dim=1)


__all__ = ["Prosody", "interpolate_unvoiced", "rms_energy", "yin", "zero_crossing_rate"]
