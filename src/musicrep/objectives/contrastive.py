"""CLMR (Spijkervet & Burgoyne, ISMIR 2021): SimCLR on raw audio, for any encoder.

Two crops of each clip (two independent ``crop`` views, ``view_a`` and ``view_b``) are
augmented independently on the device with the ``clmr`` preset of :mod:`musicrep.augment`
(polarity 0.8, noise 0.01, gain 0.3, high/low-pass 0.8, delay 0.3, pitch shift 0.6, reverb 0.6;
``augment_p`` overrides any probability), embedded by the encoder (``h``, the encoder's
``embed_dim``), projected by the MLP head ``g`` (``embed_dim -> embed_dim -> ReLU ->
projection_dim``, 64 in CLMR), and scored with NT-Xent (:func:`nt_xent`, temperature 0.5):
for each of the 2N projections the positive is the other view of the same clip and the
2N - 2 views of the other clips are the negatives. The projection head is dropped at export:
the exported model is the encoder alone (an embedding model).

CLMR crops 59,049 samples at 22,050 Hz for SampleCNN; here each view has the encoder's native
chunk at the encoder's rate (``configs/clmr.yaml`` sets SampleCNN to 22,050 Hz). CLMR's
RandomResizedCrop is the view's random crop; two views of a clip are independent crops [code].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from musicrep.augment import clmr as clmr_preset
from musicrep.errors import ConfigError
from musicrep.models.factory import ENCODER_KEYS
from musicrep.objectives.base import OBJECTIVES, Objective, View
from musicrep.objectives.supervised import _TINY_MUSICNN

#: CLMR's defaults: NT-Xent temperature, projection size.
TEMPERATURE = 0.5
PROJECTION_DIM = 64


def nt_xent(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float = TEMPERATURE) -> torch.Tensor:
    """SimCLR's normalised-temperature cross-entropy over 2N projections.

    ``z = normalize(cat(z_a, z_b))``, ``s = z z^T / tau``; for anchor ``k`` with positive
    ``p(k)`` (its other view) the loss is ``-log(exp(s_kp) / sum_{j != k} exp(s_kj))``,
    averaged over the 2N anchors (SimCLR divides the summed cross-entropy by 2N).

    Parameters
    ----------
    z_a, z_b : Tensor, shape (batch, dim)
        Projections of the two views (row ``b`` of both from clip ``b``); batch >= 2.
    temperature : float
    """
    if z_a.shape != z_b.shape or z_a.dim() != 2:
        raise ConfigError(
            f"nt_xent takes two (batch, dim) tensors; got {tuple(z_a.shape)}, {tuple(z_b.shape)}"
        )
    n = z_a.shape[0]
    if n < 2:
        raise ConfigError(
            "NT-Xent needs at least 2 clips per batch (negatives)", "raise batch_size"
        )
    z = F.normalize(torch.cat([z_a, z_b]).float(), dim=-1)
    logits = z @ z.t() / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    positive = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, positive)


class _ClmrAugment(nn.Module):
    """The ``clmr`` preset as a view transform (no crop: the view is the crop)."""

    def __init__(self, sample_rate: int, p: Mapping[str, float] | None):
        super().__init__()
        self.chain = clmr_preset(sample_rate=sample_rate, num_samples=None, p=p)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.chain(wave)


@OBJECTIVES.register("clmr")
class ClmrObjective(Objective):
    """Contrastive learning of musical representations (see the module docstring).

    Parameters
    ----------
    encoder : Encoder
        Any zoo encoder (passed by the trainer); CLMR's is ``samplecnn``.
    embed_dim : int
        The encoder's embedding size (passed by the trainer).
    projection_dim : int
        Output of the projection head (64).
    temperature : float
        NT-Xent tau (0.5).
    augment : bool
        Apply the ``clmr`` augmentations to both views (True; False: crops only, an ablation).
    augment_p : dict, optional
        Probabilities overriding the preset's, by name (``polarity``, ``noise``, ``gain``,
        ``filters``, ``delay``, ``pitch``, ``reverb``).
    """

    monitor = ("val/loss", "min")

    def __init__(
        self,
        encoder: nn.Module,
        embed_dim: int | None = None,
        projection_dim: int = PROJECTION_DIM,
        temperature: float = TEMPERATURE,
        augment: bool = True,
        augment_p: Mapping[str, float] | None = None,
    ):
        super().__init__()
        if encoder is None:
            raise ConfigError("the clmr objective needs a model: section (the encoder)")
        if not temperature > 0:
            raise ConfigError(f"objective.temperature must be > 0; got {temperature}")
        dim = int(embed_dim or encoder.embed_dim)
        self.temperature = float(temperature)
        self.projector = nn.Sequential(
            nn.Linear(dim, dim, bias=False),
            nn.ReLU(),
            nn.Linear(dim, int(projection_dim), bias=False),
        )
        # one transform module per view (independent draws); submodules so they move with it
        self.augment_a = _ClmrAugment(encoder.sample_rate, augment_p) if augment else None
        self.augment_b = _ClmrAugment(encoder.sample_rate, augment_p) if augment else None
        self.views = (
            View("view_a", "crop", transform=self.augment_a),
            View("view_b", "crop", transform=self.augment_b),
        )

    def forward(self, encoder, batch):
        h_a, h_b = encoder(batch["view_a"]), encoder(batch["view_b"])
        loss = nt_xent(self.projector(h_a), self.projector(h_b), self.temperature)
        with torch.no_grad():
            # a batch metric: how often the other view is the nearest neighbour
            z = F.normalize(torch.cat([h_a, h_b]).float(), dim=-1)
            s = (z @ z.t()).fill_diagonal_(-2.0)
            n = h_a.shape[0]
            target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
            top1 = (s.argmax(dim=1) == target).float().mean()
        return {"loss": loss, "top1": top1}

    @classmethod
    def example_config(cls) -> dict[str, Any]:
        return {
            "model": {k: v for k, v in _TINY_MUSICNN.items() if k in ENCODER_KEYS},
            "objective": {"projection_dim": 16, "augment_p": {"pitch": 0.0, "reverb": 0.0}},
            "task": None,
        }


__all__ = ["PROJECTION_DIM", "TEMPERATURE", "ClmrObjective", "nt_xent"]
