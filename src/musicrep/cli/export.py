"""``musicrep export``: a training run -> a portable model folder (JSON + safetensors)."""

from __future__ import annotations

import argparse

EPILOG = """\
examples:
  musicrep export runs/hcnn models/hcnn            best checkpoint (lowest validation loss)
  musicrep export runs/hcnn models/hcnn-last --checkpoint last

What is exported depends on the run's objective: supervised and COALA runs give a tagging
model (encoder + head, with its vocabulary and task: musicrep predict --model DIR), label-free
objectives the encoder alone (an embedding model). Both work with musicrep embed, evaluate,
benchmark and the HEAR API. The folder holds config.json (kind, model config, sample rate,
input length; vocabulary and task for tagging models) and model.safetensors; load it with
musicrep.load(DIR). A checkpoint that cannot be read falls back to the run's other one.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a training run as config.json + model.safetensors",
        description="Export a run's checkpoint as a model folder that loads without pickle.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="folder written by musicrep train")
    p.add_argument("out_dir", metavar="OUT_DIR", help="model folder to write")
    p.add_argument(
        "--checkpoint", choices=["best", "last"], default="best", help="which checkpoint"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from musicrep.io import export_run, read_config

    out = export_run(args.run_dir, args.out_dir, checkpoint=args.checkpoint)
    meta = read_config(out)
    model = meta["model"]
    enc = model.get("encoder") if isinstance(model.get("encoder"), dict) else {}
    name = (
        model.get("name")
        or model.get("backend")
        or enc.get("name")
        or enc.get("arch")
        or enc.get("backend")
        or meta["kind"]
    )
    shape = f"{meta['sample_rate']} Hz, {meta['input_samples']} samples per chunk"
    if meta.get("vocab"):
        what = f"{name} ({meta['task']}, {len(meta['vocab'])} labels, {shape})"
    elif meta["kind"] in ("gen_lstm", "wavenet"):
        what = f"{meta['kind']} (generation model for musicrep generate)"
    else:
        dim = f"{meta['embed_dim']}-d, " if meta.get("embed_dim") else ""
        what = f"{name} {meta['kind']} (embedding model, {dim}{shape})"
    print(f"exported {what} to {out}")
    return 0
