"""PASE / PASE+ encoder back-end (Pascual et al. 2019; Ravanelli et al. 2020), ``pase``.

The back-end of ``santi-pdp/pase``'s ``WaveFe`` (``cfg/frontend/PASE+.cfg``), after its first
block (the SincNet layer, which is the ``sinc`` front-end here: 64 filters of 251 taps,
reflect "same" padding, BatchNorm, PReLU):

* 7 blocks ``conv -> BatchNorm1d -> PReLU`` (PReLU per channel, initialised at 0), kernels
  ``[20, 11, 11, 11, 11, 11, 11]``, strides ``[10, 2, 1, 2, 1, 2, 2]``, channels
  ``[64, 128, 128, 256, 256, 512, 512]``, reflect padding ``(k // 2 - 1, k // 2)`` for strided
  or even kernels and ``(k // 2, k // 2)`` otherwise (``FeBlock``), so an input of ``T``
  samples gives ``T / 160`` frames when ``T`` is a multiple of 160 (the total stride: 10 ms
  at 16 kHz; other lengths round down, e.g. 4801 samples give 30 frames);
* dense skips (PASE+): the input of the back-end (the SincNet output) and every block but the
  last through a 1x1 convolution without bias to ``emb_dim``, averaged over groups of
  ``160 / stride so far`` steps down to the frame rate, summed into the output;
* recurrent pooling (PASE+): an RNN over the last block's output, then a 1x1 convolution to
  ``emb_dim``; without it (PASE) a 1x1 convolution of the last block;
* ``BatchNorm1d(emb_dim, affine=False)`` on the output (``norm_out``).

The RNN. PASE+ asks for a bidirectional 1-layer QRNN with ``rnn_dim`` 512 (256 per direction),
but its code builds it with ``salesforce/pytorch-qrnn``, which ignores the bidirectional flag
(``build_rnn_block`` prints a warning and doubles the size): the released PASE+ runs one
*unidirectional* QRNN layer of 512 units with a gate window of 2. That is the default here
(``rnn="qrnn"``, ``bidirectional=None`` = the reference's choice); ``bidirectional=True`` gives
the 256-per-direction QRNN the paper describes. ``rnn="lstm"`` / ``"gru"`` are bidirectional with
``rnn_dim / 2`` units per direction, as the reference builds them. The QRNN is
:class:`musicrep.nn.QRNN`.

Frame alignment: output frame ``k`` is centred on input sample ``160 k + 150.5`` (the padding
of the strided convolutions is one sample shorter on the left), i.e. 9.5 samples before frame
``k + 1`` of a centred 10 ms feature grid (:mod:`musicrep.features`); ``frame_center(k)`` gives
it. Dense skips are averaged over samples ``[160 k, 160 k + 160)`` of their map; for inputs that
are not a multiple of 160 samples their last group is padded by repetition (the reference
truncates to ``frames * (length // frames)``; both agree when the length is a multiple of 160).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from musicrep.backends.base import Backend
from musicrep.errors import ConfigError
from musicrep.nn import QRNN

#: ``cfg/frontend/PASE+.cfg`` (the SincNet layer is the front-end).
PASE_KERNELS = (20, 11, 11, 11, 11, 11, 11)
PASE_STRIDES = (10, 2, 1, 2, 1, 2, 2)
PASE_CHANNELS = (64, 128, 128, 256, 256, 512, 512)
RNN_TYPES = ("qrnn", "lstm", "gru", "none")


def _padding(kernel: int, stride: int) -> tuple[int, int]:
    """PASE ``FeBlock`` padding."""
    if stride > 1 or kernel % 2 == 0:
        return kernel // 2 - 1, kernel // 2
    return kernel // 2, kernel // 2


class PASEBlock(nn.Module):
    """``reflect pad -> Conv1d -> BatchNorm1d -> PReLU(init 0)`` (PASE's ``FeBlock``)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int):
        super().__init__()
        self.kernel, self.stride = int(kernel), int(stride)
        self.pad = _padding(self.kernel, self.stride)
        self.conv = nn.Conv1d(c_in, c_out, self.kernel, self.stride)
        self.bn = nn.BatchNorm1d(c_out)
        self.act = nn.PReLU(c_out, init=0.0)

    def out_length(self, n: int) -> int:
        return (n + sum(self.pad) - self.kernel) // self.stride + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mode = "reflect" if x.shape[-1] > max(self.pad) else "replicate"
        return self.act(self.bn(self.conv(F.pad(x, self.pad, mode=mode))))


class PASEBackend(Backend):
    """PASE+ convolutional encoder with dense skips and recurrent pooling, ``pase``.

    Parameters
    ----------
    in_shape : (channels, time)
        The SincNet front-end's output (64 channels at the sample rate).
    kernels, strides, channels : sequence of int
        The 7 conv blocks (PASE+ values).
    emb_dim : int
        Output size per frame (256; PASE v1: 100).
    rnn : {"qrnn", "lstm", "gru", "none"}
        Recurrent pooling (PASE+: ``"qrnn"``; PASE v1: ``"none"``).
    rnn_dim : int
        RNN output size (512).
    bidirectional : bool, optional
        None: the reference's choice (unidirectional QRNN, bidirectional LSTM/GRU).
    qrnn_window : int
        Width of the QRNN gates' convolution (2).
    dense_skips : bool
        Sum the projected intermediate maps into the output (PASE+: True).
    norm_out : bool
        ``BatchNorm1d(emb_dim, affine=False)`` on the output (True).

    Shapes: ``forward_sequence``: ``(batch, C, T) -> (batch, sequence_length(T), emb_dim)``
    (``T / 160`` frames for ``T`` a multiple of 160);
    ``forward``: the mean over frames, ``(batch, emb_dim)``.
    """

    name = "pase"
    input_kind = "wave"

    def __init__(
        self,
        in_shape: Sequence[int],
        kernels: Sequence[int] = PASE_KERNELS,
        strides: Sequence[int] = PASE_STRIDES,
        channels: Sequence[int] = PASE_CHANNELS,
        emb_dim: int = 256,
        rnn: str = "qrnn",
        rnn_dim: int = 512,
        bidirectional: bool | None = None,
        qrnn_window: int = 2,
        dense_skips: bool = True,
        norm_out: bool = True,
    ):
        super().__init__(in_shape)
        if len(self.in_shape) != 2:
            raise ConfigError(
                f"back-end 'pase' needs (channels, time) features; got {self.in_shape}",
                "use the sinc front-end (the PASE SincNet layer)",
            )
        if not len(kernels) == len(strides) == len(channels) > 0:
            raise ConfigError("pase: kernels, strides and channels must have the same length")
        if rnn not in RNN_TYPES:
            raise ConfigError(f"unknown rnn {rnn!r} for back-end 'pase'; valid: {RNN_TYPES}")
        chans = [self.in_shape[0], *channels]
        self.blocks = nn.ModuleList(
            PASEBlock(chans[i], chans[i + 1], k, s)
            for i, (k, s) in enumerate(zip(kernels, strides))
        )
        self.hop = math.prod(strides)
        # skip i takes the map before block i (i = 0: the back-end input), i < len(blocks)
        self.skip_factors = [self.hop // math.prod(strides[:i]) for i in range(len(strides))]
        self.skips = nn.ModuleList(
            nn.Conv1d(chans[i], emb_dim, 1, bias=False) for i in range(len(strides))
        )
        if not dense_skips:
            self.skips = nn.ModuleList()
        self.rnn_type = rnn
        self.rnn = self._build_rnn(rnn, chans[-1], rnn_dim, bidirectional, qrnn_window)
        self.proj = nn.Conv1d(rnn_dim if self.rnn is not None else chans[-1], emb_dim, 1)
        self.norm = nn.BatchNorm1d(emb_dim, affine=False) if norm_out else nn.Identity()
        self.embed_dim = self.sequence_dim = int(emb_dim)
        if self.sequence_length(self.in_shape[-1]) < 1:
            raise ConfigError(f"pase: {self.in_shape[-1]} input steps give no frame")

    @staticmethod
    def _build_rnn(
        rnn: str, size: int, dim: int, bidirectional: bool | None, window: int
    ) -> nn.Module | None:
        if rnn == "none":
            return None
        bi = (rnn != "qrnn") if bidirectional is None else bool(bidirectional)
        if bi and dim % 2:
            raise ConfigError(f"pase: a bidirectional rnn needs an even rnn_dim; got {dim}")
        hidden = dim // 2 if bi else dim
        if rnn == "qrnn":
            return QRNN(size, hidden, window=window, bidirectional=bi)
        cls = nn.LSTM if rnn == "lstm" else nn.GRU
        return cls(size, hidden, batch_first=True, bidirectional=bi)

    def sequence_length(self, time: int) -> int:
        n = int(time)
        for block in self.blocks:
            n = block.out_length(n)
        return n

    def frame_center(self, k: int | torch.Tensor):
        """Input sample (of the back-end's input) at the centre of output frame ``k``."""
        offset = 0.0
        for block in reversed(self.blocks):
            offset = block.stride * offset - block.pad[0] + (block.kernel - 1) / 2
        return self.hop * k + offset

    def _pool_skip(self, skip: torch.Tensor, factor: int, frames: int) -> torch.Tensor:
        need = frames * factor
        if skip.shape[-1] < need:
            skip = F.pad(skip, (0, need - skip.shape[-1]), mode="replicate")
        return skip[..., :need].reshape(*skip.shape[:-1], frames, factor).mean(-1)

    def forward_sequence(self, features: torch.Tensor) -> torch.Tensor:
        self.check_features(features)
        frames = self.sequence_length(features.shape[-1])
        h, skips = features, []
        for i, block in enumerate(self.blocks):
            if i < len(self.skips):
                # the bias-free 1x1 projection is linear per step, so it commutes with the
                # group mean (and the replicate padding): pooling first gives the same values
                # with `factor` times fewer operations (the first skip, 64 -> emb_dim at the
                # sample rate, was the largest cost of a PASE+ step on the CPU)
                pooled = self._pool_skip(h, self.skip_factors[i], frames)
                skips.append(self.skips[i](pooled))
            h = block(h)
        if self.rnn is not None:
            h = self.rnn(h.transpose(1, 2))[0].transpose(1, 2)
        y = self.proj(h)
        for skip in skips:
            y = y + skip
        return self.norm(y).transpose(1, 2)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.forward_sequence(features).mean(dim=1)


__all__ = ["PASEBackend", "PASEBlock"]
