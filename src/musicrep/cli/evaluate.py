"""``musicrep evaluate``: score frozen embeddings with a downstream probe (COALA or HEAR), or
an ensemble of trained classifiers by averaging their posteriors (late fusion)."""

from __future__ import annotations

import argparse
import sys

EPILOG = """\
examples:
  musicrep evaluate --embeddings emb/style.npz --manifest data/corpus/style.csv
  musicrep evaluate --model mfcc --manifest data/corpus/style.csv --out results/mfcc.json
  musicrep evaluate --model models/hcnn --manifest data/corpus/tags.csv --protocol hear
  musicrep evaluate --embeddings emb/us8k.npz --manifest us8k.csv --repeats 10   (10 folds)
  musicrep evaluate --embeddings emb/vox.npz --manifest veri_test2.txt          (EER, minDCF)
  musicrep evaluate --ensemble runs/single-mel runs/single-cqt --manifest data/corpus/style.csv
                                                    (late fusion of trained classifiers)

inputs:
  --embeddings  an .npz with 'paths' (N,) and 'embeddings' (N, D), as written by
                `musicrep embed FILES... --model M --out DIR --combine FILE.npz`, or that
                --out DIR (its per-file outputs). Rows are matched by absolute path, then by
                their path relative to the manifest's folder, then by unique file name;
                unmatched rows are reported and left out.
  --model       a zoo/exported model (name, folder) or a baseline such as mfcc: the manifest's
                files are embedded first and cached in --cache (reused on the next run; the
                cache key covers the model's weights, the files, the seed and the device).

  --ensemble    two or more trained classifiers (training run folders or exported tagging
                models with the same labels): no probe; each model's track posteriors on
                --split (chunk probabilities averaged per track, --chunks chunks per track) are
                averaged over the models and scored, beside each model alone. This is the
                late-fusion baseline of multi-view classification (Phan et al. 2021).

protocols:
  coala  StandardScaler (training rows) + sklearn MLPClassifier(hidden_layer_sizes=(256,)) with
         sklearn defaults; trains on split=train, tests on split=test (valid unused); repeated
         --repeats times with seeds seed..seed+repeats-1; reports mean ± std (Favory et al. 2020).
  hear   hear-eval-kit's probe: MLP (1-2 x 1024, BatchNorm, dropout 0.1, Adam), grid of
         --grid-points points chosen on validation, early stopping on the valid split
         (patience 20 checks, at most 500 epochs); no standardisation unless --standardize.

tasks (auto-detected and printed with the reason; --task overrides):
  single-label (one label per row)   accuracy, macro F1
  multi-label (tags)                 macro ROC-AUC, macro PR-AUC (single-class tags skipped)
  verification                       EER, minDCF (p_target 0.01, C_miss = C_fa = 1), cosine
                                     scores; from a trials file (CSV enroll,test,label or
                                     VoxCeleb 'LABEL ENROLL TEST' .txt), or --task verification
                                     pairs every two test rows (target = same label)
auto picks multi-label as soon as one row has no label or several: the 'task:' line says which
rows made it so.
A manifest whose rows all have a 'fold' is evaluated leave-one-fold-out (e.g. UrbanSound8K):
results per fold and mean ± std over folds.

--out writes JSON: the command's settings, package versions, the metrics with every per-repeat
and per-fold value, the rows left out. Exit status 0 on success, 2 on a usage/data error.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score embeddings with a probe (COALA / HEAR protocol), or an ensemble of "
        "trained classifiers (late fusion)",
        description="Train a small probe on frozen embeddings and report test metrics "
        "(mean ± std over repeated runs, or over folds); or, with --ensemble, score the mean "
        "track posterior of trained classifiers (late fusion).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--embeddings",
        metavar="NPZ|DIR",
        help="precomputed embeddings: the .npz of `musicrep embed --combine`, or its --out folder",
    )
    src.add_argument(
        "--model",
        metavar="NAME|DIR",
        help="embed the manifest's files with this model first (pretrained name such as "
        "musicnn-mtt, exported folder, run folder, untrained:ZOO_NAME, or mfcc)",
    )
    src.add_argument(
        "--ensemble",
        nargs="+",
        metavar="MODEL",
        help="late fusion: average the track posteriors of these trained classifiers (run "
        "folders or exported tagging models) and score the average",
    )
    p.add_argument(
        "--manifest",
        required=True,
        metavar="CSV",
        help="manifest CSV (path,labels,split[,fold]) or a trials file",
    )
    p.add_argument(
        "--task",
        default="auto",
        choices=["auto", "singlelabel", "multilabel", "verification"],
        help="task type (default: from the manifest)",
    )
    p.add_argument("--protocol", default="coala", choices=["coala", "hear"], help="probe protocol")
    p.add_argument(
        "--repeats", type=int, default=10, metavar="N", help="training runs per split (10)"
    )
    p.add_argument("--seed", type=int, default=0, metavar="S", help="first seed (0)")
    p.add_argument("--out", metavar="JSON", help="write the full results here (atomically)")
    std = p.add_mutually_exclusive_group()
    std.add_argument(
        "--standardize",
        dest="standardize",
        action="store_true",
        default=None,
        help="scale with the training rows' mean/std (default for coala)",
    )
    std.add_argument(
        "--no-standardize",
        dest="standardize",
        action="store_false",
        help="feed raw embeddings (default for hear)",
    )
    p.add_argument(
        "--folds",
        choices=["auto", "yes", "no"],
        default="auto",
        help="leave-one-fold-out: auto = when every row has a fold",
    )
    hear = p.add_argument_group("hear protocol")
    hear.add_argument(
        "--grid",
        default="default",
        choices=["default", "fast", "faster"],
        help="hear-eval-kit grid preset",
    )
    hear.add_argument(
        "--grid-points", type=int, default=8, metavar="N", help="grid points tried (8)"
    )
    p.add_argument(
        "--device",
        default=None,
        help="torch device (cpu, cuda, ...); default: the hear probe on cpu (small MLPs), "
        "--model embedding on cuda when available",
    )
    ver = p.add_argument_group("verification")
    ver.add_argument(
        "--p-target", type=float, default=0.01, metavar="P", help="minDCF target prior (0.01)"
    )
    emb = p.add_argument_group("--model mode")
    emb.add_argument(
        "--cache",
        metavar="DIR",
        help="embedding cache (default: .musicrep-cache/ next to --out, or in the current folder)",
    )
    emb.add_argument(
        "--batch-size", type=int, default=16, metavar="N", help="embedding batch size (16)"
    )
    emb.add_argument(
        "--nan-policy",
        choices=["raise", "zero"],
        default="raise",
        help="what to do with NaN/Inf samples in an audio file: raise (the file fails, default) or zero (replace them with 0 and warn)",
    )
    ens = p.add_argument_group("--ensemble mode")
    ens.add_argument(
        "--split", default="test", metavar="SPLIT", help="manifest split scored (test)"
    )
    ens.add_argument("--chunks", type=int, default=16, metavar="N", help="chunks per track (16)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def _default_cache(out: str | None):
    from pathlib import Path

    return (Path(out).parent if out else Path(".")) / ".musicrep-cache"


def _auto_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _embed(args: argparse.Namespace) -> str:
    from pathlib import Path

    from musicrep.embeddings import EmbeddingCache
    from musicrep.evaluate import manifest_files

    files = manifest_files(args.manifest)
    cache = EmbeddingCache(Path(args.cache) if args.cache else _default_cache(args.out))
    entry = cache.get(
        args.model,
        files,
        seed=args.seed,
        device=args.device or _auto_device(),
        batch_size=args.batch_size,
        progress=not args.quiet,
        nan_policy=args.nan_policy,
    )
    if entry.cached:
        print(f"musicrep: using cached embeddings {entry.npz}", file=sys.stderr)
        return str(entry.npz)
    print(
        f"musicrep: embedded {len(files)} file(s) with {args.model} -> {entry.npz}",
        file=sys.stderr,
    )
    if entry.failed:
        print(f"musicrep: {len(entry.failed)} file(s) could not be embedded:", file=sys.stderr)
        for path, reason in entry.failed[:10]:
            print(f"  {path}: {reason}", file=sys.stderr)
        if len(entry.failed) > 10:
            print(f"  ... and {len(entry.failed) - 10} more", file=sys.stderr)
        from musicrep.cli._options import print_nan_hint

        print_nan_hint(entry.failed, sys.stderr)
    return str(entry.npz)


def run(args: argparse.Namespace) -> int:
    from musicrep.errors import ConfigError
    from musicrep.evaluate import evaluate, format_table
    from musicrep.utils import environment_info, write_json_atomic

    if args.ensemble:
        return run_ensemble(args)
    if args.repeats < 1:
        raise ConfigError(f"--repeats must be >= 1; got {args.repeats}")
    if args.grid_points < 1:
        raise ConfigError(f"--grid-points must be >= 1; got {args.grid_points}")
    embeddings = _embed(args) if args.model else args.embeddings
    folds = {"auto": None, "yes": True, "no": False}[args.folds]
    result = evaluate(
        embeddings,
        args.manifest,
        task=args.task,
        protocol=args.protocol,
        repeats=args.repeats,
        seed=args.seed,
        progress=not args.quiet,
        standardize=args.standardize,
        folds=folds,
        grid=args.grid,
        grid_points=args.grid_points,
        device=args.device or "cpu",
        p_target=args.p_target,
    )
    print(format_table(result))
    if args.out:
        doc = {
            "command": "musicrep evaluate",
            "arguments": {
                "embeddings": embeddings,
                "model": args.model,
                "manifest": args.manifest,
                "task": args.task,
                "protocol": args.protocol,
                "repeats": args.repeats,
                "seed": args.seed,
                "standardize": args.standardize,
                "folds": args.folds,
                "grid": args.grid,
                "grid_points": args.grid_points,
                "p_target": args.p_target,
            },
            "environment": environment_info(),
            "result": result.to_dict(),
        }
        write_json_atomic(args.out, doc)
        print(f"musicrep: results written to {args.out}", file=sys.stderr)
    return 0


def run_ensemble(args: argparse.Namespace) -> int:
    """``--ensemble``: late fusion of trained classifiers (:mod:`musicrep.late_fusion`)."""
    from musicrep.errors import ConfigError
    from musicrep.late_fusion import evaluate_late_fusion
    from musicrep.utils import environment_info, write_json_atomic

    if args.chunks < 1:
        raise ConfigError(f"--chunks must be >= 1; got {args.chunks}")
    result = evaluate_late_fusion(
        args.ensemble,
        args.manifest,
        split=args.split,
        chunks=args.chunks,
        device=args.device or _auto_device(),
        batch_size=args.batch_size,
        show_progress=not args.quiet,
    )
    names = [*result["per_model"], "late fusion (mean posterior)"]
    values = [*result["per_model"].values(), result["metrics"]]
    metrics = list(result["metrics"])
    width = max(len(n) for n in names)
    print(f"{result['task']}, split {args.split}, {result['n_tracks']} tracks")
    print(f"{'model':<{width}}  " + "  ".join(f"{m:>10}" for m in metrics))
    for name, row in zip(names, values):
        print(
            f"{name:<{width}}  " + "  ".join(f"{row.get(m, float('nan')):>10.4f}" for m in metrics)
        )
    if args.out:
        doc = {
            "command": "musicrep evaluate --ensemble",
            "arguments": {
                "ensemble": list(args.ensemble),
                "manifest": args.manifest,
                "split": args.split,
                "chunks": args.chunks,
            },
            "environment": environment_info(),
            "result": result,
        }
        write_json_atomic(args.out, doc)
        print(f"musicrep: results written to {args.out}", file=sys.stderr)
    return 0
