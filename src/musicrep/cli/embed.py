"""``musicrep embed``: timestamp and clip embeddings of audio files, one ``.npz`` per file."""

from __future__ import annotations

import argparse
import sys

from musicrep.cli._options import add_nan_policy, print_nan_hint

EPILOG = """\
examples:
  musicrep embed song.wav --model models/hcnn --out emb/
  musicrep embed data/audio --recursive --model models/hcnn --out emb/ --combine emb/all.npz
  musicrep embed data/audio --model musicnn --out emb-random/      untrained musicnn (seeded)
  musicrep embed data/audio --model mfcc --out emb-mfcc/           MFCC statistics baseline
  musicrep embed long.flac --model models/hcnn --out emb/ --hop 0.5
  musicrep embed data/audio --model models/hcnn --layer backend.blocks.3 --out emb-l3/
  musicrep embed x.wav --model models/hcnn --layer list --out emb/  list the layer names
  musicrep embed data/audio --model musicnn --out emb/ --device cuda --precision bf16
  musicrep embed data/audio --model musicnn --out emb/ --shard 3/16   job 3 of a 16-job array
  musicrep embed data/audio --model musicnn --out emb/ --engine ray --address auto --device cuda

--model is a pretrained model shipped with musicrep (musicnn-mtt, musicnn-msd, vgg-mtt, vgg-msd;
musicrep models), an exported model folder (musicrep export), a training run folder, "mfcc" (20
MFCCs + deltas + delta-deltas, mean and std: 120-d), or untrained:NAME (NAME a zoo name, musicrep
models) for an UNTRAINED encoder whose weights are drawn with --seed: the random-network
baseline (a bare zoo name means the same, with a warning).

Audio is decoded as mono at the model's rate and cut into windows of the model's input length
(non-overlapping unless --hop); long files are read in blocks, so memory stays bounded. Each
input gets OUT/<name>.npz (files found in a folder keep their sub-folder) with
  embedding  (T, D) float32   one row per window
  timestamps (T,)   float64   seconds, centre of the audio in each window
  scene      (D,)   float32   clip embedding (mean of non-overlapping windows; for mfcc the
                              statistics of the whole file)
  path, model, duration
--combine writes one file with paths (N,) and embeddings (N, D) (the clip embeddings) of every
input, for probing with scikit-learn. Existing outputs are kept (an interrupted run resumes)
unless --overwrite; every file is written atomically. Unreadable inputs are listed at the end
and the others go on; the exit status is 1 if any input failed. Files shorter than 0.25 s or
digitally silent are embedded but listed as warnings; a file with NaN/Inf samples fails unless
--nan-policy zero (they become 0, with a warning). A missing input or a bad --hop is an
argument error before any work, and --combine never replaces a file with an empty one.

Speed: --workers threads decode, resample and window files ahead of the model, and windows of
many files share a batch (short files do not run as batches of one); outputs are the same as
with --workers 0 (one file at a time). --shard i/N embeds every N-th input from the i-th, with
the same output names as one job, for job arrays (SLURM etc.); run the shards with the same
inputs and --out, then once more without --shard to write --combine (all outputs are kept).

Python: musicrep.embed.Embedder("models/hcnn").file("song.wav") -> (embeddings, timestamps)
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "embed",
        help="extract embeddings of audio files (.npz per file, optional combined file)",
        description="Timestamp and clip embeddings of audio files and folders.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files and/or folders")
    p.add_argument(
        "--model",
        required=True,
        metavar="NAME|DIR|mfcc",
        help="pretrained name (musicnn-mtt, ...), exported model folder, training run folder, "
        "'mfcc', or untrained:ZOO_NAME",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--hop",
        type=float,
        metavar="SECONDS",
        help="hop between windows in seconds (default: one window, no overlap)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=16,
        metavar="N",
        help="windows per forward pass (16); memory grows with N x window: use ~4 for the "
        "29 s models (fcn, crnn)",
    )
    p.add_argument("--recursive", action="store_true", help="also search sub-folders of folders")
    p.add_argument("--overwrite", action="store_true", help="recompute existing outputs")
    p.add_argument(
        "--combine",
        metavar="FILE.npz",
        help="also write paths (N,) + clip embeddings (N, D) of all inputs to one file",
    )
    p.add_argument(
        "--layer",
        metavar="NAME",
        help="embed with this sub-module's output (mean-pooled); 'list' prints the names",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default cpu)")
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="decoding threads beside the model (default: cores - 1, at most 8; 0 on 1 core); "
        "0: sequential",
    )
    p.add_argument(
        "--precision",
        choices=("fp32", "bf16"),
        default="fp32",
        help="bf16: run the model under autocast in bfloat16 (GPU); outputs stay float32",
    )
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this machine; ray: a Ray cluster (pip install 'musicrep[ray]'): Ray Data "
        "CPU tasks decode, an actor pool runs the model; same outputs",
    )
    p.add_argument(
        "--address",
        metavar="ADDR",
        help="--engine ray: cluster to join ('auto', ray://HOST:10001); default: start a local "
        "Ray (or join RAY_ADDRESS)",
    )
    p.add_argument(
        "--shard",
        metavar="i/N",
        help="embed only shard i of N (0-based) of the inputs, for job arrays",
    )
    add_nan_policy(p)
    p.add_argument("--seed", type=int, default=0, help="seed of untrained zoo encoders (0)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from musicrep.embed import Embedder, _summary, layer_names
    from musicrep.errors import ConfigError

    if args.layer == "list":
        for name in layer_names(args.model, seed=args.seed):
            print(name)
        return 0
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1; got {args.batch_size}")
    if args.hop is not None and not args.hop > 0:  # also NaN
        raise ConfigError(
            f"--hop must be a positive number of seconds; got {args.hop}",
            "omit --hop for non-overlapping windows, or pass e.g. --hop 0.5",
        )
    if args.address and args.engine != "ray":
        raise ConfigError("--address is for --engine ray", "add --engine ray")
    if args.workers is not None and args.workers < 0:
        raise ConfigError(f"--workers must be >= 0; got {args.workers}")
    embedder = Embedder(
        args.model,
        device=args.device,
        batch_size=args.batch_size,
        layer=args.layer,
        seed=args.seed,
        workers=args.workers,
        precision=args.precision,
        nan_policy=args.nan_policy,
    )
    print(
        f"model {embedder.name}: {embedder.sample_rate} Hz, window "
        f"{embedder.window_seconds:g} s, {embedder.embed_dim}-d",
        file=sys.stderr,
    )
    report = embedder.files(
        args.inputs,
        args.out,
        hop=args.hop,
        recursive=args.recursive,
        overwrite=args.overwrite,
        combine=args.combine,
        progress=not args.quiet,
        shard=args.shard,
        engine=args.engine,
        address=args.address,
    )
    _summary(report)
    print_nan_hint(report.failed, sys.stderr)
    return 1 if report.failed else 0
