"""Dynamic range compression: a feed-forward RMS compressor, batched on the device.

The level is the mean square over a sliding window of ``window_ms`` (centred), in dB relative
to each example's peak mean-square level (``reference="peak"``, so the threshold is "dB below
the loudest passage" whatever the clip's gain) or to digital full scale
(``reference="full_scale"``, as a hardware compressor or sox's ``compand``). Above
``threshold_db`` the gain falls by ``(1 - 1 / ratio)`` dB per dB; the gain curve (in dB) is
smoothed by a centred moving average of ``smooth_ms`` -- a look-ahead compressor whose attack
and release are equal (a recursive attack/release follower would be one sample at a time).
``makeup="rms"`` restores each example's RMS afterwards, so the perturbation changes the
dynamics and not the loudness.

The Won et al. robustness experiment used sox ``compand`` presets (music standard, speech...);
their exact transfer curves are replaced here by the threshold/ratio pair, which makes the
strength one number (the threshold) for the sweeps.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from musicrep.augment.base import Transform, as_param
from musicrep.augment.spectral import match_energy
from musicrep.errors import ConfigError
from musicrep.features.base import check_positive_int

_REFERENCES = ("peak", "full_scale")
_MAKEUP = ("rms", "none")


def _moving_average(x: torch.Tensor, width: int) -> torch.Tensor:
    """Centred moving average of each row over ``width`` samples (edges replicated)."""
    if width <= 1:
        return x
    left = (width - 1) // 2
    padded = F.pad(x[:, None], (left, width - 1 - left), mode="replicate")
    return F.avg_pool1d(padded, width, stride=1)[:, 0]


class Compressor(Transform):
    """Dynamic range compression above a threshold (see the module docstring).

    Parameters
    ----------
    sample_rate : int
        Hz.
    threshold_db : spec
        Threshold in dB re. the ``reference`` level (default ``(-30, -10)``).
    ratio : spec
        Compression ratio (default 4; ``inf`` is a limiter).
    window_ms, smooth_ms : float
        Level detector window (10 ms) and gain smoothing (50 ms).
    reference : {"peak", "full_scale"}
        What 0 dB is (default each example's peak windowed level).
    makeup : {"rms", "none"}
        Restore each example's RMS (default) or leave the level reduced.
    seed : int, optional
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        threshold_db: Any = (-30.0, -10.0),
        ratio: Any = 4.0,
        window_ms: float = 10.0,
        smooth_ms: float = 50.0,
        reference: str = "peak",
        makeup: str = "rms",
        seed: int | None = None,
    ):
        super().__init__(seed)
        self.sample_rate = check_positive_int("sample_rate", sample_rate)
        self.threshold_db = as_param(threshold_db, "threshold_db")
        self.ratio = as_param(ratio, "ratio")
        if self.ratio.bounds()[0] < 1:
            raise ConfigError(f"compression ratio must be >= 1; got {self.ratio}")
        if reference not in _REFERENCES:
            raise ConfigError(f"unknown reference {reference!r}", f"use {', '.join(_REFERENCES)}")
        if makeup not in _MAKEUP:
            raise ConfigError(f"unknown makeup {makeup!r}", f"use {', '.join(_MAKEUP)}")
        if window_ms <= 0 or smooth_ms < 0:
            raise ConfigError("window_ms must be > 0 and smooth_ms >= 0")
        self.window = max(1, int(round(window_ms * self.sample_rate / 1000)))
        self.smooth = max(1, int(round(smooth_ms * self.sample_rate / 1000)))
        self.reference, self.makeup = reference, makeup

    def gain_db(self, wave: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The gain applied to every sample, dB, ``(batch, samples)``."""
        b = wave.shape[0]
        tiny = torch.finfo(wave.dtype).tiny
        level = 10 * torch.log10(_moving_average(wave.square(), self.window).clamp(min=tiny))
        if self.reference == "peak":
            level = level - level.amax(dim=-1, keepdim=True)
        threshold = self.sample(self.threshold_db, b, generator, wave)[:, None]
        ratio = self.sample(self.ratio, b, generator, wave)[:, None]
        slope = 1 - 1 / ratio  # 1 for an infinite ratio
        gain = -torch.relu(level - threshold) * slope
        return _moving_average(gain, self.smooth)

    def apply(self, wave: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        out = wave * 10.0 ** (self.gain_db(wave, generator) / 20)
        return match_energy(out, wave) if self.makeup == "rms" else out

    def extra_repr(self) -> str:
        return f"threshold_db={self.threshold_db}, ratio={self.ratio}, reference={self.reference}"


__all__ = ["Compressor"]
