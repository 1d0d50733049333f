"""Late fusion: average the track posteriors of independently trained models.

The late-fusion baseline of multi-view classification (Phan et al. 2021): each single-view net
is trained alone; at test time the per-track posteriors (chunk probabilities averaged per track,
as :func:`musicrep.evaluate_tracks.predict_tracks`) of every model are averaged and scored.

    >>> results = evaluate_late_fusion(["runs/mel/model", "runs/cqt/model"],
    ...                                "data/corpus/style.csv")        # doctest: +SKIP

Every model must be a tagging model (exported with ``vocab`` and ``task``) with the same
vocabulary, task and sample rate; their input lengths may differ (each cuts its own chunks).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from musicrep.errors import ConfigError


def evaluate_late_fusion(
    models: Sequence[str | os.PathLike],
    manifest: str | os.PathLike,
    split: str = "test",
    chunks: int = 16,
    device: str = "cpu",
    batch_size: int = 16,
    show_progress: bool = True,
) -> dict:
    """Score the average of the models' track posteriors on ``split`` of ``manifest``.

    Returns the :func:`~musicrep.evaluate_tracks.score_predictions` dict plus ``models`` and,
    under ``per_model``, each model's own metrics.
    """
    from musicrep import io
    from musicrep.data.dataset import TrackDataset
    from musicrep.data.manifest import Manifest
    from musicrep.evaluate_tracks import predict_tracks, score_predictions

    if len(models) < 2:
        raise ConfigError("late fusion needs at least two models", "pass several model folders")
    rows = Manifest.read(manifest)
    models = [_exported(m) for m in models]
    loaded = [io.load(m, device=device) for m in models]
    first = loaded[0][1]
    for path, (_, meta) in zip(models, loaded):
        if not meta.get("vocab") or not meta.get("task"):
            raise ConfigError(f"{path} is not a model with labels (an exported tagging model)")
        for key in ("vocab", "task", "sample_rate"):
            if meta.get(key) != first.get(key):
                raise ConfigError(
                    f"{path} differs from {models[0]} in {key}",
                    "late fusion averages models trained on the same labels",
                )
    vocab, task = list(first["vocab"]), first["task"]
    preds, per_model = [], {}
    for path, (model, meta) in zip(models, loaded):
        data = TrackDataset(
            rows,
            split,
            vocab,
            int(meta["sample_rate"]),
            int(meta["input_samples"]),
            task,
            n_chunks=chunks,
        )
        p = predict_tracks(
            model, data, device=device, batch_size=batch_size, show_progress=show_progress
        )
        order = np.argsort(p.indices)
        preds.append(p)
        per_model[str(path)] = score_predictions(p, vocab, task)["metrics"]
        preds[-1] = type(p)(p.scores[order], p.targets[order], p.indices[order], p.failed)
    common = set.intersection(*[set(p.indices.tolist()) for p in preds])
    keep = [np.isin(p.indices, sorted(common)) for p in preds]
    scores = np.mean([p.scores[k] for p, k in zip(preds, keep)], axis=0)
    fused = type(preds[0])(
        scores,
        preds[0].targets[keep[0]],
        preds[0].indices[keep[0]],
        [f for p in preds for f in p.failed],
    )
    out = {"split": split, "n_chunks": chunks, "models": [str(m) for m in models]}
    out.update(score_predictions(fused, vocab, task))
    out["per_model"] = per_model
    return out


def _exported(path: str | os.PathLike) -> str:
    """A model folder: ``path`` itself, or for a training run its best checkpoint exported
    once to ``<run>/model``."""
    from pathlib import Path

    from musicrep import io

    p = Path(path)
    if (p / "checkpoints").is_dir():
        out = p / "model"
        if not (out / "config.json").exists():
            io.export_run(p, out)
        return str(out)
    return str(p)


__all__ = ["evaluate_late_fusion"]
