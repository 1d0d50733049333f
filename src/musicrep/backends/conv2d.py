"""2-D CNN stacks over time-frequency maps: FCN, short-chunk CNN / ResNet, harmonic CNN.

All four share one summary: after the stack, the remaining frequency axis is collapsed by a max
(with each model's native input it is already 1, as in the reference code, which squeezes it)
and the time axis is max-pooled globally (the reference does the same whenever more than one
frame is left). ``forward_sequence`` returns the per-frame vectors before the time max, so every
model here is a sequence back-end.

Layer configurations are those of ``minzwon/sota-music-tagging-models`` (Won et al., SMC 2020);
see ``/work/shared/reference/tagging_zoo.md`` section 1.3. The defaults of each class are the
published configuration.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from musicrep.backends.base import Backend, check_fits
from musicrep.errors import ConfigError
from musicrep.nn import ConvBNReLU2d, ResBlock2d, ResBlock2dMaxPool

TF_AXES = ("frequency", "time")


def _pairs(values: Sequence) -> list[tuple[int, int]]:
    return [(int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1])) for v in values]


class Conv2dStackBackend(Backend):
    """A stack of 2-D blocks, frequency collapsed by max, global max over time.

    Subclasses build ``blocks`` (modules with ``out_shape``) and call ``_finish``.

    Shapes: ``forward``: ``(batch, C, F, T) -> (batch, embed_dim)``; ``forward_sequence``:
    ``(batch, C, F, T) -> (batch, T', embed_dim)``, ``T'`` = frames left after the stack.
    """

    input_kind = "tf"

    def _finish(self, blocks: Sequence[nn.Module]) -> None:
        self.blocks = nn.Sequential(*blocks)
        self.out_map_shape = check_fits(self.name, list(blocks), self.in_shape, TF_AXES)
        self.embed_dim = self.sequence_dim = int(self.out_map_shape[0])

    def check_features(self, features: torch.Tensor) -> None:
        super().check_features(features)
        if features.shape[-1] != self.in_shape[-1]:
            check_fits(self.name, list(self.blocks), tuple(features.shape[1:]), TF_AXES)

    def sequence_length(self, time: int) -> int:
        shape = (*self.in_shape[:-1], int(time))
        return int(check_fits(self.name, list(self.blocks), shape, TF_AXES)[-1])

    def feature_map(self, features: torch.Tensor) -> torch.Tensor:
        """The stack's output map ``(batch, channels, freq', time')``."""
        self.check_features(features)
        return self.blocks(features)

    def forward_sequence(self, features: torch.Tensor) -> torch.Tensor:
        return self.feature_map(features).amax(dim=2).transpose(1, 2)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.feature_map(features).amax(dim=(2, 3))


class FCNBackend(Conv2dStackBackend):
    """Fully convolutional network (Choi, Fazekas & Sandler, ISMIR 2016), ``fcn``.

    Five ``conv3x3 -> BN -> ReLU -> max-pool`` layers; with the native 96-band x 1813-frame
    log-mel map (29 s) they pool it to ``64 x 1 x 1``.

    Parameters
    ----------
    in_shape : (channels, freq, time)
    channels : sequence of int
        Output channels per layer (64, 128, 128, 128, 64).
    pools : sequence of (int, int)
        Max-pool ``(freq, time)`` per layer ((2,4), (2,4), (2,4), (3,5), (4,4)).
    """

    name = "fcn"

    def __init__(
        self,
        in_shape: Sequence[int],
        channels: Sequence[int] = (64, 128, 128, 128, 64),
        pools: Sequence = ((2, 4), (2, 4), (2, 4), (3, 5), (4, 4)),
    ):
        super().__init__(in_shape)
        pools = _pairs(pools)
        if len(pools) != len(channels):
            raise ConfigError(f"fcn: {len(channels)} channels but {len(pools)} pools")
        chans = [self.in_shape[0], *channels]
        self._finish([ConvBNReLU2d(chans[i], chans[i + 1], pool=p) for i, p in enumerate(pools)])


class ShortChunkCNNBackend(Conv2dStackBackend):
    """Short-chunk CNN ("VGG-ish", Won et al., SMC 2020), ``shortchunk_cnn``.

    Seven ``conv3x3 -> BN -> ReLU -> max-pool 2x2`` layers, channels 128, 128, 256, 256, 256,
    256, 512; the native 128 x 231 mel map (3.69 s) becomes 512 x 1 x 1.

    Parameters
    ----------
    in_shape : (channels, freq, time)
    channels : sequence of int
    pool : int or (int, int)
        Max-pool of every layer (2).
    """

    name = "shortchunk_cnn"

    def __init__(
        self,
        in_shape: Sequence[int],
        channels: Sequence[int] = (128, 128, 256, 256, 256, 256, 512),
        pool: int | Sequence[int] = 2,
    ):
        super().__init__(in_shape)
        pool = _pairs([pool])[0]
        chans = [self.in_shape[0], *channels]
        self._finish(
            [ConvBNReLU2d(chans[i], chans[i + 1], pool=pool) for i in range(len(channels))]
        )


class ShortChunkResNetBackend(Conv2dStackBackend):
    """Short-chunk ResNet (Won et al., SMC 2020), ``shortchunk_resnet``.

    Seven stride-2 residual blocks (:class:`musicrep.nn.ResBlock2d`), channels 128, 128, 256,
    256, 256, 256, 512; the native 128 x 231 mel map becomes 512 x 1 x 2, then a global max
    over the two frames. The best model of the paper on MTAT.

    Parameters
    ----------
    in_shape : (channels, freq, time)
    channels : sequence of int
    stride : int or (int, int)
        Stride of every block (2).
    """

    name = "shortchunk_resnet"

    def __init__(
        self,
        in_shape: Sequence[int],
        channels: Sequence[int] = (128, 128, 256, 256, 256, 256, 512),
        stride: int | Sequence[int] = 2,
    ):
        super().__init__(in_shape)
        stride = _pairs([stride])[0]
        chans = [self.in_shape[0], *channels]
        self._finish(
            [ResBlock2d(chans[i], chans[i + 1], stride=stride) for i in range(len(channels))]
        )


class HarmonicCNNBackend(Conv2dStackBackend):
    """The back-end of the Harmonic CNN (Won, Chun, Nieto & Serra, ICASSP 2020), ``hcnn``.

    ``conv(C_in -> n, pool 2) -> 3 x ResBlock2dMaxPool(n, pool 2) -> conv(n -> 2n, pool 2) ->
    2 x ResBlock2dMaxPool(2n, pool (2, 3))`` with ``n = 128``; the native 6 x 128 x 313
    harmonic tensor (5 s) becomes 256 x 1 x 1.

    Parameters
    ----------
    in_shape : (channels, freq, time)
        Channels are the harmonics (6) for the harmonic front-end; any channel count works.
    channels : int
        ``n`` (128).
    pool : int or (int, int)
        Pool of the first five layers (2).
    last_pool : int or (int, int)
        Pool of the last two residual blocks ((2, 3)).
    """

    name = "hcnn"

    def __init__(
        self,
        in_shape: Sequence[int],
        channels: int = 128,
        pool: int | Sequence[int] = 2,
        last_pool: int | Sequence[int] = (2, 3),
    ):
        super().__init__(in_shape)
        pool, last_pool = _pairs([pool, last_pool])
        n = int(channels)
        self._finish(
            [
                ConvBNReLU2d(self.in_shape[0], n, pool=pool),
                ResBlock2dMaxPool(n, pool),
                ResBlock2dMaxPool(n, pool),
                ResBlock2dMaxPool(n, pool),
                ConvBNReLU2d(n, 2 * n, pool=pool),
                ResBlock2dMaxPool(2 * n, last_pool),
                ResBlock2dMaxPool(2 * n, last_pool),
            ]
        )


__all__ = [
    "Conv2dStackBackend",
    "FCNBackend",
    "HarmonicCNNBackend",
    "ShortChunkCNNBackend",
    "ShortChunkResNetBackend",
]
