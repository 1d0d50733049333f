"""Supervised objectives: binary cross-entropy for tags, cross-entropy for classes.

The objective adds the zoo model's classifier head (:func:`musicrep.models.create_head`: its
hidden size and dropout, overridable with ``model.head_hidden`` / ``model.dropout``) to the
encoder; the head returns logits (no sigmoid in ``forward``) and the losses apply the
sigmoid/softmax themselves (``BCEWithLogitsLoss``, ``cross_entropy``), which is numerically
safer than the ``sigmoid`` + ``BCELoss`` of the original code of Won et al. (SMC 2020) and
equal in value. The exported model is the encoder with its head, a
:class:`~musicrep.models.TaggingModel`, saved with the vocabulary and the task.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from musicrep.errors import ConfigError
from musicrep.objectives.base import OBJECTIVES, TASKS, Objective
from musicrep.objectives.tagging import TaggingObjective

#: A tiny zoo encoder for tests (about 6 k parameters with its head).
_TINY_MUSICNN = {
    "name": "musicnn",
    "input_samples": 8000,
    "frontend_kwargs": {"n_mels": 32},
    "backend_kwargs": {
        "timbral_filters": 8,
        "temporal_filters": 4,
        "mid_channels": 8,
        "temporal_lengths": [9, 5],
    },
    "head_hidden": 16,
}


class _Supervised(TaggingObjective):
    """Shared part: the head on the encoder, and the export as a TaggingModel."""

    model_options = ("dropout", "head_hidden")

    def __init__(
        self,
        task: str,
        encoder: nn.Module | None = None,
        vocab: list[str] | None = None,
        num_outputs: int | None = None,
        model_config: dict[str, Any] | None = None,
        head: nn.Module | None = None,
    ):
        super().__init__()
        self._init_tagging(task, vocab, num_outputs)
        cfg = dict(model_config or getattr(encoder, "config", None) or {})
        self.encoder_config = {k: v for k, v in cfg.items() if k not in ("dropout", "head_hidden")}
        self.head_config: dict[str, Any] = {}
        if head is None:
            if encoder is None:
                raise ConfigError("the supervised objective needs an encoder (a model: section)")
            from musicrep.models import create_head

            options = {k: cfg[k] for k in ("dropout", "head_hidden") if k in cfg}
            head, self.head_config = create_head(
                cfg.get("name"), int(encoder.embed_dim), self.num_outputs, **options
            )
        self.head = head

    def logits(self, encoder: nn.Module, wave: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` -> logits ``(batch, classes)``."""
        return self.head(encoder(wave))

    def export_model(self, encoder: nn.Module | None) -> nn.Module:
        """The encoder with the head: a :class:`~musicrep.models.TaggingModel` whose ``config``
        rebuilds it through :func:`~musicrep.models.rebuild_model` (None for encoders without a
        config)."""
        from musicrep.models import TaggingModel
        from musicrep.models.factory import model_config

        config = None
        enc_cfg = getattr(encoder, "config", None)
        if isinstance(enc_cfg, dict) and self.head_config:
            config = model_config(enc_cfg, self.head_config)
        return TaggingModel(encoder, self.head, self.num_outputs, config)

    @classmethod
    def example_config(cls) -> dict[str, Any]:
        task = getattr(cls, "task", None) or "multilabel"
        return {"model": dict(_TINY_MUSICNN), "objective": {}, "task": task}


@OBJECTIVES.register("supervised_multilabel")
class SupervisedMultiLabel(_Supervised):
    """Multi-label tagging with binary cross-entropy over every tag.

    Batches carry ``"wave"`` ``(batch, samples)`` and ``"target"`` ``(batch, tags)`` multi-hot.
    Returns ``loss`` (mean BCE over batch and tags) and ``logits`` (detached).
    """

    task = "multilabel"

    def __init__(
        self,
        encoder: nn.Module | None = None,
        task: str = "multilabel",
        vocab: list[str] | None = None,
        num_outputs: int | None = None,
        model_config: dict[str, Any] | None = None,
        head: nn.Module | None = None,
    ):
        if task != "multilabel":
            raise ConfigError(f"supervised_multilabel trains multi-label tasks; got {task!r}")
        super().__init__("multilabel", encoder, vocab, num_outputs, model_config, head)

    def forward(self, encoder: nn.Module, batch: dict[str, torch.Tensor]) -> dict:
        logits = self.logits(encoder, batch["wave"])
        target = batch["target"].to(logits.dtype)
        loss = F.binary_cross_entropy_with_logits(logits, target)
        return {"loss": loss, "logits": logits.detach()}


@OBJECTIVES.register("supervised_singlelabel")
class SupervisedSingleLabel(_Supervised):
    """Single-label classification with cross-entropy.

    Batches carry ``"wave"`` ``(batch, samples)`` and ``"target"`` ``(batch,)`` class indices.
    Returns ``loss``, ``accuracy`` (of the batch) and ``logits`` (detached).

    Parameters
    ----------
    label_smoothing : float
        Passed to ``torch.nn.functional.cross_entropy`` (default 0: plain cross-entropy).
    """

    task = "singlelabel"

    def __init__(
        self,
        encoder: nn.Module | None = None,
        task: str = "singlelabel",
        label_smoothing: float = 0.0,
        vocab: list[str] | None = None,
        num_outputs: int | None = None,
        model_config: dict[str, Any] | None = None,
        head: nn.Module | None = None,
    ):
        if task != "singlelabel":
            raise ConfigError(f"supervised_singlelabel trains single-label tasks; got {task!r}")
        super().__init__("singlelabel", encoder, vocab, num_outputs, model_config, head)
        self.label_smoothing = float(label_smoothing)

    def forward(self, encoder: nn.Module, batch: dict[str, torch.Tensor]) -> dict:
        logits = self.logits(encoder, batch["wave"])
        target = batch["target"].long()
        loss = F.cross_entropy(logits, target, label_smoothing=self.label_smoothing)
        accuracy = (logits.argmax(dim=1) == target).float().mean()
        return {"loss": loss, "accuracy": accuracy, "logits": logits.detach()}


@OBJECTIVES.register("supervised")
def supervised(
    task: str = "multilabel",
    encoder: nn.Module | None = None,
    vocab: list[str] | None = None,
    num_outputs: int | None = None,
    model_config: dict[str, Any] | None = None,
    **options,
) -> Objective:
    """The supervised objective for ``task``: BCE for ``"multilabel"``, CE for ``"singlelabel"``.

    The single-label objective takes ``label_smoothing``; both take ``head`` (a module replacing
    the zoo head, for programmatic use).
    """
    context = {"vocab": vocab, "num_outputs": num_outputs, "model_config": model_config}
    if task == "multilabel":
        unknown = sorted(set(options) - {"head"})
        if unknown:
            raise ConfigError(
                f"the supervised multi-label objective takes no options; got {unknown}",
                "label_smoothing applies to single-label tasks",
            )
        return SupervisedMultiLabel(encoder, task, **context, **options)
    if task == "singlelabel":
        return SupervisedSingleLabel(encoder, task, **options, **context)
    raise ConfigError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")


supervised.needs_labels = True  # type: ignore[attr-defined]
supervised.model_options = _Supervised.model_options  # type: ignore[attr-defined]
supervised.example_config = lambda: {  # type: ignore[attr-defined]
    "model": dict(_TINY_MUSICNN),
    "objective": {},
    "task": "singlelabel",
}
