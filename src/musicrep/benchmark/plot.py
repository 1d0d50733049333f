"""One bar chart per task: the headline metric of every model, error bars, the chance level."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from musicrep.benchmark.scores import (
    FRACTION_METRICS,
    LOWER_IS_BETTER,
    METRIC_LABELS,
    cell_score,
    metric_unit,
)

__all__ = ["chance_level", "figure", "plot_task"]


def chance_level(document: Mapping[str, Any], task: Mapping[str, Any]) -> float | None:
    """Score of guessing, in display units: 100 / classes (accuracy), 50 (ROC-AUC, EER)."""
    prim = task["metrics"][0]
    if prim in ("roc_auc", "eer"):
        return 50.0
    if prim != "accuracy":
        return None
    for cell in document["results"][task["name"]].values():
        classes = cell.get("result", {}).get("classes")
        if cell.get("status") == "ok" and classes:
            return 100.0 / len(classes)
    return None


def _bars(document: Mapping[str, Any], task: Mapping[str, Any], prim: str):
    """Labels, means, stds (NaN when failed) and failure flags of a task's models."""
    labels, means, stds, failed = [], [], [], []
    for e in document["models"]:
        cell = document["results"][task["name"]].get(e["label"], {})
        labels.append(e["label"])
        ok = cell.get("status") == "ok"
        s = cell_score(cell["result"]["metrics"][prim], prim) if ok else None
        means.append(s.mean if s else float("nan"))
        stds.append(s.std if s else float("nan"))
        failed.append(not ok)
    return labels, means, stds, failed


def _chance_line(ax, chance: float) -> None:
    """A dashed line at the chance level, labelled in the right margin (outside the bars)."""
    ax.axhline(chance, color="gray", linestyle="--", linewidth=1, zorder=0)
    ax.annotate(
        f"chance\n{chance:.1f}",
        (1.0, chance),
        xycoords=("axes fraction", "data"),
        xytext=(4, 0),
        textcoords="offset points",
        ha="left",
        va="center",
        fontsize=7,
        color="dimgray",
        annotation_clip=False,
    )


def figure(document: Mapping[str, Any], task: Mapping[str, Any]):
    """The bar chart of one task's headline metric per model (error bars: std).

    The chance level is a dashed line labelled in the right margin, so the label never covers
    a bar or its error bar. Returns a ``matplotlib.figure.Figure``.
    """
    from matplotlib.figure import Figure

    prim = task["metrics"][0]
    labels, means, stds, failed = _bars(document, task, prim)
    fig = Figure(figsize=(max(4.0, 1.1 * len(labels) + 1.5) + 0.5, 3.6))
    ax = fig.subplots()
    x = np.arange(len(labels))
    colors = [f"C{i % 10}" for i in range(len(labels))]
    bars = ax.bar(x, means, yerr=stds, capsize=4, color=colors, edgecolor="black", linewidth=0.5)
    tops = [m + s for m, s, f in zip(means, stds, failed) if not f]
    top = max(tops) if tops and max(tops) > 0 else (1.0 if prim in FRACTION_METRICS else 100.0)
    for b, m, s, f in zip(bars, means, stds, failed):
        text = "failed" if f else f"{m:.1f}" if prim not in FRACTION_METRICS else f"{m:.3f}"
        ax.text(
            b.get_x() + b.get_width() / 2,
            (0 if f else m + s) + 0.01 * top,
            text,
            ha="center",
            va="bottom",
            fontsize=8,
            color="crimson" if f else "black",
        )
    ax.set_xticks(x)
    tilt = len(labels) > 4 or max(len(s) for s in labels) > 14  # long names would collide
    ax.set_xticklabels(labels, rotation=20 if tilt else 0, ha="right" if tilt else "center")
    chance = chance_level(document, task)
    if chance is not None:
        _chance_line(ax, chance)
    ax.set_ylabel(metric_unit(prim))
    limit = 1.15 * max(top, 0.0 if chance is None else chance)
    ax.set_ylim(0, limit if prim in FRACTION_METRICS else min(100.0, limit))
    ax.set_title(
        f"{task['name']}: {METRIC_LABELS[prim]} "
        f"({'lower' if prim in LOWER_IS_BETTER else 'higher'} is better)",
        fontsize=10,
    )
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    fig.tight_layout()
    return fig


def plot_task(document: Mapping[str, Any], task: Mapping[str, Any], path: Path) -> None:
    """:func:`figure`, written to ``path`` as PNG (atomically)."""
    from musicrep.utils import atomic_path

    fig = figure(document, task)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
