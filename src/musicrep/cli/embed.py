"""``musicrep embed``: timestamp and clip embeddings of audio files, one ``.npz`` per file."""

from __future__ import annotations

import argparse
import sys

EPILOG = """\
examples:
  musicrep embed song.wav --model models/hcnn --out emb/
  musicrep embed data/audio --recursive --model models/hcnn --out emb/ --combine emb/all.npz
  musicrep embed data/audio --model musicnn --out emb-random/      untrained musicnn (seeded)
  musicrep embed data/audio --model mfcc --out emb-mfcc/           MFCC statistics baseline
  musicrep embed long.flac --model models/hcnn --out emb/ --hop 0.5
  musicrep embed data/audio --model models/hcnn --layer backend.blocks.3 --out emb-l3/
  musicrep embed x.wav --model models/hcnn --layer list --out emb/  list the layer names

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
and the others go on; the exit status is 1 if any input failed.

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
    embedder = Embedder(
        args.model,
        device=args.device,
        batch_size=args.batch_size,
        layer=args.layer,
        seed=args.seed,
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
    )
    _summary(report)
    return 1 if report.failed else 0
