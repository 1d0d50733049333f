"""Training throughput of the self-supervised recipes, and the share of a step spent making
targets and augmentations (goal: < 25 %).

For each recipe (with the size overrides below, on random audio) one optimisation step is
timed: the view transforms (augmentations/distortions), then the objective's forward
(encoder + workers + targets) and backward. The "targets + augment" time is the transforms plus
the target computation alone (feature extractors, alignment, z-normalisation), timed separately
on the same batch. Writes the "## Self-supervised training throughput" section of
benchmarks/README.md (or prints it with --no-write).

``--manifest M.csv`` also times making a batch from real audio files (decoding, resampling and
cropping every view of ``--batch`` clips in one process: the work of the DataLoader workers,
which overlaps the step when ``data.num_workers`` > 0) as a share of the step.

``--profile`` also runs one step under ``torch.profiler`` and splits its CPU time by operator
class (convolutions, matrix products, BatchNorm, padding/copies, ...), to show how much of a
step is the model's arithmetic.

Run: flock /tmp/musicrep-cpu.lock python benchmarks/ssl_throughput.py --threads 2 --repeats 3 --profile
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_model, load_average, update_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

#: recipe -> size overrides (CPU-sized; the recipes' own sizes are for a GPU)
CASES = {
    "pase_plus (PASE+ workers, distortions)": (
        "configs/pase_plus.yaml",
        {"model": {"input_samples": 16000}},
    ),
    "music_multitask (music workers, DWA)": (
        "configs/music_multitask.yaml",
        {"model": {"input_samples": 16000}},
    ),
    "clmr (SampleCNN, clmr augment)": ("configs/clmr.yaml", {}),
}


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out.get(k) or {}, v) if isinstance(v, dict) else v
    return out


def build(recipe: str, overrides: dict):
    from musicrep.training import resolve_config
    from musicrep.training.run import build_parts

    raw = yaml.safe_load((ROOT / recipe).read_text())
    raw = _merge({k: raw[k] for k in ("model", "objective", "training")}, overrides)
    cfg = resolve_config(raw)
    torch.manual_seed(0)
    encoder, objective = build_parts(cfg, None, [])
    return encoder, objective


def make_batch(encoder, objective, batch_size):
    from musicrep.training.module import apply_views

    n = encoder.input_samples
    raw = {v.name: 0.1 * torch.randn(batch_size, n) for v in objective.training_views()}
    for v in objective.training_views():
        if v.kind == "same":
            raw[v.name] = raw[v.source].clone()
    return raw, lambda: apply_views(
        {k: x.clone() for k, x in raw.items()}, objective.training_views()
    )


def targets_only(objective, encoder, raw):
    from musicrep.objectives.multitask import MultiTaskObjective

    if not isinstance(objective, MultiTaskObjective):
        return
    steps = encoder.sequence_length(encoder.input_samples)
    with torch.no_grad():
        for w in objective.extractors:
            objective.stats[w].normalize(objective.raw_target(w, raw["clean"], steps))
        if "decoder" in objective.worker_names:
            objective.decoder_target(raw["clean"], steps)


#: operator classes of the profile (first match wins; matched against the aten op name)
OP_CLASSES = (
    ("convolution", ("conv", "mkldnn_convolution")),
    ("matrix product", ("addmm", "mm", "bmm", "matmul", "linear", "baddbmm")),
    ("FFT / features", ("fft", "stft")),
    ("BatchNorm", ("batch_norm",)),
    (
        "pad / copy / cat / index",
        (
            "pad",
            "copy",
            "cat",
            "stack",
            "index",
            "gather",
            "scatter",
            "clone",
            "contiguous",
            "reflection",
            "replication",
            "slice",
            "select",
            "unfold",
            "narrow",
            "fill",
            "zero",
            "empty",
            "cumsum",
        ),
    ),
    ("pooling", ("pool", "max", "amax")),
    ("activation", ("relu", "prelu", "sigmoid", "tanh", "gelu", "threshold")),
    ("optimizer", ("adam", "_foreach", "sqrt", "lerp")),
)


def classify(name: str) -> str:
    low = name.lower()
    for label, keys in OP_CLASSES:
        if any(k in low for k in keys):
            return label
    return "other elementwise"


def profile_step(objective, encoder, views, opt) -> dict[str, float]:
    """Shares of one step's self CPU time by operator class (aten ops only)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        batch = views()
        out = objective(encoder, batch)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    shares: dict[str, float] = {}
    for ev in prof.key_averages():
        if not ev.key.startswith("aten::"):
            continue
        label = classify(ev.key)
        shares[label] = shares.get(label, 0.0) + ev.self_cpu_time_total
    total = sum(shares.values()) or 1.0
    return {k: v / total for k, v in sorted(shares.items(), key=lambda kv: -kv[1])}


def loading_time(manifest: str, encoder, objective, batch_size: int, repeats: int) -> float:
    """Median seconds to make one training batch (all views) from ``manifest`` in one process."""
    from musicrep.data.manifest import Manifest
    from musicrep.training.data import ViewDataset

    ds = ViewDataset(
        Manifest.read(manifest),
        "train",
        objective.training_views(),
        [],
        int(encoder.sample_rate),
        int(encoder.input_samples),
        None,
    )
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        for i in range(batch_size):
            ds[(r * batch_size + i) % len(ds)]
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--profile", action="store_true", help="also split a step by operator class")
    ap.add_argument("--manifest", help="also time making a batch from this manifest's audio")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows, profiles = [], []
    for label, (recipe, overrides) in CASES.items():
        encoder, objective = build(recipe, overrides)
        raw, views = make_batch(encoder, objective, args.batch)
        if hasattr(objective, "extractors"):
            objective.prepare(encoder, [raw], "cpu")
        encoder.train(), objective.train()
        params = [p for g in objective.param_groups(encoder) for p in g["params"]]
        opt = torch.optim.Adam(params, lr=1e-4)
        steps, prep = [], []
        for r in range(args.repeats + 1):
            t0 = time.perf_counter()
            batch = views()  # transforms (augmentations / distortions)
            t1 = time.perf_counter()
            targets_only(objective, encoder, raw)
            t2 = time.perf_counter()
            out = objective(encoder, batch)
            opt.zero_grad()
            out["loss"].backward()
            opt.step()
            t3 = time.perf_counter()
            if r:  # the first round warms up
                # a step = transforms + forward/backward (which computes the targets itself)
                steps.append((t1 - t0) + (t3 - t2))
                prep.append((t1 - t0) + (t2 - t1))
        if args.profile:
            prof = profile_step(objective, encoder, views, opt)
            profiles.append((label, prof))
            print("  " + ", ".join(f"{k} {v:.0%}" for k, v in prof.items()), flush=True)
        step, share = statistics.median(steps), statistics.median(prep) / statistics.median(steps)
        load = (
            loading_time(args.manifest, encoder, objective, args.batch, args.repeats) / step
            if args.manifest
            else None
        )
        rows.append((label, encoder.input_samples, args.batch / step, step, share, load))
        print(
            f"{label}: {args.batch / step:.1f} samples/s, targets+augment {share:.0%}"
            + (f", loading {load:.0%}" if load is not None else ""),
            flush=True,
        )
    lines = [
        "## Self-supervised training throughput",
        "",
        f"`python benchmarks/ssl_throughput.py --threads {args.threads} --repeats {args.repeats} "
        f"--batch {args.batch}{' --profile' if args.profile else ''}"
        f"{' --manifest ' + args.manifest if args.manifest else ''}` on {cpu_model()} ({args.threads} thread(s), load average "
        f"{load_average():.1f} at the end; a shared machine: compare rows, not absolute values). "
        "One optimisation step (augmentations + forward + backward + Adam) on random audio; "
        '"targets + augment" = the view transforms plus the multitask targets (features, '
        "alignment, z-normalisation) timed alone on the same batch, as a share of the step "
        '(goal < 25 %); "loading" = making the batch from the audio files of '
        f"`{args.manifest}` in one process, as a share of the step (`--manifest`).",
        "",
        "| recipe | input samples | samples/s | step (s) | targets + augment | loading |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, n, sps, step, share, load in rows:
        shown = f"{load:.0%}" if load is not None else "-"
        lines.append(f"| {label} | {n} | {sps:.1f} | {step:.2f} | {share:.0%} | {shown} |")
    if profiles:
        classes = [c for c, _ in OP_CLASSES] + ["other elementwise"]
        lines += [
            "",
            "Where a step's CPU time goes (`--profile`: `torch.profiler`, self time of the aten "
            "operators of one step, by class):",
            "",
            "| recipe | " + " | ".join(classes) + " |",
            "|---|" + "---:|" * len(classes),
        ]
        for label, prof in profiles:
            lines.append(
                f"| {label} | " + " | ".join(f"{prof.get(c, 0.0):.0%}" for c in classes) + " |"
            )
    text = "\n".join(lines) + "\n"
    if args.no_write:
        print(text)
    else:
        update_section(ROOT / "benchmarks" / "README.md", lines[0], text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
