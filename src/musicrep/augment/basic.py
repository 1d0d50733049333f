"""Time-domain transforms: crop, gain, polarity, clipping, delay, time masking.

All work on ``(batch, samples)`` with one random draw per example, vectorised over the batch.
"""

from __future__ import annotations

from typing import Any

import torch

from musicrep.augment.base import Choice, Normal, Transform, as_param
from musicrep.errors import ConfigError
from musicrep.features.base import check_positive_int

_WHOLE_RANGE = (0.0, 1.0)


class RandomCrop(Transform):
    """Crop ``num_samples`` samples from each example: ``(batch, T) -> (batch, num_samples)``.

    Parameters
    ----------
    num_samples : int
        Output length.
    position : spec
        Start of the crop as a fraction of the free range ``T - num_samples`` (0 = start,
        0.5 = centre, 1 = end); default uniform over ``(0, 1)``, as CLMR's random crop.
    seed : int, optional

    Notes
    -----
    Inputs shorter than ``num_samples`` are zero-padded at the end.
    """

    preserves_length = False

    def __init__(self, num_samples: int, position: Any = _WHOLE_RANGE, seed: int | None = None):
        super().__init__(seed)
        self.num_samples = check_positive_int("num_samples", num_samples)
        self.position = as_param(position, "position")

    def apply(self, wave: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n, total = self.num_samples, wave.shape[-1]
        pos = self.sample(self.position, wave.shape[0], generator, wave).clamp(0, 1)
        if total <= n:
            return torch.nn.functional.pad(wave, (0, n - total))
        start = torch.round(pos * (total - n)).long()
        idx = start[:, None] + torch.arange(n, device=wave.device)
        return wave.gather(1, idx)

    def extra_repr(self) -> str:
        return f"num_samples={self.num_samples}, position={self.position}"


class Gain(Transform):
    """Multiply by ``10 ** (gain_db / 20)``.

    Parameters
    ----------
    gain_db : spec
        Gain in dB (default ``(-20, -1)``: CLMR's range).
    seed : int, optional
    """

    def __init__(self, gain_db: Any = (-20.0, -1.0), seed: int | None = None):
        super().__init__(seed)
        self.gain_db = as_param(gain_db, "gain_db")

    def apply(self, wave: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        db = self.sample(self.gain_db, wave.shape[0], generator, wave)
        return wave * (10.0 ** (db / 20.0))[:, None]


class PolarityInversion(Transform):
    """Multiply by -1 (wrap in :class:`RandomApply` for a probability)."""

    def apply(self, wave: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return -wave


class Clip(Transform):
    """Hard clipping at a fraction of each example's extremes (PASE+'s ``Clipping``).

    The output is ``clamp(x, factor * min(x), factor * max(x))``: a factor of 0.3 clips
    everything beyond 30 % of the negative and positive peaks.

    Parameters
    ----------
    factor : spec
        Clip factor in (0, 1] (default one of 0.1, 0.3, 0.5 per example: PASE+).
    seed : int, optional
    """

    def __init__(self, factor: Any = None, seed: int | None = None):
        super().__init__(seed)
        self.factor = as_param(Choice([0.1, 0.3, 0.5]) if factor is None else factor, "factor")
        lo, hi = self.factor.bounds()
        if lo < 0 or hi > 1:
            raise ConfigError(f"clip factor must lie in [0, 1]; got {self.factor}")

    def apply(self, wave: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        f = self.sample(self.factor, wave.shape[0], generator, wave)[:, None]
        low = f * wave.amin(dim=-1, keepdim=True)
        high = f * wave.amax(dim=-1, keepdim=True)
        return torch.maximum(torch.minimum(wave, high), low)


def shift_right(wave: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Delay each row of ``wave`` by ``shift`` ``(batch,)`` samples (zeros shifted in)."""
    n = wave.shape[-1]
    idx = torch.arange(n, device=wave.device)[None] - shift[:, None]
    out = wave.gather(1, idx.clamp(min=0))
    return torch.where(idx >= 0, out, torch.zeros_like(out))


class Delay(Transform):
    """Echo: ``output_gain * (x + volume * x delayed by delay_ms)``.

    The defaults are CLMR's (``torchaudio-augmentations`` ``Delay``): delays of 200, 250, ...,
    450 ms, a 0.5 echo volume, and the sum halved.

    Parameters
    ----------
    sample_rate : int
        Hz.
    delay_ms : spec
        Delay in milliseconds.
    volume : spec
        Gain of the delayed copy.
    output_gain : float
        Gain of the sum (0.5).
    seed : int, optional
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        delay_ms: Any = None,
        volume: Any = 0.5,
        output_gain: float = 0.5,
        seed: int | None = None,
    ):
        super().__init__(seed)
        self.sample_rate = check_positive_int("sample_rate", sample_rate)
        default = Choice(list(range(200, 500, 50)))
        self.delay_ms = as_param(default if delay_ms is None else delay_ms, "delay_ms")
        self.volume = as_param(volume, "volume")
        self.output_gain = float(output_gain)

    def apply(self, wave: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n = wave.shape[0]
        ms = self.sample(self.delay_ms, n, generator, wave)
        shift = torch.round(ms * self.sample_rate / 1000).long().clamp(min=0)
        vol = self.sample(self.volume, n, generator, wave)[:, None]
        return self.output_gain * (wave + vol * shift_right(wave, shift))


class TimeMask(Transform):
    """Zero out ``count`` spans of ``duration`` seconds (PASE+'s waveform chopping).

    Parameters
    ----------
    sample_rate : int
        Hz.
    duration : spec
        Length of each span in seconds; default PASE+'s chop factors: per span one of
        ``N(0.05, 0.025)`` and ``N(0.1, 0.05)`` seconds (clipped at 0).
    count : spec
        Spans per example, rounded to an integer (default 1..5 uniformly: PASE's
        ``max_chops=5``).
    position : spec
        Start of each span as a fraction of the free range ``T - span`` (default uniform).
        PASE places chops in speech regions found by a voice-activity detector; music has no
        such regions, so the spans are placed uniformly.
    seed : int, optional
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        duration: Any = None,
        count: Any = None,
        position: Any = _WHOLE_RANGE,
        seed: int | None = None,
    ):
        super().__init__(seed)
        self.sample_rate = check_positive_int("sample_rate", sample_rate)
        pase = Choice([Normal(0.05, 0.025, low=0.0), Normal(0.1, 0.05, low=0.0)])
        self.duration = as_param(pase if duration is None else duration, "duration")
        self.count = as_param(Choice([1, 2, 3, 4, 5]) if count is None else count, "count")
        self.position = as_param(position, "position")
        self.max_count = int(round(self.count.bounds()[1]))
        if self.count.bounds()[0] < 0 or self.max_count > 1000:
            raise ConfigError(f"count must be between 0 and 1000 spans; got {self.count}")

    def mask(self, wave: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The boolean ``(batch, samples)`` mask of the samples to zero."""
        b, n, c = wave.shape[0], wave.shape[-1], max(self.max_count, 1)
        count = torch.round(self.sample(self.count, b, generator, wave)).long()
        dur = self.duration.sample(b * c, generator).to(wave.device).view(b, c)
        length = torch.round(dur * self.sample_rate).long().clamp(0, n)
        pos = self.position.sample(b * c, generator).to(wave.device).view(b, c).clamp(0, 1)
        start = torch.round(pos * (n - length)).long()
        active = torch.arange(c, device=wave.device)[None] < count[:, None]
        t = torch.arange(n, device=wave.device)[None, None]
        inside = (t >= start[..., None]) & (t < (start + length)[..., None]) & active[..., None]
        return inside.any(dim=1)

    def apply(self, wave: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return wave.masked_fill(self.mask(wave, generator), 0.0)


__all__ = ["Clip", "Delay", "Gain", "PolarityInversion", "RandomCrop", "TimeMask", "shift_right"]
