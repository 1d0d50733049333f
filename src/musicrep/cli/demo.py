"""``musicrep demo``: the whole pipeline on the built-in data, on the CPU, in minutes."""

from __future__ import annotations

import argparse

from musicrep.demo_settings import DEMO_CLIPS, DEMO_EPOCHS, DEMO_MODEL, DEMO_SECONDS

EXAMPLES = """\
examples:
  musicrep demo                          corpus -> small short-chunk CNN on tags -> table (./demo)
  musicrep demo --out /tmp/d --clips 300 --epochs 5     a smaller, faster (and weaker) demo
  musicrep demo --out /tmp/m --model musicnn            any zoo model at its published size
  musicrep export demo/runs/shortchunk_cnn-tags models/demo-tags   reopen a demo run
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the demo: built-in data, a zoo model, tags and style results vs a baseline",
        description="Render the built-in corpus dataset, train a zoo model on its 'tags' task, "
        "evaluate it track by track on the test split of the 'tags' task and of the 'style' task "
        "(through its style:* outputs) and print the scores beside a majority-class baseline; "
        "then benchmark its frozen embeddings against the same network untrained and MFCCs "
        "and print by how many points it beats them. Re-running reuses finished steps.\n\n"
        + EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", default="demo", help="output folder (default ./demo)")
    p.add_argument(
        "--clips", type=int, default=DEMO_CLIPS, help=f"corpus clips (default {DEMO_CLIPS})"
    )
    p.add_argument(
        "--seconds",
        type=float,
        default=DEMO_SECONDS,
        help=f"clip length (default {DEMO_SECONDS:g})",
    )
    p.add_argument(
        "--model",
        default=DEMO_MODEL,
        help=f"zoo model (default {DEMO_MODEL} at the demo's small size; another zoo name "
        "trains at its published size, slower on a CPU)",
    )
    p.add_argument(
        "--epochs",
        type=int,
        default=DEMO_EPOCHS,
        help=f"max training epochs (default {DEMO_EPOCHS}; early stopping may end sooner)",
    )
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
