"""``musicrep predict``: label probabilities of whole audio files with an exported model."""

from __future__ import annotations

import argparse
import json
import sys

from musicrep.cli._options import add_nan_policy, print_nan_hint

EPILOG = """\
examples:
  musicrep predict song.wav --model musicnn-mtt --top 5     # shipped pretrained tagger
  musicrep predict song.wav --model models/hcnn
  musicrep predict a.wav b.flac --model models/hcnn --top 5
  musicrep predict *.wav --model models/hcnn --json > tags.json

Each file is decoded at the model's rate, covered by chunks of the model's input length, and the
chunk probabilities (sigmoid for tags, softmax for classes) are averaged. Files are streamed,
so memory does not grow with their length. Files that cannot be read are reported and the others
go on; the exit status is 1 if any file failed. Files shorter than 0.25 s or digitally silent
are predicted but get a warning (their probabilities mean little). A file with NaN/Inf samples
fails unless --nan-policy zero (they become 0, with a warning).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="tag/classify audio files with an exported model",
        description="Label probabilities of whole audio files.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    p.add_argument(
        "--model",
        required=True,
        metavar="MODEL",
        help="pretrained model (musicnn-mtt, musicnn-msd, vgg-mtt, vgg-msd; see 'musicrep "
        "models'), exported model folder (musicrep export), or a training run folder",
    )
    p.add_argument("--top", type=int, default=10, metavar="K", help="labels shown per file")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    add_nan_policy(p)
    p.set_defaults(func=run)


def _load(spec: str, device: str):
    from musicrep.io import load_model
    from musicrep.models.inference import optimize_for_inference

    model, meta, _ = load_model(spec, device=device, untrained_ok=False)
    return optimize_for_inference(model.eval()), meta


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from musicrep.embed import input_warnings
    from musicrep.errors import AudioError, ConfigError
    from musicrep.io import predict_file

    if args.top <= 0:
        raise ConfigError(f"--top must be positive; got {args.top}")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model, meta = _load(args.model, device)
    if not meta.get("vocab"):
        raise ConfigError(
            f"{args.model} is an embedding model: it has no labels to predict",
            f"compute its embeddings instead: musicrep embed FILES --model {args.model} --out DIR",
        )
    vocab = meta["vocab"]
    results, failed, warned = [], [], []
    for path in args.files:
        stats: dict = {}
        try:
            probs = predict_file(
                model, meta, path, device=device, stats=stats, nan_policy=args.nan_policy
            )
        except AudioError as exc:
            failed.append({"path": path, "reason": exc.reason})
            print(f"musicrep: {path}: {exc.reason}", file=sys.stderr)
            continue
        for why in input_warnings(stats["seconds"], stats["peak"]):
            warned.append({"path": path, "warning": why})
            print(f"musicrep: warning: {path}: {why}", file=sys.stderr)
        order = np.argsort(-probs, kind="stable")
        top = [{"label": vocab[j], "probability": float(probs[j])} for j in order[: args.top]]
        results.append(
            {"path": path, "top": top, "probabilities": dict(zip(vocab, probs.tolist()))}
        )
        if not args.json:
            print(path)
            for entry in top:
                print(f"  {entry['probability']:6.3f}  {entry['label']}")
    if args.json:
        doc = {
            "model": args.model,
            "task": meta["task"],
            "results": results,
            "failed": failed,
            "warnings": warned,
        }
        print(json.dumps(doc, indent=2))
    if warned:
        print(f"musicrep: {len(warned)} warning(s), listed above", file=sys.stderr)
    if failed:
        print(
            f"musicrep: {len(failed)} of {len(args.files)} file(s) could not be read",
            file=sys.stderr,
        )
        print_nan_hint([(f["path"], f["reason"]) for f in failed], sys.stderr)
        return 1
    return 0
