"""``musicrep evaluate-av``: the audio-visual speaker verification table of one or more models."""

from __future__ import annotations

import argparse
import shlex

DESCRIPTION = """\
Score speaker-verification trials with audio-visual models trained by the av_shared
(shared-classifier multi-view model) and av_fusion (concatenation baseline) objectives, and
write one table: EER and minDCF for audio-only, visual-only, fused and cross-modal trials
(audio enrolment / face test and the reverse). Scores are cosine similarities of
L2-normalised utterance embeddings (mean over --chunks windows per utterance, each with the
face frames that show it). Cross-modal trials need audio and face embeddings in one space:
they are scored for the shared-classifier model and refused for the fusion baseline.

writes:
  OUT/av_table.md, OUT/av_table.html   the table (EER %, minDCF) and the command
  OUT/av_table.csv                     model,condition,eer,min_dcf,trials,refused
  OUT/av_results.json                  everything, per model

examples:
  musicrep data av-speakers --out data/av-speakers
  musicrep train --recipe configs/av_shared.yaml --manifest data/av-speakers/manifest.csv \\
      --out runs/av_shared
  musicrep train --recipe configs/av_fusion.yaml --manifest data/av-speakers/manifest.csv \\
      --out runs/av_fusion
  musicrep evaluate-av --model shared=runs/av_shared --model fusion=runs/av_fusion \\
      --manifest data/av-speakers/manifest.csv --out reports/av
                        trials default to trials_test.txt beside the manifest
  musicrep evaluate-av --model runs/av_shared --manifest vox/manifest.csv \\
      --trials vox/veri_test2.txt --out reports/vox1-o
                        a VoxCeleb copy (musicrep data prepare voxceleb) with the Vox1-O list
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate-av",
        help="audio-visual speaker verification table (EER/minDCF, cross-modal trials)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="[NAME=]PATH",
        help="an AV model: training run folder or exported folder (repeat for several)",
    )
    p.add_argument("--manifest", required=True, metavar="CSV", help="manifest with a video column")
    p.add_argument(
        "--trials",
        metavar="FILE",
        help="trial list: VoxCeleb text '1/0 enrol test' or CSV enroll,test,label "
        "(default: trials_test.txt beside the manifest, else every pair of the split's rows)",
    )
    p.add_argument("--split", default="test", help="manifest split to embed (default test)")
    p.add_argument(
        "--chunks", type=int, default=2, help="windows per utterance, averaged (default 2)"
    )
    p.add_argument("--batch-size", type=int, default=8, help="utterances per batch (default 8)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--out", required=True, metavar="DIR", help="report folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def _named(spec: str) -> tuple[str, str]:
    if "=" in spec:
        name, path = spec.split("=", 1)
        return name, path
    return spec.rstrip("/").split("/")[-1], spec


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this table (recorded in the report)."""
    parts = ["musicrep", "evaluate-av"]
    for spec in args.model:
        parts += ["--model", spec]
    parts += ["--manifest", args.manifest]
    if args.trials:
        parts += ["--trials", args.trials]
    for flag, value, default in (
        ("--split", args.split, "test"),
        ("--chunks", args.chunks, 2),
        ("--batch-size", args.batch_size, 8),
        ("--device", args.device, "cpu"),
    ):
        if value != default:
            parts += [flag, str(value)]
    parts += ["--out", args.out]
    return " ".join(shlex.quote(str(p)) for p in parts)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from musicrep.data.manifest import Manifest
    from musicrep.errors import ConfigError
    from musicrep.evaluate_av import default_trials, evaluate_av, write_av_report
    from musicrep.io import load_model

    manifest = Manifest.read(args.manifest)
    trials = args.trials or default_trials(Path(args.manifest).resolve())
    results = {}
    for spec in args.model:
        name, path = _named(spec)
        model, meta, where = load_model(path, untrained_ok=False)
        if meta.get("kind") != "av":
            raise ConfigError(
                f"{where} is a {meta.get('kind')!r} model, not an audio-visual one",
                "train it with objective av_shared or av_fusion (configs/av_*.yaml)",
            )
        res = evaluate_av(
            model,
            manifest,
            trials=trials,
            split=args.split,
            chunks=args.chunks,
            batch_size=args.batch_size,
            device=args.device,
            show_progress=not args.no_progress,
        )
        res["model"] = str(where)
        results[name] = res
        cells = []
        for c, v in res["conditions"].items():
            cells.append(f"{c} " + ("refused" if "refused" in v else f"{100 * v['eer']:.1f}%"))
        row = "  ".join(cells)
        print(f"{name}: EER {row}")
    command = _command(args)
    files = write_av_report(results, args.out, command=command)
    print(f"wrote {files['md']} and {files['csv']}")
    return 0
