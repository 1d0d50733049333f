"""Plain-text report of an evaluation (what ``musicrep evaluate`` prints)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from musicrep.probes.base import METRIC_LABELS, TASK_LABELS, EvalResult

__all__ = ["format_table"]


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
    head = [TASK_LABELS[r.task_type]]
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
    if cfg.get("task_reason"):
        lines.append(f"task: {TASK_LABELS[r.task_type]} ({cfg['task_reason']})")
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
    width = max(len(METRIC_LABELS[m]) for m in r.metrics)
    lines.append("")
    for name, m in r.metrics.items():
        extra = ""
        if "std_over_repeats" in m:
            extra = f"   (± {m['std_over_repeats']:.4f} over repeats)"
        lines.append(f"  {METRIC_LABELS[name]:<{width}}  {_fmt(m)}{extra}")
    if len(r.per_fold) > 1:
        names = list(r.metrics)
        lines.append("")
        lines.append(
            "  "
            + f"{'fold':<10}{'test':>6}  "
            + "  ".join(f"{METRIC_LABELS[n]:<17}" for n in names)
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
