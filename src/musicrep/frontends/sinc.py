"""SincNet band-pass filters (Ravanelli & Bengio, SLT 2018) and the ``sinc`` front-end.

:class:`SincConv1d` is a 1-D convolution whose kernels are parametrised band-pass filters: each
output channel ``i`` learns only a low cut-off and a band width,

``f1 = min(min_low_hz + |low_i|, sr / 2 - min_band_hz)``,
``f2 = clamp(f1 + min_band_hz + |band_i|, min_low_hz, sr / 2)``,
``g[n] = (2 f2 sinc(2 f2 t_n) - 2 f1 sinc(2 f1 t_n)) * hamming[n]``,  ``t_n = n / sr``,
``n = -(K - 1) / 2 .. (K - 1) / 2`` (``sinc(x) = sin(pi x) / (pi x)``),

i.e. the difference of two windowed ideal low-passes. It is used on waveforms (the ``sinc``
front-end, SincModNet's acoustic filterbank, PASE-style encoders) and on envelopes at a low rate
(SincModNet's modulation filters), hence ``sample_rate`` may be any positive float and the
frequency parameters may be stored in Hz or normalised by the sample rate.

Details follow ``SincConv_fast`` (the SincNet / PASE reference implementation) unless noted:

* init: ``out_channels + 1`` edges spaced on the HTK mel scale from ``init_low_hz = 30`` Hz to
  ``init_high_hz = sr / 2 - (min_low_hz + min_band_hz)``; ``low_i = e_i``,
  ``band_i = e_{i+1} - e_i`` (``init_offset="sincnet"``), so the *effective* initial band of
  filter ``i`` is ``[e_i + min_low_hz, e_{i+1} + min_low_hz + min_band_hz]`` as in SincConv_fast.
  ``init_offset="exact"`` instead subtracts the minimums so the initial bands are exactly
  ``[e_i, e_{i+1}]`` (needs ``e_i >= min_low_hz`` and ``e_{i+1} - e_i >= min_band_hz``).
  ``init_scale`` may also be ``"log"`` or ``"linear"``.
* ``min_low_hz = min_band_hz = 50`` Hz, odd kernel (even sizes are rejected), no bias.
  Unlike SincConv_fast, ``f1`` is also bounded above by ``sr / 2 - min_band_hz``, so every
  filter keeps ``f2 - f1 >= min_band_hz`` whatever step the optimiser takes (there a low cut-off
  pushed past Nyquist gives ``f2 < f1``, an inverted filter).
* ``normalize="band"`` divides each kernel by ``2 (f2 - f1)`` (its centre tap becomes 1, the pass
  band gain ``sr / (2 (f2 - f1))``), as SincConv_fast; ``normalize="gain"`` divides by ``sr`` so
  every filter has (close to) unit gain in its pass band, like a unit-peak filterbank.
* Window: a symmetric Hamming window of ``K`` taps (``torch.hamming_window(K, periodic=False)``);
  SincConv_fast builds a slightly asymmetric half window ``0.54 - 0.46 cos(2 pi n / K)`` and
  mirrors it. The two differ by less than 1e-4 per tap for ``K = 251``.
"""

from __future__ import annotations

from typing import Literal

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from musicrep.errors import ConfigError
from musicrep.frontends import FRONTENDS
from musicrep.frontends.base import Frontend

#: SincNet / SincConv_fast defaults (Ravanelli & Bengio 2018; PASE ``SincConv_fast``).
SINCNET_MIN_LOW_HZ = 50.0
SINCNET_MIN_BAND_HZ = 50.0
SINCNET_INIT_LOW_HZ = 30.0
SINCNET_KERNEL_SIZE = 251
SINCNET_N_FILTERS = 80
SINCNET_POOL = 3
SINCNET_LEAKY_SLOPE = 0.2


def band_edges(
    n_bands: int, low_hz: float, high_hz: float, scale: Literal["mel", "log", "linear"] = "mel"
) -> np.ndarray:
    """``n_bands + 1`` band edges in Hz from ``low_hz`` to ``high_hz`` spaced on ``scale``.

    ``"mel"`` is the HTK mel scale (``2595 log10(1 + f / 700)``) as in SincNet; ``"log"`` is
    geometric spacing (needs ``low_hz > 0``).
    """
    if not 0 <= low_hz < high_hz:
        raise ConfigError(f"band edges need 0 <= low_hz < high_hz, got {low_hz}, {high_hz}")
    if scale == "mel":
        return librosa.mel_frequencies(n_bands + 1, fmin=low_hz, fmax=high_hz, htk=True)
    if scale == "log":
        if low_hz <= 0:
            raise ConfigError("log-spaced band edges need low_hz > 0")
        return np.geomspace(low_hz, high_hz, n_bands + 1)
    if scale == "linear":
        return np.linspace(low_hz, high_hz, n_bands + 1)
    raise ConfigError(f"unknown init scale {scale!r}; valid: mel, log, linear")


class SincConv1d(nn.Module):
    """Learnable band-pass filterbank: ``(batch, 1, time) -> (batch, out_channels, time')``.

    Parameters
    ----------
    out_channels : int
        Number of band-pass filters.
    kernel_size : int
        Odd number of taps ``K``.
    sample_rate : float
        Rate of the input in Hz (any positive value, e.g. an envelope rate of 200 Hz).
    stride, dilation : int
        As in ``nn.Conv1d``.
    padding : int or "same"
        Zero (or ``padding_mode``) padding on both sides; ``"same"`` = ``(K - 1) // 2 * dilation``
        (output length ``ceil(time / stride)``).
    padding_mode : {"zeros", "reflect", "replicate", "circular"}
        How the padding is filled.
    min_low_hz, min_band_hz : float
        Lower bounds of the low cut-off and of the band width in Hz (50, 50).
    init_low_hz, init_high_hz : float, optional
        Range of the initial band edges in Hz; defaults 30 Hz (capped at a quarter of the Nyquist
        frequency) and ``sr / 2 - (min_low_hz + min_band_hz)``.
    init_scale : {"mel", "log", "linear"}
        Spacing of the initial edges.
    init_offset : {"sincnet", "exact"}
        How edges become parameters (see module docstring).
    normalize : {"band", "gain"}
        Kernel normalisation (see module docstring).
    frequency_unit : {"hz", "normalized"}
        Unit the parameters are stored in: Hz (SincConv_fast), or cycles per sample (Hz divided
        by ``sample_rate``, as the original SincNet ``sinc_conv``), which keeps the parameters of
        order 0.01-0.5 whatever the rate so one learning rate suits waveforms and envelopes.
    zero_dc : bool
        Subtract a multiple of the window from each kernel so its DC gain is exactly 0 (False).
        A short windowed band-pass near 0 Hz leaks DC; on rectified envelopes, whose mean
        dominates, that leak swamps the low modulation channels.

    Attributes
    ----------
    low_hz, high_hz : Tensor (out_channels,)
        Effective cut-offs in Hz (differentiable).
    """

    def __init__(
        self,
        out_channels: int = SINCNET_N_FILTERS,
        kernel_size: int = SINCNET_KERNEL_SIZE,
        sample_rate: float = 16000,
        stride: int = 1,
        padding: int | Literal["same"] = 0,
        dilation: int = 1,
        padding_mode: str = "zeros",
        min_low_hz: float = SINCNET_MIN_LOW_HZ,
        min_band_hz: float = SINCNET_MIN_BAND_HZ,
        init_low_hz: float | None = None,
        init_high_hz: float | None = None,
        init_scale: Literal["mel", "log", "linear"] = "mel",
        init_offset: Literal["sincnet", "exact"] = "sincnet",
        normalize: Literal["band", "gain"] = "band",
        frequency_unit: Literal["hz", "normalized"] = "hz",
        zero_dc: bool = False,
    ):
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ConfigError(
                f"SincConv1d needs an odd kernel_size, got {kernel_size}",
                f"use {kernel_size + 1} (a symmetric filter has an odd number of taps)",
            )
        if sample_rate <= 0:
            raise ConfigError(f"sample_rate must be positive, got {sample_rate}")
        nyquist = sample_rate / 2
        if min_low_hz < 0 or min_band_hz < 0 or min_low_hz + min_band_hz >= nyquist:
            raise ConfigError(
                f"min_low_hz={min_low_hz} + min_band_hz={min_band_hz} must be non-negative and "
                f"below the Nyquist frequency {nyquist} Hz"
            )
        for name, value, valid in (
            ("normalize", normalize, ("band", "gain")),
            ("frequency_unit", frequency_unit, ("hz", "normalized")),
            ("init_offset", init_offset, ("sincnet", "exact")),
            ("padding_mode", padding_mode, ("zeros", "reflect", "replicate", "circular")),
        ):
            if value not in valid:
                raise ConfigError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
        self.in_channels, self.out_channels, self.kernel_size = 1, int(out_channels), kernel_size
        self.sample_rate = float(sample_rate)
        self.stride, self.dilation, self.padding_mode = int(stride), int(dilation), padding_mode
        self.padding = (kernel_size - 1) // 2 * dilation if padding == "same" else int(padding)
        self.min_low_hz, self.min_band_hz = float(min_low_hz), float(min_band_hz)
        self.normalize, self.frequency_unit = normalize, frequency_unit
        self.zero_dc = bool(zero_dc)
        self.unit_hz = self.sample_rate if frequency_unit == "normalized" else 1.0

        if init_low_hz is None:
            init_low_hz = min(SINCNET_INIT_LOW_HZ, nyquist / 4)
        if init_high_hz is None:
            init_high_hz = nyquist - (min_low_hz + min_band_hz)
        edges = band_edges(out_channels, init_low_hz, init_high_hz, init_scale)
        low, band = edges[:-1], np.diff(edges)
        if init_offset == "exact":
            low, band = low - min_low_hz, band - min_band_hz
            if low.min() < 0 or band.min() < 0:
                raise ConfigError(
                    f"init_offset='exact' needs band edges >= min_low_hz ({min_low_hz} Hz) and "
                    f"widths >= min_band_hz ({min_band_hz} Hz); the narrowest initial band is "
                    f"{np.diff(edges).min():.3g} Hz from {edges[0]:.3g} Hz",
                    "lower min_low_hz / min_band_hz, use fewer filters, or init_offset='sincnet'",
                )
        self.low_param = nn.Parameter(torch.as_tensor(low / self.unit_hz, dtype=torch.float32))
        self.band_param = nn.Parameter(torch.as_tensor(band / self.unit_hz, dtype=torch.float32))

        half = (kernel_size - 1) / 2
        t = torch.arange(-half, half + 1, dtype=torch.float64) / self.sample_rate  # seconds
        self.register_buffer("t", t.float(), persistent=False)
        self.register_buffer(
            "window", torch.hamming_window(kernel_size, periodic=False), persistent=False
        )

    @property
    def low_hz(self) -> torch.Tensor:
        """Low cut-offs ``f1`` in Hz, shape ``(out_channels,)``."""
        low = self.min_low_hz + self.low_param.abs() * self.unit_hz
        return torch.clamp(low, max=self.sample_rate / 2 - self.min_band_hz)

    @property
    def high_hz(self) -> torch.Tensor:
        """High cut-offs ``f2`` in Hz, shape ``(out_channels,)``."""
        high = self.low_hz + self.min_band_hz + self.band_param.abs() * self.unit_hz
        return torch.clamp(high, self.min_low_hz, self.sample_rate / 2)

    @property
    def center_hz(self) -> torch.Tensor:
        """Band centres ``(f1 + f2) / 2`` in Hz, shape ``(out_channels,)``."""
        return (self.low_hz + self.high_hz) / 2

    def filters(self, quadrature: bool = False) -> torch.Tensor:
        """The current kernels, shape ``(out_channels, 1, kernel_size)``.

        With ``quadrature=True``, the Hilbert-transform partners instead,
        ``(cos(2 pi f1 t) - cos(2 pi f2 t)) / (pi t)`` (0 at ``t = 0``), windowed and normalised
        alike: ``filters() + 1j * filters(quadrature=True)`` is the analytic band-pass whose output
        magnitude is the smooth envelope of the band-passed signal.
        """
        low, high = self.low_hz[:, None], self.high_hz[:, None]
        t = self.t[None, :]
        if quadrature:
            nonzero = t != 0
            t_safe = torch.where(nonzero, t, torch.ones_like(t))
            band_pass = (
                torch.cos(2 * torch.pi * low * t_safe) - torch.cos(2 * torch.pi * high * t_safe)
            ) / (torch.pi * t_safe)
            band_pass = torch.where(nonzero, band_pass, torch.zeros_like(band_pass))
        else:
            band_pass = 2 * high * torch.sinc(2 * high * t) - 2 * low * torch.sinc(2 * low * t)
        band_pass = band_pass * self.window
        if self.zero_dc and not quadrature:  # quadrature kernels are odd: no DC already
            dc = band_pass.sum(-1, keepdim=True) / self.window.sum()
            band_pass = band_pass - dc * self.window
        if self.normalize == "band":
            band_pass = band_pass / (2 * (high - low))
        else:
            band_pass = band_pass / self.sample_rate
        return band_pass[:, None, :]

    def output_length(self, length: int) -> int:
        """Output length for an input of ``length`` samples (as ``nn.Conv1d``)."""
        span = self.dilation * (self.kernel_size - 1) + 1
        return (int(length) + 2 * self.padding - span) // self.stride + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, 1, time)`` -> ``(batch, out_channels, output_length(time))``."""
        if x.dim() != 3 or x.shape[1] != 1:
            raise ConfigError(f"SincConv1d takes (batch, 1, time) input; got {tuple(x.shape)}")
        padding = self.padding
        if padding and self.padding_mode != "zeros":
            x = F.pad(x, (padding, padding), mode=self.padding_mode)
            padding = 0
        return F.conv1d(
            x, self.filters(), stride=self.stride, padding=padding, dilation=self.dilation
        )

    def extra_repr(self) -> str:
        return (
            f"1, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"sample_rate={self.sample_rate:g}, stride={self.stride}, padding={self.padding}, "
            f"normalize={self.normalize!r}, frequency_unit={self.frequency_unit!r}, "
            f"zero_dc={self.zero_dc}"
        )


@FRONTENDS.register("sinc")
class SincFrontend(Frontend):
    """SincNet's first block: ``(batch, samples) -> (batch, n_filters, frames)`` (``kind="wave"``).

    ``SincConv1d -> compression -> max-pool -> normalisation -> activation``; the defaults are
    SincNet's (80 filters of 251 taps at 16 kHz, no padding, ``|x|``, max-pool 3, layer norm,
    leaky ReLU 0.2), so ``frames = (samples - 250) // 3``.

    Parameters
    ----------
    sample_rate : int
        Input rate in Hz (16000).
    n_filters, kernel_size, stride : int
        Sinc filterbank size, taps and stride (80, 251, 1).
    padding : int or "same"
        Padding of the sinc convolution (0 as SincNet: "valid"; "same" keeps the length).
    padding_mode : {"zeros", "reflect", "replicate", "circular"}
        How the padding is filled (PASE: ``"reflect"``).
    min_low_hz, min_band_hz : float
        Cut-off bounds in Hz (50, 50).
    normalize, frequency_unit, init_scale
        Passed to :class:`SincConv1d` (``"band"``, ``"hz"``, ``"mel"``).
    compression : {"abs", "log", "none"}
        ``|x|`` (SincNet), ``log(1 + |x|)``, or none (signed filter outputs).
    pool_size : int
        Max-pool size and stride over time (3; 1 disables).
    norm : {"layer", "batch", "none"}
        ``"layer"`` normalises every channel of every example over time with a per-channel affine
        (``GroupNorm(n_filters, n_filters)``): the statistics of SincNet's LayerNorm, whose affine
        is per channel *and* time step (tying it to one input length) — this one is not.
        ``"batch"`` is ``BatchNorm1d(n_filters)``.
    activation : {"leaky_relu", "prelu", "none"}
        After the normalisation (SincNet: leaky ReLU, slope 0.2; PASE: a per-channel PReLU
        initialised at 0, i.e. starting as a ReLU).
    """

    kind = "wave"

    def __init__(
        self,
        sample_rate: int = 16000,
        n_filters: int = SINCNET_N_FILTERS,
        kernel_size: int = SINCNET_KERNEL_SIZE,
        stride: int = 1,
        padding: int | Literal["same"] = 0,
        min_low_hz: float = SINCNET_MIN_LOW_HZ,
        min_band_hz: float = SINCNET_MIN_BAND_HZ,
        normalize: Literal["band", "gain"] = "band",
        frequency_unit: Literal["hz", "normalized"] = "hz",
        init_scale: Literal["mel", "log", "linear"] = "mel",
        compression: Literal["abs", "log", "none"] = "abs",
        pool_size: int = SINCNET_POOL,
        norm: Literal["layer", "batch", "none"] = "layer",
        activation: Literal["leaky_relu", "prelu", "none"] = "leaky_relu",
        padding_mode: str = "zeros",
    ):
        super().__init__()
        for name, value, valid in (
            ("compression", compression, ("abs", "log", "none")),
            ("norm", norm, ("layer", "batch", "none")),
            ("activation", activation, ("leaky_relu", "prelu", "none")),
        ):
            if value not in valid:
                raise ConfigError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
        if pool_size < 1:
            raise ConfigError(f"pool_size must be >= 1, got {pool_size}")
        self.sample_rate = int(sample_rate)
        self.sinc = SincConv1d(
            n_filters,
            kernel_size,
            sample_rate=sample_rate,
            stride=stride,
            padding=padding,
            padding_mode=padding_mode,
            min_low_hz=min_low_hz,
            min_band_hz=min_band_hz,
            init_scale=init_scale,
            normalize=normalize,
            frequency_unit=frequency_unit,
        )
        self.compression, self.pool_size = compression, int(pool_size)
        if norm == "layer":
            self.norm: nn.Module = nn.GroupNorm(n_filters, n_filters)
        elif norm == "batch":
            self.norm = nn.BatchNorm1d(n_filters)
        else:
            self.norm = nn.Identity()
        if activation == "leaky_relu":
            self.activation: nn.Module = nn.LeakyReLU(SINCNET_LEAKY_SLOPE)
        elif activation == "prelu":
            self.activation = nn.PReLU(n_filters, init=0.0)
        else:
            self.activation = nn.Identity()

    def output_shape(self, num_samples: int) -> tuple[int, ...]:
        return (self.sinc.out_channels, self.sinc.output_length(num_samples) // self.pool_size)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> ``(batch, n_filters, frames)``."""
        wave = self.check_input(wave)
        if self.sinc.output_length(wave.shape[-1]) < self.pool_size:
            raise ConfigError(
                f"{wave.shape[-1]} samples is too short for the sinc front-end "
                f"(kernel {self.sinc.kernel_size}, pool {self.pool_size})"
            )
        x = self.sinc(wave[:, None, :])
        if self.compression == "abs":
            x = x.abs()
        elif self.compression == "log":
            x = torch.log1p(x.abs())
        if self.pool_size > 1:
            x = F.max_pool1d(x, self.pool_size)
        return self.activation(self.norm(x))
