"""ModNet and SincModNet: temporal-modulation front-ends (Vahidi et al., 2021).

A learned modulation filterbank on raw audio, ``(batch, samples) -> (batch, M, F, frames)``::

    waveform (batch, samples)
      1. acoustic filterbank, F bands        (batch, F, samples)      FIR conv | SincConv1d
      2. rectify, low-pass, decimate         (batch, F, env_frames)   envelope at sr / hop Hz
      3. M modulation band-passes per band   (batch, F, M, env_frames) shared across bands
      4. |.|, subsample, compress, BN        (batch, M, F, frames)     kind "tf"

``ModNet`` (registered as ``"modulation"``) learns free FIR kernels in stages 1 and 3;
``SincModNet`` (``"sinc_modulation"``) parametrises both as SincNet band-passes
(:class:`~musicrep.frontends.sinc.SincConv1d`), so only two cut-offs per filter are learned and
the learned acoustic and modulation centre frequencies can be read off directly.

The paper's abstract fixes the structure (an acoustic filterbank, a temporal modulation block of
FIR filters with learned centre frequencies, sinc parametrisation in SincModNet, subsampling of
the bands "at a progressively reduced rate"); there is no public code, so the rest is a
reconstruction.

Choices where the paper is silent
---------------------------------
All are constructor arguments; the defaults are:

* Acoustic filterbank: ``n_bands = 40`` filters of ``kernel_size = 251`` taps (SincNet's size) at
  16 kHz, "same" padding, mel-spaced initial bands as SincConv_fast (edges from 30 Hz, shifted
  up by the minimums: effectively 80 Hz to 8 kHz; ``min_low_hz = min_band_hz = 50`` Hz,
  Hz-valued parameters). Kernels are normalised to unit
  pass-band gain (``acoustic_normalize="gain"``), not SincConv_fast's ``1 / (2 band)``, so the band
  envelopes are comparable across bands as with a unit-peak mel filterbank.
* ModNet's free FIR kernels (acoustic and modulation) are initialised from the very sinc
  band-passes SincModNet starts from (``fir_init="sinc"``), so the two variants differ only in
  their parametrisation; ``fir_init="random"`` keeps PyTorch's default ``Conv1d`` init.
* Envelope: ``rectify="abs"`` (``"square"`` gives a power envelope), then a Hamming-windowed sinc
  low-pass (``scipy.signal.firwin``, ``envelope_taps = 16 * hop + 1``, cut-off 0.4 x the envelope
  rate) applied with stride ``envelope_hop = 80`` samples: a 200 Hz envelope with
  ``ceil(samples / 80)`` frames, frame ``j`` centred on sample ``80 j``. ``envelope_lowpass="avg"``
  uses a non-overlapping mean over each hop instead (cheaper, more aliasing; same frame count).
* Modulation block: ``n_modulation = 8`` band-passes of ``modulation_kernel_size = 257`` taps
  (1.28 s at 200 Hz), applied to every band's envelope with shared weights ("replicate" padding
  so the envelope's level does not look like an onset at the chunk edges). Initial bands are
  log-spaced edges from 0.5 to 64 Hz placed exactly (``init_offset="exact"``), with
  ``modulation_min_low_hz = modulation_min_band_hz = 0.1`` Hz, zero DC gain
  (``modulation_zero_dc=True``: a rectified envelope's mean would otherwise leak into the slow
  channels), unit pass-band gain and parameters stored in cycles per envelope sample
  (``frequency_unit="normalized"``) so they move at a useful speed under ordinary learning rates.
  A 1.28 s kernel cannot resolve the lowest band (0.5-0.92 Hz; its peak gain is 0.45 and a
  0.7 Hz modulation peaks in the next channel); lengthen ``modulation_kernel_size`` for slow
  modulations.
* Output: the magnitude of each modulation channel, averaged over ``subsample`` envelope frames
  (stride ``subsample``). With ``modulation_output="analytic"`` (default) every modulation filter
  is complex, the SincNet band-pass plus its Hilbert-transform partner
  (``SincConv1d.filters(quadrature=True)``; ModNet learns ``2 M`` free kernels initialised as
  these pairs), and the magnitude ``sqrt(I^2 + Q^2)`` is the smooth amplitude of that modulation
  band. ``"rectified"`` uses ``|y|`` of the real band-pass, which drops to 0 at every zero
  crossing (deep notches after dB compression, strongest in the fast channels). Then
  ``compression="db"`` (``20 log10(max(x, 1e-5))``; ``"log1p"`` = ``log(1 + x)``; ``"none"``),
  then ``BatchNorm2d(n_modulation)`` (``batchnorm=True``).
* Subsampling: ``subsample`` is an int (every channel, output rate ``200 / subsample`` Hz), a
  sequence of ``n_modulation`` ints (channel ``m`` averaged over windows of ``subsample[m]``
  frames), or ``"progressive"`` (each channel's factor is the largest power of two keeping its
  rate at least twice its initial upper cut-off: slow modulations are kept at a low rate — our
  reading of "subsampled ... at a progressively reduced rate"). With per-channel factors every
  factor must be a multiple of the smallest one, ``g``; each channel is held constant over its own
  window (nearest-neighbour upsampling) on the common grid of ``ceil(env_frames / g)`` frames, so
  the channels still stack into one tensor while carrying ``200 / subsample[m]`` Hz information.

Output shape: ``(batch, n_modulation, n_bands, ceil(ceil(samples / envelope_hop) / g))`` with
``g = subsample`` (or the smallest per-channel factor). Memory: stage 1 holds ``n_bands`` full-rate
signals, i.e. ``4 * n_bands * samples`` bytes per example (74 MB for 29 s at 16 kHz, 40 bands).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import scipy.signal
import torch
import torch.nn.functional as F
from torch import nn

from musicrep.errors import ConfigError
from musicrep.frontends import FRONTENDS
from musicrep.frontends.base import Frontend, amplitude_to_db
from musicrep.frontends.sinc import SincConv1d

#: Defaults of the reconstruction (see "Choices where the paper is silent").
MODULATION_LOW_HZ = 0.5
MODULATION_HIGH_HZ = 64.0
ENVELOPE_CUTOFF_RATIO = 0.4  # low-pass cut-off as a fraction of the envelope rate
DB_AMIN = 1e-5
MAGNITUDE_EPS = 1e-12  # keeps the gradient of sqrt(I^2 + Q^2) finite at 0


def progressive_factors(high_hz: Sequence[float], envelope_rate: float) -> list[int]:
    """Per-channel subsampling factors: the largest power of two ``s`` with
    ``envelope_rate / s >= 2 * high_hz`` (at least 1), one per modulation channel."""
    factors = []
    for high in high_hz:
        ratio = envelope_rate / (2.0 * float(high))
        factors.append(2 ** max(0, math.floor(math.log2(ratio))) if ratio >= 1 else 1)
    return factors


def _kernel_center_hz(kernels: torch.Tensor, sample_rate: float) -> torch.Tensor:
    """Centroid (Hz) of the positive-frequency power response of each kernel
    ``(channels, 1, taps)`` (real, or complex for analytic pairs)."""
    taps = kernels.shape[-1]
    n_fft = 1 << max(12, (8 * taps - 1).bit_length())
    power = torch.fft.fft(kernels[:, 0].detach(), n=n_fft).abs()[:, : n_fft // 2 + 1].square()
    freqs = torch.arange(power.shape[-1], device=power.device) * (sample_rate / n_fft)
    return (power * freqs).sum(-1) / power.sum(-1).clamp_min(1e-20)


class ModulationFrontend(Frontend):
    """Learned acoustic + modulation filterbank, ``(batch, samples) -> (batch, M, F, frames)``.

    Use the registered subclasses :class:`ModNet` (``"modulation"``) and :class:`SincModNet`
    (``"sinc_modulation"``); the module docstring describes every stage and default.

    Parameters
    ----------
    filters : {"fir", "sinc"}
        Free FIR kernels (ModNet) or SincNet band-passes (SincModNet) in stages 1 and 3.
    sample_rate : int
        Input rate in Hz (16000).
    n_bands, kernel_size : int
        Acoustic filters ``F`` and their taps (40, 251; odd).
    min_low_hz, min_band_hz : float
        Acoustic sinc cut-off bounds in Hz (50, 50).
    acoustic_normalize : {"gain", "band"}
        Acoustic kernel normalisation (see :class:`SincConv1d`).
    rectify : {"abs", "square"}
        Envelope rectification.
    envelope_hop : int
        Decimation factor from the audio rate to the envelope rate (80: 200 Hz at 16 kHz).
    envelope_lowpass : {"sinc", "avg"}
        Anti-aliasing before decimation.
    envelope_taps : int, optional
        Low-pass length (odd; default ``16 * envelope_hop + 1``).
    n_modulation, modulation_kernel_size : int
        Modulation filters ``M`` and their taps at the envelope rate (8, 257; odd).
    modulation_low_hz, modulation_high_hz : float
        Range of the initial log-spaced modulation band edges in Hz (0.5, 64).
    modulation_min_low_hz, modulation_min_band_hz : float
        Modulation sinc cut-off bounds in Hz (0.1, 0.1).
    modulation_zero_dc : bool
        Remove the DC gain of the modulation filters (True).
    modulation_output : {"analytic", "rectified"}
        Magnitude of complex (Hilbert-pair) modulation filters, or ``|y|`` of real ones.
    subsample : int, sequence of int, or "progressive"
        Output subsampling in envelope frames (1).
    compression : {"db", "log1p", "none"}
        Compression of the pooled magnitudes.
    batchnorm : bool
        ``BatchNorm2d(n_modulation)`` on the output (True).
    fir_init : {"sinc", "random"}
        Initial FIR kernels of ModNet.
    """

    kind = "tf"

    def __init__(
        self,
        filters: Literal["fir", "sinc"] = "sinc",
        sample_rate: int = 16000,
        n_bands: int = 40,
        kernel_size: int = 251,
        min_low_hz: float = 50.0,
        min_band_hz: float = 50.0,
        acoustic_normalize: Literal["gain", "band"] = "gain",
        rectify: Literal["abs", "square"] = "abs",
        envelope_hop: int = 80,
        envelope_lowpass: Literal["sinc", "avg"] = "sinc",
        envelope_taps: int | None = None,
        n_modulation: int = 8,
        modulation_kernel_size: int = 257,
        modulation_low_hz: float = MODULATION_LOW_HZ,
        modulation_high_hz: float = MODULATION_HIGH_HZ,
        modulation_min_low_hz: float = 0.1,
        modulation_min_band_hz: float = 0.1,
        modulation_zero_dc: bool = True,
        modulation_output: Literal["analytic", "rectified"] = "analytic",
        subsample: int | Sequence[int] | Literal["progressive"] = 1,
        compression: Literal["db", "log1p", "none"] = "db",
        batchnorm: bool = True,
        fir_init: Literal["sinc", "random"] = "sinc",
    ):
        super().__init__()
        for name, value, valid in (
            ("filters", filters, ("fir", "sinc")),
            ("rectify", rectify, ("abs", "square")),
            ("envelope_lowpass", envelope_lowpass, ("sinc", "avg")),
            ("compression", compression, ("db", "log1p", "none")),
            ("fir_init", fir_init, ("sinc", "random")),
            ("modulation_output", modulation_output, ("analytic", "rectified")),
        ):
            if value not in valid:
                raise ConfigError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
        if envelope_hop < 1:
            raise ConfigError(f"envelope_hop must be >= 1, got {envelope_hop}")
        self.sample_rate = int(sample_rate)
        self.filter_type, self.rectify, self.compression = filters, rectify, compression
        self.n_bands, self.n_modulation = int(n_bands), int(n_modulation)
        self.analytic = modulation_output == "analytic"
        self.modulation_pad = modulation_kernel_size // 2
        self.envelope_hop = int(envelope_hop)
        self.envelope_rate = self.sample_rate / self.envelope_hop
        if modulation_high_hz >= self.envelope_rate / 2:
            raise ConfigError(
                f"modulation_high_hz={modulation_high_hz} must be below the envelope Nyquist "
                f"frequency {self.envelope_rate / 2:g} Hz (sample_rate / envelope_hop / 2)",
                "lower envelope_hop or modulation_high_hz",
            )

        # 1. acoustic filterbank
        acoustic = SincConv1d(
            n_bands,
            kernel_size,
            sample_rate=sample_rate,
            padding="same",
            min_low_hz=min_low_hz,
            min_band_hz=min_band_hz,
            normalize=acoustic_normalize,
        )
        # 3. modulation filterbank (shared across bands)
        modulation = SincConv1d(
            n_modulation,
            modulation_kernel_size,
            sample_rate=self.envelope_rate,
            padding="same",
            padding_mode="replicate",
            min_low_hz=modulation_min_low_hz,
            min_band_hz=modulation_min_band_hz,
            init_low_hz=modulation_low_hz,
            init_high_hz=modulation_high_hz,
            init_scale="log",
            init_offset="exact",
            normalize="gain",
            frequency_unit="normalized",
            zero_dc=modulation_zero_dc,
        )
        init_mod_high = modulation.high_hz.detach().tolist()
        if filters == "sinc":
            self.acoustic: nn.Module = acoustic
            self.modulation: nn.Module = modulation
        else:
            self.acoustic = nn.Conv1d(1, n_bands, kernel_size, padding=kernel_size // 2, bias=False)
            n_kernels = n_modulation * (2 if self.analytic else 1)
            self.modulation = nn.Conv1d(1, n_kernels, modulation_kernel_size, bias=False)
            if fir_init == "sinc":
                with torch.no_grad():
                    self.acoustic.weight.copy_(acoustic.filters())
                    self.modulation.weight.copy_(self._sinc_modulation_kernels(modulation))

        # 2. envelope low-pass
        self.envelope_lowpass = envelope_lowpass
        taps = envelope_taps if envelope_taps is not None else 16 * self.envelope_hop + 1
        if taps < 1 or taps % 2 == 0:
            raise ConfigError(f"envelope_taps must be odd, got {taps}")
        lowpass = scipy.signal.firwin(
            taps, ENVELOPE_CUTOFF_RATIO * self.envelope_rate, fs=self.sample_rate
        )
        self.register_buffer(
            "lowpass", torch.as_tensor(lowpass, dtype=torch.float32)[None, None], persistent=False
        )

        # 4. subsampling
        if isinstance(subsample, str):
            if subsample != "progressive":
                raise ConfigError(
                    f"unknown subsample {subsample!r}",
                    "use an int, one int per modulation channel, or 'progressive'",
                )
            factors = progressive_factors(init_mod_high, self.envelope_rate)
        elif isinstance(subsample, int):
            factors = [subsample] * self.n_modulation
        else:
            factors = [int(s) for s in subsample]
        if len(factors) != self.n_modulation or min(factors) < 1:
            raise ConfigError(
                f"subsample needs {self.n_modulation} factors >= 1, got {subsample!r}"
            )
        self.grid = min(factors)
        if any(s % self.grid for s in factors):
            raise ConfigError(
                f"per-channel subsample factors {factors} must all be multiples of the "
                f"smallest ({self.grid})"
            )
        self.subsample_factors = factors
        self.bn = nn.BatchNorm2d(n_modulation) if batchnorm else nn.Identity()

    # ------------------------------------------------------------------ inspection helpers
    def acoustic_filters(self) -> torch.Tensor:
        """Acoustic kernels, shape ``(n_bands, 1, kernel_size)``."""
        if isinstance(self.acoustic, SincConv1d):
            return self.acoustic.filters()
        return self.acoustic.weight

    def _sinc_modulation_kernels(self, sinc: SincConv1d) -> torch.Tensor:
        if self.analytic:
            return torch.cat([sinc.filters(), sinc.filters(quadrature=True)])
        return sinc.filters()

    def modulation_filters(self) -> torch.Tensor:
        """Modulation kernels, ``(n_modulation, 1, modulation_kernel_size)``; with
        ``modulation_output="analytic"`` ``(2 n_modulation, 1, modulation_kernel_size)``: the
        in-phase kernels, then their quadrature partners in the same order."""
        if isinstance(self.modulation, SincConv1d):
            return self._sinc_modulation_kernels(self.modulation)
        return self.modulation.weight

    def acoustic_center_hz(self) -> torch.Tensor:
        """Acoustic band centres in Hz, ``(n_bands,)``: ``(f1 + f2) / 2`` for sinc filters, the
        centroid of the power response for FIR filters."""
        if isinstance(self.acoustic, SincConv1d):
            return self.acoustic.center_hz.detach()
        return _kernel_center_hz(self.acoustic.weight, self.sample_rate)

    def modulation_center_hz(self) -> torch.Tensor:
        """Modulation band centres in Hz, ``(n_modulation,)`` (as :meth:`acoustic_center_hz`)."""
        if isinstance(self.modulation, SincConv1d):
            return self.modulation.center_hz.detach()
        weight = self.modulation.weight.detach()
        if self.analytic:  # the complex kernel in-phase + j quadrature
            m = self.n_modulation
            weight = torch.complex(weight[:m].float(), weight[m:].float())
        return _kernel_center_hz(weight, self.envelope_rate)

    # ------------------------------------------------------------------ shapes and forward
    def envelope_frames(self, num_samples: int) -> int:
        """Envelope length ``ceil(num_samples / envelope_hop)``."""
        return -(-int(num_samples) // self.envelope_hop)

    def output_shape(self, num_samples: int) -> tuple[int, ...]:
        frames = -(-self.envelope_frames(num_samples) // self.grid)
        return (self.n_modulation, self.n_bands, frames)

    def envelopes(self, wave: torch.Tensor) -> torch.Tensor:
        """Stages 1-2: ``(batch, samples) -> (batch, n_bands, envelope_frames)``."""
        wave = self.check_input(wave)
        bands = self.acoustic(wave[:, None, :])  # (B, F, T)
        bands = bands.abs() if self.rectify == "abs" else bands.square()
        b, f, t = bands.shape
        flat = bands.reshape(b * f, 1, t)
        if self.envelope_lowpass == "sinc":
            pad = self.lowpass.shape[-1] // 2
            env = F.conv1d(flat, self.lowpass, stride=self.envelope_hop, padding=pad)
        else:
            env = F.avg_pool1d(flat, self.envelope_hop, self.envelope_hop, ceil_mode=True)
        return env.reshape(b, f, -1)

    def _subsample(self, mag: torch.Tensor) -> torch.Tensor:
        """``(N, M, E)`` magnitudes -> ``(N, M, ceil(E / grid))`` averaged per channel factor."""
        frames = -(-mag.shape[-1] // self.grid)
        if all(s == 1 for s in self.subsample_factors):
            return mag
        out = mag.new_empty(mag.shape[0], mag.shape[1], frames)
        for s in sorted(set(self.subsample_factors)):
            idx = [m for m, f in enumerate(self.subsample_factors) if f == s]
            pooled = F.avg_pool1d(mag[:, idx], s, s, ceil_mode=True)
            pooled = pooled.repeat_interleave(s // self.grid, dim=-1)[..., :frames]
            out[:, idx] = pooled
        return out

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> ``(batch, n_modulation, n_bands, frames)``."""
        env = self.envelopes(wave)  # (B, F, E)
        b, f, e = env.shape
        env = F.pad(env.reshape(b * f, 1, e), (self.modulation_pad,) * 2, mode="replicate")
        mod = F.conv1d(env, self.modulation_filters())  # (B*F, M or 2M, E)
        if self.analytic:
            in_phase, quadrature = mod[:, : self.n_modulation], mod[:, self.n_modulation :]
            mag = torch.sqrt(in_phase.square() + quadrature.square() + MAGNITUDE_EPS)
        else:
            mag = mod.abs()
        mag = self._subsample(mag)
        out = mag.reshape(b, f, self.n_modulation, -1).transpose(1, 2)
        if self.compression == "db":
            out = amplitude_to_db(out, multiplier=20.0, amin=DB_AMIN)
        elif self.compression == "log1p":
            out = torch.log1p(out)
        return self.bn(out)


@FRONTENDS.register("modulation")
class ModNet(ModulationFrontend):
    """ModNet: free FIR acoustic and modulation filters (initialised as SincModNet's).

    ``(batch, samples) -> (batch, n_modulation, n_bands, frames)``; keyword arguments as
    :class:`ModulationFrontend` (``filters`` is fixed to ``"fir"``).
    """

    def __init__(self, sample_rate: int = 16000, **kwargs):
        super().__init__(filters="fir", sample_rate=sample_rate, **kwargs)


@FRONTENDS.register("sinc_modulation")
class SincModNet(ModulationFrontend):
    """SincModNet: SincNet-parametrised acoustic and modulation filters.

    ``(batch, samples) -> (batch, n_modulation, n_bands, frames)``; keyword arguments as
    :class:`ModulationFrontend` (``filters`` is fixed to ``"sinc"``).
    """

    def __init__(self, sample_rate: int = 16000, **kwargs):
        super().__init__(filters="sinc", sample_rate=sample_rate, **kwargs)
