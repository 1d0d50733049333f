"""Multi-view classification with gradient blending (Phan et al. 2021): every method on three
corpus tasks, one report.

Per task it trains (``musicrep train``) the four single-view nets (mel, gammatone, CQT,
waveform; ``configs/multiview_single.yaml``), scores late fusion of those four
(``musicrep evaluate --ensemble``: mean track posterior), and trains the 4-view network with
the joint head alone (concatenation), uniform branch weights and online G-Blend weights
(``configs/multiview_{concat,uniform,gblend}.yaml``). It then times training steps of the 4-view
network and of each single view on random audio (training throughput, clips/s) and writes:

    OUT/report.md        test metric per method and task (mean ± std over seeds), G-Blend
                         minus each baseline with a 95 % t-interval over seeds, G-Blend weights
                         per epoch, throughput, wall times, the command
    OUT/results.json     the same numbers, every run's results per seed, the arguments
    OUT/weights.png      G-Blend weight trajectories (one panel per task, every seed)
    OUT/seedS/runs/TASK/...  the run folders of training seed S (each with
                         gblend_weights.csv/.png where weighted)

--seeds 0,1,2 repeats every method x task for each training seed (--seed N: one seed); the
data split is the corpus's and the same for every seed. With --resume, runs that already have
results are kept, so seeds can be added one invocation at a time
(--seeds 0, then --seeds 0,1, ...).

Tasks (render the corpus first: ``musicrep data corpus --out data/corpus``):
  style       single-label, 7 styles, accuracy
  instrument  single-label, 20 instruments (solo clips only), accuracy
  tags        multi-label facet:value tags (style, instrument, mode, tempo, meter, texture),
              macro ROC-AUC
Test metrics are at track level (--chunks chunks per track). The best checkpoint of each run
is chosen on the valid split (single views: val/loss; multi-view: the joint head's valid loss).

    flock /tmp/musicrep-cpu.lock python benchmarks/multiview_reproduction.py \\
        --corpus data/corpus --out reports/multiview --epochs 4 --samples 16000 --valid-chunks 2 \\
        --seeds 0,1,2 --resume

--readme also writes the report into benchmarks/README.md (section "## Multi-view
classification with gradient blending"). --resume keeps runs that already have results.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_model, load_average, update_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VIEWS = ["mel", "gammatone", "cqt", "wave"]
TASKS = {"style": "style.csv", "instrument": "instrument.csv", "tags": "tags.csv"}
#: multi-view methods -> (recipe, its objective.weighting)
WEIGHTED = {
    "concat": ("configs/multiview_concat.yaml", "joint"),
    "uniform": ("configs/multiview_uniform.yaml", "uniform"),
    "gblend": ("configs/multiview_gblend.yaml", "gblend"),
}
LABELS = {
    **{f"single-{v}": f"single view: {v}" for v in VIEWS},
    "late-fusion": "late fusion (mean posterior of the 4 single views)",
    "concat": "concatenation (joint head only)",
    "uniform": "uniform weights (joint + 4 view heads)",
    "gblend": "online G-Blend weights",
}
SECTION = "## Multi-view classification with gradient blending"


def cli() -> str:
    return str(Path(sys.executable).parent / "musicrep")


def run(cmd: list[str], quiet: bool) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL if quiet else None)
    return time.perf_counter() - t0


#: wall times of an earlier invocation (--resume keeps them for the runs it keeps)
PREVIOUS_SECONDS: dict[str, float] = {}


def train(recipe: str, manifest: Path, out: Path, args, sets: list[str], seed: int) -> dict:
    if args.resume and (out / "results.json").exists():
        res = json.loads((out / "results.json").read_text())
        res["_seconds"] = PREVIOUS_SECONDS.get(str(out))
        return res
    cmd = [
        cli(),
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
        str(seed),
        "--set",
        f"model.input_samples={args.samples}",
        f"training.batch_size={args.batch_size}",
        f"evaluation.chunks={args.chunks}",
        f"data.valid_chunks={args.valid_chunks}",
        "data.num_workers=0",
        *sets,
    ]
    seconds = run(cmd, args.quiet)
    res = json.loads((out / "results.json").read_text())
    res["_seconds"] = seconds
    return res


def late_fusion(runs: list[Path], manifest: Path, out: Path, args) -> dict:
    if not (args.resume and out.exists()):
        cmd = [cli(), "evaluate", "--ensemble", *map(str, runs), "--manifest", str(manifest)]
        cmd += ["--chunks", str(args.chunks), "--device", "cpu", "-q", "--out", str(out)]
        run(cmd, args.quiet)
    return json.loads(out.read_text())["result"]


def metric(res: dict, task: str) -> float:
    m = res.get("metrics", res)
    return float(m["roc_auc"] if task == "tags" else m["accuracy"])


def read_weights(path: Path) -> list[dict[str, float]]:
    with open(path) as fh:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]


# ----------------------------------------------------------------------------- throughput
def throughput(args) -> list[dict]:
    """Training steps (forward + backward + Adam) of the 4-view net (gradient_blending, joint
    + 4 heads) and of each single view (supervised head) on random audio."""
    import yaml

    from musicrep.training import resolve_config
    from musicrep.training.run import build_parts

    rows = []
    cases = [("4-view (gradient_blending)", "configs/multiview_gblend.yaml", VIEWS)]
    cases += [(f"single view: {v}", "configs/multiview_single.yaml", [v]) for v in VIEWS]
    for name, recipe, views in cases:
        raw = yaml.safe_load((ROOT / recipe).read_text())
        raw = {k: raw[k] for k in ("model", "objective", "training")}
        raw["model"] = {**raw["model"], "input_samples": args.samples}
        raw["model"]["backend_kwargs"] = {"views": list(views)}
        cfg = resolve_config(raw)
        torch.manual_seed(0)
        encoder, objective = build_parts(cfg, "singlelabel", [str(i) for i in range(10)])
        dev = torch.device(args.throughput_device)
        encoder.to(dev).train()
        objective.to(dev).train()
        params = [p for g in objective.param_groups(encoder) for p in g["params"]]
        opt = torch.optim.Adam(params, lr=1e-3)
        b = args.batch_size
        batch = {
            "wave": 0.1 * torch.randn(b, args.samples, device=dev),
            "target": torch.randint(0, 10, (b,), device=dev),
        }
        sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
        times = []
        for i in range(args.throughput_steps + 2):
            sync()
            t0 = time.perf_counter()
            opt.zero_grad()
            objective(encoder, batch)["loss"].backward()
            opt.step()
            sync()
            if i >= 2:  # two warm-up steps
                times.append(time.perf_counter() - t0)
        times.sort()
        step = times[len(times) // 2]
        n_params = sum(p.numel() for p in params)
        rows.append(
            {
                "model": name,
                "params": n_params,
                "step_s": step,
                "clips_per_s": b / step,
                "audio_s_per_s": b * args.samples / 16000 / step,
            }
        )
        print(f"throughput {name}: {b / step:.1f} clips/s", file=sys.stderr)
    return rows


# ----------------------------------------------------------------------------- seeds
#: baselines G-Blend is compared with (key -> label); "best-single" is resolved per task
BASELINES = {
    "uniform": "uniform weights",
    "concat": "concatenation",
    "late-fusion": "late fusion",
    "best-single": "best single view",
}


def best_single_view(per_seed: dict[str, dict[str, float]]) -> str:
    """The single view with the highest mean test metric over seeds (one view for all seeds,
    so the comparison stays paired; choosing it on test favours the baseline)."""
    views = [f"single-{v}" for v in VIEWS]
    return max(views, key=lambda m: sum(row[m] for row in per_seed.values()))


def aggregate(per_seed: dict[str, dict[str, dict[str, float]]], confidence: float = 0.95):
    """Seeds -> task -> method -> metric  =>  (cells, diffs, best single view per task).

    ``cells[task][method]``: :class:`SeedStats` of the metric over seeds; ``diffs[task][b]``:
    :class:`SeedStats` of the per-seed difference G-Blend minus baseline ``b``
    (:data:`BASELINES`)."""
    from musicrep.benchmark.seeds import paired_difference, seed_stats

    seeds = list(per_seed)
    tasks = list(per_seed[seeds[0]])
    cells, diffs, best = {}, {}, {}
    for task in tasks:
        rows = {s: per_seed[s][task] for s in seeds}
        methods = [m for m in rows[seeds[0]] if all(m in r for r in rows.values())]
        cells[task] = {m: seed_stats([r[m] for r in rows.values()], confidence) for m in methods}
        best[task] = best_single_view(rows)
        g = [r["gblend"] for r in rows.values()]
        diffs[task] = {}
        for b in BASELINES:
            key = best[task] if b == "best-single" else b
            diffs[task][b] = paired_difference(g, [r[key] for r in rows.values()], confidence)
    return cells, diffs, best


# ----------------------------------------------------------------------------- report
def plot_weights(weights: dict[str, dict[str, list[dict[str, float]]]], path: Path) -> None:
    """G-Blend weights per epoch, one panel per task; one colour per branch, one line style
    per seed (``weights[seed][task]`` = rows of ``gblend_weights.csv``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seeds = list(weights)
    tasks = list(weights[seeds[0]])
    styles = ["-", "--", ":", "-."]
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.2), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for si, seed in enumerate(seeds):
            rows = weights[seed][task]
            epochs = [r["epoch"] + 1 for r in rows]
            for bi, branch in enumerate([k for k in rows[0] if k != "epoch"]):
                ax.plot(
                    epochs,
                    [r[branch] for r in rows],
                    marker="o",
                    ms=3,
                    color=f"C{bi}",
                    ls=styles[si % len(styles)],
                    label=branch if si == 0 else None,
                )
        ax.set_title(f"G-Blend weights, {task}")
        ax.set_xlabel("after epoch")
        ax.set_ylim(0, None)
    axes[0][0].set_ylabel("branch weight")
    axes[0][-1].legend(
        fontsize=7,
        title="line style by seed: "
        + ", ".join(f"{s} '{styles[i % len(styles)]}'" for i, s in enumerate(seeds)),
        title_fontsize=6,
    )
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def command(args) -> str:
    seeds = ",".join(map(str, args.seed_list))
    return (
        "flock /tmp/musicrep-cpu.lock nice -n 19 python benchmarks/multiview_reproduction.py "
        f"--corpus {args.corpus} --out {args.out} --epochs {args.epochs} "
        f"--samples {args.samples} --batch-size {args.batch_size} --chunks {args.chunks} "
        f"--valid-chunks {args.valid_chunks} --seeds {seeds} --resume"
        + (" --readme" if args.readme else "")
    )


def report(doc: dict, args) -> str:
    per_seed = {s: d["table"] for s, d in doc["seeds"].items()}
    cells, diffs, best = aggregate(per_seed)
    seeds = list(per_seed)
    n = len(seeds)
    tasks = list(cells)
    n_test = doc["n_test"]
    head = "| method | " + " | ".join(
        f"{t} ({'ROC-AUC' if t == 'tags' else 'accuracy'}, {n_test[t]} test tracks)" for t in tasks
    )
    lines = [
        SECTION,
        "",
        "Phan et al. (2021) multi-view networks on the built-in corpus (`musicrep data corpus`, "
        f"{doc['corpus_summary']}). Size (CPU): {args.epochs} epochs, "
        f"{args.samples / 16000:g}-s crops, batch {args.batch_size}, Adam 1e-3; every method x "
        f"task trained with {n} training seed{'s' if n > 1 else ''} ({', '.join(seeds)}: "
        "initialisation, crops, batch order; the data split is the corpus's, the same for all "
        f"seeds); test metric at track level ({args.chunks} chunks per track), best checkpoint "
        f"on the valid split ({args.valid_chunks} chunks per track). Sub-networks as the recipes "
        "(`configs/multiview_*.yaml`: mel/gammatone/CQT 64 bands into a 4-layer 2-D CNN, "
        "waveform into a 6-layer sample-level CNN; 4-view net "
        f"{doc['throughput'][0]['params'] / 1e6:.2f} M parameters with its heads).",
        "",
        "```bash",
        command(args),
        "```",
        "",
        f"Test metric, mean ± std over {n} seed{'s' if n > 1 else ''} (sample std; best mean "
        "in bold):",
        "",
        head + " |",
        "|---" * (len(tasks) + 1) + "|",
    ]
    for m in LABELS:
        if all(m in cells[t] for t in tasks):
            row = []
            for t in tasks:
                top = max(c.mean for c in cells[t].values())
                c = cells[t][m]
                txt = f"{c.mean:.3f} ± {c.std:.3f}"
                row.append(f"**{txt}**" if c.mean == top else txt)
            lines.append(f"| {LABELS[m]} | " + " | ".join(row) + " |")
    lines += ["", "Chance: " + ", ".join(f"{t} {doc['chance'][t]}" for t in tasks) + "."]
    if n > 1:
        lines += [
            "",
            f"Per seed (seed {' / '.join(seeds)}):",
            "",
            "| method | " + " | ".join(tasks) + " |",
            "|---" * (len(tasks) + 1) + "|",
        ]
        for m in LABELS:
            if all(m in cells[t] for t in tasks):
                row = [" / ".join(f"{per_seed[s][t][m]:.3f}" for s in seeds) for t in tasks]
                lines.append(f"| {m} | " + " | ".join(row) + " |")
    lines += [
        "",
        (
            f"G-Blend minus each baseline: mean of the {n} per-seed differences (same seed, "
            f"same task) and its 95 % Student-t interval ({n - 1} degrees of freedom); an "
            "interval that excludes 0 is marked established (yes)."
            if n > 1
            else "G-Blend minus each baseline (one seed: no interval)."
        )
        + " The best single view is the view with the best mean over seeds on that task "
        "(chosen on test, which favours the baseline):",
        "",
        "| task | " + " | ".join(f"G-Blend - {BASELINES[b]}" for b in BASELINES) + " |",
        "|---" * (len(BASELINES) + 1) + "|",
    ]
    for t in tasks:
        row = []
        for b in BASELINES:
            d = diffs[t][b]
            name = f" ({best[t].removeprefix('single-')})" if b == "best-single" else ""
            if n > 1:
                mark = "yes" if d.excludes_zero() else "no"
                row.append(f"{d.mean:+.3f} [{d.lo:+.3f}, {d.hi:+.3f}] {mark}{name}")
            else:
                row.append(f"{d.mean:+.3f}{name}")
        lines.append(f"| {t} | " + " | ".join(row) + " |")
    lines += ["", "What the tables say (written from the numbers above):", ""]
    lines += [f"- {x}" for x in findings(cells, diffs, best, doc["n_test"], n, per_seed)]
    lines += [
        "",
        "G-Blend weights after each epoch, mean ± std over seeds "
        "(`seedS/runs/TASK/gblend/gblend_weights.csv`; plot `weights.png`, every seed):",
        "",
    ]
    for task in tasks:
        per = [doc["seeds"][s]["weights"][task] for s in seeds]
        branches = [k for k in per[0][0] if k != "epoch"]
        lines += [f"{task}:", "", "| epoch | " + " | ".join(branches) + " |"]
        lines += ["|---" * (len(branches) + 1) + "|"]
        for i in range(min(len(p) for p in per)):
            vals = []
            for b in branches:
                st = seed_stats_of([p[i][b] for p in per])
                vals.append(f"{st.mean:.3f} ± {st.std:.3f}")
            lines.append(f"| {int(per[0][i]['epoch']) + 1} | " + " | ".join(vals) + " |")
        lines.append("")
    tp = doc["throughput"]
    lines += [
        f"Training throughput (optimisation steps on random audio, batch {args.batch_size} x "
        f"{args.samples / 16000:g} s, median of {args.throughput_steps} steps after 2 warm-up "
        f"steps, {doc['device']}, load average {doc['load_average']:.1f} at the end; "
        "a shared machine: compare rows):",
        "",
        "| model | parameters | step (s) | clips/s | audio s / s |",
        "|---|---|---|---|---|",
    ]
    for r in tp:
        lines.append(
            f"| {r['model']} | {r['params'] / 1e6:.3f} M | {r['step_s']:.3f} | "
            f"{r['clips_per_s']:.1f} | {r['audio_s_per_s']:.1f} |"
        )
    secs = {s: doc["seeds"][s]["seconds"] for s in seeds}
    total = sum(v for d in secs.values() for t in d.values() for v in t.values() if v)
    lines += [
        "",
        "Wall time per run (s, training incl. validation and test scoring, process start "
        f"included; mean over seeds of the runs timed, on a shared machine): total {total:.0f} s "
        f"for {n} seed{'s' if n > 1 else ''}.",
        "",
        "| run | " + " | ".join(tasks) + " |",
        "|---" * (len(tasks) + 1) + "|",
    ]
    for m in secs[seeds[0]][tasks[0]]:
        row = []
        for t in tasks:
            vals = [secs[s][t].get(m) for s in seeds if secs[s][t].get(m)]
            row.append(f"{sum(vals) / len(vals):.0f}" if vals else "-")
        lines.append(f"| {m} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def seed_stats_of(values):
    from musicrep.benchmark.seeds import seed_stats

    return seed_stats(values)


def findings(cells, diffs, best, n_test, n: int, per_seed=None) -> list[str]:
    """Plain statements computed from the tables (no claims beyond the numbers); with
    ``per_seed`` (seed -> task -> method -> metric) also the comparisons whose sign is the same
    on every seed."""
    out = []
    established, open_ = [], []
    for task in cells:
        g = cells[task]["gblend"]
        order = sorted(cells[task], key=lambda m: cells[task][m].mean, reverse=True)
        rank = 1 + sum(c.mean > g.mean for c in cells[task].values())
        step = "" if task == "tags" else f" (1 test track = {100 / n_test[task]:.1f} points)"
        parts = []
        for b, label in BASELINES.items():
            d = diffs[task][b]
            name = f" ({best[task].removeprefix('single-')})" if b == "best-single" else ""
            txt = f"{label}{name} {d.mean:+.3f}"
            if n > 1:
                txt += f" [{d.lo:+.3f}, {d.hi:+.3f}]"
                side = "better" if d.mean > 0 else "worse"
                (established if d.excludes_zero() else open_).append(
                    f"{side} than {label}{name} on {task}"
                    if d.excludes_zero()
                    else f"{label}{name} on {task}"
                )
            parts.append(txt)
        out.append(
            f"{task}: best mean {order[0]} {cells[task][order[0]].mean:.3f}; G-Blend "
            f"{g.mean:.3f} ± {g.std:.3f} ranks {rank} of {len(cells[task])} by mean; G-Blend "
            f"minus {', '.join(parts)}{step}."
        )
    if n > 1:
        out.append(
            "Established (95 % interval excludes 0): "
            + ("G-Blend is " + "; ".join(established) if established else "none")
            + "."
        )
        out.append(
            "Not established (interval includes 0): "
            + ("G-Blend vs " + "; ".join(open_) if open_ else "none")
            + "."
        )
        better = [x for x in established if x.startswith("better")]
        out.append(
            f"G-Blend is established better than a baseline in {len(better)} of "
            f"{len(established) + len(open_)} comparisons (each interval at 95 %, no "
            "correction for the number of comparisons). The intervals cover training-seed "
            f"variation only ({n} seeds, the same test tracks for every seed, a few epochs): "
            "they say nothing about another split or longer training."
        )
        if per_seed is not None:
            same = []
            for task in cells:
                for b, label in BASELINES.items():
                    key = best[task] if b == "best-single" else b
                    d = [r[task]["gblend"] - r[task][key] for r in per_seed.values()]
                    if all(x < 0 for x in d) or all(x > 0 for x in d):
                        side = "above" if d[0] > 0 else "below"
                        name = f" ({key.removeprefix('single-')})" if b == "best-single" else ""
                        same.append(f"{side} {label}{name} on {task}")
            out.append(
                f"Same sign on all {n} seeds (a descriptive count, weaker than an interval): "
                + ("G-Blend is " + "; ".join(same) if same else "no comparison")
                + "."
            )
    else:
        out.append(
            "One seed: no interval; differences of a few points are within run-to-run noise "
            "and none of them is established by this table (use --seeds 0,1,2)."
        )
    return out


def chance(manifest: Path, task: str) -> str:
    from musicrep.data.manifest import Manifest

    rows = [r for r in Manifest.read(manifest) if r.split == "test"]
    if task == "tags":
        return "0.5"
    counts: dict[str, int] = {}
    for r in rows:
        for lab in r.labels:
            counts[lab] = counts.get(lab, 0) + 1
    return f"{max(counts.values()) / len(rows):.3f} (majority class)"


def run_task(task: str, seed: int, args, sdoc: dict, doc: dict) -> None:
    """Every method on one task with one training seed (runs in OUT/seedS/runs/TASK/...)."""
    manifest = (args.corpus / TASKS[task]).resolve()
    runs = (args.out / f"seed{seed}" / "runs" / task).resolve()
    row, secs, res_all = {}, {}, {}
    for v in VIEWS:
        res = train(
            "configs/multiview_single.yaml",
            manifest,
            runs / f"single-{v}",
            args,
            [f"model.backend_kwargs.views=[{v}]"],
            seed,
        )
        row[f"single-{v}"], secs[f"single-{v}"] = metric(res, task), res["_seconds"]
        res_all[f"single-{v}"] = res
    t0 = time.perf_counter()
    fused = late_fusion(
        [runs / f"single-{v}" for v in VIEWS], manifest, runs / "late-fusion.json", args
    )
    lf_seconds = time.perf_counter() - t0
    if args.resume and str(runs / "late-fusion") in PREVIOUS_SECONDS:
        lf_seconds = PREVIOUS_SECONDS[str(runs / "late-fusion")]
    row["late-fusion"], secs["late-fusion"] = metric(fused, task), lf_seconds
    res_all["late-fusion"] = fused
    for method, (recipe, weighting) in WEIGHTED.items():
        res = train(
            recipe, manifest, runs / method, args, [f"objective.weighting={weighting}"], seed
        )
        row[method], secs[method] = metric(res, task), res["_seconds"]
        res_all[method] = res
    sdoc["table"][task], sdoc["seconds"][task], sdoc["runs"][task] = row, secs, res_all
    sdoc["weights"][task] = read_weights(runs / "gblend" / "gblend_weights.csv")
    doc["n_test"][task] = int(res_all["gblend"].get("n_tracks", 0))
    doc["chance"][task] = chance(manifest, task)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--corpus", type=Path, required=True, help="folder of `musicrep data corpus`")
    p.add_argument("--out", type=Path, required=True, help="report folder")
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--samples", type=int, default=32000, help="crop length, 16 kHz samples")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--chunks", type=int, default=4, help="test chunks per track")
    p.add_argument("--valid-chunks", type=int, default=4, help="valid chunks per track")
    p.add_argument("--seed", type=int, default=0, help="one training seed (see --seeds)")
    p.add_argument(
        "--seeds",
        default=None,
        help="training seeds, e.g. 0,1,2 (overrides --seed): every method x task per seed, "
        "cells mean ± std, G-Blend minus each baseline with a 95%% t-interval",
    )
    p.add_argument("--throughput-steps", type=int, default=5, help="timed training steps")
    p.add_argument("--throughput-device", default="cpu", help="device of the throughput steps")
    p.add_argument("--resume", action="store_true", help="keep runs that have results")
    p.add_argument(
        "--reuse-throughput",
        action="store_true",
        help="with --resume: keep the throughput rows of OUT/results.json (no timing)",
    )
    p.add_argument("--readme", action="store_true", help="write into benchmarks/README.md")
    p.add_argument("--quiet", action="store_true", help="no training output")
    args = p.parse_args()
    from musicrep.benchmark.seeds import parse_seeds

    args.seed_list = parse_seeds(args.seeds) if args.seeds else [args.seed]
    for t in args.tasks:
        if not (args.corpus / TASKS[t]).exists():
            sys.exit(
                f"error: {args.corpus / TASKS[t]} not found; render the corpus with "
                f"`musicrep data corpus --out {args.corpus}`"
            )
    from musicrep.utils import write_json_atomic, write_text_atomic

    args.out.mkdir(parents=True, exist_ok=True)
    prev: dict = {}
    if args.resume and (args.out / "results.json").exists():
        prev = json.loads((args.out / "results.json").read_text())
        for seed, sdoc in prev.get("seeds", {}).items():
            for task, secs in sdoc.get("seconds", {}).items():
                for method, value in secs.items():
                    path = (args.out / f"seed{seed}" / "runs" / task / method).resolve()
                    PREVIOUS_SECONDS[str(path)] = value
    t_start = time.perf_counter()
    doc: dict = {"seeds": {}, "n_test": {}, "chance": {}}
    for seed in args.seed_list:
        sdoc: dict = {"table": {}, "weights": {}, "seconds": {}, "runs": {}}
        doc["seeds"][str(seed)] = sdoc
        for task in args.tasks:
            run_task(task, seed, args, sdoc, doc)
            write_json_atomic(args.out / "results.json", {**doc, "args": vars(args)})
    keys = ("throughput", "cpu", "load_average", "device")
    if args.reuse_throughput and all(k in prev for k in keys):
        doc.update({k: prev[k] for k in keys})
    else:
        doc["throughput"] = throughput(args)
        doc["cpu"], doc["load_average"] = cpu_model(), load_average()
        if args.throughput_device.startswith("cuda"):
            doc["device"] = torch.cuda.get_device_name(torch.device(args.throughput_device))
        else:
            doc["device"] = f"{doc['cpu']}, {torch.get_num_threads()} threads"
    summary = args.corpus / "summary.txt"
    built = (
        [x for x in summary.read_text().splitlines() if "Built with" in x]
        if summary.exists()
        else []
    )
    doc["corpus_summary"] = built[0].strip().rstrip(".") if built else str(args.corpus)
    doc["total_seconds"] = time.perf_counter() - t_start
    write_json_atomic(args.out / "results.json", {**doc, "args": vars(args)})
    plot_weights({s: d["weights"] for s, d in doc["seeds"].items()}, args.out / "weights.png")
    text = report(doc, args)
    write_text_atomic(args.out / "report.md", text)
    if args.readme:
        update_section(ROOT / "benchmarks" / "README.md", SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
