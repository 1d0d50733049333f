"""The frame-level feature contract and the pieces every extractor shares (deltas, framing).

A feature extractor is an ``nn.Module`` mapping a batch of waveforms ``(batch, samples)`` at
``sample_rate`` to frame-level features ``(batch, dims, frames)`` on the waveform's device.

Frame grid
----------
Every extractor uses the same grid: frame ``k`` is centred on sample ``k * hop_length`` (the
analysis window is centred there, the signal zero-padded at both ends as ``librosa`` does with
``center=True``), so a clip of ``N`` samples gives ``1 + N // hop_length`` frames and features
of different extractors at the same hop line up frame by frame. The default hop is 10 ms at
16 kHz (160 samples), the grid of the PASE encoder's output frames.

Deltas
------
``deltas=1`` appends the first derivative over frames, ``deltas=2`` also the second, stacked
along the feature axis (``[static, delta, delta-delta]``, ``dims = base_dims * (1 + deltas)``),
as PASE's worker targets. They are ``librosa.feature.delta`` (Savitzky-Golay derivative,
``width`` 9, ``mode="interp"`` by default) computed in torch: a 1-D convolution in the middle
and, for ``"interp"``, the polynomial fits of the first and last ``width`` frames as fixed
matrices taken from ``scipy.signal.savgol_filter``. Clips shorter than ``width`` frames use
``mode="nearest"`` (librosa refuses them).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from musicrep.errors import ConfigError
from musicrep.frontends.base import as_batch

#: Default sample rate and hop of the frame grid (10 ms at 16 kHz).
DEFAULT_SAMPLE_RATE = 16000
DEFAULT_HOP = 160
#: ``librosa.feature.delta`` defaults.
DELTA_WIDTH = 9
DELTA_MODES = ("interp", "nearest", "mirror", "constant")


def check_positive_int(name: str, value: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def check_wave(wave: torch.Tensor) -> torch.Tensor:
    """Accept ``(batch, samples)`` or ``(samples,)`` floating-point audio; return 2-D."""
    if not torch.is_tensor(wave):
        raise ConfigError(f"features take a torch.Tensor waveform; got {type(wave).__name__}")
    wave = as_batch(wave, "features")
    if wave.shape[-1] == 0:
        raise ConfigError("features need at least one sample")
    return wave if wave.is_floating_point() else wave.float()


# ------------------------------------------------------------------------------------- deltas


@lru_cache(maxsize=64)
def _savgol(width: int, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Correlation taps ``(width,)`` and the interp-mode response matrix ``(width, width)``."""
    from scipy.signal import savgol_coeffs, savgol_filter

    taps = savgol_coeffs(width, order, deriv=order, use="dot")
    # column j = output of an impulse at j: rows 0..width//2-1 are the left-edge fits,
    # rows width//2+1.. the right-edge fits of a window of exactly `width` frames
    edges = savgol_filter(np.eye(width), width, order, deriv=order, mode="interp", axis=0)
    return taps, edges


def delta(
    x: torch.Tensor, order: int = 1, width: int = DELTA_WIDTH, mode: str = "interp"
) -> torch.Tensor:
    """``librosa.feature.delta`` over the last axis, in torch.

    Parameters
    ----------
    x : torch.Tensor, (..., frames)
    order : int
        Derivative order (1 or 2); the Savitzky-Golay polynomial has the same order.
    width : int
        Odd window in frames (>= 3).
    mode : {"interp", "nearest", "mirror", "constant"}
        Edge handling, as ``scipy.signal.savgol_filter``. ``"interp"`` falls back to
        ``"nearest"`` when there are fewer than ``width`` frames.

    Returns
    -------
    torch.Tensor
        Same shape and dtype as ``x``.
    """
    if width < 3 or width % 2 == 0:
        raise ConfigError(f"delta width must be an odd integer >= 3; got {width!r}")
    if order not in (1, 2):
        raise ConfigError(f"delta order must be 1 or 2; got {order!r}")
    if mode not in DELTA_MODES:
        raise ConfigError(f"unknown delta mode {mode!r}; valid: {', '.join(DELTA_MODES)}")
    taps, edges = _savgol(int(width), int(order))
    shape, n = x.shape, x.shape[-1]
    flat = x.reshape(-1, 1, n)
    half = width // 2
    w = torch.as_tensor(taps, dtype=x.dtype, device=x.device).view(1, 1, -1)
    if mode == "interp" and n >= width:
        out = F.conv1d(flat, w)  # frames half .. n - half - 1
        e = torch.as_tensor(edges, dtype=x.dtype, device=x.device)
        left = flat[:, 0, :width] @ e[:half].T
        right = flat[:, 0, -width:] @ e[half + 1 :].T
        out = torch.cat([left[:, None], out, right[:, None]], dim=-1)
    else:
        pad = {"interp": "replicate", "nearest": "replicate", "mirror": "reflect"}.get(mode)
        if pad == "reflect" and n <= half:
            pad = "replicate"  # too short to mirror
        padded = F.pad(flat, (half, half), mode=pad) if pad else F.pad(flat, (half, half))
        out = F.conv1d(padded, w)
    return out.reshape(shape)


def stack_deltas(
    x: torch.Tensor, deltas: int, width: int = DELTA_WIDTH, mode: str = "interp"
) -> torch.Tensor:
    """``(batch, d, frames)`` -> ``(batch, d * (1 + deltas), frames)``: ``[x, delta, delta2]``.

    Both derivatives are computed from ``x`` (as PASE and librosa's ``order=2``), not the
    second from the first.
    """
    if deltas == 0:
        return x
    parts = [x] + [delta(x, order=k, width=width, mode=mode) for k in range(1, deltas + 1)]
    return torch.cat(parts, dim=1)


def frame_signal(
    wave: torch.Tensor, frame_length: int, hop_length: int, pad_mode: str = "constant"
) -> torch.Tensor:
    """Centred frames ``(batch, samples) -> (batch, 1 + samples // hop, frame_length)``.

    The signal is padded by ``frame_length // 2`` at both ends (``pad_mode`` as ``np.pad``'s
    ``"constant"`` or ``"edge"``), so frame ``k`` is centred on sample ``k * hop``, as
    ``librosa.util.frame`` after ``center=True`` padding.
    """
    half = frame_length // 2
    if pad_mode == "edge":
        padded = F.pad(wave[:, None], (half, half), mode="replicate")[:, 0]
    else:
        padded = F.pad(wave, (half, half))
    frames = padded.unfold(-1, frame_length, hop_length)
    return frames[:, : 1 + wave.shape[-1] // hop_length]


# -------------------------------------------------------------------------------- the contract


class FeatureExtractor(nn.Module):
    """Base class of the frame-level feature extractors.

    Subclasses set ``base_dims`` and implement :meth:`compute`; :meth:`forward` checks the
    input and appends the deltas.

    Parameters
    ----------
    sample_rate : int
        Input sample rate in Hz.
    hop_length : int
        Hop between frames in samples (frame ``k`` centred on sample ``k * hop_length``).
    deltas : {0, 1, 2}
        Derivatives appended to the static features.
    delta_width : int
        Window of the deltas in frames (odd, >= 3; librosa's 9).
    delta_mode : {"interp", "nearest", "mirror", "constant"}
        Edge handling of the deltas (librosa's ``"interp"``).

    Attributes
    ----------
    name : str
        Registry name.
    base_dims : int
        Features per frame before deltas.
    dims : int
        Features per frame in the output, ``base_dims * (1 + deltas)``.
    frame_rate : float
        Frames per second.
    """

    name: str = "feature"
    base_dims: int

    def __init__(
        self,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        hop_length: int = DEFAULT_HOP,
        deltas: int = 0,
        delta_width: int = DELTA_WIDTH,
        delta_mode: str = "interp",
    ):
        super().__init__()
        self.sample_rate = check_positive_int("sample_rate", sample_rate)
        self.hop_length = check_positive_int("hop_length", hop_length)
        if deltas not in (0, 1, 2):
            raise ConfigError(f"deltas must be 0, 1 or 2; got {deltas!r}")
        if delta_width < 3 or delta_width % 2 == 0:
            raise ConfigError(f"delta_width must be an odd integer >= 3; got {delta_width!r}")
        if delta_mode not in DELTA_MODES:
            raise ConfigError(f"unknown delta_mode {delta_mode!r}; valid: {', '.join(DELTA_MODES)}")
        self.deltas, self.delta_width, self.delta_mode = int(deltas), int(delta_width), delta_mode

    @property
    def dims(self) -> int:
        return self.base_dims * (1 + self.deltas)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    def num_frames(self, num_samples: int) -> int:
        """Frames for ``num_samples`` input samples: ``1 + num_samples // hop_length``."""
        return 1 + int(num_samples) // self.hop_length

    def compute(self, wave: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> ``(batch, base_dims, frames)`` (no deltas)."""
        raise NotImplementedError

    def add_deltas(self, feats: torch.Tensor) -> torch.Tensor:
        """Append this extractor's deltas to static features ``(batch, base_dims, frames)``."""
        return stack_deltas(feats, self.deltas, self.delta_width, self.delta_mode)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> ``(batch, dims, 1 + samples // hop_length)``."""
        return self.add_deltas(self.compute(check_wave(wave)))

    def extra_repr(self) -> str:
        return f"sample_rate={self.sample_rate}, hop_length={self.hop_length}, dims={self.dims}" + (
            f", deltas={self.deltas}" if self.deltas else ""
        )


__all__ = [
    "DEFAULT_HOP",
    "DEFAULT_SAMPLE_RATE",
    "FeatureExtractor",
    "check_wave",
    "delta",
    "frame_signal",
    "stack_deltas",
]
