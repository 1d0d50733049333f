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
    "AVModel",
    "ConcatAVHead",
    "ConcatFusion",
    "SharedAVHead",
    "build_av_head",
    "build_av_model",
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
        self.config = {
            "embed_dim": int(embed_dim),
            "channels": int(channels),
            "blocks": int(blocks),
        }

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


class SharedAVHead(nn.Module):
    """Everything of the shared-classifier model but its audio encoder: the visual encoder,
    the two projections to ``dim`` and ONE :class:`SharedClassifier` (the training objective
    owns this part; :class:`SharedClassifierAV` joins it to the audio encoder)."""

    cross_modal = True
    fusion = "shared"

    def __init__(
        self,
        audio_dim: int,
        visual_encoder: nn.Module,
        num_classes: int,
        *,
        dim: int = 128,
        margin: float | None = None,
        scale: float = 30.0,
    ):
        super().__init__()
        self.visual_encoder = visual_encoder
        self.audio_proj = nn.Linear(int(audio_dim), dim)
        self.visual_proj = nn.Linear(visual_encoder.embed_dim, dim)
        self.classifier = SharedClassifier(dim, num_classes, margin=margin, scale=scale)
        self.config = {
            "fusion": self.fusion,
            "audio_dim": int(audio_dim),
            "visual": dict(getattr(visual_encoder, "config", {}) or {}),
            "num_classes": int(num_classes),
            "dim": int(dim),
            "margin": margin,
            "scale": float(scale),
        }

    def audio_embedding(self, e_audio: torch.Tensor) -> torch.Tensor:
        return self.audio_proj(e_audio)

    def embed(self, e_audio, frames, mask=None) -> dict[str, torch.Tensor]:
        e_a = self.audio_proj(e_audio)
        e_v = self.visual_proj(self.visual_encoder(frames, mask))
        fused = torch.cat([F.normalize(e_a, dim=-1), F.normalize(e_v, dim=-1)], -1)
        return {"audio": e_a, "visual": e_v, "fused": fused}

    def loss(self, e_audio, frames, y, mask=None, weights=None) -> dict[str, torch.Tensor]:
        e = self.embed(e_audio, frames, mask)
        out = self.classifier.loss({"audio": e["audio"], "visual": e["visual"]}, y, weights)
        with torch.no_grad():
            for m in ("audio", "visual"):
                out[f"acc_{m}"] = (self.classifier.logits(e[m]).argmax(-1) == y).float().mean()
        return out


class ConcatAVHead(nn.Module):
    """The fusion baseline's part beyond the audio encoder: the visual encoder,
    ``[e_a; e_v] -> Linear -> ReLU -> Linear(dim)`` and a speaker classifier on the result."""

    cross_modal = False
    fusion = "concat"

    def __init__(self, audio_dim: int, visual_encoder: nn.Module, num_classes: int, dim=128):
        super().__init__()
        self.visual_encoder = visual_encoder
        d = int(audio_dim) + visual_encoder.embed_dim
        self.fuse = nn.Sequential(nn.Linear(d, dim), nn.ReLU(inplace=True), nn.Linear(dim, dim))
        self.classifier = nn.Linear(dim, num_classes)
        self.config = {
            "fusion": self.fusion,
            "audio_dim": int(audio_dim),
            "visual": dict(getattr(visual_encoder, "config", {}) or {}),
            "num_classes": int(num_classes),
            "dim": int(dim),
        }

    def audio_embedding(self, e_audio: torch.Tensor) -> torch.Tensor:
        return e_audio

    def embed(self, e_audio, frames, mask=None) -> dict[str, torch.Tensor]:
        e_v = self.visual_encoder(frames, mask)
        fused = self.fuse(torch.cat([e_audio, e_v], -1))
        return {"audio": e_audio, "visual": e_v, "fused": fused}

    def loss(self, e_audio, frames, y, mask=None, weights=None) -> dict[str, torch.Tensor]:
        e = self.embed(e_audio, frames, mask)
        logits = self.classifier(e["fused"])
        loss = F.cross_entropy(logits, y)
        acc = (logits.argmax(-1) == y).float().mean().detach()
        return {"loss": loss, "loss_fused": loss.detach(), "acc_fused": acc}


class AVModel(nn.Module):
    """An audio encoder joined to an AV head (:class:`SharedAVHead` or :class:`ConcatAVHead`):
    what the AV objectives export (kind ``"av"``, see :mod:`musicrep.io`).

    ``model(wave)`` is the audio embedding the model scores (the projection of the shared
    model, the encoder's output for the fusion baseline); ``model.embed(wave, frames, mask)``
    gives ``audio``, ``visual`` and ``fused``; ``model.encoder`` is the audio encoder (what
    ``musicrep embed`` uses).
    """

    export_kind = "av"

    def __init__(self, audio_encoder: nn.Module, head: nn.Module, frames: dict | None = None):
        super().__init__()
        self.audio_encoder, self.head = audio_encoder, head
        #: options of the frames the model was trained on (size, fps, num_frames...), reused
        #: by the evaluation (:mod:`musicrep.evaluate_av`)
        self.frames = dict(frames or {})

    @property
    def encoder(self) -> nn.Module:
        return self.audio_encoder

    @property
    def cross_modal(self) -> bool:
        return bool(self.head.cross_modal)

    @property
    def config(self) -> dict:
        audio = dict(getattr(self.audio_encoder, "config", {}) or {})
        name = "av_shared" if self.head.fusion == "shared" else "av_fusion"
        return {"name": name, "audio": audio, **self.head.config, "frames": dict(self.frames)}

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.head.audio_embedding(self.audio_encoder(wave))

    def embed(self, wave, frames, mask=None) -> dict[str, torch.Tensor]:
        return self.head.embed(self.audio_encoder(wave), frames, mask)

    def loss(self, wave, frames, y, mask=None, weights=None) -> dict[str, torch.Tensor]:
        return self.head.loss(self.audio_encoder(wave), frames, y, mask, weights)


class SharedClassifierAV(AVModel):
    """The multi-view AV model: audio and visual encoders, projections to ``dim``, and ONE
    :class:`SharedClassifier`. ``audio_encoder`` is any :class:`~musicrep.models.Encoder`
    (``(batch, samples)`` -> ``(batch, embed_dim)``); ``head`` joins an existing
    :class:`SharedAVHead` instead of building one."""

    def __init__(
        self,
        audio_encoder: nn.Module,
        visual_encoder: nn.Module | None = None,
        num_classes: int | None = None,
        *,
        dim: int = 128,
        margin: float | None = None,
        scale: float = 30.0,
        head: SharedAVHead | None = None,
    ):
        if head is None:
            head = SharedAVHead(
                audio_encoder.embed_dim,
                visual_encoder,
                num_classes,
                dim=dim,
                margin=margin,
                scale=scale,
            )
        super().__init__(audio_encoder, head)


class ConcatFusion(AVModel):
    """Baseline: ``[e_a; e_v] -> Linear -> ReLU -> Linear(dim)`` -> speaker classifier.

    Unimodal embeddings are the encoders' own outputs (not in a common space); only the fused
    embedding is trained for verification, so cross-modal trials are refused.
    """

    def __init__(
        self,
        audio_encoder: nn.Module,
        visual_encoder: nn.Module | None = None,
        num_classes: int | None = None,
        dim: int = 128,
        *,
        head: ConcatAVHead | None = None,
    ):
        if head is None:
            head = ConcatAVHead(audio_encoder.embed_dim, visual_encoder, num_classes, dim=dim)
        super().__init__(audio_encoder, head)


def build_av_head(config: dict) -> nn.Module:
    """An AV head from its ``config`` (:attr:`SharedAVHead.config` / :attr:`ConcatAVHead.config`)."""
    cfg = dict(config)
    fusion = cfg.pop("fusion", None)
    visual = VisualEncoder(**cfg.pop("visual"))
    audio_dim, classes = cfg.pop("audio_dim"), cfg.pop("num_classes")
    for key in ("name", "audio", "frames"):
        cfg.pop(key, None)
    if fusion == "shared":
        return SharedAVHead(audio_dim, visual, classes, **cfg)
    if fusion == "concat":
        return ConcatAVHead(audio_dim, visual, classes, **cfg)
    raise ConfigError(f"unknown AV fusion {fusion!r}", "use 'shared' or 'concat'")


def build_av_model(config: dict) -> AVModel:
    """Rebuild an exported AV model (kind ``"av"``) from its ``config``."""
    from musicrep.models import rebuild_encoder

    head = build_av_head(config)
    audio = rebuild_encoder(config["audio"])
    cls = SharedClassifierAV if head.fusion == "shared" else ConcatFusion
    model = cls(audio, head=head)
    model.frames = dict(config.get("frames") or {})
    return model


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
