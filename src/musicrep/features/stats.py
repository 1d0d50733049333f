"""Running per-dimension statistics of frame features, for z-normalised targets.

PASE z-normalises every worker target with mean and standard deviation per feature dimension
measured on the training data (``make_trainset_statistics.py``). :class:`FeatureStats` keeps
those statistics as buffers (so they travel with a checkpoint), accumulates them batch by batch
on the features' device (float64, Chan et al.'s parallel update of count / mean / sum of
squared deviations, so the order and size of the batches does not matter), and normalises.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from musicrep.errors import ConfigError
from musicrep.features.base import check_positive_int


class FeatureStats(nn.Module):
    """Mean and standard deviation of each feature dimension over all frames seen.

    Parameters
    ----------
    dims : int
        Feature dimensions ``D``.
    eps : float
        Floor added to the standard deviation when normalising (constant dimensions).

    Examples
    --------
    >>> import torch
    >>> from musicrep.features import FeatureStats, create_feature
    >>> fx = create_feature("mfcc")
    >>> stats = FeatureStats(fx.dims)
    >>> stats.update(fx(torch.randn(4, 16000)))
    >>> z = stats.normalize(fx(torch.randn(2, 16000)))       # (2, 13, 101), ~zero mean
    """

    count: torch.Tensor
    mean: torch.Tensor
    m2: torch.Tensor

    def __init__(self, dims: int, eps: float = 1e-5):
        super().__init__()
        self.dims = check_positive_int("dims", dims)
        self.eps = float(eps)
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(self.dims, dtype=torch.float64))
        self.register_buffer("m2", torch.zeros(self.dims, dtype=torch.float64))

    def _rows(self, feats: torch.Tensor) -> torch.Tensor:
        if feats.dim() == 3 and feats.shape[1] == self.dims:  # (batch, dims, frames)
            return feats.transpose(1, 2).reshape(-1, self.dims)
        if feats.dim() == 2 and feats.shape[1] == self.dims:  # (rows, dims)
            return feats
        raise ConfigError(
            f"FeatureStats({self.dims}) takes (batch, {self.dims}, frames) or "
            f"(rows, {self.dims}) features; got {tuple(feats.shape)}"
        )

    @torch.no_grad()
    def update(self, feats: torch.Tensor) -> None:
        """Add every frame of ``feats`` ``(batch, dims, frames)`` (or ``(rows, dims)``)."""
        x = self._rows(feats).to(self.mean.device, torch.float64)
        n = x.shape[0]
        if n == 0:
            return
        if not torch.isfinite(x).all():
            raise ConfigError("FeatureStats.update got NaN/Inf features")
        mean_b = x.mean(dim=0)
        m2_b = (x - mean_b).square().sum(dim=0)
        total = self.count + n
        delta = mean_b - self.mean
        self.mean += delta * (n / total)
        self.m2 += m2_b + delta.square() * (self.count * n / total)
        self.count.fill_(total)

    @property
    def std(self) -> torch.Tensor:
        """Population standard deviation per dimension ``(dims,)`` (float64)."""
        if self.count < 1:
            raise ConfigError("FeatureStats has seen no frames", "call update() first")
        return (self.m2 / self.count).sqrt()

    def _shape_like(self, v: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        v = v.to(feats.device, feats.dtype)
        return v[:, None] if feats.dim() == 3 else v

    def normalize(self, feats: torch.Tensor) -> torch.Tensor:
        """``(feats - mean) / (std + eps)`` per dimension, same shape and dtype as ``feats``."""
        self._rows(feats)
        mean, std = self._shape_like(self.mean, feats), self._shape_like(self.std, feats)
        return (feats - mean) / (std + self.eps)

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`normalize`."""
        self._rows(z)
        mean, std = self._shape_like(self.mean, z), self._shape_like(self.std, z)
        return z * (std + self.eps) + mean

    @classmethod
    def fit(
        cls, extractor: nn.Module, waves: Iterable[torch.Tensor], eps: float = 1e-5
    ) -> FeatureStats:
        """Statistics of ``extractor(wave)`` over batches of waveforms ``(batch, samples)``."""
        stats = None
        with torch.no_grad():
            for wave in waves:
                feats = extractor(wave)
                if stats is None:
                    stats = cls(feats.shape[1], eps).to(feats.device)
                stats.update(feats)
        if stats is None:
            raise ConfigError("FeatureStats.fit got no batches")
        return stats

    def extra_repr(self) -> str:
        return f"dims={self.dims}, frames={int(self.count)}"


__all__ = ["FeatureStats"]
