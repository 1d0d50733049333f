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
  musicrep train --out runs/hcnn --overwrite --recipe configs/hcnn.yaml --manifest m.csv
  musicrep train --recipe configs/coala_ae_c.yaml --manifest data/corpus/freetags.csv
  musicrep train --model musicnn --manifest m.csv --devices 2 --strategy ddp

objectives (the recipe's objective: section; `musicrep list objectives`):
  An objective receives the encoder built from the recipe's model: section and owns everything
  else: its heads or decoders, the loss, which views a batch carries, whether labels are needed,
  the metric that selects the best checkpoint, the final evaluation and what is exported.
  supervised     BCE over tags (multi-label manifest) or cross-entropy over classes; exports the
                 encoder + head (musicrep predict), evaluated track by track on the test split
  coala          COALA's audio/tag autoencoders + contrastive loss (configs/coala_*.yaml)
  Label-free objectives train on manifests without labels and export the encoder alone (an
  embedding model for musicrep embed/evaluate/benchmark).

views (what a batch holds, declared by the objective):
  wave (a random crop) + target; two independently augmented crops of one clip (contrastive);
  a clean crop and a distorted copy; a crop of the same track and one of another track (LIM/GIM);
  whole tracks in equally spaced chunks (validation of tagging objectives).

task: inferred from the manifest (one label per row: single-label, else multi-label) unless
data.task is set; the run prints which task it uses and why.

The run folder holds config.yaml/config.json (resolved recipe, vocabulary, seed, package
versions), vocab.json, skipped.txt, checkpoints/{best,last}.ckpt (written atomically),
logs/metrics.csv (one file for the whole run) and logs/tensorboard/, and results.json (the
objective's test evaluation). Without a terminal, one line per epoch is printed.
--resume continues exactly where the last checkpoint left off (same data order and random
state as an uninterrupted run); a run stopped before its first checkpoint starts again.
Recipe keys: see musicrep.training.config (DataConfig, TrainingConfig, EvaluationConfig) and
configs/README.md; schedules: plateau, cosine, none, polynomial, won2020.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model on a manifest (checkpoints, logs, test results)",
        description="Train an encoder under an objective (supervised tagging, COALA, "
        "self-supervised...) from a recipe on a manifest, then run the objective's final "
        "evaluation of the best checkpoint on the test split.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--recipe", metavar="YAML", help="recipe file (e.g. configs/hcnn.yaml)")
    p.add_argument(
        "--model",
        metavar="NAME",
        help="zoo model to train with its defaults (replaces the recipe's model section)",
    )
    p.add_argument(
        "--init",
        metavar="MODEL",
        help="fine-tune: start from this trained model's encoder (pretrained name such as "
        "musicnn-mtt, exported folder or run folder) with a new head (sets model.init)",
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
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="remove the run's files in --out (checkpoints, logs, results) and start again",
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
    from musicrep.training import apply_overrides, load_recipe, read_run_config

    if args.resume and args.overwrite:
        raise ConfigError("--resume and --overwrite exclude each other")
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
        if not args.recipe and not args.model and not args.init:
            raise ConfigError(
                "nothing to train",
                "pass --recipe configs/NAME.yaml, --model NAME, or --init musicnn-mtt",
            )
        config = load_recipe(args.recipe) if args.recipe else {}
        if args.model:
            config["model"] = {"name": args.model}
        if args.init:
            config["model"] = {**(config.get("model") or {}), "init": args.init}
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
    from musicrep.training import train

    config = build_config(args)
    result = train(
        config,
        out=args.out,
        resume=args.resume,
        overwrite=args.overwrite,
        command=["musicrep", *sys.argv[1:]],
    )
    if result.rank_zero:
        print(f"run folder: {result.run_dir}")
        if result.best_checkpoint:
            print(f"best checkpoint: {result.best_checkpoint}")
        if result.skipped:
            print(
                f"{len(result.skipped)} file(s) skipped, listed in {result.run_dir / 'skipped.txt'}"
            )
    return 0
