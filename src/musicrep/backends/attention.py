"""Self-attention back-end CNNSA (Won, Chun & Serra, ICML 2019 workshop / arXiv 2019), ``attention``.

"Toward interpretable music tagging with self-attention": a residual CNN extracts local
features, a small BERT-style Transformer encoder summarises them over time, and the attention
maps show which frames the tags were read from.

* CNN: seven :class:`musicrep.nn.ResBlock2d` blocks, channels 128, 128, 256, 256, 256, 256,
  256, strides 2, 2, 2, then (2, 1) x 4: frequency is reduced 128x (128 mel bins -> 1) but
  time only 8x, so the native 15 s (938 frames) give 118 tokens of 256 dimensions.
* A ``[CLS]`` token is prepended; two post-LayerNorm Transformer layers (BERT: hidden 256,
  8 heads, feed-forward 1024 with GELU, hidden dropout 0.4, attention dropout 0.5, LayerNorm
  eps 1e-12); the BERT pooler (dense + tanh on the ``[CLS]`` output) gives the 256-d embedding.

Choices that differ from the reference code (``minzwon/sota-music-tagging-models``):

* ``[CLS]`` is a learned ``nn.Parameter`` (initialised U[0, 1), like the reference's vector);
  the reference used a fixed seed-0 random vector replicated 64 times (so batches were limited
  to 64). The count differs by 256 parameters.
* positional encoding is optional (``positional_encoding=None`` by default, as in the reference,
  which defines but never applies one; ``"sinusoidal"`` adds the Vaswani et al. encoding).
* the attention maps returned are the softmax probabilities before attention dropout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from musicrep.backends.base import Backend, check_fits
from musicrep.backends.conv2d import TF_AXES, _pairs
from musicrep.errors import ConfigError
from musicrep.nn import ResBlock2d, sinusoidal_positions


class TransformerEncoderLayer(nn.Module):
    """One post-LayerNorm BERT encoder layer that can return its attention probabilities.

    ``x = LN(x + Dropout(W_o MultiHead(x)))``; ``x = LN(x + Dropout(W_2 GELU(W_1 x)))``; the
    attention probabilities get their own dropout rate (BERT's ``attention_probs_dropout``).
    Parameter layout as BERT (separate query, key, value projections).

    Shapes: ``(batch, length, dim) -> (batch, length, dim)``; attention
    ``(batch, heads, length, length)``.
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        ffn_dim: int,
        hidden_dropout: float,
        attention_dropout: float,
        eps: float = 1e-12,
    ):
        super().__init__()
        if dim % heads:
            raise ConfigError(f"attention: hidden size {dim} is not a multiple of {heads} heads")
        self.heads, self.head_dim = heads, dim // heads
        self.attention_dropout = attention_dropout
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.attn_out = nn.Linear(dim, dim)
        self.attn_norm = nn.LayerNorm(dim, eps=eps)
        self.ffn_in = nn.Linear(dim, ffn_dim)
        self.ffn_out = nn.Linear(ffn_dim, dim)
        self.ffn_norm = nn.LayerNorm(dim, eps=eps)
        self.dropout = nn.Dropout(hidden_dropout)

    def forward(
        self, x: torch.Tensor, return_attention: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        b, n, d = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.heads, self.head_dim).transpose(1, 2)

        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        p_drop = self.attention_dropout if self.training else 0.0
        probs = None
        if return_attention:
            scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
            probs = scores.softmax(dim=-1)
            ctx = F.dropout(probs, p_drop, self.training) @ v
        else:
            ctx = F.scaled_dot_product_attention(q, k, v, dropout_p=p_drop)
        ctx = ctx.transpose(1, 2).reshape(b, n, d)
        x = self.attn_norm(x + self.dropout(self.attn_out(ctx)))
        x = self.ffn_norm(x + self.dropout(self.ffn_out(F.gelu(self.ffn_in(x)))))
        return x, probs


class SelfAttentionBackend(Backend):
    """Residual CNN + Transformer encoder with a ``[CLS]`` token (CNNSA).

    Parameters
    ----------
    in_shape : (channels, freq, time)
    channels : sequence of int
        CNN channels (128, 128, 256, 256, 256, 256, 256); the last is the Transformer width.
    strides : sequence of (int, int)
        ``(freq, time)`` strides ((2,2) x 3, (2,1) x 4).
    num_layers, num_heads, ffn_dim : int
        Transformer depth (2), heads (8), feed-forward size (1024).
    hidden_dropout, attention_dropout : float
        BERT dropouts (0.4, 0.5).
    positional_encoding : None or "sinusoidal"
        None (default, as in the reference) or sinusoidal encodings added to the tokens.
    layer_norm_eps : float
        1e-12 as in BERT.

    Attributes
    ----------
    last_attention : list of Tensor or None
        After a call with ``return_attention=True``: per layer, ``(batch, heads, 1 + T', 1 + T')``
        probabilities (index 0 is ``[CLS]``).

    Shapes: ``forward``: ``(batch, C, F, T) -> (batch, 256)`` (pooled ``[CLS]``);
    ``forward_sequence``: ``(batch, T', 256)`` (the last layer's frame tokens, ``[CLS]``
    excluded), ``T' = ceil(T / 8)`` with the default strides.
    """

    name = "attention"
    input_kind = "tf"

    def __init__(
        self,
        in_shape: Sequence[int],
        channels: Sequence[int] = (128, 128, 256, 256, 256, 256, 256),
        strides: Sequence = ((2, 2), (2, 2), (2, 2), (2, 1), (2, 1), (2, 1), (2, 1)),
        num_layers: int = 2,
        num_heads: int = 8,
        ffn_dim: int = 1024,
        hidden_dropout: float = 0.4,
        attention_dropout: float = 0.5,
        positional_encoding: str | None = None,
        layer_norm_eps: float = 1e-12,
    ):
        super().__init__(in_shape)
        strides = _pairs(strides)
        if len(strides) != len(channels):
            raise ConfigError(f"attention: {len(channels)} channels but {len(strides)} strides")
        if positional_encoding not in (None, "sinusoidal"):
            raise ConfigError(
                f"attention: unknown positional_encoding {positional_encoding!r}; "
                "valid: None, 'sinusoidal'"
            )
        chans = [self.in_shape[0], *channels]
        blocks = [ResBlock2d(chans[i], chans[i + 1], s) for i, s in enumerate(strides)]
        self.blocks = nn.Sequential(*blocks)
        self.out_map_shape = check_fits(self.name, blocks, self.in_shape, TF_AXES)
        dim = int(chans[-1])
        self.positional_encoding = positional_encoding
        self.cls_token = nn.Parameter(torch.rand(1, 1, dim))
        self.layers = nn.ModuleList(
            [
                TransformerEncoderLayer(
                    dim, num_heads, ffn_dim, hidden_dropout, attention_dropout, layer_norm_eps
                )
                for _ in range(num_layers)
            ]
        )
        self.pooler = nn.Linear(dim, dim)
        self.embed_dim = self.sequence_dim = dim
        self.last_attention: list[torch.Tensor] | None = None

    def sequence_length(self, time: int) -> int:
        shape = (*self.in_shape[:-1], int(time))
        return int(check_fits(self.name, list(self.blocks), shape, TF_AXES)[-1])

    def encode(
        self, features: torch.Tensor, return_attention: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """All token outputs ``(batch, 1 + T', dim)`` (``[CLS]`` first) and attention maps."""
        self.check_features(features)
        if features.shape[-1] != self.in_shape[-1]:
            self.sequence_length(features.shape[-1])  # raises when too short
        x = self.blocks(features).amax(dim=2).transpose(1, 2)  # (B, T', D)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        if self.positional_encoding == "sinusoidal":
            x = x + sinusoidal_positions(x.shape[1], x.shape[2], x.device, x.dtype)
        maps = [] if return_attention else None
        for layer in self.layers:
            x, probs = layer(x, return_attention)
            if maps is not None:
                maps.append(probs)
        self.last_attention = maps
        return x, maps

    def forward_sequence(self, features: torch.Tensor) -> torch.Tensor:
        return self.encode(features)[0][:, 1:]

    def forward(
        self, features: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Pooled ``[CLS]`` embedding; with ``return_attention`` also the per-layer maps."""
        tokens, maps = self.encode(features, return_attention)
        emb = torch.tanh(self.pooler(tokens[:, 0]))
        return (emb, maps) if return_attention else emb


__all__ = ["SelfAttentionBackend", "TransformerEncoderLayer"]
