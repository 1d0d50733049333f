"""Multi-view classification with gradient blending (Phan et al. 2021): every method on three
corpus tasks, one report.

Per task it trains (``musicrep train``) the four single-view nets (mel, gammatone, CQT,
waveform; ``configs/multiview_single.yaml``), scores late fusion of those four
(``musicrep evaluate --ensemble``: mean track posterior), and trains the 4-view network with
the joint head alone (concatenation), uniform branch weights and online G-Blend weights
(``configs/multiview_{concat,uniform,gblend}.yaml``). It then times training steps of the 4-view
network and of each single view on random audio (training throughput, clips/s) and writes:

    OUT/report.md        test metric per method and task, G-Blend weights per epoch,
                         throughput, wall times, the command
    OUT/results.json     the same numbers, every run's results, the arguments
    OUT/weights.png      G-Blend weight trajectories (one panel per task)
    OUT/runs/TASK/...    the run folders (each with gblend_weights.csv/.png where weighted)

Tasks (render the corpus first: ``musicrep data corpus --out data/corpus``):
  style       single-label, 7 styles, accuracy
  instrument  single-label, 20 instruments (solo clips only), accuracy
  tags        multi-label facet:value tags (style, instrument, mode, tempo, meter, texture),
              macro ROC-AUC
Test metrics are at track level (--chunks chunks per track). The best checkpoint of each run
is chosen on the valid split (single views: val/loss; multi-view: the joint head's valid loss).

    flock /tmp/musicrep-cpu.lock python benchmarks/multiview_reproduction.py \\
        --corpus data/corpus --out reports/multiview --epochs 4 --samples 16000 --valid-chunks 2

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


def train(recipe: str, manifest: Path, out: Path, args, sets: list[str]) -> dict:
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
        str(args.seed),
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


# ----------------------------------------------------------------------------- report
def plot_weights(weights: dict[str, list[dict[str, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(weights), figsize=(4.2 * len(weights), 3.2), squeeze=False)
    for ax, (task, rows) in zip(axes[0], weights.items()):
        epochs = [r["epoch"] + 1 for r in rows]
        for branch in [k for k in rows[0] if k != "epoch"]:
            ax.plot(epochs, [r[branch] for r in rows], marker="o", ms=3, label=branch)
        ax.set_title(f"G-Blend weights, {task}")
        ax.set_xlabel("after epoch")
        ax.set_ylim(0, None)
    axes[0][0].set_ylabel("branch weight")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def report(doc: dict, args) -> str:
    table, weights = doc["table"], doc["weights"]
    tasks = list(table)
    n_test = doc["n_test"]
    cmd = (
        "flock /tmp/musicrep-cpu.lock python benchmarks/multiview_reproduction.py "
        f"--corpus {args.corpus} --out {args.out} --epochs {args.epochs} "
        f"--samples {args.samples} --batch-size {args.batch_size} --chunks {args.chunks} "
        f"--valid-chunks {args.valid_chunks} "
        f"--seed {args.seed}" + (" --readme" if args.readme else "")
    )
    head = "| method | " + " | ".join(
        f"{t} ({'ROC-AUC' if t == 'tags' else 'accuracy'}, {n_test[t]} test tracks)" for t in tasks
    )
    lines = [
        SECTION,
        "",
        "Phan et al. (2021) multi-view networks on the built-in corpus (`musicrep data corpus`, "
        f"{doc['corpus_summary']}). Size (CPU): {args.epochs} epochs, "
        f"{args.samples / 16000:g}-s crops, batch {args.batch_size}, Adam 1e-3, seed "
        f"{args.seed}, one run per cell; test metric at track level ({args.chunks} chunks per "
        f"track), best checkpoint on the valid split ({args.valid_chunks} chunks per track). Sub-networks as the recipes "
        "(`configs/multiview_*.yaml`: mel/gammatone/CQT 64 bands into a 4-layer 2-D CNN, "
        "waveform into a 6-layer sample-level CNN; 4-view net "
        f"{doc['throughput'][0]['params'] / 1e6:.2f} M parameters with its heads).",
        "",
        "```bash",
        cmd,
        "```",
        "",
        head + " |",
        "|---" * (len(tasks) + 1) + "|",
    ]
    for m in LABELS:
        if all(m in table[t] for t in tasks):
            cells = []
            for t in tasks:
                best = max(table[t].values())
                v = table[t][m]
                cells.append(f"**{v:.3f}**" if v == best else f"{v:.3f}")
            lines.append(f"| {LABELS[m]} | " + " | ".join(cells) + " |")
    lines += ["", "Chance: " + ", ".join(f"{t} {doc['chance'][t]}" for t in tasks) + "."]
    lines += ["", "What the table says (written from the numbers above):", ""]
    lines += [f"- {s}" for s in findings(doc)]
    lines += [
        "",
        "G-Blend weights after each epoch (`runs/TASK/gblend/gblend_weights.csv`; plot "
        "`weights.png`):",
        "",
    ]
    for task, rows in weights.items():
        branches = [k for k in rows[0] if k != "epoch"]
        lines += [f"{task}:", "", "| epoch | " + " | ".join(branches) + " |"]
        lines += ["|---" * (len(branches) + 1) + "|"]
        for r in rows:
            lines.append(
                f"| {int(r['epoch']) + 1} | " + " | ".join(f"{r[b]:.3f}" for b in branches) + " |"
            )
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
    total = sum(v for t in doc["seconds"].values() for v in t.values() if v)
    lines += [
        "",
        "Wall time per run (s, training incl. validation and test scoring, process start "
        f"included): total {total:.0f} s.",
        "",
        "| run | " + " | ".join(tasks) + " |",
        "|---" * (len(tasks) + 1) + "|",
    ]
    for m in doc["seconds"][tasks[0]]:
        cells = [doc["seconds"][t].get(m) for t in tasks]
        lines.append(
            f"| {m} | " + " | ".join("-" if c is None else f"{c:.0f}" for c in cells) + " |"
        )
    return "\n".join(lines) + "\n"


def findings(doc: dict) -> list[str]:
    """Plain statements computed from the table (no claims beyond the numbers)."""
    out = []
    for task, row in doc["table"].items():
        n = doc["n_test"][task]
        best_single = max(row[f"single-{v}"] for v in VIEWS)
        g, c, u, lf = row["gblend"], row["concat"], row["uniform"], row["late-fusion"]
        order = sorted(row, key=row.get, reverse=True)
        step = "" if task == "tags" else f" (1 test track = {100 / n:.1f} points)"
        rank = 1 + sum(v > g for v in row.values())
        out.append(
            f"{task}: best {order[0]} {row[order[0]]:.3f}; G-Blend ranks {rank} of {len(row)}, "
            f"{g:.3f} vs uniform {u:.3f} "
            f"({g - u:+.3f}), vs concatenation {c:.3f} ({g - c:+.3f}), vs late fusion "
            f"{lf:.3f} ({g - lf:+.3f}), vs the best single view {best_single:.3f} "
            f"({g - best_single:+.3f}){step}; blending "
            + (
                "helps here."
                if g > max(u, c, lf, best_single)
                else "does not beat every baseline here."
            )
        )
    out.append(
        "One seed, a few epochs and tens of test tracks per task: differences of a few "
        "points are within run-to-run noise; none of them is established by this table."
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
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--throughput-steps", type=int, default=5, help="timed training steps")
    p.add_argument("--throughput-device", default="cpu", help="device of the throughput steps")
    p.add_argument("--resume", action="store_true", help="keep runs that have results")
    p.add_argument("--readme", action="store_true", help="write into benchmarks/README.md")
    p.add_argument("--quiet", action="store_true", help="no training output")
    args = p.parse_args()
    for t in args.tasks:
        if not (args.corpus / TASKS[t]).exists():
            sys.exit(
                f"error: {args.corpus / TASKS[t]} not found; render the corpus with "
                f"`musicrep data corpus --out {args.corpus}`"
            )
    from musicrep.utils import write_json_atomic, write_text_atomic

    args.out.mkdir(parents=True, exist_ok=True)
    if args.resume and (args.out / "results.json").exists():
        prev = json.loads((args.out / "results.json").read_text())
        for task, secs in prev.get("seconds", {}).items():
            for method, value in secs.items():
                PREVIOUS_SECONDS[str((args.out / "runs" / task / method).resolve())] = value
    t_start = time.perf_counter()
    doc: dict = {"table": {}, "weights": {}, "seconds": {}, "n_test": {}, "chance": {}, "runs": {}}
    for task in args.tasks:
        manifest = (args.corpus / TASKS[task]).resolve()
        runs = (args.out / "runs" / task).resolve()
        row, secs, res_all = {}, {}, {}
        for v in VIEWS:
            res = train(
                "configs/multiview_single.yaml",
                manifest,
                runs / f"single-{v}",
                args,
                [f"model.backend_kwargs.views=[{v}]"],
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
            res = train(recipe, manifest, runs / method, args, [f"objective.weighting={weighting}"])
            row[method], secs[method] = metric(res, task), res["_seconds"]
            res_all[method] = res
        doc["table"][task], doc["seconds"][task], doc["runs"][task] = row, secs, res_all
        doc["weights"][task] = read_weights(runs / "gblend" / "gblend_weights.csv")
        doc["n_test"][task] = int(res_all["gblend"].get("n_tracks", 0))
        doc["chance"][task] = chance(manifest, task)
        write_json_atomic(args.out / "results.json", {**doc, "args": vars(args)})
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
    plot_weights(doc["weights"], args.out / "weights.png")
    text = report(doc, args)
    write_text_atomic(args.out / "report.md", text)
    if args.readme:
        update_section(ROOT / "benchmarks" / "README.md", SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
