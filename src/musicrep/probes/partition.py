"""Partitions of a manifest for probing: train/valid/test splits, or leave-one-fold-out.

*Splits* (the default): train on ``split == "train"``, test on ``split == "test"``; a probe that
validates uses ``split == "valid"``, or a seeded, class-stratified ``valid_fraction`` (0.2) of the
training rows when the manifest has no ``valid`` rows.

*Folds* (every row has a ``fold``; e.g. UrbanSound8K's 10 folds): for fold ``k`` the test set is
fold ``k``; a probe that does not validate trains on all other folds (COALA's US8K protocol);
one that does validates on the next fold ``(k + 1) mod K`` and trains on the rest
(hear-eval-kit's ``data_splits_from_folds``; with only 2 folds, on a ``valid_fraction`` of the
training fold). The ``split`` column is then ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musicrep.data.manifest import Manifest
from musicrep.errors import ConfigError

__all__ = ["VALID_FRACTION", "Partition", "carve_valid", "partitions"]

#: Fraction of the training rows held out for validation when no validation rows exist
#: (musicrep's choice; hear-preprocess makes a 60/20/20 split when a dataset has none).
VALID_FRACTION = 0.2


@dataclass
class Partition:
    """Row indices of one train/valid/test partition (``fold`` None for splits)."""

    name: str
    fold: int | None
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray


def carve_valid(
    train: np.ndarray, y_strat: np.ndarray | None, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split training rows into (train, valid): seeded, stratified by ``y_strat`` when every
    class has 2 rows or more. Both returned sorted."""
    from sklearn.model_selection import train_test_split

    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"valid_fraction must be in (0, 1); got {fraction}")
    n_valid = max(1, int(round(fraction * len(train))))
    if len(train) - n_valid < 2:
        raise ConfigError(f"{len(train)} training rows are too few to hold out a validation set")
    stratify = None
    if y_strat is not None:
        _, counts = np.unique(y_strat[train], return_counts=True)
        if counts.min() >= 2 and n_valid >= len(counts):
            stratify = y_strat[train]
    tr, va = train_test_split(train, test_size=n_valid, random_state=seed, stratify=stratify)
    return np.sort(tr), np.sort(va)


def _fold_partitions(
    manifest: Manifest,
    need_valid: bool,
    valid_fraction: float,
    seed: int,
    y_strat: np.ndarray | None,
) -> list[Partition]:
    rows = manifest.rows
    has_fold = np.array([r.fold is not None for r in rows])
    if not has_fold.all():
        raise ConfigError(
            f"{int((~has_fold).sum())} row(s) have no fold",
            "give every row a fold, or evaluate with the split column (folds=False)",
        )
    folds = manifest.folds()
    if len(folds) < 2:
        raise ConfigError(f"only one fold ({folds[0]}); leave-one-fold-out needs 2 or more")
    fold_of = np.array([r.fold for r in rows])
    parts = []
    for k, f in enumerate(folds):
        test = np.flatnonzero(fold_of == f)
        valid = np.zeros(0, dtype=np.int64)
        if need_valid and len(folds) >= 3:
            valid = np.flatnonzero(fold_of == folds[(k + 1) % len(folds)])
        train = np.setdiff1d(np.arange(len(rows)), np.concatenate([test, valid]))
        if need_valid and len(folds) < 3:
            train, valid = carve_valid(train, y_strat, valid_fraction, seed)
        parts.append(Partition(f"fold {f}", int(f), train, valid, test))
    return parts


def _split_partition(
    manifest: Manifest,
    need_valid: bool,
    unused_valid: str,
    valid_fraction: float,
    seed: int,
    y_strat: np.ndarray | None,
    notes: list[str],
) -> Partition:
    split = np.array([r.split for r in manifest.rows])
    train = np.flatnonzero(split == "train")
    valid = np.flatnonzero(split == "valid")
    test = np.flatnonzero(split == "test")
    if len(train) == 0 or len(test) == 0:
        raise ConfigError(
            f"{manifest.source}: needs train and test rows (has train={len(train)}, "
            f"valid={len(valid)}, test={len(test)})",
            "mark rows with split=train/test, or give every row a fold for cross-validation",
        )
    if need_valid and len(valid) == 0:
        train, valid = carve_valid(train, y_strat, valid_fraction, seed)
        notes.append(
            f"no valid rows: {len(valid)} training rows ({valid_fraction:.0%}) held out for "
            "validation"
        )
    elif not need_valid and len(valid):
        notes.append(f"the {len(valid)} valid row(s) are not used ({unused_valid})")
        valid = np.zeros(0, dtype=np.int64)
    return Partition("splits", None, train, valid, test)


def partitions(
    manifest: Manifest,
    *,
    need_valid: bool,
    use_folds: bool | None,
    valid_fraction: float = VALID_FRACTION,
    seed: int = 0,
    y_strat: np.ndarray | None = None,
    notes: list[str] | None = None,
    unused_valid: str = "the probe does not validate",
) -> list[Partition]:
    """The partitions to train and test on (rules in the module docstring).

    Parameters
    ----------
    manifest : Manifest
    need_valid : bool
        The probe validates (gets valid rows: the valid split, the next fold, or held out).
    use_folds : bool or None
        Leave-one-fold-out (True), splits (False), or auto (None: folds when every row has one
        and there are at least 2).
    valid_fraction, seed, y_strat
        Held-out validation: fraction of the training rows, seed, labels to stratify by.
    notes : list of str, optional
        Receives sentences for the user (unused rows, held-out validation, ...).
    unused_valid : str
        Why valid rows are unused, for the note (``need_valid`` False).

    Returns
    -------
    list of Partition
    """
    notes = [] if notes is None else notes
    rows = manifest.rows
    has_fold = np.array([r.fold is not None for r in rows])
    if use_folds is None:
        use_folds = bool(has_fold.all()) and len(manifest.folds()) >= 2
        if has_fold.any() and not has_fold.all():
            notes.append(
                f"{int((~has_fold).sum())} row(s) have no fold, so the split column is used"
            )
    if use_folds:
        parts = _fold_partitions(manifest, need_valid, valid_fraction, seed, y_strat)
        if any(r.split != rows[0].split for r in rows):
            notes.append("folds define the partitions; the split column is ignored")
        return parts
    part = _split_partition(
        manifest, need_valid, unused_valid, valid_fraction, seed, y_strat, notes
    )
    return [part]
