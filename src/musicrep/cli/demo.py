"""``musicrep demo``: the whole pipeline on the built-in data, on the CPU, in minutes."""

from __future__ import annotations

import argparse

EXAMPLES = """\
examples:
  musicrep demo                          corpus -> musicnn on tags -> tags/style table (./demo)
  musicrep demo --out /tmp/d --model shortchunk_cnn --epochs 20
  musicrep export demo/runs/musicnn-tags models/demo-tags   reopen a demo run
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the demo: built-in data, a zoo model, tags and style results vs a baseline",
        description="Render the built-in corpus dataset, train a zoo model on its 'tags' task, "
        "evaluate it track by track on the test split of the 'tags' task and of the 'style' task "
        "(through its style:* outputs) and print the scores beside a majority-class baseline. "
        "Re-running reuses finished steps.\n\n" + EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", default="demo", help="output folder (default ./demo)")
    p.add_argument("--clips", type=int, default=160, help="corpus clips (default 160)")
    p.add_argument("--seconds", type=float, default=5.0, help="clip length (default 5)")
    p.add_argument("--model", default="musicnn", help="zoo model (default musicnn)")
    p.add_argument("--epochs", type=int, default=10, help="max training epochs (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed for data, splits and training")
    p.add_argument(
        "--no-benchmark",
        action="store_true",
        help="skip the final benchmark (trained vs untrained network vs mfcc embeddings)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from musicrep.demo import run_demo

    run_demo(
        args.out,
        clips=args.clips,
        seconds=args.seconds,
        model=args.model,
        epochs=args.epochs,
        seed=args.seed,
        benchmark=not args.no_benchmark,
    )
    return 0
