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


# ------------------------------------------------------------------------------------ QRNN


def forget_mult(
    log_decay: torch.Tensor,
    inputs: torch.Tensor,
    state: torch.Tensor | None = None,
    chunk: int = 16,
) -> torch.Tensor:
    """The linear recurrence ``c_t = a_t * c_{t-1} + u_t`` over time, in parallel chunks.

    Parameters
    ----------
    log_decay : torch.Tensor, (batch, time, hidden)
        ``log a_t`` (<= 0; e.g. ``logsigmoid`` of a gate's pre-activation).
    inputs : torch.Tensor, (batch, time, hidden)
        ``u_t``.
    state : torch.Tensor, (batch, hidden), optional
        ``c_{-1}`` (zeros by default).
    chunk : int
        Steps solved at once: within a chunk ``c_j = sum_{i <= j} exp(A_j - A_i) u_i +
        exp(A_j) c_prev`` with ``A`` the cumulative ``log a`` (every exponent <= 0, so nothing
        overflows however small the gates); chunks are chained by their last state. Memory per
        chunk is ``batch * chunk^2 * hidden``.

    Returns
    -------
    torch.Tensor, (batch, time, hidden)
        ``c_t`` for every step.
    """
    b, t, h = inputs.shape
    c = inputs.new_zeros(b, h) if state is None else state
    mask = torch.tril(torch.ones(chunk, chunk, dtype=torch.bool, device=inputs.device))
    out = []
    for start in range(0, t, chunk):
        la, u = log_decay[:, start : start + chunk], inputs[:, start : start + chunk]
        n = la.shape[1]
        cum = la.cumsum(dim=1)  # A_j, (b, n, h)
        diff = cum[:, :, None] - cum[:, None]  # A_j - A_i, (b, n, n, h)
        m = mask[:n, :n, None]
        weights = torch.exp(torch.where(m, diff, torch.full_like(diff, -math.inf)))
        block = torch.einsum("bjih,bih->bjh", weights, u) + torch.exp(cum) * c[:, None]
        out.append(block)
        c = block[:, -1]
    return torch.cat(out, dim=1)


class QRNNLayer(nn.Module):
    """One quasi-recurrent layer (Bradbury, Merity, Xiong & Socher, ICLR 2017), one direction.

    ``[Z, F, O] = W [x_t, x_{t-1}, ..., x_{t-window+1}] + b`` (a causal convolution of width
    ``window``), ``z = tanh(Z)``, ``f = sigmoid(F)``, ``o = sigmoid(O)``, then fo-pooling
    ``c_t = f_t z_t + (1 - f_t) c_{t-1}``, ``h_t = o_t c_t``: the conventions of
    ``salesforce/pytorch-qrnn`` (``QRNNLayer`` with ``output_gate=True``), which PASE+ used.
    The recurrence runs as a chunked parallel scan (:func:`forget_mult`) instead of that
    package's CUDA kernel.

    Shapes: ``(batch, time, input_size) -> (batch, time, hidden_size)``.
    """

    def __init__(self, input_size: int, hidden_size: int, window: int = 2, chunk: int = 16):
        super().__init__()
        if window < 1:
            raise ValueError(f"QRNN window must be >= 1; got {window}")
        self.input_size, self.hidden_size, self.window = input_size, hidden_size, window
        self.chunk = chunk
        self.linear = nn.Linear(window * input_size, 3 * hidden_size)

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        shifted = [x] + [F.pad(x, (0, 0, k, 0))[:, : x.shape[1]] for k in range(1, self.window)]
        z, f, o = self.linear(torch.cat(shifted, dim=-1)).chunk(3, dim=-1)
        gate = torch.sigmoid(f)
        c = forget_mult(F.logsigmoid(-f), gate * torch.tanh(z), state, self.chunk)
        return torch.sigmoid(o) * c


class QRNN(nn.Module):
    """Stacked, optionally bidirectional QRNN: ``(batch, time, input) -> (batch, time, H * dirs)``.

    Parameters
    ----------
    input_size, hidden_size : int
        Features in and per direction out.
    num_layers : int
        Stacked layers (dropout between them).
    window : int
        Width of the gates' causal convolution (PASE+: 2).
    bidirectional : bool
        Add a layer on the time-reversed input; outputs are concatenated (pytorch-qrnn has no
        bidirectional mode; this one is ours).
    dropout : float
        Dropout on the outputs of every layer but the last.
    chunk : int
        Steps per parallel chunk of the recurrence (see :func:`forget_mult`).

    ``forward`` returns ``(output, None)`` like ``nn.GRU`` with ``batch_first=True`` (no state).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        window: int = 2,
        bidirectional: bool = False,
        dropout: float = 0.0,
        chunk: int = 16,
    ):
        super().__init__()
        dirs = 2 if bidirectional else 1
        self.hidden_size, self.bidirectional = hidden_size, bidirectional
        self.layers = nn.ModuleList()
        for i in range(num_layers):
            size = input_size if i == 0 else hidden_size * dirs
            self.layers.append(
                nn.ModuleList(QRNNLayer(size, hidden_size, window, chunk) for _ in range(dirs))
            )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        for i, directions in enumerate(self.layers):
            outs = [directions[0](x)]
            if self.bidirectional:
                outs.append(directions[1](x.flip(1)).flip(1))
            x = torch.cat(outs, dim=-1)
            if i < len(self.layers) - 1:
                x = self.dropout(x)
        return x, None


__all__ = [
    "ClassifierHead",
    "ConvBNReLU1d",
    "ConvBNReLU2d",
    "QRNN",
    "QRNNLayer",
    "ResBlock2d",
    "ResBlock2dMaxPool",
    "ResSEBlock1d",
    "SqueezeExcitation1d",
    "conv_out",
    "forget_mult",
    "global_avg_pool",
    "global_max_avg_pool",
    "global_max_pool",
    "pool_out",
    "sinusoidal_positions",
]
