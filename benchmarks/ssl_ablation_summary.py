"""Summary of ``benchmarks/ssl_ablation.sh``: columns that differ only by a seed averaged.

Reads the benchmark's ``results.json`` and prints a markdown table of the headline metric of
each task. Columns named ``X_s<N>`` are seeds of ``X`` (``untrained_s0``, ``untrained_s1``: two
weight seeds of the untrained encoder; ``mt_music_unc_s1``: training seed 1 of
``mt_music_unc``, whose own column is seed 0). A grouped column shows the mean of its seeds and
each seed's value (each a mean over the probe repeats); a single column shows mean ± std over
the probe repeats. Below it, per task, every column against the untrained encoder: the
difference of the means and whether every seed of the column lies above every untrained seed
("beyond the seed spread").

Usage: python benchmarks/ssl_ablation_summary.py reports/ssl/results.json
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from typing import Any

from musicrep.benchmark.scores import cell_score, metric_unit

BASELINE = "untrained"


def group_seeds(labels: list[str]) -> dict[str, list[str]]:
    """``{column: [labels of its seeds]}`` in first-seen order (``X`` and ``X_s<N>`` join)."""
    groups: dict[str, list[str]] = {}
    for label in labels:
        m = re.fullmatch(r"(.+)_s(\d+)", label)
        base = m.group(1) if m else label
        groups.setdefault(base, []).append(label)
    return groups


def scores(document: Mapping[str, Any]) -> dict[str, dict[str, tuple[float, float]]]:
    """``{task: {label: (mean, std)}}`` of the headline metric, display units."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for t in document["tasks"]:
        prim = t["metrics"][0]
        row = {}
        for label, cell in document["results"][t["name"]].items():
            if cell.get("status") == "ok":
                s = cell_score(cell["result"]["metrics"][prim], prim)
                row[label] = (s.mean, s.std)
        out[t["name"]] = row
    return out


def summary(document: Mapping[str, Any]) -> str:
    labels = [m["label"] for m in document["models"]]
    groups = group_seeds(labels)
    table = scores(document)

    def header(base: str) -> str:
        n = len(groups[base])
        return base if n == 1 else f"{base} (mean of {n} seeds)"

    lines = [
        "| task | metric | " + " | ".join(header(b) for b in groups) + " |",
        "|---|---|" + "---:|" * len(groups),
    ]
    for t in document["tasks"]:
        row = table[t["name"]]
        cells = []
        for members in groups.values():
            vals = [row[m] for m in members if m in row]
            if len(vals) < len(members):
                cells.append("failed")
            elif len(vals) == 1:
                cells.append(f"{vals[0][0]:.2f} ± {vals[0][1]:.2f}")
            else:
                mean = sum(v[0] for v in vals) / len(vals)
                cells.append(f"{mean:.2f} ({' / '.join(f'{v[0]:.2f}' for v in vals)})")
        lines.append(
            f"| {t['name']} | {metric_unit(t['metrics'][0])} | " + " | ".join(cells) + " |"
        )

    if BASELINE in groups:
        lines += [
            "",
            f"Against `{BASELINE}` (difference of the seed means; 'beyond' = every seed"
            f" above every {BASELINE} seed):",
        ]
        for t in document["tasks"]:
            row = table[t["name"]]
            ref = [row[m][0] for m in groups[BASELINE] if m in row]
            if len(ref) < len(groups[BASELINE]):
                continue
            ref_mean = sum(ref) / len(ref)
            parts = []
            for base, members in groups.items():
                if base == BASELINE or any(m not in row for m in members):
                    continue
                vals = [row[m][0] for m in members]
                diff = sum(vals) / len(vals) - ref_mean
                if min(vals) > max(ref):
                    verdict = "beyond"
                elif max(vals) < min(ref):
                    verdict = "below"
                else:
                    verdict = "within"
                parts.append(f"{base} {diff:+.2f} ({verdict})")
            lines.append(
                f"- {t['name']} ({BASELINE} {ref_mean:.2f}, seeds {min(ref):.2f}-{max(ref):.2f}): "
                + ", ".join(parts)
            )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as fh:
        print(summary(json.load(fh)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
