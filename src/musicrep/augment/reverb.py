"""Reverberation with synthetic room impulse responses, convolved by FFT.

The impulse response of each example is a direct path (1 at time 0) plus a tail of Gaussian
noise under an exponential envelope that falls 60 dB in ``rt60`` seconds
(``10^(-3 t / rt60)``), scaled so that the direct-to-reverberant energy ratio is ``drr_db``
(Polack's statistical model of late reverberation). The tail is ``rt60`` long (it is below
-60 dB after that). The batch is convolved in one FFT product and cut to the input length;
with ``preserve_energy`` each output is rescaled to its input's energy (PASE+ does this after
convolving with its recorded responses).

CLMR used sox's ``reverb`` (reverberance, damping and room size each uniform in 0-100 %); PASE+
used a set of recorded and simulated responses that are not public. The synthetic model keeps
the two quantities that matter most (decay time, wet/dry balance) and runs on the device;
the preset ranges are our reading of those settings ([open] in the presets).
"""

from __future__ import annotations

import math
from typing import Any

import scipy.fft
import torch

from musicrep.augment.base import Transform, as_param
from musicrep.augment.spectral import match_energy
from musicrep.errors import ConfigError
from musicrep.features.base import check_positive_int


def synthetic_rir(
    rt60: torch.Tensor,
    drr_db: torch.Tensor,
    sample_rate: int,
    generator: torch.Generator,
    like: torch.Tensor,
) -> torch.Tensor:
    """Impulse responses ``(batch, ceil(max(rt60) * sample_rate))``.

    Parameters
    ----------
    rt60 : torch.Tensor, (batch,)
        Time for the tail to decay by 60 dB, in seconds.
    drr_db : torch.Tensor, (batch,)
        Direct-to-reverberant energy ratio in dB.
    sample_rate : int
        Hz.
    generator : torch.Generator
    like : torch.Tensor
        Device and dtype of the result.
    """
    length = max(2, math.ceil(float(rt60.max()) * sample_rate))
    t = torch.arange(length, device=like.device, dtype=like.dtype)[None] / sample_rate
    envelope = 10.0 ** (-3.0 * t / rt60[:, None])
    tail = Transform.randn((rt60.shape[0], length), generator, like) * envelope
    tail[:, 0] = 0
    energy = tail.square().sum(-1, keepdim=True).clamp(min=1e-30)
    tail = tail * (10.0 ** (-drr_db[:, None] / 10) / energy).sqrt()
    tail[:, 0] = 1.0
    return tail


def convolve(wave: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
    """Row-wise linear convolution by FFT, cut to ``wave``'s length."""
    n = wave.shape[-1]
    size = scipy.fft.next_fast_len(n + ir.shape[-1] - 1, real=True)
    spec = torch.fft.rfft(wave, n=size) * torch.fft.rfft(ir, n=size)
    return torch.fft.irfft(spec, n=size)[..., :n]


class Reverb(Transform):
    """Convolve with a synthetic room impulse response.

    Parameters
    ----------
    sample_rate : int
        Hz.
    rt60 : spec
        Reverberation time in seconds (default ``(0.2, 1.0)``).
    drr_db : spec
        Direct-to-reverberant ratio in dB (default ``(0, 10)``; lower is wetter).
    preserve_energy : bool
        Rescale each output to its input's energy (True).
    seed : int, optional
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        rt60: Any = (0.2, 1.0),
        drr_db: Any = (0.0, 10.0),
        preserve_energy: bool = True,
        seed: int | None = None,
    ):
        super().__init__(seed)
        self.sample_rate = check_positive_int("sample_rate", sample_rate)
        self.rt60 = as_param(rt60, "rt60")
        self.drr_db = as_param(drr_db, "drr_db")
        lo, hi = self.rt60.bounds()
        if not 0 < lo <= hi <= 10:
            raise ConfigError(f"rt60 must lie in (0, 10] seconds; got {self.rt60}")
        self.preserve_energy = bool(preserve_energy)

    def impulse_responses(self, b: int, generator: torch.Generator, like: torch.Tensor):
        """Draw ``b`` impulse responses ``(b, length)``."""
        rt60 = self.sample(self.rt60, b, generator, like)
        drr = self.sample(self.drr_db, b, generator, like)
        return synthetic_rir(rt60, drr, self.sample_rate, generator, like)

    def apply(self, wave: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        out = convolve(wave, self.impulse_responses(wave.shape[0], generator, wave))
        return match_energy(out, wave) if self.preserve_energy else out


__all__ = ["Reverb", "convolve", "synthetic_rir"]
