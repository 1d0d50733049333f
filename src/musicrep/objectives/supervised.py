"""Supervised objectives: binary cross-entropy for tags, cross-entropy for classes.

The model returns logits (no sigmoid in ``forward``); the losses apply the sigmoid/softmax
themselves (``BCEWithLogitsLoss``, ``cross_entropy``), which is numerically safer than the
``sigmoid`` + ``BCELoss`` of the original code of Won et al. (SMC 2020) and equal in value.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from musicrep.errors import ConfigError
from musicrep.objectives.base import OBJECTIVES, TASKS, Objective


@OBJECTIVES.register("supervised_multilabel")
class SupervisedMultiLabel(Objective):
    """Multi-label tagging with binary cross-entropy over every tag.

    Batches carry ``"wave"`` ``(batch, samples)`` and ``"target"`` ``(batch, tags)`` multi-hot.
    Returns ``loss`` (mean BCE over batch and tags) and ``logits`` (detached).
    """

    task = "multilabel"

    def forward(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        logits = model(batch["wave"])
        target = batch["target"].to(logits.dtype)
        loss = F.binary_cross_entropy_with_logits(logits, target)
        return {"loss": loss, "logits": logits.detach()}


@OBJECTIVES.register("supervised_singlelabel")
class SupervisedSingleLabel(Objective):
    """Single-label classification with cross-entropy.

    Batches carry ``"wave"`` ``(batch, samples)`` and ``"target"`` ``(batch,)`` class indices.
    Returns ``loss``, ``accuracy`` (of the batch) and ``logits`` (detached).

    Parameters
    ----------
    label_smoothing : float
        Passed to ``torch.nn.functional.cross_entropy`` (default 0: plain cross-entropy).
    """

    task = "singlelabel"

    def __init__(self, label_smoothing: float = 0.0):
        super().__init__()
        self.label_smoothing = float(label_smoothing)

    def forward(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        logits = model(batch["wave"])
        target = batch["target"].long()
        loss = F.cross_entropy(logits, target, label_smoothing=self.label_smoothing)
        accuracy = (logits.argmax(dim=1) == target).float().mean()
        return {"loss": loss, "accuracy": accuracy, "logits": logits.detach()}

    def activation(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.softmax(logits, dim=-1)


@OBJECTIVES.register("supervised")
def supervised(task: str = "multilabel", **kwargs) -> Objective:
    """The supervised objective for ``task``: BCE for ``"multilabel"``, CE for ``"singlelabel"``."""
    if task == "multilabel":
        if kwargs:
            raise ConfigError(f"supervised multi-label objective takes no options; got {kwargs}")
        return SupervisedMultiLabel()
    if task == "singlelabel":
        return SupervisedSingleLabel(**kwargs)
    raise ConfigError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
