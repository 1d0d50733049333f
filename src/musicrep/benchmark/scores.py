"""Scores as the benchmark shows them: display units, direction, comparisons within noise."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from musicrep.probes import METRICS

__all__ = [
    "LOWER_IS_BETTER",
    "METRIC_LABELS",
    "TASK_METRICS",
    "Score",
    "best",
    "cell_score",
    "compare",
    "fmt_score",
    "metric_unit",
]

#: Metrics where lower is better.
LOWER_IS_BETTER = frozenset({"eer", "min_dcf"})
#: Display names of the metrics.
METRIC_LABELS = {
    "accuracy": "accuracy",
    "macro_f1": "macro F1",
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
    "eer": "EER",
    "min_dcf": "minDCF",
}
#: Metrics shown as fractions rather than percentages.
FRACTION_METRICS = frozenset({"min_dcf"})
#: Headline and second metric per task type (:data:`musicrep.probes.METRICS`).
TASK_METRICS = dict(METRICS)


@dataclass(frozen=True)
class Score:
    """A score as shown in the tables: mean and std (display units), and its direction."""

    mean: float
    std: float
    higher_is_better: bool = True


def compare(a: Score, b: Score) -> str:
    """Is ``a`` better than ``b``? One of ``">"``, ``">="``, ``"<="``, ``"<"``.

    ``">"``: ``a`` is better by more than the combined spread ``sqrt(std_a^2 + std_b^2)``;
    ``">="``: better mean, within that spread; ``"<="`` / ``"<"`` the same the other way ("better"
    follows the metric's direction). Equal means count as ``">="``.
    """
    sign = 1.0 if a.higher_is_better else -1.0
    diff = sign * (a.mean - b.mean)
    noise = math.hypot(a.std, b.std)
    if diff > noise:
        return ">"
    if diff >= 0:
        return ">="
    if -diff > noise:
        return "<"
    return "<="


def fmt_score(s: Score) -> str:
    """``"mean ± std"`` with two decimals."""
    return f"{s.mean:.2f} ± {s.std:.2f}"


def metric_unit(name: str) -> str:
    """Axis/column label of a metric: ``"accuracy (%)"``, ``"minDCF"``."""
    return METRIC_LABELS[name] + ("" if name in FRACTION_METRICS else " (%)")


def cell_score(metric: Mapping[str, Any], name: str) -> Score:
    """A result's metric entry in display units; the std is over repeats for fold tasks."""
    scale = 1.0 if name in FRACTION_METRICS else 100.0
    std = metric.get("std_over_repeats", metric["std"])
    return Score(scale * metric["mean"], scale * std, name not in LOWER_IS_BETTER)


def best(scores: Mapping[str, Score]) -> set[str]:
    """Labels whose score is the best or within noise of it (``compare`` is not ``"<"``)."""
    if not scores:
        return set()
    top = max(scores, key=lambda k: scores[k].mean * (1 if scores[k].higher_is_better else -1))
    return {k for k, s in scores.items() if k == top or compare(s, scores[top]) != "<"}
