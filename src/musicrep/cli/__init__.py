"""The ``musicrep`` command.

Each subcommand lives in a small module of this package that defines ``register(subparsers)``;
heavy imports (torch, librosa) happen inside the handlers so ``musicrep --help`` stays instant.
Errors a user can cause (:class:`musicrep.MusicrepError`) are printed without a traceback and
exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from musicrep.errors import MusicrepError

#: Modules that add subcommands, in the order they appear in ``--help``.
COMMAND_MODULES = [
    "musicrep.cli.demo",
    "musicrep.cli.data",
    "musicrep.cli.models",
    "musicrep.cli.train",
    "musicrep.cli.export",
    "musicrep.cli.predict",
    "musicrep.cli.embed",
    "musicrep.cli.evaluate",
    "musicrep.cli.evaluate_av",
    "musicrep.cli.info",
    "musicrep.cli.analyze",
    "musicrep.cli.benchmark",
    "musicrep.cli.generate",
]

DESCRIPTION = """\
musicrep: learn, extract, evaluate and explain music/audio representations.

examples:
  musicrep data corpus --out data/corpus --clips 400 --seconds 6
                                   render the built-in corpus dataset (16 kHz WAVs + manifests)
  musicrep list frontends          every front-end, with its output shape for 1 s of audio
  musicrep models                  the model zoo: parameters, input spec, embedding size
  musicrep train --recipe configs/musicnn.yaml --manifest data/corpus/tags.csv --out runs/m
                                   train a zoo model (checkpoints, logs, test scores)
  musicrep export runs/m models/m  config.json + model.safetensors
  musicrep predict song.wav --model models/m --top 5
  musicrep embed music/ --model models/m --out emb/ --combine emb/all.npz
  musicrep evaluate --embeddings emb/all.npz --manifest data/corpus/style.csv
  musicrep benchmark --tasks corpus-style,corpus-tags --models mfcc,musicnn,runs/m --out reports/b
  musicrep analyze cca --model mfcc --manifest data/corpus/tags.csv --out reports/cca
  musicrep data prepare esc50 --root ~/data/ESC-50-master   (also gtzan, us8k, nsynth, mtat, ...)
  musicrep evaluate-av --model runs/av_shared --manifest data/av-speakers/manifest.csv --out r/av
                                   audio-visual speaker verification table (EER/minDCF)
  musicrep generate --lstm models/gen_lstm --wavenet models/gen_wavenet --style bach --out p.wav
                                   sample a score with an LSTM and render it with a WaveNet
  musicrep demo                    the whole pipeline on the built-in data (about 6 minutes)
  musicrep <command> --help        options and examples of one command
"""


def build_parser() -> argparse.ArgumentParser:
    from musicrep import __version__

    parser = argparse.ArgumentParser(
        prog="musicrep",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"musicrep {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        # a command group without its subcommand, or no command at all
        (getattr(args, "_group_parser", None) or parser).print_help()
        return 1
    try:
        return int(func(args) or 0)
    except MusicrepError as exc:
        print(f"musicrep: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("musicrep: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` & co.: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
