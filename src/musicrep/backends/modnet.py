"""The back-end of ModNet / SincModNet (Vahidi, Saitis & Fazekas, 2021), ``modnet``.

The paper's back-end is not public (see ``seed_methods.md`` section D). Our choice: the
short-chunk CNN stack of Won et al. (2020) — seven ``conv3x3 -> BN -> ReLU -> max-pool``
layers with 128, 128, 256, 256, 256, 256, 512 channels — adapted to the modulation front-end's
``(n_modulation, n_bands, frames)`` map: the modulation channels are the input channels, the
acoustic bands play the role of frequency, and each layer's 2 x 2 max-pool is reduced to 1
along an axis that has already been pooled down to a single row or frame. With the default
front-end (8 modulation channels, 40 bands, 200 Hz frames) and 59,049 samples (739 frames) the
bands reach 1 after five layers and time is pooled 128x to 5 frames; the embedding is the
global max over them (512-d), as in the short-chunk models.

The pools are fixed at build time from ``in_shape`` (and listed in ``pools``), so the same
network serves longer inputs at inference.
"""

from __future__ import annotations

from collections.abc import Sequence

from musicrep.backends.conv2d import Conv2dStackBackend, _pairs
from musicrep.errors import ConfigError
from musicrep.nn import ConvBNReLU2d


def adaptive_pools(
    in_freq: int, in_time: int, n_layers: int, pool: tuple[int, int]
) -> list[tuple[int, int]]:
    """Per-layer pools: ``pool`` on each axis while that axis is at least the pool size."""
    pools, f, t = [], in_freq, in_time
    for _ in range(n_layers):
        pf = pool[0] if f >= pool[0] else 1
        pt = pool[1] if t >= pool[1] else 1
        pools.append((pf, pt))
        f, t = f // pf, t // pt
    return pools


class ModulationCNNBackend(Conv2dStackBackend):
    """Short-chunk CNN stack with axis-adaptive pooling, for modulation maps.

    Parameters
    ----------
    in_shape : (channels, freq, time)
        ``(n_modulation, n_bands, frames)`` from the modulation front-ends; any map works.
    channels : sequence of int
        Conv channels (128, 128, 256, 256, 256, 256, 512).
    pool : int or (int, int)
        Nominal max-pool per layer (2), reduced to 1 along an exhausted axis.
    pools : sequence of (int, int), optional
        Explicit per-layer pools (overrides the adaptive rule; recorded so that a model
        rebuilt from its config is identical).

    Shapes: ``forward``: ``(batch, C, F, T) -> (batch, channels[-1])``; ``forward_sequence``:
    ``(batch, T', channels[-1])``.
    """

    name = "modnet"

    def __init__(
        self,
        in_shape: Sequence[int],
        channels: Sequence[int] = (128, 128, 256, 256, 256, 256, 512),
        pool: int | Sequence[int] = 2,
        pools: Sequence | None = None,
    ):
        super().__init__(in_shape)
        if pools is None:
            pools = adaptive_pools(
                self.in_shape[1], self.in_shape[2], len(channels), _pairs([pool])[0]
            )
        pools = _pairs(pools)
        if len(pools) != len(channels):
            raise ConfigError(f"modnet: {len(channels)} channels but {len(pools)} pools")
        self.pools = pools
        chans = [self.in_shape[0], *channels]
        self._finish([ConvBNReLU2d(chans[i], chans[i + 1], pool=p) for i, p in enumerate(pools)])


__all__ = ["ModulationCNNBackend", "adaptive_pools"]
