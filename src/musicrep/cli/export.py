"""``musicrep export``: a training run -> a portable model folder (JSON + safetensors)."""

from __future__ import annotations

import argparse

EPILOG = """\
examples:
  musicrep export runs/hcnn models/hcnn            best checkpoint (lowest validation loss)
  musicrep export runs/hcnn models/hcnn-last --checkpoint last

The folder holds config.json (model config, vocabulary, task, sample rate, input length) and
model.safetensors; load it with musicrep.load(DIR) or use it with musicrep predict --model DIR.
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
    print(
        f"exported {meta['model']['name']} ({meta['task']}, {len(meta['vocab'])} labels, "
        f"{meta['sample_rate']} Hz, {meta['input_samples']} samples per chunk) to {out}"
    )
    return 0
