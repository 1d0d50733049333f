"""Sample-level 1-D CNNs on raw waveforms: ``samplecnn`` and ``samplecnn_se``.

* Sample-level CNN (Lee, Park, Kim & Nam, SMC 2017): a stride-3 conv (128 filters) then nine
  ``conv3 -> BN -> ReLU -> max-pool 3`` layers (128, 128, 256, 256, 256, 256, 256, 256, 512)
  and a 1x1 conv (512): the native 59,049 = 3^10 samples reduce to one 512-d frame.
* Sample-level CNN + residual + squeeze-and-excitation (Kim, Lee & Nam, ICASSP 2018 /
  "Sample-level CNN architectures for music auto-tagging using raw waveforms"): the same
  topology with :class:`musicrep.nn.ResSEBlock1d` blocks (SE without a reduction ratio, as in
  the zoo's implementation).

Both follow ``minzwon/sota-music-tagging-models``. With longer inputs more than one frame is
left; the embedding is then the global max over frames (the reference requires exactly one).

Input: ``(batch, C, T)`` from a "wave" front-end (``C = 1`` for the raw waveform). A
time-frequency map ``(batch, C, F, T)`` is accepted too: its ``C * F`` rows become input
channels of a 1-D CNN over frames (documented composition; the published models use the
waveform).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from musicrep.backends.base import Backend, check_fits
from musicrep.errors import ConfigError
from musicrep.nn import ConvBNReLU1d, ResSEBlock1d

WAVE_AXES = ("time",)

_CHANNELS = (128, 128, 128, 256, 256, 256, 256, 256, 256, 512)


class _SampleLevelBackend(Backend):
    """Shared structure: first strided block, pooled blocks, last 1x1 block, global max."""

    input_kind = "any"

    def __init__(
        self,
        in_shape: Sequence[int],
        channels: Sequence[int],
        first_stride: int,
        kernel_size: int,
        pool: int,
        last_channels: int,
        last_kernel: int,
        se: bool,
        se_reduction: int = 1,
    ):
        super().__init__(in_shape)
        c_in = self.in_shape[0] * (self.in_shape[1] if len(self.in_shape) == 3 else 1)
        self._shape_1d = (c_in, self.in_shape[-1])

        def block(cin: int, cout: int, k: int, stride: int, p: int) -> nn.Module:
            if se:
                return ResSEBlock1d(cin, cout, k, stride, p, se_reduction)
            return ConvBNReLU1d(cin, cout, k, stride, p)

        chans = list(channels)
        blocks = [block(c_in, chans[0], kernel_size, first_stride, 1)]
        blocks += [
            block(chans[i], chans[i + 1], kernel_size, 1, pool) for i in range(len(chans) - 1)
        ]
        blocks.append(block(chans[-1], last_channels, last_kernel, 1, 1))
        self.blocks = nn.Sequential(*blocks)
        self.out_map_shape = self._fits(self._shape_1d)
        self.embed_dim = self.sequence_dim = int(last_channels)

    def _fits(self, shape_1d: tuple[int, int]) -> tuple[int, ...]:
        try:
            return check_fits(self.name, list(self.blocks), shape_1d, WAVE_AXES)
        except ConfigError as exc:
            if len(self.in_shape) == 3:  # say how the map was read
                exc = ConfigError(
                    f"{exc.message} (the {self.in_shape} map is read as {shape_1d[0]} "
                    "channels x time)",
                    exc.hint,
                )
            raise exc from None

    def _to_1d(self, features: torch.Tensor) -> torch.Tensor:
        self.check_features(features)
        if features.dim() == 4:
            features = features.flatten(1, 2)
        if features.shape[-1] != self.in_shape[-1]:
            self.sequence_length(features.shape[-1])  # raises when too short
        return features

    def sequence_length(self, time: int) -> int:
        return int(self._fits((self._shape_1d[0], int(time)))[-1])

    def forward_sequence(self, features: torch.Tensor) -> torch.Tensor:
        return self.blocks(self._to_1d(features)).transpose(1, 2)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.blocks(self._to_1d(features)).amax(dim=-1)


class SampleCNNBackend(_SampleLevelBackend):
    """Sample-level CNN back-end, ``samplecnn``.

    Parameters
    ----------
    in_shape : (channels, time) or (channels, freq, time)
    channels : sequence of int
        Channels of the first block and of the nine pooled blocks
        (128, 128, 128, 256, 256, 256, 256, 256, 256, 512).
    first_stride : int
        Stride of the first conv (3).
    kernel_size : int
        Kernel of all but the last conv (3).
    pool : int
        Max-pool of the pooled blocks (3).
    last_channels, last_kernel : int
        The last conv (512 channels, kernel 1).

    Shapes: ``forward``: ``-> (batch, last_channels)``; ``forward_sequence``:
    ``-> (batch, T', last_channels)`` with ``T' = 1`` for 59,049 samples.
    """

    name = "samplecnn"

    def __init__(
        self,
        in_shape: Sequence[int],
        channels: Sequence[int] = _CHANNELS,
        first_stride: int = 3,
        kernel_size: int = 3,
        pool: int = 3,
        last_channels: int = 512,
        last_kernel: int = 1,
    ):
        super().__init__(
            in_shape, channels, first_stride, kernel_size, pool, last_channels, last_kernel, False
        )


class SampleCNNSEBackend(_SampleLevelBackend):
    """Sample-level CNN with residual squeeze-and-excitation blocks, ``samplecnn_se``.

    Parameters as :class:`SampleCNNBackend`, plus ``se_reduction`` (1: the SE bottleneck keeps
    all channels, as in the zoo).
    """

    name = "samplecnn_se"

    def __init__(
        self,
        in_shape: Sequence[int],
        channels: Sequence[int] = _CHANNELS,
        first_stride: int = 3,
        kernel_size: int = 3,
        pool: int = 3,
        last_channels: int = 512,
        last_kernel: int = 1,
        se_reduction: int = 1,
    ):
        super().__init__(
            in_shape,
            channels,
            first_stride,
            kernel_size,
            pool,
            last_channels,
            last_kernel,
            True,
            se_reduction,
        )


__all__ = ["SampleCNNBackend", "SampleCNNSEBackend"]
