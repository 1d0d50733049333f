"""musicnn (Pons, Nieto, Prockup, Schmidt, Ehmann & Serra, ISMIR 2018), ``musicnn``.

The PyTorch version of the tagging zoo (``minzwon/sota-music-tagging-models``), which the
reference parameter count (0.78 M with 50 outputs) refers to:

* musically motivated front-end on the (batch-normalised) log-mel map:
  - two *timbral* convolutions, ``n_freq`` x 7 kernels spanning 70 % and 40 % of the frequency
    axis (67 and 38 of 96 bins), 204 filters each, 'valid' in frequency and 'same' in time,
    BN, ReLU, then max over the remaining frequency axis;
  - three *temporal* convolutions: the map is averaged over frequency first, then 1-D
    convolutions of length 129, 65 and 33 frames, 51 filters each, BN, ReLU;
  - concatenated: 2 * 204 + 3 * 51 = 561 channels per frame;
* mid-end: three 1-D ``conv(k=7) -> BN -> ReLU`` layers of 64 channels (512 for the MSD-size
  model), residual sums on the 2nd and 3rd; the output is the dense concatenation
  ``[front-end, c1, c2, c3]`` = 753 channels per frame;
* back-end summary: global max and global mean over time, concatenated (1506).

The classifier of the reference (``Linear 1506 -> 200 -> BN -> ReLU -> Dropout 0.5 -> Linear``)
is the head and lives outside the encoder.

Differences from the original TensorFlow musicnn (``jordipons/musicnn``): there, the temporal
convolutions are 2-D ``[128|64|32 x 1]`` kernels followed by a max over frequency, the input is
``log10(10000 x + 1)`` and the back-end applies BN and dropout before its dense layers. The zoo
version (used here) averages over frequency first and uses the dB mel of the other models.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from musicrep.backends.base import Backend
from musicrep.errors import ConfigError
from musicrep.nn import ConvBNReLU1d, global_max_avg_pool


class TimbralConv(nn.Module):
    """Vertical conv spanning ``freq_kernel`` bins, then a max over frequency (``Conv_V``).

    ``(batch, C, F, T) -> (batch, filters, T)`` ('valid' in frequency, 'same' in time).
    """

    def __init__(self, in_channels: int, filters: int, freq_kernel: int, time_kernel: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, filters, (freq_kernel, time_kernel), padding=(0, time_kernel // 2)
        )
        self.bn = nn.BatchNorm2d(filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x))).amax(dim=2)


class TemporalConv(nn.Module):
    """Mean over frequency, then a long 1-D conv over time (``Conv_H``).

    ``(batch, C, F, T) -> (batch, filters, T)`` (odd ``length``, 'same' padding).
    """

    def __init__(self, in_channels: int, filters: int, length: int):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, filters, length, padding=length // 2)
        self.bn = nn.BatchNorm1d(filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x.mean(dim=2))))


class MusicnnBackend(Backend):
    """musicnn front-end + mid-end + temporal pooling on a ``(C, F, T)`` map.

    Parameters
    ----------
    in_shape : (channels, freq, time)
    timbral_filters : int
        Filters per timbral conv (204 = int(1.6 * 128)).
    timbral_fractions : sequence of float
        Frequency extent of each timbral kernel as a fraction of the input's bins
        (0.7, 0.4 -> 67 and 38 of 96 bins).
    timbral_time : int
        Time extent of the timbral kernels in frames (7).
    temporal_filters : int
        Filters per temporal conv (51 = int(1.6 * 32)).
    temporal_lengths : sequence of int
        Lengths of the temporal convs in frames (129, 65, 33); odd.
    mid_channels : int
        Mid-end channels (64; 512 for the "big" MSD model).
    mid_kernel : int
        Mid-end kernel length (7).

    Notes
    -----
    The reference code computes the timbral kernel heights from a fixed 96; here they are
    fractions of the actual input height, which is the same for the native 96-band input and
    keeps the architecture meaningful for other front-ends.

    Shapes: ``forward``: ``(batch, C, F, T) -> (batch, 2 * (561 + 3 * mid_channels))``;
    ``forward_sequence``: ``(batch, T, 561 + 3 * mid_channels)`` (the frame-level features
    before pooling, musicnn's ``cnn3`` + front-end concatenation).
    """

    name = "musicnn"
    input_kind = "tf"

    def __init__(
        self,
        in_shape: Sequence[int],
        timbral_filters: int = 204,
        timbral_fractions: Sequence[float] = (0.7, 0.4),
        timbral_time: int = 7,
        temporal_filters: int = 51,
        temporal_lengths: Sequence[int] = (129, 65, 33),
        mid_channels: int = 64,
        mid_kernel: int = 7,
    ):
        super().__init__(in_shape)
        c, n_freq, _ = self.in_shape
        if any(length % 2 == 0 for length in [*temporal_lengths, timbral_time, mid_kernel]):
            raise ConfigError(
                f"musicnn: kernel lengths must be odd (got temporal {list(temporal_lengths)}, "
                f"timbral {timbral_time}, mid {mid_kernel}) so the time axis is kept"
            )
        self.freq_kernels = [max(1, min(n_freq, int(f * n_freq))) for f in timbral_fractions]
        timbral = [TimbralConv(c, timbral_filters, k, timbral_time) for k in self.freq_kernels]
        temporal = [TemporalConv(c, temporal_filters, n) for n in temporal_lengths]
        self.front = nn.ModuleList([*timbral, *temporal])
        front_dim = timbral_filters * len(timbral) + temporal_filters * len(temporal)
        self.mid = nn.ModuleList(
            [
                ConvBNReLU1d(front_dim, mid_channels, mid_kernel),
                ConvBNReLU1d(mid_channels, mid_channels, mid_kernel),
                ConvBNReLU1d(mid_channels, mid_channels, mid_kernel),
            ]
        )
        self.sequence_dim = front_dim + 3 * mid_channels
        self.embed_dim = 2 * self.sequence_dim

    def sequence_length(self, time: int) -> int:
        return int(time)

    def forward_sequence(self, features: torch.Tensor) -> torch.Tensor:
        return self._frames(features).transpose(1, 2)

    def _frames(self, features: torch.Tensor) -> torch.Tensor:
        self.check_features(features)
        front = torch.cat([layer(features) for layer in self.front], dim=1)  # (B, 561, T)
        c1 = self.mid[0](front)
        c2 = self.mid[1](c1) + c1
        c3 = self.mid[2](c2) + c2
        return torch.cat([front, c1, c2, c3], dim=1)  # (B, 753, T)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return global_max_avg_pool(self._frames(features))


__all__ = ["MusicnnBackend", "TemporalConv", "TimbralConv"]
