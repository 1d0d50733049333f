"""Convolutional recurrent network (Choi, Fazekas, Sandler & Cho, ICASSP 2017), ``crnn``.

Four ``conv3x3 -> BN -> ReLU -> max-pool`` layers (64, 128, 128, 128 channels; pools 2x2, 3x3,
4x4, 4x4) turn the native 96 x 1813 log-mel map (29 s) into 128 x 1 x 18 frames; a 2-layer GRU
(hidden 32) summarises them and the embedding is its output at the last step, as in the
reference implementation (``minzwon/sota-music-tagging-models``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from musicrep.backends.base import Backend, check_fits
from musicrep.backends.conv2d import TF_AXES, _pairs
from musicrep.errors import ConfigError
from musicrep.nn import ConvBNReLU2d


class CRNNBackend(Backend):
    """CNN + GRU back-end.

    Parameters
    ----------
    in_shape : (channels, freq, time)
    channels : sequence of int
        Conv channels (64, 128, 128, 128).
    pools : sequence of (int, int)
        Max-pools ((2,2), (3,3), (4,4), (4,4)).
    rnn_hidden : int
        GRU hidden size = embedding size (32).
    rnn_layers : int
        GRU layers (2).

    Notes
    -----
    A frequency axis left after the convolutions (only with other front-ends than the native
    96-band mel, which pools to 1) is collapsed by a max before the GRU.

    Shapes: ``forward``: ``(batch, C, F, T) -> (batch, rnn_hidden)``, the GRU output at the
    last step; ``forward_sequence``: ``(batch, T', rnn_hidden)``, the GRU outputs of all steps.
    """

    name = "crnn"
    input_kind = "tf"

    def __init__(
        self,
        in_shape: Sequence[int],
        channels: Sequence[int] = (64, 128, 128, 128),
        pools: Sequence = ((2, 2), (3, 3), (4, 4), (4, 4)),
        rnn_hidden: int = 32,
        rnn_layers: int = 2,
    ):
        super().__init__(in_shape)
        pools = _pairs(pools)
        if len(pools) != len(channels):
            raise ConfigError(f"crnn: {len(channels)} channels but {len(pools)} pools")
        chans = [self.in_shape[0], *channels]
        blocks = [ConvBNReLU2d(chans[i], chans[i + 1], pool=p) for i, p in enumerate(pools)]
        self.blocks = nn.Sequential(*blocks)
        self.out_map_shape = check_fits(self.name, blocks, self.in_shape, TF_AXES)
        self.rnn = nn.GRU(chans[-1], rnn_hidden, rnn_layers, batch_first=True)
        self.embed_dim = self.sequence_dim = int(rnn_hidden)

    def sequence_length(self, time: int) -> int:
        shape = (*self.in_shape[:-1], int(time))
        return int(check_fits(self.name, list(self.blocks), shape, TF_AXES)[-1])

    def forward_sequence(self, features: torch.Tensor) -> torch.Tensor:
        self.check_features(features)
        if features.shape[-1] != self.in_shape[-1]:
            self.sequence_length(features.shape[-1])  # raises when too short
        x = self.blocks(features).amax(dim=2).transpose(1, 2)  # (B, T', C)
        out, _ = self.rnn(x)
        return out

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.forward_sequence(features)[:, -1]


__all__ = ["CRNNBackend"]
