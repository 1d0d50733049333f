"""Multi-view classification with gradient blending: every method on three corpus tasks.

Trains, per task, the four single-view nets, the concatenation network (joint head only),
uniform weights, online gradient blending, and scores late fusion (average of the single-view
nets' posteriors); writes one report (accuracy table per method and task, the G-Blend weight
trajectories) to ``--out/report.md`` and ``--out/results.json``.

    flock /tmp/musicrep-cpu.lock python benchmarks/multiview_reproduction.py \
        --corpus data/corpus --out reports/multiview --epochs 4

Tasks: corpus style (single-label), corpus instrument (single-label, solo clips), corpus tags
(multi-label; scored by ROC-AUC instead of accuracy). Render the corpus first with
``musicrep data corpus --out data/corpus``.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

VIEWS = ["mel", "gammatone", "cqt", "wave"]
TASKS = {"style": "style.csv", "instrument": "instrument.csv", "tags": "tags.csv"}
WEIGHTED = {"concat": "joint", "uniform": "uniform", "gblend": "gblend"}


def train(recipe: str, manifest: Path, out: Path, args, sets: list[str]) -> dict:
    cmd = [
        str(Path(sys.executable).parent / "musicrep"),
        "train",
        "--recipe",
        recipe,
        "--manifest",
        str(manifest),
        "--out",
        str(out),
        "--overwrite",
        "--max-epochs",
        str(args.epochs),
        "--seed",
        str(args.seed),
        "--set",
        f"model.input_samples={args.samples}",
        "data.num_workers=0",
        *sets,
    ]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL if args.quiet else None)
    res = json.loads((out / "results.json").read_text())
    res["_seconds"] = time.perf_counter() - t0
    return res


def metric(res: dict, task: str) -> float:
    m = res.get("metrics", res)
    return float(m["roc_auc"] if task == "tags" else m["accuracy"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--corpus", type=Path, required=True, help="folder of musicrep data corpus")
    p.add_argument("--out", type=Path, required=True, help="report folder")
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--samples", type=int, default=32000, help="crop length (16 kHz samples)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    from musicrep.late_fusion import evaluate_late_fusion

    args.out.mkdir(parents=True, exist_ok=True)
    table: dict[str, dict[str, float]] = {}
    weights: dict[str, list] = {}
    for task in args.tasks:
        manifest = args.corpus / TASKS[task]
        runs = args.out / "runs" / task
        row: dict[str, float] = {}
        for v in VIEWS:
            res = train(
                "configs/multiview_single.yaml",
                manifest,
                runs / f"single-{v}",
                args,
                [f"model.backend_kwargs.views=[{v}]"],
            )
            row[f"single-{v}"] = metric(res, task)
        fused = evaluate_late_fusion(
            [runs / f"single-{v}" for v in VIEWS], manifest, chunks=4, show_progress=False
        )
        row["late-fusion"] = metric(fused, task)
        for method, weighting in WEIGHTED.items():
            res = train(
                f"configs/multiview_{'gblend' if method == 'gblend' else 'uniform'}.yaml",
                manifest,
                runs / method,
                args,
                [f"objective.weighting={weighting}"],
            )
            row[method] = metric(res, task)
        with open(runs / "gblend" / "gblend_weights.csv") as fh:
            weights[task] = list(csv.reader(fh))
        table[task] = row
        (args.out / "results.json").write_text(
            json.dumps(
                {"table": table, "weights": weights, "args": vars(args)}, default=str, indent=1
            )
        )
    methods = list(next(iter(table.values())))
    lines = [
        "# Multi-view classification: methods x tasks",
        "",
        f"epochs {args.epochs}, crops {args.samples} samples, seed {args.seed}; "
        "accuracy (tags: macro ROC-AUC), test split, track level",
        "",
        "| method | " + " | ".join(table) + " |",
        "|---" * (len(table) + 1) + "|",
    ]
    for m in methods:
        lines.append(f"| {m} | " + " | ".join(f"{table[t][m]:.3f}" for t in table) + " |")
    for task, rows in weights.items():
        lines += ["", f"## G-Blend weights, {task}", ""]
        lines += ["| " + " | ".join(r) + " |" for r in rows[:1]]
        lines += ["|---" * len(rows[0]) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    (args.out / "report.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
