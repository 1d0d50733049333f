"""``musicrep train``: train a model from a recipe, then evaluate it track by track."""

from __future__ import annotations

import argparse
import sys

EPILOG = """\
examples:
  musicrep train --recipe configs/hcnn.yaml --manifest data/corpus/tags.csv --out runs/hcnn
  musicrep train --model musicnn --manifest data/corpus/style.csv --max-epochs 20
  musicrep train --recipe configs/fcn.yaml --manifest m.csv --set training.lr=1e-3 data.num_workers=4
  musicrep train --out runs/hcnn --resume               continue from runs/hcnn/checkpoints/last.ckpt
  musicrep train --model musicnn --manifest m.csv --devices 2 --strategy ddp

The run folder holds config.yaml/config.json (resolved recipe, vocabulary, seed, package
versions), vocab.json, skipped.txt, checkpoints/{best,last}.ckpt, logs/ (CSV, TensorBoard) and
results.json (test split: macro ROC-AUC/PR-AUC for tags, accuracy/macro F1 for classes).
Recipe keys: see musicrep.train.DataConfig, TrainingConfig, EvaluationConfig.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model on a manifest (checkpoints, logs, test results)",
        description="Train a model from a recipe on a manifest, then evaluate the best "
        "checkpoint track by track on the test split.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--recipe", metavar="YAML", help="recipe file (e.g. configs/hcnn.yaml)")
    p.add_argument(
        "--model",
        metavar="NAME",
        help="zoo model to train with its defaults (replaces the recipe's model section)",
    )
    p.add_argument("--manifest", metavar="CSV", help="manifest CSV (sets data.manifest)")
    p.add_argument(
        "--set",
        dest="overrides",
        metavar="KEY=VALUE",
        nargs="+",
        action="extend",
        default=[],
        help="override recipe values, e.g. training.lr=1e-3 model.dropout=0.3 (YAML values)",
    )
    p.add_argument("--out", metavar="DIR", help="run folder (default runs/<model>-<time>)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its last.ckpt (its saved config is reused)",
    )
    p.add_argument("--max-epochs", type=int, metavar="N", help="sets training.max_epochs")
    p.add_argument("--devices", metavar="N", help="sets training.devices (e.g. 2, or auto)")
    p.add_argument("--strategy", metavar="NAME", help="sets training.strategy (e.g. ddp)")
    p.add_argument("--accelerator", metavar="NAME", help="sets training.accelerator (cpu, gpu)")
    p.add_argument("--seed", type=int, metavar="N", help="sets training.seed (default 0)")
    p.set_defaults(func=run)


def build_config(args: argparse.Namespace) -> dict:
    """The recipe dict described by the command-line arguments (before defaults)."""
    from musicrep.errors import ConfigError
    from musicrep.train import apply_overrides, load_recipe, read_run_config

    if args.resume:
        if not args.out:
            raise ConfigError("--resume needs --out RUN_DIR (the run to continue)")
        config = read_run_config(args.out)
        if args.recipe or args.model:
            print(
                "musicrep: --resume reuses the run's saved config; --recipe/--model ignored",
                file=sys.stderr,
            )
    else:
        if not args.recipe and not args.model:
            raise ConfigError("nothing to train", "pass --recipe configs/NAME.yaml or --model NAME")
        config = load_recipe(args.recipe) if args.recipe else {}
        if args.model:
            config["model"] = {"name": args.model}
    overrides = []
    if args.manifest:
        overrides.append(f"data.manifest={args.manifest}")
    for flag, key in (
        ("max_epochs", "max_epochs"),
        ("devices", "devices"),
        ("strategy", "strategy"),
        ("accelerator", "accelerator"),
        ("seed", "seed"),
    ):
        value = getattr(args, flag)
        if value is not None:
            overrides.append(f"training.{key}={value}")
    return apply_overrides(config, [*overrides, *args.overrides])


def run(args: argparse.Namespace) -> int:
    from musicrep.train import train

    config = build_config(args)
    result = train(config, out=args.out, resume=args.resume, command=["musicrep", *sys.argv[1:]])
    if result.rank_zero:
        print(f"run folder: {result.run_dir}")
        if result.best_checkpoint:
            print(f"best checkpoint: {result.best_checkpoint}")
        if result.skipped:
            print(
                f"{len(result.skipped)} file(s) skipped, listed in {result.run_dir / 'skipped.txt'}"
            )
    return 0
