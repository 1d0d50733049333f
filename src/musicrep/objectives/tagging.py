"""Objectives whose model predicts the labels: validation and test at track level.

:class:`TaggingObjective` is the shared base of the supervised objectives and COALA: the
exported model (:meth:`~musicrep.objectives.Objective.export_model`) maps a chunk to logits
``(batch, classes)``. Validation batches hold whole tracks (a ``"track"`` view, ``chunks``
equally spaced chunks each); their chunks are scored by :meth:`forward` (the validation loss is
the mean over all chunks), chunk probabilities are averaged per track, and at the end of the
epoch the tracks are scored: macro ``val/roc_auc`` and ``val/pr_auc`` for tags,
``val/accuracy`` and ``val/macro_f1`` for classes. The final evaluation scores the exported
model on the test split the same way (:func:`musicrep.evaluate_tracks.evaluate_tracks`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from musicrep.errors import ConfigError
from musicrep.objectives.base import TASKS, Objective, View


class TaggingObjective(Objective):
    """Base of objectives that train a model with labelled outputs (see the module docstring).

    Subclasses compute the loss in :meth:`forward` and return ``"logits"`` (detached,
    ``(batch, classes)``) outside training, build their head in ``__init__`` and return the
    encoder with it from :meth:`export_model`. ``self.vocab`` and ``self.task`` must be set.
    """

    needs_labels = True
    views = (View("wave"),)
    valid_views = (View("chunks", kind="track"),)

    #: Label vocabulary (output order).
    vocab: list[str]

    def _init_tagging(self, task: str, vocab: list[str] | None, num_outputs: int | None) -> None:
        if task not in TASKS:
            raise ConfigError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
        self.task = task
        if vocab is None:
            if num_outputs is None:
                raise ConfigError(f"{type(self).__name__} needs the vocabulary or num_outputs")
            vocab = [str(i) for i in range(int(num_outputs))]
        self.vocab = list(vocab)
        if num_outputs is not None and int(num_outputs) != len(self.vocab):
            raise ConfigError(
                f"num_outputs={num_outputs} differs from the vocabulary's {len(self.vocab)} labels"
            )
        self._val_outputs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    @property
    def num_outputs(self) -> int:
        return len(self.vocab)

    def activation(self, logits: torch.Tensor) -> torch.Tensor:
        """Map logits ``(batch, classes)`` to probabilities (sigmoid; softmax for single-label)."""
        if self.task == "singlelabel":
            return torch.softmax(logits, dim=-1)
        return torch.sigmoid(logits)

    def export_info(self) -> dict[str, Any]:
        return {"vocab": list(self.vocab), "task": self.task}

    # -- validation on whole tracks
    def validation_step(
        self, encoder: nn.Module | None, batch: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Score the chunks of ``batch["chunks"]`` ``(tracks, n, samples)`` and keep the
        per-track mean probabilities (tracks with ``ok`` False are left out)."""
        if "chunks" not in batch:
            return self(encoder, batch)
        chunks = batch["chunks"]
        b, n, t = chunks.shape
        ok = batch.get("ok")
        ok = ok.bool() if ok is not None else chunks.new_ones(b, dtype=torch.bool)
        keep = ok.repeat_interleave(n)
        flat = {"wave": chunks.reshape(b * n, t)[keep]}
        if "target" in batch:
            flat["target"] = batch["target"].repeat_interleave(n, dim=0)[keep]
        out = dict(self(encoder, flat)) if bool(keep.any()) else {}
        if out:
            out["batch_size"] = int(keep.sum())
        if "target" not in batch or (out and "logits" not in out):
            return out
        # track-level predictions: mean chunk probability per track (zeros for failed tracks,
        # kept so that every device gathers the same number of rows)
        track = chunks.new_zeros((b, self.num_outputs), dtype=torch.float32)
        if out:
            probs = self.activation(out["logits"].float())
            track[ok] = probs.reshape(-1, n, probs.shape[-1]).mean(dim=1)
        self._val_outputs.append((track, batch["target"].detach(), ok))
        return out

    def validation_epoch_end(self, gather: Callable[[torch.Tensor], torch.Tensor]) -> dict:
        """Track-level metrics of the predictions collected since the last call."""
        outputs, self._val_outputs = self._val_outputs, []
        if not outputs:
            return {}
        scores = gather(torch.cat([o[0] for o in outputs]))
        targets = gather(torch.cat([o[1] for o in outputs]))
        ok = gather(torch.cat([o[2] for o in outputs]))
        scores, targets = scores[ok].cpu().numpy(), targets[ok].cpu().numpy()
        if len(scores) == 0:
            return {}
        from musicrep.metrics import classification_metrics, tagging_metrics

        if targets.ndim == 2:
            summary = tagging_metrics(targets, scores, self.vocab).summary()
        else:
            summary = classification_metrics(targets, scores, self.vocab).summary()
        return {k: float(v) for k, v in summary.items() if np.isfinite(v)}

    # -- the test split
    def evaluate(self, encoder: nn.Module | None, data: Any) -> dict | None:
        """Track-level evaluation of the exported model on the test split
        (:func:`~musicrep.evaluate_tracks.evaluate_tracks`); None when the split is empty."""
        from musicrep.evaluate_tracks import evaluate_tracks

        model = self.export_model(encoder)
        test_set = data.track_dataset(self.vocab, self.task, model.input_samples)
        if test_set is None:
            return None
        model.to(data.device)
        was = model.training
        model.eval()
        try:
            return evaluate_tracks(
                model,
                test_set,
                device=data.device,
                batch_size=data.batch_size,
                num_workers=data.num_workers,
                show_progress=data.show_progress,
            )
        finally:
            model.train(was)


__all__ = ["TaggingObjective"]
