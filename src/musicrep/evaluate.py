"""Downstream evaluation of frozen embeddings: probe protocols, cross-validation, verification.

An embedding is judged by how well a small classifier trained on top of it does on a labelled
dataset (a :class:`~musicrep.data.Manifest`). Two published protocols are implemented; the task
type is read from the manifest.

Protocols
---------
``"coala"`` (Favory et al. 2020, ``xavierfav/coala`` ``eval.py``)
    ``StandardScaler`` fit on the training rows, then
    ``sklearn.neural_network.MLPClassifier(hidden_layer_sizes=(256,))`` with every other
    argument at the scikit-learn default (ReLU, Adam, learning rate 1e-3, ``alpha`` 1e-4,
    ``batch_size=min(200, n)``, ``max_iter`` 200, no early stopping). No validation set and no
    hyper-parameter search: the ``valid`` split, if any, is left unused, as COALA trains on its
    ``train`` list only. The whole evaluation is repeated ``repeats`` (10) times with
    ``random_state`` ``seed, seed + 1, ...``; the mean and standard deviation are reported.
    Multi-label data uses ``MLPClassifier``'s own multi-label mode (one sigmoid output per tag,
    binary cross-entropy) and ``predict_proba``. *Convergence policy*: 200 Adam epochs often stop
    before scikit-learn's tolerance is met; the ``ConvergenceWarning`` is silenced (COALA ran
    with the defaults too) and the number of fits that hit ``max_iter`` is reported in
    :attr:`EvalResult.notes` and ``config["not_converged"]``.

``"hear"`` (hear-eval-kit, ``heareval/predictions/task_predictions.py``)
    A torch MLP ``[Linear -> BatchNorm1d -> Dropout -> ReLU] x hidden_layers -> Linear``
    (weights Xavier-initialised with the ReLU/linear gain, biases at torch defaults), Adam
    without weight decay, softmax + cross-entropy (single-label) or sigmoid + binary
    cross-entropy (multi-label). Hyper-parameters come from :data:`HEAR_GRIDS` (hear-eval-kit's
    ``default``/``fast``/``faster`` grids, or a dict of lists): the grid is shuffled with
    ``seed`` and its first ``grid_points`` (8) points are trained on the FIRST partition; the
    point with the best validation score is then trained on every partition and tested.
    Training checks the validation score every ``check_val_every_n_epoch`` (3) epochs, keeps the
    best weights, and stops after ``patience`` (20) checks without a strict improvement or after
    ``max_epochs`` (500). The validation score is the task's primary score: accuracy
    (single-label) or macro average precision, HEAR's ``mAP`` (multi-label). As in
    hear-eval-kit the embeddings are NOT standardised by default (``standardize=True`` turns
    the training-set ``StandardScaler`` on). Deviations: training batches are shuffled (with the
    run's seed; hear-eval-kit reads them in order), a last batch of a single row is dropped
    (BatchNorm cannot train on it), and the selected point is retrained ``repeats`` times with
    seeds ``seed, seed + 1, ...`` instead of once with seed 42.

Partitions
----------
*Splits* (the default): train on ``split == "train"``, test on ``split == "test"``; ``hear``
validates on ``split == "valid"``, or on a seeded, class-stratified ``valid_fraction`` (0.2) of
the training rows when the manifest has no ``valid`` rows.

*Folds* (every row has a ``fold``; e.g. UrbanSound8K's 10 folds): leave-one-fold-out. For fold
``k`` the test set is fold ``k``; ``coala`` trains on all other folds (COALA's US8K protocol);
``hear`` validates on the next fold ``(k + 1) mod K`` and trains on the rest
(hear-eval-kit's ``data_splits_from_folds``; with only 2 folds, on a ``valid_fraction`` of the
training fold). The ``split`` column is then ignored. Each fold's metric is the mean over
repeats; the headline ``mean``/``std`` are over the folds' means, and ``std_over_repeats`` is the
spread of the fold-averaged score across repeats (the number COALA reports for US8K).

Standard deviations are population standard deviations (``numpy.std``, ``ddof=0``).

Tasks and metrics
-----------------
- ``"singlelabel"`` (every row has exactly one label): accuracy and macro F1
  (:func:`musicrep.metrics.classification_metrics`).
- ``"multilabel"``: macro ROC-AUC and macro PR-AUC (:func:`musicrep.metrics.tagging_metrics`).
  Tags with a single class in the test rows, or without a positive training example, are left
  out of the averages and listed in :attr:`EvalResult.skipped_tags` with the reason.
- ``"verification"``: no classifier. Each trial is scored by the cosine similarity of its two
  embeddings; the metrics are the EER and the minimum normalised DCF
  (:func:`musicrep.metrics.eer`, :func:`musicrep.metrics.min_dcf`; ``p_target`` 0.01,
  ``C_miss = C_fa = 1``), both as fractions. Trials come from a trials file (below) or, with
  ``task="verification"`` on a manifest, from every pair of ``test`` rows (target = same
  label, e.g. the speaker or singer id).

Trials files
------------
A CSV with a header containing the columns ``enroll``, ``test`` and ``label`` (``1``/``0``, also
``target``/``nontarget`` or ``true``/``false``), or a VoxCeleb-style text file
(``.txt``) with one trial per line: ``LABEL ENROLL TEST`` separated by white space. Paths are
relative to the trials file's folder, or absolute.

Joining embeddings to a manifest
--------------------------------
Embeddings come as an ``.npz`` with ``paths (N,)`` and ``embeddings (N, D)`` (what
``musicrep embed`` writes). Each manifest row is matched (:func:`join`) by its absolute path
(also with symbolic links resolved); failing that, by its path relative to the manifest's folder
as a suffix of a stored path (embeddings computed on another machine); failing that, by its file
name when that name is unique on both sides. Rows without an embedding are reported and left
out.

Examples
--------
>>> result = evaluate("emb/mfcc.npz", "data/corpus/style.csv", protocol="coala")  # doctest: +SKIP
>>> print(format_table(result))                                                  # doctest: +SKIP
>>> result.metrics["accuracy"]["mean"]                                           # doctest: +SKIP
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import json
import math
import os
import random
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musicrep.data.manifest import Manifest, ManifestRow
from musicrep.errors import ConfigError, ManifestError
from musicrep.metrics import (
    DCF_C_FA,
    DCF_C_MISS,
    DCF_P_TARGET,
    classification_metrics,
    eer,
    min_dcf,
    tagging_metrics,
)
from musicrep.utils import progress as progress_bar

__all__ = [
    "COALA_MLP_PARAMS",
    "HEAR_GRIDS",
    "PROTOCOLS",
    "TASKS",
    "EvalResult",
    "JoinResult",
    "Trials",
    "cache_key",
    "cosine_scores",
    "embed_for_evaluation",
    "evaluate",
    "evaluate_embeddings",
    "evaluate_verification",
    "format_table",
    "is_trials_file",
    "join",
    "join_trials",
    "load_embeddings",
    "manifest_files",
    "read_trials",
]

# ------------------------------------------------------------------------ protocol constants
# Every number of the published protocols lives here.

PROTOCOLS = ("coala", "hear")
TASKS = ("singlelabel", "multilabel", "verification")

#: COALA's probe: MLPClassifier(hidden_layer_sizes=(256,)); every other argument is the
#: scikit-learn default (activation relu, solver adam, alpha 1e-4, learning_rate_init 1e-3,
#: batch_size min(200, n), max_iter 200).
COALA_MLP_PARAMS: dict[str, Any] = {"hidden_layer_sizes": (256,)}
#: COALA repeats the whole evaluation 10 times (``for run_idx in range(10)``).
DEFAULT_REPEATS = 10

#: hear-eval-kit's default predictor grid (16 points; the first 8 after shuffling are tried).
HEAR_PARAM_GRID: dict[str, list] = {
    "hidden_layers": [1, 2],
    "hidden_dim": [1024],
    "dropout": [0.1],
    "lr": [3.2e-3, 1e-3, 3.2e-4, 1e-4],
    "patience": [20],
    "max_epochs": [500],
    "check_val_every_n_epoch": [3],
    "batch_size": [1024],
    "initialization": ["xavier_uniform", "xavier_normal"],
}
#: hear-eval-kit's ``--grid`` presets.
HEAR_GRIDS: dict[str, dict[str, list]] = {
    "default": HEAR_PARAM_GRID,
    "fast": {**HEAR_PARAM_GRID, "max_epochs": [10, 50], "check_val_every_n_epoch": [3, 10]},
    "faster": {
        **HEAR_PARAM_GRID,
        "hidden_layers": [0, 1],
        "hidden_dim": [64, 128],
        "patience": [1, 3],
        "max_epochs": [10],
        "check_val_every_n_epoch": [1],
    },
}
#: Grid points tried by hear-eval-kit (``--grid-points``).
HEAR_GRID_POINTS = 8
#: Validation score monitored by early stopping and model selection (hear: the task's first
#: metric; accuracy for classification, mAP for tagging).
HEAR_MONITOR = {"singlelabel": "accuracy", "multilabel": "pr_auc"}
#: Fraction of the training rows held out for validation when no validation rows exist
#: (musicrep's choice; hear-preprocess makes a 60/20/20 split when a dataset has none).
VALID_FRACTION = 0.2

#: Metrics reported per task, in display order.
METRICS = {
    "singlelabel": ("accuracy", "macro_f1"),
    "multilabel": ("roc_auc", "pr_auc"),
    "verification": ("eer", "min_dcf"),
}
#: Above this many rows, pairing every test row with every other is refused (use trials).
MAX_PAIR_ROWS = 20000

_METRIC_LABELS = {
    "accuracy": "accuracy",
    "macro_f1": "F1 (macro)",
    "roc_auc": "ROC-AUC (macro)",
    "pr_auc": "PR-AUC (macro)",
    "eer": "EER",
    "min_dcf": "minDCF",
}
_TASK_LABELS = {
    "singlelabel": "single-label classification",
    "multilabel": "multi-label tagging",
    "verification": "verification trials (cosine scoring)",
}


# ------------------------------------------------------------------------ result


@dataclass
class EvalResult:
    """The outcome of a downstream evaluation (also readable as a dict: ``result["metrics"]``).

    Attributes
    ----------
    task_type : str
        ``"singlelabel"``, ``"multilabel"`` or ``"verification"``.
    protocol : str
        ``"coala"``, ``"hear"`` or ``"cosine"`` (verification).
    metrics : dict
        ``{name: {"mean", "std", "values", "over"}}``. With one partition (train/test splits)
        ``values`` are the per-repeat scores and ``over == "repeats"``; with folds ``values``
        are the per-fold means over repeats, ``over == "folds"``, and the entry also has
        ``repeat_means`` (the fold-averaged score of each repeat) and ``std_over_repeats``.
        Scores are fractions (accuracy 0.73, EER 0.05).
    per_fold : list of dict
        One entry per partition: ``name``, ``fold``, ``n_train``, ``n_valid``, ``n_test``,
        ``metrics`` (``{name: {"mean", "std", "values"}}`` over repeats), ``skipped_tags`` and,
        for ``hear``, ``epochs_run``/``best_epoch``/``valid_score`` per repeat.
    n_train, n_test : int
        Rows trained / tested on. With folds: ``n_test`` counts every tested row (the sum over
        folds) and ``n_train`` is the mean training-set size of a fold. For verification:
        ``n_train`` 0 and ``n_test`` the number of trials.
    skipped_tags : dict
        ``{tag: reason}``, tags left out of the multi-label averages (in some partition).
    config : dict
        Everything needed to rerun: protocol parameters, seeds, grid and selected point, ...
    classes : list of str
        The label vocabulary (class or tag names).
    notes : list of str
        Things the user should know (unused splits, fits that did not converge, ...).
    """

    task_type: str
    protocol: str
    metrics: dict[str, dict[str, Any]]
    per_fold: list[dict[str, Any]] = field(default_factory=list)
    n_train: int = 0
    n_test: int = 0
    skipped_tags: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def primary(self) -> str:
        """Name of the headline metric (accuracy, ROC-AUC or EER)."""
        return METRICS[self.task_type][0]

    def __getitem__(self, key: str) -> Any:
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def summary(self) -> dict[str, float]:
        """``{metric: mean}``."""
        return {name: m["mean"] for name, m in self.metrics.items()}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (numpy scalars converted)."""
        return _jsonable(asdict(self))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _stats(values: Sequence[float]) -> dict[str, Any]:
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "std": float(v.std()), "values": [float(x) for x in v]}


# ------------------------------------------------------------------------ embeddings + joining


def load_embeddings(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an embeddings ``.npz`` (``paths (N,)``, ``embeddings (N, D)``).

    Returns
    -------
    paths : np.ndarray of str, shape (N,)
    X : np.ndarray of float32, shape (N, D)

    Raises
    ------
    ConfigError
        The file is missing or unreadable, lacks a key, has mismatched lengths, is not 2-D
        (timestamp embeddings: pool them over time first), or contains NaN/inf (naming the
        first file affected).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"embeddings file not found: {path}", "write one with `musicrep embed ... --combine`"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("paths", "embeddings") if k not in data.files]
            if missing:
                raise ConfigError(
                    f"{path}: no {' or '.join(repr(k) for k in missing)} array "
                    f"(it has {', '.join(data.files) or 'nothing'})",
                    "an embeddings file holds 'paths' (N,) and 'embeddings' (N, D)",
                )
            paths = np.asarray(data["paths"]).astype(str).reshape(-1)
            X = np.asarray(data["embeddings"])
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path}: not a readable .npz file ({err})") from None
    if X.ndim != 2:
        raise ConfigError(
            f"{path}: embeddings have shape {X.shape}; expected (files, dim)",
            "evaluate one vector per file: pool timestamp embeddings over time first",
        )
    if X.shape[0] != paths.shape[0]:
        raise ConfigError(f"{path}: {paths.shape[0]} paths but {X.shape[0]} embeddings")
    X = X.astype(np.float32, copy=False)
    bad = ~np.isfinite(X).all(axis=1)
    if bad.any():
        raise ConfigError(
            f"{path}: {int(bad.sum())} embedding(s) contain NaN or inf, e.g. {paths[bad][0]}",
            "re-extract those files, or drop them from the manifest",
        )
    return paths, X


class _PathIndex:
    """Looks up stored embedding paths: exact absolute path, path suffix, unique file name."""

    def __init__(self, paths: Sequence[str], root: Path):
        self.exact: dict[str, int] = {}
        self.by_name: dict[str, list[int]] = {}
        self.parts: list[tuple[str, ...]] = []
        dupes = []
        for i, p in enumerate(paths):
            pp = Path(str(p))
            absolute = pp if pp.is_absolute() else root / pp
            keys = {os.path.abspath(absolute), os.path.realpath(absolute)}
            if os.path.abspath(absolute) in self.exact:
                dupes.append(str(p))
            for key in keys:
                self.exact.setdefault(key, i)
            self.by_name.setdefault(pp.name, []).append(i)
            self.parts.append(pp.parts)
        if dupes:
            raise ConfigError(
                f"the embeddings list {len(dupes)} path(s) more than once, e.g. {dupes[0]}",
                "write each file's embedding once",
            )

    def lookup(self, path: Path, root: Path, names: Mapping[str, int]) -> tuple[int, str] | None:
        """Index of ``path``'s embedding and how it was found, or ``None``.

        ``names`` counts the file names on the manifest side (a name must be unique there too).
        """
        for key in (os.path.abspath(path), os.path.realpath(path)):
            if key in self.exact:
                return self.exact[key], "path"
        candidates = self.by_name.get(path.name, [])
        try:
            rel = Path(os.path.abspath(path)).relative_to(root).parts
        except ValueError:
            rel = ()
        if len(rel) > 1:
            hits = [i for i in candidates if self.parts[i][-len(rel) :] == rel]
            if len(hits) == 1:
                return hits[0], "relative"
        if len(candidates) == 1 and names.get(path.name, 0) == 1:
            return candidates[0], "name"
        return None


@dataclass
class JoinResult:
    """Manifest rows aligned with their embeddings (:func:`join`).

    Attributes
    ----------
    manifest : Manifest
        The rows that have an embedding, in manifest order.
    X : np.ndarray, shape (rows, D)
        Their embeddings, row ``i`` for ``manifest[i]``.
    index : np.ndarray of int, shape (rows,)
        Position of each row's embedding in the embeddings file.
    missing : list of Path
        Manifest rows without an embedding (left out).
    matched_by : dict
        How many rows were matched by ``"path"``, ``"relative"`` path or unique file ``"name"``.
    """

    manifest: Manifest
    X: np.ndarray
    index: np.ndarray
    missing: list[Path]
    matched_by: dict[str, int]

    def report(self, first: int = 5) -> dict[str, Any]:
        """JSON-ready summary: matched/missing counts and the first missing paths."""
        return {
            "matched": int(len(self.manifest)),
            "missing": len(self.missing),
            "missing_first": [str(p) for p in self.missing[:first]],
            "matched_by": dict(self.matched_by),
        }


def _name_counts(paths: Iterable[Path]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for p in paths:
        counts[p.name] = counts.get(p.name, 0) + 1
    return counts


def _no_match_error(what: str, example: Path, stored: Sequence[str]) -> ConfigError:
    shown = stored[0] if len(stored) else "(none)"
    return ConfigError(
        f"no {what} has an embedding: e.g. {example} is not among the {len(stored)} stored "
        f"paths (first: {shown})",
        "embed the files this manifest lists (musicrep evaluate --model ... does it for you), "
        "or pass the embeddings file that was computed from them",
    )


def join(manifest: Manifest, paths: Sequence[str], X: np.ndarray) -> JoinResult:
    """Match manifest rows to embeddings by path (see the module docstring for the rules).

    Parameters
    ----------
    manifest : Manifest
        The labelled rows; each file may appear once (segment rows of one file cannot be told
        apart by path).
    paths : sequence of str, shape (N,)
        The stored paths (absolute, or relative to the manifest's folder).
    X : np.ndarray, shape (N, D)
        The stored embeddings.

    Returns
    -------
    JoinResult

    Raises
    ------
    ConfigError
        No row matches, a file appears in several manifest rows, or a path is stored twice.
    """
    X = np.asarray(X)
    if len(paths) != X.shape[0]:
        raise ConfigError(f"{len(paths)} paths but {X.shape[0]} embeddings")
    seen: dict[str, ManifestRow] = {}
    for row in manifest:
        key = os.path.abspath(row.path)
        if key in seen:
            raise ConfigError(
                f"{manifest.source}: {row.path} appears in several rows (segments?)",
                "evaluation uses one embedding per file; cut segments into their own files",
            )
        seen[key] = row
    index = _PathIndex(paths, manifest.root)
    names = _name_counts(r.path for r in manifest)
    kept, idx, missing = [], [], []
    matched_by = {"path": 0, "relative": 0, "name": 0}
    for row in manifest:
        hit = index.lookup(row.path, manifest.root, names)
        if hit is None:
            missing.append(row.path)
            continue
        kept.append(row)
        idx.append(hit[0])
        matched_by[hit[1]] += 1
    if not kept:
        raise _no_match_error(
            "manifest row", manifest[0].path if len(manifest) else Path("?"), paths
        )
    sub = Manifest(kept, manifest.root, source=manifest.source)
    index_arr = np.asarray(idx, dtype=np.int64)
    return JoinResult(sub, X[index_arr], index_arr, missing, matched_by)


# ------------------------------------------------------------------------ trials


_TRUE = {"1", "target", "true", "yes", "tgt"}
_FALSE = {"0", "nontarget", "non-target", "false", "no", "imp", "impostor"}


@dataclass
class Trials:
    """A verification trial list: pairs of files and whether they share an identity.

    Attributes
    ----------
    enroll, test : list of Path
        The two files of each trial (absolute).
    labels : np.ndarray of int, shape (trials,)
        1 for target trials (same identity), 0 for non-target trials.
    root : Path
        Folder relative paths were resolved against.
    source : str
        The file the trials came from.
    """

    enroll: list[Path]
    test: list[Path]
    labels: np.ndarray
    root: Path
    source: str = "<trials>"

    def __len__(self) -> int:
        return len(self.labels)

    def files(self) -> list[Path]:
        """Every distinct file of the trials, in first-seen order."""
        return list(dict.fromkeys([*self.enroll, *self.test]))


def is_trials_file(path: str | Path) -> bool:
    """``True`` for a ``.txt`` file, or a CSV whose header has ``enroll`` and ``test``."""
    path = Path(path)
    if path.suffix.lower() == ".txt":
        return True
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    cols = {h.strip() for h in header}
    return {"enroll", "test"} <= cols


def _parse_label(value: str, source: str, line: int) -> int:
    v = value.strip().lower()
    if v in _TRUE:
        return 1
    if v in _FALSE:
        return 0
    raise ManifestError(
        source, line, f"trial label {value!r} is not 1/0", "write 1 for target, 0 for non-target"
    )


def read_trials(path: str | Path) -> Trials:
    """Read a trials file (CSV ``enroll,test,label`` or VoxCeleb ``LABEL ENROLL TEST`` text).

    Raises
    ------
    ManifestError
        Naming the file and line: missing columns, wrong field count, bad label, no trials.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(path, None, "trials file not found")
    root = Path(os.path.abspath(path.parent))
    enroll: list[Path] = []
    test: list[Path] = []
    labels: list[int] = []
    source = str(path)

    def absolute(p: str) -> Path:
        pp = Path(p.strip())
        return Path(os.path.abspath(pp if pp.is_absolute() else root / pp))

    with open(path, newline="", encoding="utf-8-sig") as fh:
        if path.suffix.lower() == ".txt":
            for line, text in enumerate(fh, start=1):
                fields = text.split()
                if not fields:
                    continue
                if len(fields) != 3:
                    raise ManifestError(
                        source, line, f"{len(fields)} fields; expected LABEL ENROLL TEST"
                    )
                labels.append(_parse_label(fields[0], source, line))
                enroll.append(absolute(fields[1]))
                test.append(absolute(fields[2]))
        else:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            missing = [c for c in ("enroll", "test", "label") if c not in header]
            if missing:
                raise ManifestError(
                    source,
                    1,
                    f"missing column(s) {', '.join(missing)}",
                    "a trials CSV has the columns enroll,test,label",
                )
            col = {c: header.index(c) for c in ("enroll", "test", "label")}
            for cells in reader:
                line = reader.line_num
                if not cells or all(not c.strip() for c in cells):
                    continue
                if len(cells) != len(header):
                    raise ManifestError(
                        source, line, f"{len(cells)} fields but the header has {len(header)}"
                    )
                labels.append(_parse_label(cells[col["label"]], source, line))
                enroll.append(absolute(cells[col["enroll"]]))
                test.append(absolute(cells[col["test"]]))
    if not labels:
        raise ManifestError(source, None, "no trials")
    return Trials(enroll, test, np.asarray(labels, dtype=np.int64), root, source)


def join_trials(
    trials: Trials, paths: Sequence[str], X: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """Embeddings of both sides of every trial whose two files have one.

    Returns
    -------
    enroll_X, test_X : np.ndarray, shape (kept, D)
    labels : np.ndarray, shape (kept,)
    dropped : list of int
        Indices of trials left out because a file has no embedding.
    """
    X = np.asarray(X)
    index = _PathIndex(paths, trials.root)
    files = trials.files()
    names = _name_counts(files)
    where: dict[Path, int | None] = {}
    for f in files:
        hit = index.lookup(f, trials.root, names)
        where[f] = None if hit is None else hit[0]
    ia, ib, keep, dropped = [], [], [], []
    for t, (a, b) in enumerate(zip(trials.enroll, trials.test)):
        if where[a] is None or where[b] is None:
            dropped.append(t)
            continue
        ia.append(where[a])
        ib.append(where[b])
        keep.append(t)
    if not keep:
        first = next(f for f in files if where[f] is None)
        raise _no_match_error("trial", first, paths)
    return X[ia], X[ib], trials.labels[keep], dropped


def cosine_scores(a: np.ndarray, b: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Row-wise cosine similarity of ``a (n, D)`` and ``b (n, D)`` -> ``(n,)`` in [-1, 1]."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na = np.maximum(np.linalg.norm(a, axis=1), eps)
    nb = np.maximum(np.linalg.norm(b, axis=1), eps)
    return np.einsum("nd,nd->n", a, b) / (na * nb)


def evaluate_verification(
    enroll_X: np.ndarray,
    test_X: np.ndarray,
    labels: np.ndarray,
    *,
    p_target: float = DCF_P_TARGET,
    c_miss: float = DCF_C_MISS,
    c_fa: float = DCF_C_FA,
) -> EvalResult:
    """EER and minDCF of cosine-scored trials.

    Parameters
    ----------
    enroll_X, test_X : np.ndarray, shape (trials, D)
        Embeddings of the two sides of each trial.
    labels : np.ndarray, shape (trials,)
        1 target, 0 non-target.
    p_target, c_miss, c_fa : float
        Detection cost parameters (:func:`musicrep.metrics.min_dcf`).
    """
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if enroll_X.shape != test_X.shape or enroll_X.shape[0] != labels.shape[0]:
        raise ConfigError(
            f"trial arrays disagree: {enroll_X.shape}, {test_X.shape}, {labels.shape[0]} labels"
        )
    n_target = int(labels.sum())
    if n_target == 0 or n_target == len(labels):
        raise ConfigError(
            f"the {len(labels)} trials are all {'targets' if n_target else 'non-targets'}",
            "verification needs both target (same identity) and non-target trials",
        )
    scores = cosine_scores(enroll_X, test_X)
    e, e_thr = eer(labels, scores, return_threshold=True)
    d, d_thr = min_dcf(
        labels, scores, p_target=p_target, c_miss=c_miss, c_fa=c_fa, return_threshold=True
    )
    metrics = {
        "eer": {**_stats([e]), "over": "trials"},
        "min_dcf": {**_stats([d]), "over": "trials"},
    }
    part = {
        "name": "trials",
        "fold": None,
        "n_train": 0,
        "n_valid": 0,
        "n_test": int(len(labels)),
        "n_target": n_target,
        "n_nontarget": int(len(labels) - n_target),
        "metrics": {k: _stats([v]) for k, v in (("eer", e), ("min_dcf", d))},
        "eer_threshold": e_thr,
        "min_dcf_threshold": d_thr,
        "skipped_tags": {},
    }
    config = {
        "task": "verification",
        "scoring": "cosine similarity",
        "p_target": p_target,
        "c_miss": c_miss,
        "c_fa": c_fa,
    }
    return EvalResult(
        "verification", "cosine", metrics, [part], 0, int(len(labels)), {}, config, [], []
    )


def _pair_trials(manifest: Manifest, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of test rows (of all rows, without a test split) as a trial."""
    split = np.array([r.split for r in manifest])
    idx = np.flatnonzero(split == "test") if (split == "test").any() else np.arange(len(split))
    n = len(idx)
    if n < 2:
        raise ConfigError("verification needs at least 2 test rows")
    if n > MAX_PAIR_ROWS:
        raise ConfigError(
            f"{n} test rows make {n * (n - 1) // 2} pairs",
            "pass a trials file (enroll,test,label) listing the trials to score",
        )
    rows = Manifest([manifest[i] for i in idx], manifest.root, source=manifest.source)
    ids = rows.label_indices()
    a, b = np.triu_indices(n, k=1)
    return X[idx[a]], X[idx[b]], (ids[a] == ids[b]).astype(np.int64)


# ------------------------------------------------------------------------ partitions


@dataclass
class _Partition:
    name: str
    fold: int | None
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray


def _carve_valid(
    train: np.ndarray, y_strat: np.ndarray | None, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
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


def _partitions(
    manifest: Manifest,
    *,
    protocol: str,
    use_folds: bool | None,
    valid_fraction: float,
    seed: int,
    y_strat: np.ndarray | None,
    notes: list[str],
) -> list[_Partition]:
    rows = manifest.rows
    has_fold = np.array([r.fold is not None for r in rows])
    if use_folds is None:
        use_folds = bool(has_fold.all()) and len(manifest.folds()) >= 2
        if has_fold.any() and not has_fold.all():
            notes.append(
                f"{int((~has_fold).sum())} row(s) have no fold, so the split column is used"
            )
    need_valid = protocol == "hear"
    if use_folds:
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
                train, valid = _carve_valid(train, y_strat, valid_fraction, seed)
            parts.append(_Partition(f"fold {f}", int(f), train, valid, test))
        if any(r.split != rows[0].split for r in rows):
            notes.append("folds define the partitions; the split column is ignored")
        return parts
    split = np.array([r.split for r in rows])
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
        train, valid = _carve_valid(train, y_strat, valid_fraction, seed)
        notes.append(
            f"no valid rows: {len(valid)} training rows ({valid_fraction:.0%}) held out for "
            "validation"
        )
    elif not need_valid and len(valid):
        notes.append(f"the {len(valid)} valid row(s) are not used (COALA trains on train only)")
        valid = np.zeros(0, dtype=np.int64)
    return [_Partition("splits", None, train, valid, test)]


# ------------------------------------------------------------------------ scoring


def _score(
    task: str, y_true: np.ndarray, scores: np.ndarray, vocab: list[str], train_pos: np.ndarray
) -> tuple[dict[str, float], dict[str, str]]:
    """Metrics of one test prediction; tags without a training positive are skipped."""
    if task == "singlelabel":
        return classification_metrics(y_true, scores, vocab).summary(), {}
    keep = train_pos > 0
    skipped = {t: "no positive example in the training rows" for t, k in zip(vocab, keep) if not k}
    if not keep.any():
        return {"roc_auc": float("nan"), "pr_auc": float("nan")}, skipped
    names = [t for t, k in zip(vocab, keep) if k]
    ts = tagging_metrics(y_true[:, keep], scores[:, keep], names)
    for tag, reason in ts.skipped.items():
        skipped[tag] = reason.replace("this split", "the test rows")
    return ts.summary(), skipped


def _standardize(X: np.ndarray, train: np.ndarray) -> np.ndarray:
    """``X`` scaled with the mean and standard deviation of the training rows only."""
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit(X[train]).transform(X)


# ------------------------------------------------------------------------ coala


def _fit_coala(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    task: str,
    n_classes: int,
    seed: int,
    params: Mapping[str, Any],
) -> tuple[np.ndarray, bool]:
    """Train COALA's MLP and return test scores ``(n_test, n_classes)`` and convergence."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(**{**COALA_MLP_PARAMS, **params, "random_state": seed})
    y = y_train
    if task == "multilabel" and n_classes == 1:
        y = y_train[:, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y)
    converged = clf.n_iter_ < clf.max_iter
    proba = clf.predict_proba(X_test)
    if task == "multilabel":
        if n_classes == 1:
            pos = np.flatnonzero(clf.classes_ == 1)
            proba = proba[:, pos] if len(pos) else np.zeros((len(X_test), 1))
        return proba, converged
    scores = np.zeros((len(X_test), n_classes))
    scores[:, clf.classes_.astype(np.int64)] = proba
    return scores, converged


# ------------------------------------------------------------------------ hear


@dataclass
class _HearFit:
    model: Any
    valid_score: float
    best_epoch: int
    epochs_run: int


def _hear_grid(grid: str | Mapping[str, Sequence], grid_points: int, seed: int) -> list[dict]:
    from sklearn.model_selection import ParameterGrid

    if isinstance(grid, str):
        if grid not in HEAR_GRIDS:
            raise ConfigError(f"unknown grid {grid!r}", f"use one of {', '.join(HEAR_GRIDS)}")
        spec = HEAR_GRIDS[grid]
    else:
        spec = {**HEAR_PARAM_GRID, **{k: list(v) for k, v in grid.items()}}
        unknown = sorted(set(spec) - set(HEAR_PARAM_GRID))
        if unknown:
            raise ConfigError(
                f"unknown hear grid key(s) {', '.join(unknown)}",
                f"keys: {', '.join(HEAR_PARAM_GRID)}",
            )
    bad_init = set(spec["initialization"]) - {"xavier_uniform", "xavier_normal"}
    if bad_init:
        raise ConfigError(f"unknown initialization {sorted(bad_init)[0]!r}")
    if grid_points < 1:
        raise ConfigError(f"grid_points must be >= 1; got {grid_points}")
    confs = [dict(c) for c in ParameterGrid(spec)]
    random.Random(seed).shuffle(confs)
    return confs[:grid_points]


def _hear_model(n_in: int, n_out: int, conf: Mapping[str, Any]):
    import torch
    from torch import nn

    init = {"xavier_uniform": nn.init.xavier_uniform_, "xavier_normal": nn.init.xavier_normal_}[
        conf["initialization"]
    ]
    layers: list[nn.Module] = []
    dim, last = n_in, "linear"
    for _ in range(int(conf["hidden_layers"])):
        linear = nn.Linear(dim, int(conf["hidden_dim"]))
        init(linear.weight, gain=nn.init.calculate_gain(last))
        layers += [
            linear,
            nn.BatchNorm1d(int(conf["hidden_dim"])),
            nn.Dropout(float(conf["dropout"])),
            nn.ReLU(),
        ]
        dim, last = int(conf["hidden_dim"]), "relu"
    projection = nn.Linear(dim, n_out)
    init(projection.weight, gain=nn.init.calculate_gain(last))
    return torch.nn.Sequential(*layers, projection)


def _hear_predict(model, X, task: str) -> np.ndarray:
    import torch

    model.eval()
    with torch.no_grad():
        logits = model(X)
        probs = torch.sigmoid(logits) if task == "multilabel" else torch.softmax(logits, dim=-1)
    return probs.double().cpu().numpy()


def _monitor(task: str, y: np.ndarray, probs: np.ndarray) -> float:
    if task == "singlelabel":
        return float(np.mean(probs.argmax(axis=1) == y))
    value = tagging_metrics(y, probs).pr_auc
    return -math.inf if math.isnan(value) else float(value)


def _train_hear(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_valid: np.ndarray,
    y_valid: np.ndarray,
    task: str,
    n_out: int,
    conf: Mapping[str, Any],
    seed: int,
    device: str,
) -> _HearFit:
    """Train one hear predictor with early stopping on the validation score."""
    import torch
    from torch import nn

    dev = torch.device(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        model = _hear_model(X_train.shape[1], n_out, conf).to(dev)
        xt = torch.as_tensor(X_train, dtype=torch.float32, device=dev)
        xv = torch.as_tensor(X_valid, dtype=torch.float32, device=dev)
        if task == "multilabel":
            yt = torch.as_tensor(y_train, dtype=torch.float32, device=dev)
            loss_fn: nn.Module = nn.BCEWithLogitsLoss()
        else:
            yt = torch.as_tensor(y_train, dtype=torch.int64, device=dev)
            loss_fn = nn.CrossEntropyLoss()
        opt = torch.optim.Adam(model.parameters(), lr=float(conf["lr"]))
        has_bn = int(conf["hidden_layers"]) > 0
        n, bs = xt.shape[0], int(conf["batch_size"])
        every, patience = int(conf["check_val_every_n_epoch"]), int(conf["patience"])
        max_epochs = int(conf["max_epochs"])
        best, best_epoch, best_state, bad, epoch = -math.inf, 0, None, 0, 0
        for epoch in range(1, max_epochs + 1):
            model.train()
            order = torch.randperm(n, generator=gen).to(dev)
            for start in range(0, n, bs):
                idx = order[start : start + bs]
                if has_bn and len(idx) < 2:
                    continue
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(xt[idx]), yt[idx])
                loss.backward()
                opt.step()
            # validate every `every` epochs (and at the end if that never happened)
            if epoch % every and not (epoch == max_epochs and best_state is None):
                continue
            score = _monitor(task, y_valid, _hear_predict(model, xv, task))
            if score > best or best_state is None:
                best, best_epoch, bad = score, epoch, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                bad += 1
                if bad >= patience:
                    break
        model.load_state_dict(best_state)
    return _HearFit(model, best, best_epoch, epoch)


# ------------------------------------------------------------------------ main entry points


def _as_manifest(manifest: Manifest | Iterable[ManifestRow] | Iterable[Mapping]) -> Manifest:
    if isinstance(manifest, Manifest):
        return manifest
    rows = list(manifest)
    if all(isinstance(r, ManifestRow) for r in rows):
        return Manifest(rows)
    return Manifest.from_rows(rows)


def _detect_task(manifest: Manifest, task: str) -> str:
    if task == "auto":
        if not any(r.labels for r in manifest):
            raise ConfigError(
                f"{manifest.source}: no row has a label", "evaluation needs labelled rows"
            )
        return "multilabel" if manifest.is_multilabel else "singlelabel"
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}", f"use auto or one of {', '.join(TASKS)}")
    return task


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
    """Evaluate embeddings aligned with manifest rows (see the module docstring).

    Parameters
    ----------
    X : np.ndarray, shape (rows, D)
        One embedding per manifest row, in row order (:func:`join` aligns a file's).
    manifest : Manifest, or rows (``ManifestRow`` or dicts shaped like CSV rows)
        Labels, splits and optional folds.
    protocol : {"coala", "hear"}
        The probe protocol.
    task : {"auto", "singlelabel", "multilabel", "verification"}
        ``auto``: multi-label when some row has zero or several labels, else single-label.
        ``verification`` pairs every two ``test`` rows (target = same label).
    repeats : int
        Training runs per partition, with seeds ``seed .. seed + repeats - 1``.
    seed : int
        First seed (also shuffles the hear grid and draws held-out validation rows).
    standardize : bool, optional
        Scale with the training rows' mean/std; default True for coala, False for hear.
    folds : bool, optional
        Leave-one-fold-out (True), train/test splits (False), or auto (None: folds when every
        row has one and there are at least 2).
    mlp_params : mapping, optional
        Overrides of COALA's ``MLPClassifier`` arguments (e.g. ``{"max_iter": 50}``).
    grid : str or mapping
        hear grid preset (``default``, ``fast``, ``faster``) or a dict of lists overriding
        :data:`HEAR_PARAM_GRID` keys.
    grid_points : int
        hear grid points tried (after shuffling).
    valid_fraction : float
        Training fraction held out for hear validation when the manifest has none.
    device : str
        Torch device of the hear probe.
    p_target, c_miss, c_fa : float
        Verification cost parameters.
    progress : bool
        Show a progress bar (on a terminal only).

    Returns
    -------
    EvalResult
    """
    manifest = _as_manifest(manifest)
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] != len(manifest):
        raise ConfigError(
            f"embeddings have shape {X.shape} but the manifest has {len(manifest)} rows",
            "pass one embedding per row (use join() to align an embeddings file)",
        )
    if not np.isfinite(X).all():
        raise ConfigError("embeddings contain NaN or inf")
    task = _detect_task(manifest, task)
    if task == "verification":
        a, b, labels = _pair_trials(manifest, X)
        result = evaluate_verification(a, b, labels, p_target=p_target, c_miss=c_miss, c_fa=c_fa)
        result.config["trials"] = "all pairs of test rows"
        return result
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}", f"use one of {', '.join(PROTOCOLS)}")
    if repeats < 1:
        raise ConfigError(f"repeats must be >= 1; got {repeats}")

    vocab = manifest.vocabulary()
    if task == "singlelabel":
        y = manifest.label_indices(vocab)
        y_strat: np.ndarray | None = y
    else:
        y = manifest.multi_hot(vocab)
        y_strat = None
    notes: list[str] = []
    parts = _partitions(
        manifest,
        protocol=protocol,
        use_folds=folds,
        valid_fraction=valid_fraction,
        seed=seed,
        y_strat=y_strat,
        notes=notes,
    )
    if standardize is None:
        standardize = protocol == "coala"
    X = X.astype(np.float64 if protocol == "coala" else np.float32)
    seeds = [seed + r for r in range(repeats)]
    config: dict[str, Any] = {
        "protocol": protocol,
        "task": task,
        "repeats": repeats,
        "seeds": seeds,
        "standardize": bool(standardize),
        "partitions": "folds" if parts[0].fold is not None else "splits",
        "n_rows": len(manifest),
        "dim": int(X.shape[1]),
    }
    for p in parts:
        classes_train = np.unique(y[p.train]) if task == "singlelabel" else None
        if classes_train is not None and len(classes_train) < 2:
            raise ConfigError(
                f"{p.name}: the training rows hold a single class ({vocab[classes_train[0]]})",
                "a classifier needs at least 2 classes to train on",
            )
    if protocol == "coala":
        per_fold = _run_coala(
            X,
            y,
            parts,
            task=task,
            vocab=vocab,
            seeds=seeds,
            standardize=standardize,
            mlp_params=mlp_params,
            config=config,
            notes=notes,
            progress=progress,
        )
    else:
        per_fold = _run_hear(
            X,
            y,
            parts,
            task=task,
            vocab=vocab,
            seeds=seeds,
            standardize=standardize,
            grid=grid,
            grid_points=grid_points,
            valid_fraction=valid_fraction,
            device=device,
            config=config,
            progress=progress,
        )
    metrics = _aggregate(per_fold, task)
    skipped: dict[str, str] = {}
    for pf in per_fold:
        for tag, reason in pf["skipped_tags"].items():
            skipped.setdefault(tag, f"{reason} ({pf['name']})" if len(per_fold) > 1 else reason)
    n_train = int(round(np.mean([len(p.train) for p in parts])))
    n_test = int(sum(len(p.test) for p in parts))
    return EvalResult(
        task, protocol, metrics, per_fold, n_train, n_test, skipped, config, vocab, notes
    )


def _run_coala(
    X: np.ndarray,
    y: np.ndarray,
    parts: list[_Partition],
    *,
    task: str,
    vocab: list[str],
    seeds: list[int],
    standardize: bool,
    mlp_params: Mapping[str, Any] | None,
    config: dict[str, Any],
    notes: list[str],
    progress: bool,
) -> list[dict]:
    """COALA: one MLPClassifier per (partition, seed), tested on the partition's test rows."""
    params = dict(mlp_params or {})
    if "random_state" in params:
        raise ConfigError("set the seed with seed=..., not mlp_params['random_state']")
    config["mlp"] = {**COALA_MLP_PARAMS, **params}
    config["mlp"]["hidden_layer_sizes"] = list(config["mlp"]["hidden_layer_sizes"])
    per_fold = []
    not_converged = 0
    bar = progress_bar(
        total=len(parts) * len(seeds),
        desc="coala probe",
        unit="fit",
        disable=None if progress else True,
    )
    with bar:
        for p in parts:
            Xs = _standardize(X, p.train) if standardize else X
            values: dict[str, list[float]] = {m: [] for m in METRICS[task]}
            skipped: dict[str, str] = {}
            train_pos = y[p.train].sum(axis=0) if task == "multilabel" else None
            for s in seeds:
                scores, ok = _fit_coala(
                    Xs[p.train], y[p.train], Xs[p.test], task, len(vocab), s, params
                )
                not_converged += not ok
                m, sk = _score(task, y[p.test], scores, vocab, train_pos)
                skipped.update(sk)
                for k in values:
                    values[k].append(m[k])
                bar.update(1)
            per_fold.append(_part_entry(p, values, skipped))
    config["not_converged"] = not_converged
    if not_converged:
        notes.append(
            f"{not_converged} of {len(parts) * len(seeds)} MLP fits stopped at max_iter="
            f"{config['mlp'].get('max_iter', 200)} before converging (as in COALA; "
            "ConvergenceWarning silenced)"
        )
    return per_fold


def _run_hear(
    X: np.ndarray,
    y: np.ndarray,
    parts: list[_Partition],
    *,
    task: str,
    vocab: list[str],
    seeds: list[int],
    standardize: bool,
    grid: str | Mapping[str, Sequence],
    grid_points: int,
    valid_fraction: float,
    device: str,
    config: dict[str, Any],
    progress: bool,
) -> list[dict]:
    """hear: grid search on the first partition, then the selected point on every partition."""
    import torch

    confs = _hear_grid(grid, grid_points, seeds[0])
    if task == "multilabel":
        for p in parts:
            pos = y[p.valid].sum(axis=0)
            if not ((pos > 0) & (pos < len(p.valid))).any():
                raise ConfigError(
                    f"{p.name}: no tag has both positive and negative validation rows",
                    "hear monitors validation mAP; give the valid split (or fold) more rows",
                )
    n_out = len(vocab)
    per_fold = []
    bar = progress_bar(
        total=len(confs) + len(parts) * len(seeds) - 1,
        desc="hear probe",
        unit="fit",
        disable=None if progress else True,
    )
    with bar:
        for i, p in enumerate(parts):
            Xs = _standardize(X, p.train) if standardize else X
            if i == 0:  # model selection on the first partition (as hear-eval-kit)
                results, best_fit, best_conf = [], None, confs[0]
                for conf in confs:
                    fit = _train_hear(
                        Xs[p.train],
                        y[p.train],
                        Xs[p.valid],
                        y[p.valid],
                        task,
                        n_out,
                        conf,
                        seeds[0],
                        device,
                    )
                    results.append(
                        {**conf, "valid_score": fit.valid_score, "best_epoch": fit.best_epoch}
                    )
                    if best_fit is None or fit.valid_score > best_fit.valid_score:
                        best_fit, best_conf = fit, conf
                    bar.update(1)
                config["grid"] = (
                    grid if isinstance(grid, str) else {k: list(v) for k, v in grid.items()}
                )
                config["grid_points"] = len(confs)
                config["grid_results"] = results
                config["selected"] = dict(best_conf)
                config["monitor"] = f"valid {HEAR_MONITOR[task]}"
                config["valid_fraction"] = valid_fraction
            values: dict[str, list[float]] = {m: [] for m in METRICS[task]}
            skipped: dict[str, str] = {}
            extra: dict[str, list] = {"valid_score": [], "best_epoch": [], "epochs_run": []}
            train_pos = y[p.train].sum(axis=0) if task == "multilabel" else None
            x_test = torch.as_tensor(Xs[p.test], dtype=torch.float32, device=torch.device(device))
            for r, s in enumerate(seeds):
                if i == 0 and r == 0:
                    fit = best_fit  # the selection run is the first repeat of partition 0
                else:
                    fit = _train_hear(
                        Xs[p.train],
                        y[p.train],
                        Xs[p.valid],
                        y[p.valid],
                        task,
                        n_out,
                        best_conf,
                        s,
                        device,
                    )
                    bar.update(1)
                probs = _hear_predict(fit.model, x_test, task)
                m, sk = _score(task, y[p.test], probs, vocab, train_pos)
                skipped.update(sk)
                for k in values:
                    values[k].append(m[k])
                extra["valid_score"].append(fit.valid_score)
                extra["best_epoch"].append(fit.best_epoch)
                extra["epochs_run"].append(fit.epochs_run)
            per_fold.append({**_part_entry(p, values, skipped), **extra})
    return per_fold


def _part_entry(p: _Partition, values: dict[str, list[float]], skipped: dict[str, str]) -> dict:
    return {
        "name": p.name,
        "fold": p.fold,
        "n_train": int(len(p.train)),
        "n_valid": int(len(p.valid)),
        "n_test": int(len(p.test)),
        "metrics": {k: _stats(v) for k, v in values.items()},
        "skipped_tags": dict(sorted(skipped.items())),
    }


def _aggregate(per_fold: list[dict], task: str) -> dict[str, dict[str, Any]]:
    out = {}
    for name in METRICS[task]:
        if len(per_fold) == 1:
            out[name] = {**per_fold[0]["metrics"][name], "over": "repeats"}
            continue
        fold_means = [pf["metrics"][name]["mean"] for pf in per_fold]
        table = np.array([pf["metrics"][name]["values"] for pf in per_fold])  # (folds, repeats)
        repeat_means = table.mean(axis=0)
        out[name] = {
            **_stats(fold_means),
            "over": "folds",
            "repeat_means": [float(v) for v in repeat_means],
            "std_over_repeats": float(repeat_means.std()),
        }
    return out


def evaluate(
    embeddings: str | Path | tuple[Sequence[str], np.ndarray],
    manifest: str | Path | Manifest | Trials,
    *,
    task: str = "auto",
    protocol: str = "coala",
    repeats: int = DEFAULT_REPEATS,
    seed: int = 0,
    progress: bool = True,
    **options: Any,
) -> EvalResult:
    """Evaluate an embeddings file against a manifest (or a trials file).

    Parameters
    ----------
    embeddings : path or (paths, X)
        An ``.npz`` with ``paths`` and ``embeddings``, or the two arrays.
    manifest : path, Manifest or Trials
        A manifest CSV, or a trials file (CSV with ``enroll,test,label`` or VoxCeleb ``.txt``),
        which makes the task ``verification``.
    task, protocol, repeats, seed, progress
        As in :func:`evaluate_embeddings`.
    **options
        Other keyword arguments of :func:`evaluate_embeddings` (``standardize``, ``folds``,
        ``grid``, ``grid_points``, ``mlp_params``, ``p_target``, ...).

    Returns
    -------
    EvalResult
        ``config["join"]`` says how many rows matched and which were missing.
    """
    if isinstance(embeddings, (str, Path)):
        paths, X = load_embeddings(embeddings)
        source = str(embeddings)
    else:
        paths, X = np.asarray(embeddings[0]).astype(str), np.asarray(embeddings[1])
        source = "<arrays>"
    if isinstance(manifest, (str, Path)):
        manifest = read_trials(manifest) if is_trials_file(manifest) else Manifest.read(manifest)
    if isinstance(manifest, Trials):
        if task not in ("auto", "verification"):
            raise ConfigError(f"a trials file is a verification task, not {task!r}")
        a, b, labels, dropped = join_trials(manifest, paths, X)
        dcf = {k: options[k] for k in ("p_target", "c_miss", "c_fa") if k in options}
        result = evaluate_verification(a, b, labels, **dcf)
        result.config.update({"embeddings": source, "trials": manifest.source})
        result.config["join"] = {"trials": len(manifest), "dropped": len(dropped)}
        if dropped:
            first = [f"{manifest.enroll[t]} / {manifest.test[t]}" for t in dropped[:3]]
            result.notes.append(
                f"{len(dropped)} of {len(manifest)} trial(s) left out: a file has no embedding "
                f"(e.g. {'; '.join(first)})"
            )
        return result
    joined = join(manifest, paths, X)
    result = evaluate_embeddings(
        joined.X,
        joined.manifest,
        task=task,
        protocol=protocol,
        repeats=repeats,
        seed=seed,
        progress=progress,
        **options,
    )
    result.config.update({"embeddings": source, "manifest": manifest.source})
    result.config["join"] = joined.report()
    if joined.missing:
        shown = ", ".join(str(p) for p in joined.missing[:3])
        result.notes.insert(
            0,
            f"{len(joined.missing)} of {len(manifest)} manifest row(s) have no embedding and "
            f"were left out (e.g. {shown})",
        )
    return result


# ------------------------------------------------------------------------ report


def _fmt(m: Mapping[str, Any]) -> str:
    if m.get("over") == "trials":  # one deterministic value
        return f"{m['mean']:.4f}"
    return f"{m['mean']:.4f} ± {m['std']:.4f}"


def _probe_shape(conf: Mapping[str, Any]) -> str:
    layers = conf.get("hidden_layers")
    return "linear" if layers == 0 else f"{layers}x{conf.get('hidden_dim')} MLP"


def format_table(result: EvalResult) -> str:
    """A plain-text report: headline metrics (mean ± std), per-fold rows, notes."""
    r = result
    cfg = r.config
    head = [_TASK_LABELS[r.task_type]]
    if r.protocol == "coala":
        hidden = cfg.get("mlp", {}).get("hidden_layer_sizes", [256])
        head.append(f"COALA protocol (sklearn MLP {tuple(hidden)}, {cfg.get('repeats')} repeats)")
    elif r.protocol == "hear":
        sel = cfg.get("selected", {})
        head.append(
            f"HEAR protocol ({cfg.get('grid_points')} grid points tried on {r.per_fold[0]['name']}; "
            f"selected {_probe_shape(sel)}, lr {sel.get('lr')}; "
            f"{cfg.get('repeats')} repeats)"
        )
    lines = [", ".join(head)]
    if r.task_type == "verification":
        pf = r.per_fold[0]
        lines.append(
            f"{r.n_test} trials ({pf['n_target']} target, {pf['n_nontarget']} non-target); "
            f"minDCF at p_target={cfg.get('p_target')}, C_miss={cfg.get('c_miss')}, "
            f"C_fa={cfg.get('c_fa')}"
        )
    elif len(r.per_fold) > 1:
        lines.append(
            f"{len(r.per_fold)} folds (leave-one-fold-out), {r.n_test} rows tested, "
            f"{len(r.classes)} labels; mean ± std over folds"
        )
    else:
        pf = r.per_fold[0]
        lines.append(
            f"train {pf['n_train']} / valid {pf['n_valid']} / test {pf['n_test']} rows, "
            f"{len(r.classes)} labels; mean ± std over repeats"
        )
    width = max(len(_METRIC_LABELS[m]) for m in r.metrics)
    lines.append("")
    for name, m in r.metrics.items():
        extra = ""
        if "std_over_repeats" in m:
            extra = f"   (± {m['std_over_repeats']:.4f} over repeats)"
        lines.append(f"  {_METRIC_LABELS[name]:<{width}}  {_fmt(m)}{extra}")
    if len(r.per_fold) > 1:
        names = list(r.metrics)
        lines.append("")
        lines.append(
            "  "
            + f"{'fold':<10}{'test':>6}  "
            + "  ".join(f"{_METRIC_LABELS[n]:<17}" for n in names)
        )
        for pf in r.per_fold:
            cells = "  ".join(f"{_fmt(pf['metrics'][n]):<17}" for n in names)
            lines.append(f"  {str(pf['fold']):<10}{pf['n_test']:>6}  {cells}")
    if r.skipped_tags:
        lines.append("")
        lines.append(f"  {len(r.skipped_tags)} tag(s) left out of the averages:")
        for tag, reason in list(r.skipped_tags.items())[:10]:
            lines.append(f"    {tag}: {reason}")
        if len(r.skipped_tags) > 10:
            lines.append(f"    ... and {len(r.skipped_tags) - 10} more")
    if r.notes:
        lines.append("")
        lines.extend(f"  note: {n}" for n in r.notes)
    return "\n".join(lines)


# ------------------------------------------------------------------------ embedding on demand


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:40] or "model"


def cache_key(model: str | Path, files: Sequence[str | Path], *, seed: int = 0) -> str:
    """Name of the cached embeddings of ``files`` under ``model``: ``<model>-<hash>``.

    The hash covers the model (its name, or for a folder/file its absolute path and the size and
    modification time of its files, so a re-exported model gets new embeddings), the sorted
    absolute file paths and the seed.
    """
    spec = Path(model)
    if spec.exists():
        targets = sorted(spec.iterdir()) if spec.is_dir() else [spec]
        stamp = [(t.name, t.stat().st_size, t.stat().st_mtime_ns) for t in targets if t.is_file()]
        ident: Any = {"path": os.path.abspath(spec), "files": stamp}
        name = spec.resolve().name
    else:
        ident, name = {"name": str(model)}, str(model)
    payload = json.dumps(
        {"model": ident, "files": sorted(os.path.abspath(f) for f in files), "seed": seed},
        sort_keys=True,
    )
    return f"{_slug(name)}-{hashlib.sha256(payload.encode()).hexdigest()[:16]}"


def embed_for_evaluation(
    model: str | Path,
    files: Sequence[str | Path],
    cache_dir: str | Path,
    *,
    batch_size: int = 16,
    seed: int = 0,
    device: str | None = None,
    progress: bool = True,
) -> tuple[Path, Any]:
    """Embed ``files`` with ``model`` into ``cache_dir``, or reuse the cached result.

    Uses :class:`musicrep.embed.Embedder` (``Embedder(model, batch_size=, seed=[, device=])
    .files(files, out_dir, combine=...)``). The combined ``.npz`` is
    ``cache_dir/<cache_key>.npz`` and the per-file outputs go to ``cache_dir/<cache_key>/``.
    The combined file is reused as is unless the run that made it had failures (listed in
    ``<cache_key>.failed.txt``); then the embedder runs again, keeping the per-file outputs it
    already has and retrying only the failed files. Delete the folder to start afresh.

    Returns
    -------
    npz : Path
        The combined embeddings file.
    report : EmbedReport or None
        The embedder's report (``written``, ``skipped``, ``failed``), or ``None`` when the cache
        was reused.
    """
    from musicrep.utils import write_text_atomic

    cache_dir = Path(cache_dir)
    key = cache_key(model, files, seed=seed)
    npz = cache_dir / f"{key}.npz"
    failed_log = cache_dir / f"{key}.failed.txt"
    if npz.is_file() and not failed_log.exists():
        return npz, None
    cache_dir.mkdir(parents=True, exist_ok=True)
    embed_module = importlib.import_module("musicrep.embed")
    kwargs: dict[str, Any] = {"batch_size": batch_size, "seed": seed}
    if device is not None:
        kwargs["device"] = device
    embedder = embed_module.Embedder(model, **kwargs)
    report = embedder.files(
        [str(f) for f in files], cache_dir / key, combine=npz, overwrite=False, progress=progress
    )
    failed = list(getattr(report, "failed", None) or [])
    if failed:
        write_text_atomic(failed_log, "".join(f"{p}\t{reason}\n" for p, reason in failed))
    elif failed_log.exists():
        failed_log.unlink()
    if not npz.is_file():
        raise ConfigError(
            f"no embedding could be computed with {model}",
            "see the errors above; check that the audio files exist and can be decoded",
        )
    return npz, report


def manifest_files(manifest: str | Path | Manifest | Trials) -> list[Path]:
    """The distinct audio files a manifest or trials file refers to."""
    if isinstance(manifest, (str, Path)):
        manifest = read_trials(manifest) if is_trials_file(manifest) else Manifest.read(manifest)
    if isinstance(manifest, Trials):
        return manifest.files()
    return list(dict.fromkeys(r.path for r in manifest))
