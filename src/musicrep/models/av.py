"""Audio-visual speaker models (Sarı et al. 2021): a visual encoder, concatenation fusion and the
multi-view model with one classifier shared by both modalities, and the AV verification table.

- :class:`VisualEncoder`: a small 2-D CNN applied to every face frame, its frame embeddings
  averaged over time (frames marked as padding by a mask are left out).
- :class:`ConcatFusion` (baseline): audio and face embeddings concatenated, projected to one
  AV embedding, classified. Its embedding lives in the joint space only, so a trial with audio
  on one side and face on the other cannot be scored: :attr:`cross_modal` is False.
- :class:`SharedClassifierAV` (the paper's multi-view model): audio and visual encoders each
  project to ``d`` dimensions; ONE classification layer ``W (speakers x d)`` scores both, the
  loss is ``CE(W e_a, y) + CE(W e_v, y)`` (each weighted, optional additive angular margin
  on cosine logits, as in ArcFace/AAM-softmax; the paper's exact loss is unknown, so the margin
  is an option, default off). Sharing ``W`` pulls both modalities' embeddings of speaker ``y``
  towards the same class vector ``w_y``, which makes ``cos(e_a, e_v)`` meaningful:
  :attr:`cross_modal` is True.

Scoring (:func:`av_verification_table`) is the cosine of L2-normalised embeddings (the probes'
:func:`~musicrep.probes.verification.evaluate_verification`), with EER and minDCF for the
conditions ``audio``, ``visual``, ``fused`` (the concatenated L2-normalised embeddings of both
modalities for the shared model, the fusion embedding for the baseline), ``audio->visual``
(audio enrolment, face test) and ``visual->audio``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from musicrep.errors import ConfigError

__all__ = [
    "AV_CONDITIONS",
    "ConcatFusion",
    "SharedClassifier",
    "SharedClassifierAV",
    "VisualEncoder",
    "av_verification_table",
    "margin_logits",
]

AV_CONDITIONS = ("audio", "visual", "fused", "audio->visual", "visual->audio")
CROSS_MODAL = ("audio->visual", "visual->audio")


class VisualEncoder(nn.Module):
    """Face frames ``(batch, time, 3, H, W)`` (float in [0, 1]) -> ``(batch, embed_dim)``.

    Per frame: ``blocks`` conv(3x3)-BN-ReLU-maxpool(2) blocks doubling the channels from
    ``channels``, global average pooling, a linear layer; then the mean over the frames.
    """

    def __init__(self, embed_dim: int = 128, channels: int = 16, blocks: int = 3):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for i in range(blocks):
            c_out = channels * 2**i
            layers += [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            c_in = c_out
        self.cnn = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.proj = nn.Linear(c_in, embed_dim)
        self.embed_dim = embed_dim

    def forward(self, frames: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if frames.dim() != 5:
            raise ValueError(f"frames must be (batch, time, 3, H, W); got {tuple(frames.shape)}")
        b, t = frames.shape[:2]
        per_frame = self.proj(self.cnn(frames.flatten(0, 1))).view(b, t, -1)
        if mask is None:
            return per_frame.mean(1)
        w = mask.to(per_frame.dtype).unsqueeze(-1)
        return (per_frame * w).sum(1) / w.sum(1).clamp_min(1.0)


def margin_logits(
    e: torch.Tensor, weight: torch.Tensor, y: torch.Tensor, margin: float, scale: float
) -> torch.Tensor:
    """Additive angular margin logits: ``s * cos(theta_j)``, with ``cos(theta_y + m)`` for the
    true class (``m = 0`` gives the plain cosine-softmax logits)."""
    cos = F.linear(F.normalize(e, dim=-1), F.normalize(weight, dim=-1)).clamp(-1 + 1e-7, 1 - 1e-7)
    if margin:
        target = torch.cos(torch.acos(cos.gather(1, y[:, None])) + margin)
        cos = cos.scatter(1, y[:, None], target)
    return scale * cos


class SharedClassifier(nn.Module):
    """One speaker classifier ``W (classes x dim)`` applied to the embeddings of every modality.

    ``loss({"audio": e_a, "visual": e_v}, y)`` is ``sum_m weight_m * CE(logits(e_m), y)`` and
    returns the per-modality losses too. ``margin=None``: a plain linear softmax layer (with
    bias); a float: cosine logits with that additive angular margin and ``scale``.
    """

    def __init__(
        self, dim: int, num_classes: int, *, margin: float | None = None, scale: float = 30.0
    ):
        super().__init__()
        if margin is not None and not 0.0 <= margin < math.pi / 2:
            raise ConfigError(f"angular margin must be in [0, pi/2) radians; got {margin}")
        self.linear = nn.Linear(dim, num_classes, bias=margin is None)
        self.margin, self.scale = margin, scale

    def logits(self, e: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.margin is None:
            return self.linear(e)
        m = self.margin if (y is not None and self.training) else 0.0
        yy = y if y is not None else torch.zeros(e.shape[0], dtype=torch.long, device=e.device)
        return margin_logits(e, self.linear.weight, yy, m, self.scale)

    def loss(
        self,
        embeddings: dict[str, torch.Tensor],
        y: torch.Tensor,
        weights: dict[str, float] | None = None,
    ) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        total = 0.0
        for name, e in embeddings.items():
            out[f"loss_{name}"] = F.cross_entropy(self.logits(e, y), y)
            total = total + (weights or {}).get(name, 1.0) * out[f"loss_{name}"]
        out["loss"] = total  # type: ignore[assignment]
        return out


class SharedClassifierAV(nn.Module):
    """The multi-view AV model: audio and visual encoders, projections to ``dim``, and ONE
    :class:`SharedClassifier`. ``audio_encoder`` is any :class:`~musicrep.models.Encoder`
    (``(batch, samples)`` -> ``(batch, embed_dim)``)."""

    cross_modal = True

    def __init__(
        self,
        audio_encoder: nn.Module,
        visual_encoder: nn.Module,
        num_classes: int,
        *,
        dim: int = 128,
        margin: float | None = None,
        scale: float = 30.0,
    ):
        super().__init__()
        self.audio_encoder, self.visual_encoder = audio_encoder, visual_encoder
        self.audio_proj = nn.Linear(audio_encoder.embed_dim, dim)
        self.visual_proj = nn.Linear(visual_encoder.embed_dim, dim)
        self.classifier = SharedClassifier(dim, num_classes, margin=margin, scale=scale)

    def embed(
        self, wave: torch.Tensor, frames: torch.Tensor, mask: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        e_a = self.audio_proj(self.audio_encoder(wave))
        e_v = self.visual_proj(self.visual_encoder(frames, mask))
        fused = torch.cat([F.normalize(e_a, dim=-1), F.normalize(e_v, dim=-1)], -1)
        return {"audio": e_a, "visual": e_v, "fused": fused}

    def loss(self, wave, frames, y, mask=None, weights=None) -> dict[str, torch.Tensor]:
        e = self.embed(wave, frames, mask)
        return self.classifier.loss({"audio": e["audio"], "visual": e["visual"]}, y, weights)


class ConcatFusion(nn.Module):
    """Baseline: ``[e_a; e_v] -> Linear -> ReLU -> Linear(dim)`` -> speaker classifier.

    Unimodal embeddings are the encoders' own outputs (not in a common space); only the fused
    embedding is trained for verification, so cross-modal trials are refused.
    """

    cross_modal = False

    def __init__(
        self, audio_encoder: nn.Module, visual_encoder: nn.Module, num_classes: int, dim=128
    ):
        super().__init__()
        self.audio_encoder, self.visual_encoder = audio_encoder, visual_encoder
        d = audio_encoder.embed_dim + visual_encoder.embed_dim
        self.fuse = nn.Sequential(nn.Linear(d, dim), nn.ReLU(inplace=True), nn.Linear(dim, dim))
        self.classifier = nn.Linear(dim, num_classes)

    def embed(self, wave, frames, mask=None) -> dict[str, torch.Tensor]:
        e_a, e_v = self.audio_encoder(wave), self.visual_encoder(frames, mask)
        return {"audio": e_a, "visual": e_v, "fused": self.fuse(torch.cat([e_a, e_v], -1))}

    def loss(self, wave, frames, y, mask=None, weights=None) -> dict[str, torch.Tensor]:
        e = self.embed(wave, frames, mask)
        loss = F.cross_entropy(self.classifier(e["fused"]), y)
        return {"loss": loss, "loss_fused": loss}


def av_verification_table(
    embeddings: dict[str, np.ndarray],
    enroll: Sequence[int],
    test: Sequence[int],
    labels: np.ndarray,
    *,
    cross_modal: bool,
    conditions: Sequence[str] = AV_CONDITIONS,
) -> dict[str, dict[str, float]]:
    """EER and minDCF per condition of one trial list.

    Parameters
    ----------
    embeddings : dict
        ``"audio"``, ``"visual"`` and ``"fused"`` arrays ``(utterances, D)`` (rows = utterances).
    enroll, test : sequence of int
        Row of each trial's enrolment and test utterance.
    labels : np.ndarray
        1 target, 0 non-target.
    cross_modal : bool
        Whether the model's audio and visual embeddings share a space (the model's
        ``cross_modal``); cross-modal conditions of a model without it raise :class:`ConfigError`.
    """
    from musicrep.probes.verification import evaluate_verification

    enroll, test = np.asarray(enroll), np.asarray(test)
    table: dict[str, dict[str, float]] = {}
    for cond in conditions:
        if cond not in AV_CONDITIONS:
            raise ConfigError(f"unknown AV condition {cond!r}", f"use {', '.join(AV_CONDITIONS)}")
        if cond in CROSS_MODAL:
            if not cross_modal:
                raise ConfigError(
                    f"cross-modal trials ({cond}) need audio and visual embeddings in one space; "
                    "this model (concatenation fusion) has none",
                    "train the shared-classifier model (SharedClassifierAV) for cross-modal "
                    "verification, or leave out the audio->visual / visual->audio conditions",
                )
            a, b = cond.split("->")
        else:
            a = b = cond
        ea, eb = embeddings[a], embeddings[b]
        if ea.shape[1] != eb.shape[1]:
            raise ConfigError(f"{cond}: embedding sizes differ ({ea.shape[1]} vs {eb.shape[1]})")
        res = evaluate_verification(ea[enroll], eb[test], labels)
        table[cond] = {
            "eer": float(res.metrics["eer"]["mean"]),
            "min_dcf": float(res.metrics["min_dcf"]["mean"]),
            "trials": int(len(labels)),
        }
    return table
