"""Shared neural-network blocks of the back-ends, written once.

Every block knows the shape it produces (``out_shape``), so a back-end can check at build time
that a front-end's feature map survives all its strides and poolings, and say which layer
would shrink it to nothing. Shapes exclude the batch dimension: ``(channels, freq, time)`` for
2-D blocks, ``(channels, time)`` for 1-D blocks.

The blocks follow the reference implementation of the tagging zoo
(``minzwon/sota-music-tagging-models``, ``training/modules.py``); the original names are given
in each docstring.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

Size2 = int | tuple[int, int]


def _pair(x: Size2) -> tuple[int, int]:
    return (int(x), int(x)) if isinstance(x, int) else (int(x[0]), int(x[1]))


def conv_out(n: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output length of a convolution over ``n`` steps (PyTorch floor rule); may be <= 0."""
    return (n + 2 * padding - kernel) // stride + 1


def pool_out(n: int, kernel: int) -> int:
    """Output length of a max/avg pool with ``stride == kernel`` and no padding (floor)."""
    return n // kernel


class ConvBNReLU2d(nn.Module):
    """Conv2d (``same`` padding) -> BatchNorm2d -> ReLU -> MaxPool2d (``Conv_2d`` in the zoo).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int
        Square kernel, odd (3); padded by ``kernel_size // 2``.
    stride : int
        Convolution stride (1).
    pool : int or (int, int)
        Max-pool kernel and stride over ``(freq, time)``; 1 disables pooling.

    Shapes: ``(batch, in_channels, freq, time) -> (batch, out_channels, freq', time')``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        pool: Size2 = 2,
    ):
        super().__init__()
        self.kernel_size, self.stride, self.pool = kernel_size, stride, _pair(pool)
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2
        )
        self.bn = nn.BatchNorm2d(out_channels)
        self.out_channels = out_channels

    def out_shape(self, shape: Sequence[int]) -> tuple[int, int, int]:
        """``(channels, freq, time)`` after this block (a size may be <= 0: it does not fit)."""
        _, f, t = shape
        k, s, p = self.kernel_size, self.stride, self.kernel_size // 2
        f, t = conv_out(f, k, s, p), conv_out(t, k, s, p)
        return (self.out_channels, pool_out(f, self.pool[0]), pool_out(t, self.pool[1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn(self.conv(x)))
        if self.pool != (1, 1):
            x = F.max_pool2d(x, self.pool)
        return x


class ConvBNReLU1d(nn.Module):
    """Conv1d (padding ``kernel_size // 2``) -> BatchNorm1d -> ReLU -> MaxPool1d (``Conv_1d``).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int
        Kernel length (3).
    stride : int
        Convolution stride (1; 3 for the sample-level CNN's first layer).
    pool : int
        Max-pool kernel and stride; 1 disables pooling.

    Shapes: ``(batch, in_channels, time) -> (batch, out_channels, time')``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        pool: int = 1,
    ):
        super().__init__()
        self.kernel_size, self.stride, self.pool = kernel_size, stride, int(pool)
        self.conv = nn.Conv1d(
            in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2
        )
        self.bn = nn.BatchNorm1d(out_channels)
        self.out_channels = out_channels

    def out_shape(self, shape: Sequence[int]) -> tuple[int, int]:
        _, t = shape
        t = conv_out(t, self.kernel_size, self.stride, self.kernel_size // 2)
        return (self.out_channels, pool_out(t, self.pool))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn(self.conv(x)))
        if self.pool != 1:
            x = F.max_pool1d(x, self.pool)
        return x


class ResBlock2d(nn.Module):
    """Residual block with a strided first conv (``Res_2d`` in the zoo).

    ``conv3x3(stride) -> BN -> ReLU -> conv3x3 -> BN``, plus a shortcut that is the identity, or
    ``conv3x3(stride) -> BN`` when the stride or the channel count changes; sum, then ReLU.
    Downsampling is by the stride (no pooling), so a size never reaches 0:
    ``n -> ceil(n / stride)``.

    Parameters
    ----------
    in_channels, out_channels : int
    stride : int or (int, int)
        Stride over ``(freq, time)`` (2; ``(2, 1)`` keeps the time resolution).
    kernel_size : int
        Odd kernel (3).
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: Size2 = 2, kernel_size: int = 3
    ):
        super().__init__()
        self.stride, self.kernel_size = _pair(stride), kernel_size
        pad = kernel_size // 2
        self.conv_1 = nn.Conv2d(in_channels, out_channels, kernel_size, self.stride, pad)
        self.bn_1 = nn.BatchNorm2d(out_channels)
        self.conv_2 = nn.Conv2d(out_channels, out_channels, kernel_size, 1, pad)
        self.bn_2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if self.stride != (1, 1) or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size, self.stride, pad),
                nn.BatchNorm2d(out_channels),
            )
        self.out_channels = out_channels

    def out_shape(self, shape: Sequence[int]) -> tuple[int, int, int]:
        _, f, t = shape
        k, p = self.kernel_size, self.kernel_size // 2
        return (
            self.out_channels,
            conv_out(f, k, self.stride[0], p),
            conv_out(t, k, self.stride[1], p),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn_2(self.conv_2(F.relu(self.bn_1(self.conv_1(x)))))
        return F.relu(out + self.shortcut(x))


class ResBlock2dMaxPool(nn.Module):
    """Identity-shortcut residual block followed by max pooling (``Res_2d_mp`` in the zoo).

    ``x + BN(conv3x3(ReLU(BN(conv3x3(x)))))`` -> ReLU -> MaxPool2d(pool). Channels are kept
    (the shortcut is the identity).

    Parameters
    ----------
    channels : int
    pool : int or (int, int)
        Max-pool kernel and stride over ``(freq, time)`` (2).
    """

    def __init__(self, channels: int, pool: Size2 = 2):
        super().__init__()
        self.pool = _pair(pool)
        self.conv_1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn_1 = nn.BatchNorm2d(channels)
        self.conv_2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn_2 = nn.BatchNorm2d(channels)
        self.out_channels = channels

    def out_shape(self, shape: Sequence[int]) -> tuple[int, int, int]:
        c, f, t = shape
        return (c, pool_out(f, self.pool[0]), pool_out(t, self.pool[1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn_2(self.conv_2(F.relu(self.bn_1(self.conv_1(x)))))
        out = F.relu(x + out)
        return F.max_pool2d(out, self.pool) if self.pool != (1, 1) else out


class SqueezeExcitation1d(nn.Module):
    """Squeeze-and-excitation over channels of ``(batch, channels, time)`` (Hu et al. 2018).

    Global average over time -> Linear(C, C/r) -> ReLU -> Linear(C/r, C) -> sigmoid, used as
    per-channel gains. The sample-level SE model (Kim et al. 2018, as implemented in the zoo)
    uses no reduction: ``reduction=1``.
    """

    def __init__(self, channels: int, reduction: int = 1):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gains = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean(dim=-1)))))
        return x * gains.unsqueeze(-1)


class ResSEBlock1d(nn.Module):
    """Residual block with squeeze-and-excitation, then max pooling (``ResSE_1d`` in the zoo).

    ``conv(k, stride) -> BN -> ReLU -> conv(k) -> BN -> SE``, plus a shortcut (identity, or
    ``conv(k, stride) -> BN`` when stride or channels change); sum -> ReLU -> MaxPool1d(pool).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int
        Kernel length (3; 1 for the last block of the sample-level CNN).
    stride : int
        Stride of the first conv and of the projection shortcut (1; 3 for the first block).
    pool : int
        Max-pool kernel and stride (3; 1 disables).
    se_reduction : int
        Squeeze-and-excitation reduction ratio (1, as in the zoo).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        pool: int = 3,
        se_reduction: int = 1,
    ):
        super().__init__()
        self.kernel_size, self.stride, self.pool = kernel_size, stride, int(pool)
        pad = kernel_size // 2
        self.conv_1 = nn.Conv1d(in_channels, out_channels, kernel_size, stride, pad)
        self.bn_1 = nn.BatchNorm1d(out_channels)
        self.conv_2 = nn.Conv1d(out_channels, out_channels, kernel_size, 1, pad)
        self.bn_2 = nn.BatchNorm1d(out_channels)
        self.se = SqueezeExcitation1d(out_channels, se_reduction)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv1d(in_channels, out_channels, kernel_size, stride, pad),
                nn.BatchNorm1d(out_channels),
            )
        self.out_channels = out_channels

    def out_shape(self, shape: Sequence[int]) -> tuple[int, int]:
        _, t = shape
        t = conv_out(t, self.kernel_size, self.stride, self.kernel_size // 2)
        return (self.out_channels, pool_out(t, self.pool))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.se(self.bn_2(self.conv_2(F.relu(self.bn_1(self.conv_1(x))))))
        out = F.relu(out + self.shortcut(x))
        return F.max_pool1d(out, self.pool) if self.pool != 1 else out


def global_max_pool(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Max over ``dim`` (the time axis by default), removing it."""
    return x.amax(dim=dim)


def global_avg_pool(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Mean over ``dim`` (the time axis by default), removing it."""
    return x.mean(dim=dim)


def global_max_avg_pool(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``concat(max, mean)`` over ``dim`` along the channel axis 1: ``(B, C, T) -> (B, 2C)``."""
    return torch.cat([x.amax(dim=dim), x.mean(dim=dim)], dim=1)


class ClassifierHead(nn.Module):
    """The zoo's output heads (they sit outside the encoder), producing logits.

    * ``hidden=None``: ``Dropout(p) -> Linear(in_dim, num_outputs)`` (FCN, CRNN, sample-level
      CNN, self-attention);
    * ``hidden=H``: ``Linear(in_dim, H) -> BatchNorm1d -> ReLU -> Dropout(p) ->
      Linear(H, num_outputs)`` (musicnn with H=200, sample-level+SE, short-chunk CNN/ResNet with
      H=512, harmonic CNN with H=256).

    No sigmoid: apply it in the loss (``BCEWithLogitsLoss``) and at inference.

    Shapes: ``(batch, in_dim) -> (batch, num_outputs)``.
    """

    def __init__(
        self, in_dim: int, num_outputs: int, hidden: int | None = None, dropout: float = 0.5
    ):
        super().__init__()
        self.in_dim, self.num_outputs, self.hidden = in_dim, num_outputs, hidden
        if hidden is None:
            self.mlp = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, num_outputs))
        else:
            self.mlp = nn.Sequential(
                nn.Linear(in_dim, hidden),
                nn.BatchNorm1d(hidden),
                nn.ReLU(),
                nn.Dropout(dropout),
                nn.Linear(hidden, num_outputs),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)


def sinusoidal_positions(length: int, dim: int, device=None, dtype=None) -> torch.Tensor:
    """Sinusoidal position encodings (Vaswani et al. 2017), shape ``(length, dim)``.

    ``PE[p, 2i] = sin(p / 10000^(2i/dim))``, ``PE[p, 2i+1] = cos(p / 10000^(2i/dim))``.
    """
    pos = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    idx = torch.arange(0, dim, 2, device=device, dtype=torch.float32)
    angle = pos * torch.exp(-math.log(10000.0) * idx / dim)
    pe = torch.zeros(length, dim, device=device)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : dim // 2])
    return pe.to(dtype) if dtype is not None else pe


__all__ = [
    "ClassifierHead",
    "ConvBNReLU1d",
    "ConvBNReLU2d",
    "ResBlock2d",
    "ResBlock2dMaxPool",
    "ResSEBlock1d",
    "SqueezeExcitation1d",
    "conv_out",
    "global_avg_pool",
    "global_max_avg_pool",
    "global_max_pool",
    "pool_out",
    "sinusoidal_positions",
]
