"""Frequency-domain transforms: filters, band-drop, band limiting (downsampling), pitch shift.

Filters are applied in the frequency domain: one real FFT of the (zero-padded) batch, a
per-example zero-phase magnitude response, one inverse FFT. Every example gets its own cut-offs
in the same pass, on the device. Responses are Butterworth magnitudes of order ``order``:
``|H| = 1 / sqrt(1 + (f / fc)^(2 order))`` for a low-pass (-3 dB at ``fc``, ``-6 order`` dB
per octave beyond), its mirror for a high-pass, their product for a band-pass and one minus
it for a band-stop. The padding (``min(samples, 4096)`` zeros) keeps the filter's time spread
from wrapping around the clip.

Pitch shift is a phase vocoder in the STFT domain (bin remapping with instantaneous-frequency
scaling, Laroche & Dolson 1999): each output bin ``j`` takes the magnitude of source position
``j / ratio`` (linear interpolation) and the instantaneous frequency of the nearest source bin
times ``ratio``, phases are accumulated over frames, and the inverse STFT restores a signal of
the input's length. Per-example ratios run in one batched pass. CLMR shifted pitch with sox's
``pitch`` effect (WSOLA time stretch + resampling); the spectral method keeps the length and the
device, at the price of some phasiness on transients.
"""

from __future__ import annotations

from typing import Any

import scipy.fft
import torch

from musicrep.augment.base import Transform, Uniform, as_param
from musicrep.errors import ConfigError
from musicrep.features.base import check_positive_int

_MAX_PAD = 4096


def filter_batch(wave: torch.Tensor, response, sample_rate: int) -> torch.Tensor:
    """Filter each row by ``response(freqs)`` ``-> (batch, freqs)`` magnitudes (zero phase).

    Parameters
    ----------
    wave : torch.Tensor, (batch, samples)
    response : callable
        Maps the FFT bin frequencies ``(1, freqs)`` in Hz to magnitudes ``(batch, freqs)``.
    sample_rate : int
        Hz.
    """
    n = wave.shape[-1]
    size = scipy.fft.next_fast_len(n + min(n, _MAX_PAD), real=True)
    spec = torch.fft.rfft(wave, n=size)
    freqs = torch.fft.rfftfreq(size, 1.0 / sample_rate, device=wave.device, dtype=wave.dtype)
    return torch.fft.irfft(spec * response(freqs[None]), n=size)[..., :n]


def _butterworth(f: torch.Tensor, fc: torch.Tensor, order: int, high: bool) -> torch.Tensor:
    """``1 / sqrt(1 + (f / fc)^(2 order))`` (low-pass) or with ``fc / f`` (high-pass).

    Computed in the log domain with the exponent clipped to +-60, which keeps every value a
    normal float (denormals slow the CPU down by orders of magnitude).
    """
    tiny = torch.finfo(f.dtype).tiny
    log_ratio = torch.log(f.clamp(min=tiny)) - torch.log(fc)[:, None]
    x = (2 * order) * (-log_ratio if high else log_ratio)
    return torch.rsqrt(1 + torch.exp(x.clamp(-60.0, 60.0)))


def _lowpass(f: torch.Tensor, fc: torch.Tensor, order: int) -> torch.Tensor:
    return _butterworth(f, fc, order, high=False)


def _highpass(f: torch.Tensor, fc: torch.Tensor, order: int) -> torch.Tensor:
    return _butterworth(f, fc, order, high=True)


def match_energy(out: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Scale each row of ``out`` to the energy of the row of ``ref``.

    Rows the transform left more than 80 dB below their reference (e.g. a tone removed by a
    filter) are not scaled up: that would amplify rounding noise.
    """
    e_out = out.square().sum(-1, keepdim=True)
    e_ref = ref.square().sum(-1, keepdim=True)
    ok = e_out > 1e-8 * e_ref
    scale = torch.where(ok, (e_ref / e_out.clamp(min=1e-30)).sqrt(), torch.ones_like(e_out))
    return out * scale


class _Filter(Transform):
    def __init__(self, sample_rate: int, order: int, preserve_energy: bool, seed: int | None):
        super().__init__(seed)
        self.sample_rate = check_positive_int("sample_rate", sample_rate)
        self.order = check_positive_int("order", order)
        self.preserve_energy = bool(preserve_energy)

    def _check_hz(self, param, name: str) -> None:
        lo, hi = param.bounds()
        if not 0 < lo <= hi < self.sample_rate / 2:
            raise ConfigError(
                f"{name} must lie between 0 and the Nyquist frequency {self.sample_rate / 2} Hz; "
                f"got {param}"
            )

    def response(self, wave: torch.Tensor, generator: torch.Generator):
        """Draw this batch's parameters; return ``h(freqs (1, F)) -> (batch, F)`` magnitudes."""
        raise NotImplementedError

    def apply(self, wave: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        h = self.response(wave, generator)
        out = filter_batch(wave, h, self.sample_rate)
        return match_energy(out, wave) if self.preserve_energy else out


class LowPass(_Filter):
    """Low-pass filter (zero-phase Butterworth magnitude).

    Parameters
    ----------
    sample_rate : int
        Hz.
    cutoff_hz : spec
        -3 dB frequency in Hz (default ``(2200, 4000)``: CLMR's low-pass range).
    order : int
        Butterworth order (4: -24 dB per octave).
    preserve_energy : bool
        Rescale each output to its input's energy.
    seed : int, optional
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        cutoff_hz: Any = (2200.0, 4000.0),
        order: int = 4,
        preserve_energy: bool = False,
        seed: int | None = None,
    ):
        super().__init__(sample_rate, order, preserve_energy, seed)
        self.cutoff_hz = as_param(cutoff_hz, "cutoff_hz")
        self._check_hz(self.cutoff_hz, "cutoff_hz")

    def response(self, wave, generator):
        fc = self.sample(self.cutoff_hz, wave.shape[0], generator, wave)
        return lambda f: _lowpass(f, fc, self.order)


class HighPass(LowPass):
    """High-pass filter; ``cutoff_hz`` default ``(200, 1200)`` (CLMR's high-pass range).

    Parameters as :class:`LowPass`.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        cutoff_hz: Any = (200.0, 1200.0),
        order: int = 4,
        preserve_energy: bool = False,
        seed: int | None = None,
    ):
        super().__init__(sample_rate, cutoff_hz, order, preserve_energy, seed)

    def response(self, wave, generator):
        fc = self.sample(self.cutoff_hz, wave.shape[0], generator, wave)
        return lambda f: _highpass(f, fc, self.order)


class BandPass(_Filter):
    """Band-pass filter around ``center_hz``, ``width_octaves`` wide (edges at -3 dB).

    Parameters
    ----------
    sample_rate : int
        Hz.
    center_hz : spec
        Geometric centre of the band in Hz (default log-uniform 200 Hz .. 4 kHz).
    width_octaves : spec
        Band width in octaves (default ``(1, 3)``).
    order : int
        Butterworth order of each edge (4).
    preserve_energy : bool
        Rescale each output to its input's energy.
    seed : int, optional
    """

    stop = False

    def __init__(
        self,
        sample_rate: int = 16000,
        center_hz: Any = None,
        width_octaves: Any = (1.0, 3.0),
        order: int = 4,
        preserve_energy: bool = False,
        seed: int | None = None,
    ):
        super().__init__(sample_rate, order, preserve_energy, seed)
        default = Uniform(200.0, min(4000.0, sample_rate / 4), log=True)
        self.center_hz = as_param(default if center_hz is None else center_hz, "center_hz")
        self.width_octaves = as_param(width_octaves, "width_octaves")
        self._check_hz(self.center_hz, "center_hz")
        if self.width_octaves.bounds()[0] <= 0:
            raise ConfigError(f"width_octaves must be > 0; got {self.width_octaves}")

    def edges(self, wave: torch.Tensor, generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-example band edges ``(low, high)`` in Hz (high capped below Nyquist)."""
        c = self.sample(self.center_hz, wave.shape[0], generator, wave)
        w = self.sample(self.width_octaves, wave.shape[0], generator, wave)
        low, high = c * 2 ** (-w / 2), c * 2 ** (w / 2)
        return low, high.clamp(max=0.999 * self.sample_rate / 2)

    def response(self, wave, generator):
        low, high = self.edges(wave, generator)

        def h(f):
            band = _highpass(f, low, self.order) * _lowpass(f, high, self.order)
            return 1 - band if self.stop else band

        return h


class BandStop(BandPass):
    """Band-stop ("band-drop", frequency masking): removes ``width_octaves`` around ``center_hz``.

    PASE+'s band-drop filtered with stored band-stop impulse responses that are not public;
    ours draws the band: centre log-uniform from 100 Hz to 0.8 x Nyquist, width 0.25-1 octave,
    order-8 edges (steep), output energy restored as PASE does ([open]: the reference bands).

    Parameters as :class:`BandPass`.
    """

    stop = True

    def __init__(
        self,
        sample_rate: int = 16000,
        center_hz: Any = None,
        width_octaves: Any = (0.25, 1.0),
        order: int = 8,
        preserve_energy: bool = True,
        seed: int | None = None,
    ):
        default = Uniform(100.0, 0.4 * sample_rate, log=True)
        super().__init__(
            sample_rate,
            default if center_hz is None else center_hz,
            width_octaves,
            order,
            preserve_energy,
            seed,
        )


class Downsample(_Filter):
    """Band limiting to the band of a lower sample rate (PASE+'s 16 -> 8 kHz "downsampling").

    Removes everything above ``rate / 2`` (an ideal low-pass, which is what resampling to
    ``rate`` and back does), the output at the input's rate and energy.

    Parameters
    ----------
    sample_rate : int
        Hz.
    rate : spec
        The lower rate in Hz (8000).
    preserve_energy : bool
        Restore each example's energy (True: PASE+).
    seed : int, optional
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        rate: Any = 8000,
        preserve_energy: bool = True,
        seed: int | None = None,
    ):
        super().__init__(sample_rate, 1, preserve_energy, seed)
        self.rate = as_param(rate, "rate")
        lo, hi = self.rate.bounds()
        if not 0 < lo <= hi <= self.sample_rate:
            raise ConfigError(f"rate must lie in (0, {self.sample_rate}] Hz; got {self.rate}")

    def response(self, wave, generator):
        rate = self.sample(self.rate, wave.shape[0], generator, wave)
        return lambda f: (f <= rate[:, None] / 2).to(wave.dtype)


class PitchShift(Transform):
    """Shift the pitch by ``semitones`` keeping the duration (phase-vocoder bin remapping).

    Parameters
    ----------
    sample_rate : int
        Hz (the shift itself does not depend on it).
    semitones : spec
        Shift in semitones (default ``(-7, 7)``: CLMR's range).
    n_fft : int
        STFT size (1024), hop ``n_fft // 4``, Hann window.
    seed : int, optional
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        semitones: Any = (-7.0, 7.0),
        n_fft: int = 1024,
        seed: int | None = None,
    ):
        super().__init__(seed)
        self.sample_rate = check_positive_int("sample_rate", sample_rate)
        self.semitones = as_param(semitones, "semitones")
        self.n_fft = check_positive_int("n_fft", n_fft)
        self.hop = self.n_fft // 4
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)

    def shift(self, wave: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
        """Shift each row by the frequency ``ratio`` ``(batch,)`` (> 0)."""
        n, window = wave.shape[-1], self.window.to(wave.dtype)
        spec = torch.stft(
            wave, self.n_fft, self.hop, window=window, pad_mode="constant", return_complex=True
        )
        mag, phase = spec.abs(), spec.angle()  # (B, F, T)
        n_freq = spec.shape[1]
        omega = 2 * torch.pi * torch.arange(n_freq, device=wave.device, dtype=wave.dtype)
        omega = (omega / self.n_fft)[None, :, None]  # rad / sample of each bin
        dphi = torch.diff(phase, dim=-1, prepend=phase[..., :1] - omega * self.hop)
        dphi = dphi - omega * self.hop
        dphi = dphi - 2 * torch.pi * torch.round(dphi / (2 * torch.pi))
        inst = omega + dphi / self.hop  # instantaneous frequency, rad / sample
        src = torch.arange(n_freq, device=wave.device, dtype=wave.dtype)[None] / ratio[:, None]
        valid = (src <= n_freq - 1)[..., None]
        lo = src.floor().long().clamp(max=n_freq - 1)
        hi = (lo + 1).clamp(max=n_freq - 1)
        frac = (src - lo.to(src.dtype))[..., None]
        nearest = src.round().long().clamp(max=n_freq - 1)

        def take(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
            return x.gather(1, idx[..., None].expand(-1, -1, x.shape[-1]))

        new_mag = (take(mag, lo) * (1 - frac) + take(mag, hi) * frac) * valid
        new_inst = take(inst, nearest) * ratio[:, None, None]
        new_phase = take(phase, nearest)[..., :1] + torch.cumsum(new_inst * self.hop, dim=-1)
        new_phase = new_phase - new_inst[..., :1] * self.hop
        out = torch.polar(new_mag, new_phase)
        return torch.istft(out, self.n_fft, self.hop, window=window, length=n)

    def apply(self, wave: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        steps = self.sample(self.semitones, wave.shape[0], generator, wave)
        return self.shift(wave, 2.0 ** (steps / 12.0))


def resample_fft(wave: torch.Tensor, length: int) -> torch.Tensor:
    """Band-limited resampling of each row to ``length`` samples (Fourier method).

    The spectrum is truncated (fewer samples) or zero-padded (more samples) and scaled by
    ``length / samples``, as :func:`scipy.signal.resample`; the signal is treated as periodic.
    """
    n = wave.shape[-1]
    spec = torch.fft.rfft(wave)
    bins = length // 2 + 1
    if bins <= spec.shape[-1]:
        spec = spec[..., :bins]
    else:
        spec = torch.nn.functional.pad(spec, (0, bins - spec.shape[-1]))
    return torch.fft.irfft(spec, n=length) * (length / n)


class TimeStretch(Transform):
    """Change the tempo by ``rate`` keeping the pitch (``rate > 1`` faster and shorter).

    The signal is resampled to ``round(samples / rate)`` samples (faster and ``rate`` times
    higher, :func:`resample_fft`), then shifted back down by the frequency ratio ``1 / rate``
    with :class:`PitchShift`'s phase vocoder -- the same result as a phase-vocoder time
    stretch (``librosa.effects.time_stretch``, used by the Won et al. robustness experiment,
    rates ``2^-0.5 .. 2^0.5``) with one spectral method for both pitch and tempo.

    Parameters
    ----------
    sample_rate : int
        Hz (the stretch itself does not depend on it).
    rate : spec
        Tempo ratio (default ``(2 ** -0.5, 2 ** 0.5)``, log-uniform).
    keep_length : bool
        Crop or zero-pad the output to the input's length. Without it (the default) the output
        has ``round(samples / rate)`` samples, so every example of a batch must get the same
        rate (a fixed ``rate``); per-example random rates need ``keep_length=True``.
    n_fft : int
        STFT size of the phase vocoder (1024).
    seed : int, optional
    """

    preserves_length = False

    def __init__(
        self,
        sample_rate: int = 16000,
        rate: Any = None,
        keep_length: bool = False,
        n_fft: int = 1024,
        seed: int | None = None,
    ):
        super().__init__(seed)
        self.sample_rate = check_positive_int("sample_rate", sample_rate)
        default = Uniform(2**-0.5, 2**0.5, log=True)
        self.rate = as_param(default if rate is None else rate, "rate")
        if self.rate.bounds()[0] <= 0:
            raise ConfigError(f"time-stretch rate must be positive; got {self.rate}")
        self.keep_length = bool(keep_length)
        self.preserves_length = self.keep_length
        self.vocoder = PitchShift(sample_rate, 0.0, n_fft=n_fft)

    def apply(self, wave: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        b, n = wave.shape
        rates = self.sample(self.rate, b, generator, wave)
        if self.keep_length:
            rows = [self._stretch(wave[i : i + 1], float(rates[i]), n) for i in range(b)]
            return torch.cat(rows)
        if b > 1 and not bool((rates == rates[0]).all()):
            raise ConfigError(
                "TimeStretch drew different rates for the examples of a batch, whose outputs "
                "would differ in length",
                "use a fixed rate, or keep_length=True",
            )
        return self._stretch(wave, float(rates[0]), None)

    def _stretch(self, wave: torch.Tensor, rate: float, length: int | None) -> torch.Tensor:
        n = wave.shape[-1]
        m = max(1, int(round(n / rate)))
        fast = resample_fft(wave, m)
        ratio = torch.full((wave.shape[0],), 1.0 / rate, dtype=wave.dtype, device=wave.device)
        out = self.vocoder.shift(fast, ratio) if m > self.vocoder.n_fft // 2 else fast
        # the vocoder loses some energy at large ratios (phase incoherence between frames):
        # restore each example's RMS (mean square, the lengths differ)
        p_in = wave.square().mean(-1, keepdim=True)
        p_out = out.square().mean(-1, keepdim=True)
        ok = p_out > 1e-8 * p_in
        out = torch.where(ok, out * (p_in / p_out.clamp(min=1e-30)).sqrt(), out)
        if length is None or length == m:
            return out
        if m > length:
            return out[..., :length]
        return torch.nn.functional.pad(out, (0, length - m))

    def extra_repr(self) -> str:
        return f"rate={self.rate}, keep_length={self.keep_length}"


__all__ = [
    "BandPass",
    "BandStop",
    "Downsample",
    "HighPass",
    "LowPass",
    "PitchShift",
    "TimeStretch",
    "filter_batch",
    "match_energy",
    "resample_fft",
]
