"""The raw-waveform front-end of sample-level models (Lee et al., SMC 2017; Kim et al., 2018).

Sample-level CNNs learn their filterbank from the samples, so their "front-end" only shapes the
input: it adds the channel axis, optionally normalises each example, and optionally cuts it into
frames. The output is a waveform-like sequence ``(batch, channels, time)`` (``kind == "wave"``)
that a ``Conv1d`` back-end consumes directly.
"""

from __future__ import annotations

import numbers
from typing import Literal

import torch

from musicrep.errors import ConfigError
from musicrep.frontends import FRONTENDS
from musicrep.frontends.base import Frontend

#: Floor of the per-example peak / RMS when normalising (silence stays silence).
NORMALIZE_EPS = 1e-8


def _positive_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0


@FRONTENDS.register("waveform")
class Waveform(Frontend):
    """Raw waveform, optionally normalised per example and cut into frames.

    Output shape

    * without framing (default): ``(batch, 1, samples)`` — the identity plus a channel axis;
    * with ``frame_length=L, hop_length=H``: ``(batch, L, n_frames)`` with
      ``n_frames = 1 + (samples - L) // H`` (no padding; a tail shorter than a hop is dropped;
      inputs shorter than ``L`` raise :class:`ConfigError`). Frame ``t`` holds samples
      ``t * H .. t * H + L - 1`` in its ``L`` channels, so a ``Conv1d`` over the frame axis sees a
      whole frame per step: framing with ``L = H = 3`` followed by ``Conv1d(3, C, 1)`` is the same
      map as the sample-level CNN's first ``Conv1d(1, C, 3, stride=3)``.

    Parameters
    ----------
    sample_rate : int
        Sample rate in Hz the model expects (recorded; no resampling happens here).
    frame_length : int, optional
        Frame length in samples; None (default) for no framing.
    hop_length : int, optional
        Hop between frames in samples; defaults to ``frame_length`` (non-overlapping frames).
        Only valid together with ``frame_length``.
    normalize : {None, "peak", "rms"}
        Per-example scaling before framing: ``"peak"`` divides by ``max |x|`` (peak 1), ``"rms"``
        by ``sqrt(mean x^2)`` (RMS 1); both with a floor of ``1e-8`` so silence stays silent.
        None (default) leaves the samples as they are.
    """

    kind = "wave"

    def __init__(
        self,
        sample_rate: int = 16000,
        frame_length: int | None = None,
        hop_length: int | None = None,
        normalize: Literal["peak", "rms"] | None = None,
    ):
        super().__init__()
        if not _positive_int(sample_rate):
            raise ConfigError(f"sample_rate must be a positive integer; got {sample_rate!r}")
        if frame_length is None and hop_length is not None:
            raise ConfigError(
                f"hop_length={hop_length} given without frame_length",
                "pass frame_length too, or neither for the plain waveform",
            )
        if frame_length is not None and not _positive_int(frame_length):
            raise ConfigError(f"frame_length must be a positive integer; got {frame_length!r}")
        if hop_length is None:
            hop_length = frame_length
        if hop_length is not None and not _positive_int(hop_length):
            raise ConfigError(f"hop_length must be a positive integer; got {hop_length!r}")
        if normalize not in (None, "peak", "rms"):
            raise ConfigError(f"normalize must be None, 'peak' or 'rms'; got {normalize!r}")
        self.sample_rate = int(sample_rate)
        self.frame_length = None if frame_length is None else int(frame_length)
        self.hop_length = None if hop_length is None else int(hop_length)
        self.normalize = normalize

    def num_frames(self, num_samples: int) -> int:
        """Time steps of the output for ``num_samples`` input samples."""
        num_samples = int(num_samples)
        if self.frame_length is None:
            return num_samples
        if num_samples < self.frame_length:
            raise ConfigError(
                f"{num_samples} samples is shorter than frame_length={self.frame_length}",
                "use longer clips or a shorter frame_length",
            )
        return 1 + (num_samples - self.frame_length) // self.hop_length

    def output_shape(self, num_samples: int) -> tuple[int, int]:
        channels = 1 if self.frame_length is None else self.frame_length
        return (channels, self.num_frames(num_samples))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> ``(batch, 1, samples)`` or ``(batch, frame_length, n_frames)``."""
        wave = self.check_input(wave)
        if self.normalize == "peak":
            scale = wave.abs().amax(dim=-1, keepdim=True)
            wave = wave / scale.clamp(min=NORMALIZE_EPS)
        elif self.normalize == "rms":
            # clamp before sqrt: finite gradients for silent examples
            mean_square = wave.square().mean(dim=-1, keepdim=True)
            wave = wave / mean_square.clamp(min=NORMALIZE_EPS**2).sqrt()
        if self.frame_length is None:
            return wave.unsqueeze(1)
        self.num_frames(wave.shape[-1])  # raises for too-short input
        frames = wave.unfold(-1, self.frame_length, self.hop_length)  # (batch, n_frames, L)
        return frames.transpose(1, 2)

    def extra_repr(self) -> str:
        return (
            f"sample_rate={self.sample_rate}, frame_length={self.frame_length}, "
            f"hop_length={self.hop_length}, normalize={self.normalize!r}"
        )
