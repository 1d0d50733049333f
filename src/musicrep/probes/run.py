"""Evaluate embeddings aligned with manifest rows: pick the task, partition, run a probe."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from musicrep.data.manifest import Manifest, ManifestRow
from musicrep.errors import ConfigError
from musicrep.metrics import DCF_C_FA, DCF_C_MISS, DCF_P_TARGET
from musicrep.probes.base import (
    PROBES,
    TASKS,
    ClassifierProbe,
    EvalResult,
    aggregate,
    classifier_probes,
)
from musicrep.probes.coala import DEFAULT_REPEATS
from musicrep.probes.hear import HEAR_GRID_POINTS
from musicrep.probes.partition import VALID_FRACTION, partitions

__all__ = ["as_manifest", "detect_task", "evaluate_embeddings"]


def as_manifest(manifest: Manifest | Iterable[ManifestRow] | Iterable[Mapping]) -> Manifest:
    """A :class:`Manifest` from a manifest, ``ManifestRow`` objects or CSV-shaped dicts."""
    if isinstance(manifest, Manifest):
        return manifest
    rows = list(manifest)
    if all(isinstance(r, ManifestRow) for r in rows):
        return Manifest(rows)
    return Manifest.from_rows(rows)


def _where(row: ManifestRow) -> str:
    return f"line {row.line}: {row.path}" if row.line else str(row.path)


def detect_task(manifest: Manifest, task: str = "auto") -> tuple[str, str]:
    """The task to evaluate and why, e.g. ``("multilabel", "auto: 1 row has no label ...")``.

    ``auto``: multi-label when some row has several labels, else single-label (the rule of
    :attr:`Manifest.is_multilabel`); the reason counts the rows with several or no labels and
    shows the first of each kind. Rows with no label do not make a task multi-label: in a
    single-label task the first one stops the evaluation, named (:meth:`Manifest.label_indices`).

    Raises
    ------
    ConfigError
        No row has a label (``auto``), or an unknown task.
    """
    if task != "auto":
        if task not in TASKS:
            raise ConfigError(f"unknown task {task!r}", f"use auto or one of {', '.join(TASKS)}")
        return task, f"task={task} was asked for"
    if not any(r.labels for r in manifest):
        raise ConfigError(
            f"{manifest.source}: no row has a label", "evaluation needs labelled rows"
        )
    several = [r for r in manifest if len(r.labels) > 1]
    none = [r for r in manifest if not r.labels]
    if not several and not none:
        n = len(manifest.vocabulary())
        return "singlelabel", f"auto: every row has exactly one label ({n} classes)"
    if not several:
        return "singlelabel", (
            f"auto: no row has several labels; {len(none)} row(s) have no label "
            f"(e.g. {_where(none[0])})"
        )
    parts = [f"{len(several)} row(s) have several labels (e.g. {_where(several[0])})"]
    if none:
        parts.append(f"{len(none)} row(s) have no label (e.g. {_where(none[0])})")
    return "multilabel", "auto: " + " and ".join(parts)


def _check_inputs(X: np.ndarray, manifest: Manifest) -> None:
    if X.ndim != 2 or X.shape[0] != len(manifest):
        raise ConfigError(
            f"embeddings have shape {X.shape} but the manifest has {len(manifest)} rows",
            "pass one embedding per row (use join() to align an embeddings file)",
        )
    if not np.isfinite(X).all():
        raise ConfigError("embeddings contain NaN or inf")


def _targets(manifest: Manifest, task: str) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    """Vocabulary, targets (indices or multi-hot) and the labels to stratify by."""
    vocab = manifest.vocabulary()
    if task == "singlelabel":
        y = manifest.label_indices(vocab)
        return vocab, y, y
    return vocab, manifest.multi_hot(vocab), None


def _probe(protocol: str, options: Mapping[str, Any]) -> ClassifierProbe:
    names = classifier_probes()
    if protocol not in names:
        raise ConfigError(f"unknown protocol {protocol!r}", f"use one of {', '.join(names)}")
    cls = PROBES.get(protocol)
    return cls(**{k: v for k, v in options.items() if k in cls.options})  # type: ignore[return-value]


def evaluate_embeddings(
    X: np.ndarray,
    manifest: Manifest | Iterable[ManifestRow] | Iterable[Mapping],
    *,
    protocol: str = "coala",
    task: str = "auto",
    repeats: int = DEFAULT_REPEATS,
    seed: int = 0,
    standardize: bool | None = None,
    folds: bool | None = None,
    mlp_params: Mapping[str, Any] | None = None,
    grid: str | Mapping[str, Sequence] = "default",
    grid_points: int = HEAR_GRID_POINTS,
    valid_fraction: float = VALID_FRACTION,
    device: str = "cpu",
    p_target: float = DCF_P_TARGET,
    c_miss: float = DCF_C_MISS,
    c_fa: float = DCF_C_FA,
    progress: bool = True,
) -> EvalResult:
    """Evaluate embeddings aligned with manifest rows with a registered probe.

    Parameters
    ----------
    X : np.ndarray, shape (rows, D)
        One embedding per manifest row, in row order
        (:func:`musicrep.embeddings.join` aligns a file's).
    manifest : Manifest, or rows (``ManifestRow`` or dicts shaped like CSV rows)
        Labels, splits and optional folds.
    protocol : {"coala", "hear"}
        The classifier probe (:data:`musicrep.probes.PROBES`).
    task : {"auto", "singlelabel", "multilabel", "verification"}
        ``auto``: multi-label when some row has zero or several labels, else single-label
        (:func:`detect_task`; the reason is in ``config["task_reason"]``). ``verification``
        pairs every two ``test`` rows (target = same label).
    repeats : int
        Training runs per partition, with seeds ``seed .. seed + repeats - 1``.
    seed : int
        First seed (also shuffles the hear grid and draws held-out validation rows).
    standardize : bool, optional
        Scale with the training rows' mean/std; default: the probe's (coala yes, hear no).
    folds : bool, optional
        Leave-one-fold-out (True), train/test splits (False), or auto (None: folds when every
        row has one and there are at least 2).
    mlp_params : mapping, optional
        coala: overrides of ``MLPClassifier``'s arguments (e.g. ``{"max_iter": 50}``).
    grid, grid_points, valid_fraction, device
        hear: grid preset or overrides, points tried, held-out validation fraction (when the
        manifest has no valid rows), torch device.
    p_target, c_miss, c_fa : float
        Verification cost parameters.
    progress : bool
        Show a progress bar (on a terminal only).

    Returns
    -------
    EvalResult
    """
    manifest = as_manifest(manifest)
    X = np.asarray(X)
    _check_inputs(X, manifest)
    task, reason = detect_task(manifest, task)
    if task == "verification":
        probe = PROBES.create("verification", p_target=p_target, c_miss=c_miss, c_fa=c_fa)
        result = probe.score_rows(X, manifest)  # type: ignore[attr-defined]
        result.config["task_reason"] = reason
        return result
    manifest.warn_label_case()  # BACH / bach would silently be two classes
    options = {"mlp_params": mlp_params, "grid": grid, "grid_points": grid_points}
    options.update(valid_fraction=valid_fraction, device=device)
    probe = _probe(protocol, options)
    if repeats < 1:
        raise ConfigError(f"repeats must be >= 1; got {repeats}")
    vocab, y, y_strat = _targets(manifest, task)
    notes: list[str] = []
    parts = partitions(
        manifest,
        need_valid=probe.needs_valid,
        use_folds=folds,
        valid_fraction=valid_fraction,
        seed=seed,
        y_strat=y_strat,
        notes=notes,
        unused_valid=probe.unused_valid,
    )
    standardize = probe.standardize_default if standardize is None else standardize
    X = X.astype(probe.dtype)
    seeds = [seed + r for r in range(repeats)]
    config: dict[str, Any] = {
        "protocol": protocol,
        "task": task,
        "task_reason": reason,
        "repeats": repeats,
        "seeds": seeds,
        "standardize": bool(standardize),
        "partitions": "folds" if parts[0].fold is not None else "splits",
        "n_rows": len(manifest),
        "dim": int(X.shape[1]),
    }
    _check_classes(parts, y, task, vocab)
    per_fold = probe.run(
        X,
        y,
        parts,
        task=task,
        vocab=vocab,
        seeds=seeds,
        standardize=standardize,
        config=config,
        notes=notes,
        progress=progress,
    )
    return _result(task, protocol, per_fold, parts, config, vocab, notes)


def _check_classes(parts, y: np.ndarray, task: str, vocab: list[str]) -> None:
    if task != "singlelabel":
        return
    for p in parts:
        classes_train = np.unique(y[p.train])
        if len(classes_train) < 2:
            raise ConfigError(
                f"{p.name}: the training rows hold a single class ({vocab[classes_train[0]]})",
                "a classifier needs at least 2 classes to train on",
            )


def _result(task, protocol, per_fold, parts, config, vocab, notes) -> EvalResult:
    metrics = aggregate(per_fold, task)
    skipped: dict[str, str] = {}
    for pf in per_fold:
        for tag, why in pf["skipped_tags"].items():
            skipped.setdefault(tag, f"{why} ({pf['name']})" if len(per_fold) > 1 else why)
    n_train = int(round(np.mean([len(p.train) for p in parts])))
    n_test = int(sum(len(p.test) for p in parts))
    return EvalResult(
        task, protocol, metrics, per_fold, n_train, n_test, skipped, config, vocab, notes
    )
