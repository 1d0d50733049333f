"""Training throughput of the audio-visual speaker recipes (configs/av_shared.yaml,
configs/av_fusion.yaml) on the built-in AV data.

Per recipe: the training loader of the real run (audio crops + the face frames of each crop,
decoded by the frames view) and the optimisation step (encoder + visual CNN + head, forward,
backward, Adam) are timed over ``--steps`` batches after one warm-up batch: "data" is the time
to make the batches (single process, as in the recipes: ``num_workers: 0``), "step" the
optimisation alone; samples/s counts utterance crops (one crop = 2 s of audio + its frames).

Run (after ``musicrep data av-speakers --out DATA``):
  flock /tmp/musicrep-cpu.lock python benchmarks/av_throughput.py --manifest DATA/manifest.csv
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_model, load_average  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RECIPES = {"av_shared": "configs/av_shared.yaml", "av_fusion": "configs/av_fusion.yaml"}


def measure(recipe: Path, manifest: str, steps: int, tmp: Path) -> dict:
    from musicrep.training import TrainingConfig, load_recipe, resolve_config
    from musicrep.training.module import MusicrepModule
    from musicrep.training.run import RunFolder, build_datamodule, build_parts, load_data

    raw = load_recipe(recipe)
    raw["data"]["manifest"] = manifest
    cfg = resolve_config(raw)
    run = load_data(cfg)
    torch.manual_seed(0)
    encoder, objective = build_parts(cfg, run.task, run.vocab)
    dm = build_datamodule(cfg, run, encoder, objective, RunFolder(tmp))
    module = MusicrepModule(encoder, objective, TrainingConfig(**cfg["training"]))
    module.train()
    opt = torch.optim.Adam(module.param_groups(), lr=1e-3)
    batches = iter(dm.train_dataloader())
    data_s = step_s = 0.0
    n = 0
    for k in range(steps + 1):
        t0 = time.perf_counter()
        try:
            batch = next(batches)
        except StopIteration:
            dm.set_epoch(k)
            batches = iter(dm.train_dataloader())
            batch = next(batches)
        t1 = time.perf_counter()
        loss = objective(encoder, batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        t2 = time.perf_counter()
        if k:  # the first batch warms up
            data_s, step_s, n = data_s + t1 - t0, step_s + t2 - t1, n + len(batch["wave"])
    params = sum(p.numel() for p in module.parameters())
    return {
        "params": params,
        "batch": len(batch["wave"]),
        "frames": tuple(batch["frames"].shape[1:]),
        "step_sps": n / step_s,
        "total_sps": n / (step_s + data_s),
        "data_share": data_s / (step_s + data_s),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import tempfile

    print(f"{cpu_model()}, {args.threads} threads, torch {torch.__version__}")
    print(
        "| recipe | params | batch | frames per crop | samples/s (step) | samples/s (data + step) | data share |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, recipe in RECIPES.items():
        with tempfile.TemporaryDirectory() as tmp:
            r = measure(ROOT / recipe, args.manifest, args.steps, Path(tmp))
        print(
            f"| {name} | {r['params'] / 1e3:.0f} k | {r['batch']} | {r['frames']} | "
            f"{r['step_sps']:.1f} | {r['total_sps']:.1f} | {100 * r['data_share']:.0f} % |"
        )
    print(f"load average at the end: {load_average():.1f}")


if __name__ == "__main__":
    main()
