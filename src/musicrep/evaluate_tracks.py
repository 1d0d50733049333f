"""Track-level evaluation of a tagging/classification model (Won et al., SMC 2020, protocol).

Each track of the evaluated split is cut into ``n_chunks`` (16) equally spaced chunks of the
model's input length; the model's chunk outputs are turned into probabilities (sigmoid for
multi-label tags, softmax for single-label classes) and averaged over the chunks, giving one
prediction per track. Multi-label tasks are scored by macro ROC-AUC and PR-AUC (tags with a single
class in the split are skipped and reported), single-label tasks by accuracy and macro F1
(:mod:`musicrep.metrics`).

Examples
--------
>>> ds = TrackDataset(manifest, "test", vocab, 16000, 59049, "multilabel")  # doctest: +SKIP
>>> results = evaluate_tracks(model, ds)                                    # doctest: +SKIP
>>> print(format_results(results))                                         # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from musicrep.data.dataset import SkippedFile, TrackDataset, check_task
from musicrep.metrics import classification_metrics, tagging_metrics
from musicrep.utils import progress


def activation_for(task: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Logits -> probabilities: sigmoid for ``"multilabel"``, softmax for ``"singlelabel"``."""
    if check_task(task) == "multilabel":
        return torch.sigmoid
    return lambda logits: torch.softmax(logits, dim=-1)


def average_chunks(probs: torch.Tensor, n_chunks: int) -> torch.Tensor:
    """Mean over each track's chunks: ``(tracks * n_chunks, C)`` -> ``(tracks, C)``."""
    if probs.shape[0] % n_chunks:
        raise ValueError(f"{probs.shape[0]} chunk predictions is not a multiple of {n_chunks}")
    return probs.reshape(-1, n_chunks, probs.shape[-1]).mean(dim=1)


@dataclass
class TrackPredictions:
    """Per-track averaged probabilities of one split.

    Attributes
    ----------
    scores : np.ndarray, shape (tracks, classes)
        Mean chunk probabilities of every track that could be decoded.
    targets : np.ndarray
        ``(tracks, classes)`` multi-hot or ``(tracks,)`` class indices.
    indices : np.ndarray, shape (tracks,)
        Dataset indices of the rows scored.
    failed : list of SkippedFile
        Rows skipped up front (unreadable headers, bad labels) or that failed to decode.
    """

    scores: np.ndarray
    targets: np.ndarray
    indices: np.ndarray
    failed: list[SkippedFile] = field(default_factory=list)


@torch.no_grad()
def predict_tracks(
    model: nn.Module,
    dataset: TrackDataset,
    *,
    device: str | torch.device | None = None,
    batch_size: int = 16,
    num_workers: int = 0,
    show_progress: bool = True,
) -> TrackPredictions:
    """Run ``model`` on every track of ``dataset`` and average its chunk probabilities.

    Parameters
    ----------
    model : nn.Module
        ``model(wave (batch, samples)) -> logits (batch, classes)``; evaluated in ``eval()`` mode
        (its training mode is restored afterwards).
    dataset : TrackDataset
        Tracks cut into ``dataset.n_chunks`` chunks of the model's input length.
    device : str or torch.device, optional
        Where to run (default: where the model's parameters are).
    batch_size : int
        Chunks per forward pass; tracks are grouped so that about this many chunks go at once
        (at least one whole track).
    num_workers : int
        DataLoader worker processes that decode the audio.
    show_progress : bool
        Show a progress bar (on a terminal only).
    """
    if device is None:
        param = next(iter(model.parameters()), None)
        device = param.device if param is not None else torch.device("cpu")
    device = torch.device(device)
    act = activation_for(dataset.task)
    tracks_per_batch = max(1, batch_size // dataset.n_chunks)
    loader = DataLoader(
        dataset, batch_size=tracks_per_batch, shuffle=False, num_workers=num_workers
    )
    was_training = model.training
    model.eval()
    scores, targets, indices = [], [], []
    failed_index: set[int] = set()
    try:
        for batch in progress(
            loader,
            desc=f"evaluating {dataset.split}",
            unit="batch",
            disable=None if show_progress else True,
        ):
            ok = batch["ok"].bool()
            failed_index.update(int(i) for i in batch["index"][~ok])
            if not ok.any():
                continue
            chunks = batch["chunks"][ok]
            b, n, t = chunks.shape
            logits = model(chunks.reshape(b * n, t).to(device))
            probs = average_chunks(act(logits.float()), n)
            scores.append(probs.cpu().numpy())
            targets.append(batch["target"][ok].numpy())
            indices.append(batch["index"][ok].numpy())
    finally:
        model.train(was_training)
    failed = list(dataset.skipped)
    for i in sorted(failed_index):
        item = dataset.items[i]
        failed.append(SkippedFile(str(item.path), "could not be decoded", item.line, dataset.split))
    n_classes = len(dataset.vocab)
    if scores:
        return TrackPredictions(
            np.concatenate(scores), np.concatenate(targets), np.concatenate(indices), failed
        )
    empty_t = np.zeros((0, n_classes) if dataset.task == "multilabel" else (0,))
    return TrackPredictions(np.zeros((0, n_classes)), empty_t, np.zeros(0, dtype=int), failed)


def score_predictions(predictions: TrackPredictions, vocab: list[str], task: str) -> dict:
    """Metrics of track predictions as a JSON-ready dict (see :func:`evaluate_tracks`)."""
    out: dict = {"task": task, "n_tracks": int(len(predictions.scores))}
    if len(predictions.scores) == 0:
        out["metrics"] = {}
    elif task == "multilabel":
        s = tagging_metrics(predictions.targets, predictions.scores, vocab)
        out["metrics"] = s.summary()
        out["per_tag"] = s.per_tag
        out["skipped_tags"] = s.skipped
    else:
        c = classification_metrics(predictions.targets, predictions.scores, vocab)
        out["metrics"] = c.summary()
        out["per_class_f1"] = c.per_class_f1
    out["failed_files"] = [
        {"path": f.path, "reason": f.reason, "line": f.line} for f in predictions.failed
    ]
    return out


def evaluate_tracks(
    model: nn.Module,
    dataset: TrackDataset,
    *,
    device: str | torch.device | None = None,
    batch_size: int = 16,
    num_workers: int = 0,
    show_progress: bool = True,
) -> dict:
    """Track-level evaluation of ``model`` on ``dataset``.

    Returns
    -------
    dict
        ``split``, ``task``, ``n_tracks``, ``n_chunks``, ``chunk_placement``, ``metrics``
        (``roc_auc``/``pr_auc`` macro for multi-label; ``accuracy``/``macro_f1`` for
        single-label), ``per_tag`` + ``skipped_tags`` (multi-label) or ``per_class_f1``, and
        ``failed_files`` (rows left out, with the reason).
    """
    preds = predict_tracks(
        model,
        dataset,
        device=device,
        batch_size=batch_size,
        num_workers=num_workers,
        show_progress=show_progress,
    )
    out = {"split": dataset.split, "n_chunks": dataset.n_chunks}
    out["chunk_placement"] = "linspace" if dataset.endpoint else "won2020"
    out.update(score_predictions(preds, dataset.vocab, dataset.task))
    return out


_LABELS = {
    "roc_auc": "ROC-AUC (macro)",
    "pr_auc": "PR-AUC (macro)",
    "accuracy": "accuracy",
    "macro_f1": "F1 (macro)",
}


def format_results(results: dict) -> str:
    """A plain-text table of :func:`evaluate_tracks` results, for the terminal."""
    lines = [
        f"track-level evaluation on split {results.get('split')!r}: "
        f"{results.get('n_tracks', 0)} tracks, {results.get('n_chunks', '?')} chunks per track"
    ]
    metrics = results.get("metrics", {})
    if not metrics:
        lines.append("  no track could be scored")
    width = max([len(v) for v in _LABELS.values()])
    for key, value in metrics.items():
        lines.append(f"  {_LABELS.get(key, key):<{width}}  {value:.4f}")
    skipped = results.get("skipped_tags") or {}
    if skipped:
        lines.append(
            f"  {len(skipped)} tag(s) left out (a single class in this split): "
            + ", ".join(sorted(skipped))
        )
    failed = results.get("failed_files") or []
    if failed:
        lines.append(f"  {len(failed)} file(s) could not be used:")
        lines.extend(f"    {f['path']}: {f['reason']}" for f in failed[:20])
        if len(failed) > 20:
            lines.append(f"    ... and {len(failed) - 20} more")
    return "\n".join(lines)
