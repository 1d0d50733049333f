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


# ---------------------------------------------------------------------------------- verification

#: Prior of a target trial in the detection cost function. 0.01 is the NIST SRE 2008-2010 and
#: VoxCeleb Speaker Recognition Challenge setting (with C_miss = C_fa = 1).
DCF_P_TARGET = 0.01
#: Costs of a miss and of a false alarm in the detection cost function.
DCF_C_MISS = 1.0
DCF_C_FA = 1.0


def detection_error_curve(
    labels: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Miss and false-alarm rates of a verification system at every score threshold.

    A trial is accepted when its score is ``>= threshold``. The first point is the threshold
    ``+inf`` (everything rejected: miss rate 1, false-alarm rate 0) and the last accepts every
    trial (miss rate 0, false-alarm rate 1); ties share one point. Built on
    ``sklearn.metrics.roc_curve(..., drop_intermediate=False)``.

    Parameters
    ----------
    labels : np.ndarray, shape (trials,)
        1 for a target trial (same identity), 0 for a non-target trial.
    scores : np.ndarray, shape (trials,)
        Higher means "more likely the same identity" (e.g. cosine similarity).

    Returns
    -------
    p_miss, p_fa, thresholds : np.ndarray, shape (points,)
        Miss rate (false-rejection rate), false-alarm rate (false-acceptance rate) and the
        threshold of each point; ``p_miss`` decreases and ``p_fa`` increases along the curve.

    Raises
    ------
    ValueError
        ``labels`` has only one class, lengths differ, or scores are not finite.
    """
    from sklearn.metrics import roc_curve

    labels = np.asarray(labels).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if labels.shape != scores.shape:
        raise ValueError(f"{labels.shape[0]} labels but {scores.shape[0]} scores")
    if not np.isfinite(scores).all():
        raise ValueError("scores must be finite")
    y = (labels > 0.5).astype(np.int64)
    n_target = int(y.sum())
    if n_target == 0 or n_target == y.shape[0]:
        raise ValueError(
            "verification metrics need both target (1) and non-target (0) trials; "
            f"got {n_target} target(s) among {y.shape[0]} trials"
        )
    p_fa, p_hit, thresholds = roc_curve(y, scores, drop_intermediate=False)
    return 1.0 - p_hit, p_fa, thresholds


def eer(
    labels: np.ndarray, scores: np.ndarray, *, return_threshold: bool = False
) -> float | tuple[float, float]:
    """Equal error rate: the operating point where the miss rate equals the false-alarm rate.

    The detection-error curve of :func:`detection_error_curve` is piecewise linear between its
    points; the EER is where that line crosses ``p_miss == p_fa`` (linear interpolation between
    the last point with ``p_miss > p_fa`` and the first with ``p_miss <= p_fa``). Perfectly
    separated scores give 0; scores that carry no information give about 0.5.

    Parameters
    ----------
    labels : np.ndarray, shape (trials,)
        1 for target trials, 0 for non-target trials.
    scores : np.ndarray, shape (trials,)
        Trial scores, higher = more likely target.
    return_threshold : bool
        Also return the threshold of the first point at or past the crossing.

    Returns
    -------
    float
        The EER as a fraction in [0, 1] (multiply by 100 for the usual "EER %"); with
        ``return_threshold``, a tuple ``(eer, threshold)``.

    Examples
    --------
    >>> round(eer([1, 1, 1, 0, 0], [0.9, 0.7, 0.2, 0.5, 0.1]), 4)  # a target below a non-target
    0.3333
    """
    p_miss, p_fa, thresholds = detection_error_curve(labels, scores)
    diff = p_miss - p_fa  # starts at 1 (> 0), ends at -1 (<= 0)
    i = int(np.argmax(diff <= 0))
    d0, d1 = diff[i - 1], diff[i]
    t = d0 / (d0 - d1)
    value = float(p_fa[i - 1] + t * (p_fa[i] - p_fa[i - 1]))
    if return_threshold:
        return value, float(thresholds[i])
    return value


def min_dcf(
    labels: np.ndarray,
    scores: np.ndarray,
    *,
    p_target: float = DCF_P_TARGET,
    c_miss: float = DCF_C_MISS,
    c_fa: float = DCF_C_FA,
    return_threshold: bool = False,
) -> float | tuple[float, float]:
    """Minimum normalised detection cost over all thresholds (NIST SRE / VoxSRC definition).

    ``DCF(t) = c_miss * p_miss(t) * p_target + c_fa * p_fa(t) * (1 - p_target)``, divided by
    ``min(c_miss * p_target, c_fa * (1 - p_target))``, the cost of the better trivial system
    (accept everything or reject everything), so 1.0 means "no better than a fixed decision".

    Parameters
    ----------
    labels : np.ndarray, shape (trials,)
        1 for target trials, 0 for non-target trials.
    scores : np.ndarray, shape (trials,)
        Trial scores, higher = more likely target.
    p_target : float
        Prior probability of a target trial (default 0.01, as VoxSRC).
    c_miss, c_fa : float
        Costs of a miss and of a false alarm (default 1 and 1).
    return_threshold : bool
        Also return the threshold that attains the minimum.

    Returns
    -------
    float
        The minimum normalised DCF in [0, 1]; with ``return_threshold``, ``(min_dcf, threshold)``.
    """
    if not 0.0 < p_target < 1.0:
        raise ValueError(f"p_target must be in (0, 1); got {p_target}")
    if c_miss <= 0 or c_fa <= 0:
        raise ValueError(f"costs must be positive; got c_miss={c_miss}, c_fa={c_fa}")
    p_miss, p_fa, thresholds = detection_error_curve(labels, scores)
    dcf = c_miss * p_miss * p_target + c_fa * p_fa * (1.0 - p_target)
    i = int(np.argmin(dcf))
    value = float(dcf[i] / min(c_miss * p_target, c_fa * (1.0 - p_target)))
    if return_threshold:
        return value, float(thresholds[i])
    return value
