"""Track-level metrics for tagging and classification, computed with scikit-learn.

Multi-label tagging is scored as in Won et al. (SMC 2020) and every music-tagging paper since:
macro ROC-AUC (``sklearn.metrics.roc_auc_score``) and macro PR-AUC (average precision,
``sklearn.metrics.average_precision_score``) over the tag vocabulary. A tag whose ground truth has
a single class in the evaluated split (no positives, or no negatives) has no defined ROC-AUC, and
its average precision is meaningless; such tags are left out of both macro averages and reported
by name (``minzwon/sota-music-tagging-models`` issue #15 crashes on exactly this case).

Single-label classification is scored by accuracy and macro F1 (``sklearn.metrics.f1_score`` with
``average="macro"`` over the classes present in the ground truth or the predictions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class TaggingScores:
    """Macro ROC-AUC / PR-AUC of a multi-label prediction.

    Attributes
    ----------
    roc_auc, pr_auc : float
        Macro averages over the scored tags (``nan`` when no tag could be scored).
    per_tag : dict
        ``{tag: {"roc_auc", "pr_auc", "positives"}}`` for every scored tag.
    skipped : dict
        ``{tag: reason}`` for tags left out because the split holds a single class for them.
    n_items : int
        Number of tracks scored.
    """

    roc_auc: float
    pr_auc: float
    per_tag: dict[str, dict[str, float]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    n_items: int = 0

    def summary(self) -> dict[str, float]:
        """The headline numbers, as logged during training."""
        return {"roc_auc": self.roc_auc, "pr_auc": self.pr_auc}

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ClassificationScores:
    """Accuracy and macro F1 of a single-label prediction."""

    accuracy: float
    macro_f1: float
    per_class_f1: dict[str, float] = field(default_factory=dict)
    n_items: int = 0

    def summary(self) -> dict[str, float]:
        return {"accuracy": self.accuracy, "macro_f1": self.macro_f1}

    def to_dict(self) -> dict:
        return asdict(self)


def _names(labels: Sequence[str] | None, n: int) -> list[str]:
    if labels is None:
        return [str(i) for i in range(n)]
    if len(labels) != n:
        raise ValueError(f"{len(labels)} label names for {n} columns")
    return [str(t) for t in labels]


def tagging_metrics(
    y_true: np.ndarray, y_score: np.ndarray, tags: Sequence[str] | None = None
) -> TaggingScores:
    """Macro ROC-AUC and PR-AUC over the tags that have both classes in ``y_true``.

    Parameters
    ----------
    y_true : np.ndarray, shape (items, tags)
        Multi-hot ground truth (0/1).
    y_score : np.ndarray, shape (items, tags)
        Scores, e.g. mean sigmoid outputs per track; any monotonic score works.
    tags : sequence of str, optional
        Tag names for the report (default: column indices).

    Returns
    -------
    TaggingScores
        Macro averages equal ``roc_auc_score(y_true[:, kept], y_score[:, kept], average="macro")``
        and the same for ``average_precision_score``; ``skipped`` names the rest.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=np.float64)
    if y_true.ndim != 2 or y_true.shape != y_score.shape:
        raise ValueError(
            f"y_true and y_score must both be (items, tags); got {y_true.shape}, {y_score.shape}"
        )
    names = _names(tags, y_true.shape[1])
    y_true = (y_true > 0.5).astype(np.int64)
    positives = y_true.sum(axis=0)
    n = y_true.shape[0]
    skipped: dict[str, str] = {}
    for j, tag in enumerate(names):
        if positives[j] == 0:
            skipped[tag] = "no positive example in this split"
        elif positives[j] == n:
            skipped[tag] = "no negative example in this split"
    keep = np.array([t not in skipped for t in names], dtype=bool)
    if not keep.any():
        return TaggingScores(float("nan"), float("nan"), {}, skipped, n)
    roc = np.atleast_1d(roc_auc_score(y_true[:, keep], y_score[:, keep], average=None))
    pr = np.atleast_1d(average_precision_score(y_true[:, keep], y_score[:, keep], average=None))
    kept_names = [t for t, k in zip(names, keep) if k]
    per_tag = {
        t: {"roc_auc": float(r), "pr_auc": float(p), "positives": int(c)}
        for t, r, p, c in zip(kept_names, roc, pr, positives[keep])
    }
    return TaggingScores(float(roc.mean()), float(pr.mean()), per_tag, skipped, n)


def classification_metrics(
    y_true: np.ndarray, y_score: np.ndarray, classes: Sequence[str] | None = None
) -> ClassificationScores:
    """Accuracy and macro F1 of the arg-max prediction.

    Parameters
    ----------
    y_true : np.ndarray, shape (items,)
        Class indices.
    y_score : np.ndarray, shape (items, classes) or (items,)
        Class scores (e.g. mean softmax per track), or already-predicted class indices.
    classes : sequence of str, optional
        Class names for the per-class report.
    """
    from sklearn.metrics import accuracy_score, f1_score

    y_true = np.asarray(y_true).astype(np.int64).reshape(-1)
    y_score = np.asarray(y_score)
    y_pred = y_score.argmax(axis=1) if y_score.ndim == 2 else y_score.astype(np.int64)
    if y_pred.shape != y_true.shape:
        raise ValueError(f"{y_true.shape[0]} targets but {y_pred.shape[0]} predictions")
    names = [str(c) for c in classes] if classes is not None else None
    present = np.union1d(y_true, y_pred)
    per_class = f1_score(y_true, y_pred, labels=present, average=None, zero_division=0)
    per_class_f1 = {
        (names[c] if names else str(c)): float(f) for c, f in zip(present.tolist(), per_class)
    }
    return ClassificationScores(
        accuracy=float(accuracy_score(y_true, y_pred)),
        macro_f1=float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        per_class_f1=per_class_f1,
        n_items=int(y_true.shape[0]),
    )
