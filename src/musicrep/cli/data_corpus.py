"""``musicrep data corpus``: render the built-in corpus dataset (WAV clips + task manifests)."""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = """\
Render the built-in corpus dataset: real compositions from the music21 corpus (Bach chorales,
Palestrina, Monteverdi, Trecento, fiddle tunes, Essen folk songs, Haydn/Mozart/Beethoven
quartets), synthesized to mono WAV clips, with train/valid/test manifests for three tasks:
style.csv (style), instrument.csv (solo clips) and tags.csv (style, instrument, mode, tempo,
meter and texture tags), plus freetags.csv (free-form, user-style tags for COALA). Nothing is
downloaded. Splits are by piece; the same --seed gives the
same dataset, and re-running a command reuses the clips it already rendered.

examples:
  musicrep data corpus --out data/corpus
                        400 clips of 6 s at 16 kHz (the default dataset)
  musicrep data corpus --out data/corpus-small --clips 70 --seconds 3 --jobs 2
                        a quick one, rendered by two processes
  musicrep data corpus --out data/corpus-fs --renderer fluidsynth \\
      --soundfont /usr/share/sounds/sf2/FluidR3_GM.sf2
                        render with FluidSynth and a General MIDI soundfont
  musicrep data corpus --out data/chorales --styles bach palestrina --solo-fraction 0
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "corpus",
        help="render the built-in corpus dataset (no download)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--clips", type=int, default=400, help="number of clips (default 400)")
    p.add_argument("--seconds", type=float, default=6.0, help="clip length in seconds (default 6)")
    p.add_argument(
        "--renderer",
        choices=["builtin", "fluidsynth"],
        default="builtin",
        help="builtin synthesizer (default) or FluidSynth (must be installed)",
    )
    p.add_argument("--soundfont", metavar="PATH", help="General MIDI soundfont for fluidsynth")
    p.add_argument("--seed", type=int, default=0, help="seed of splits, plans, audio (default 0)")
    p.add_argument("--sr", type=int, default=16000, help="sample rate in Hz (default 16000)")
    p.add_argument("--jobs", type=int, default=1, help="rendering processes (default 1)")
    p.add_argument(
        "--solo-fraction",
        type=float,
        default=0.5,
        help="share of solo clips, the instrument task (default 0.5)",
    )
    p.add_argument("--styles", nargs="+", metavar="STYLE", help="use only these styles")
    p.add_argument(
        "--instruments", nargs="+", metavar="NAME", help="solo instruments (default: all)"
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from musicrep.data.corpus import build_corpus

    def log(msg: str) -> None:
        print(msg, file=sys.stderr)

    summary = build_corpus(
        args.out,
        clips=args.clips,
        seconds=args.seconds,
        renderer=args.renderer,
        seed=args.seed,
        sr=args.sr,
        solo_fraction=args.solo_fraction,
        jobs=args.jobs,
        progress=not args.no_progress,
        styles=args.styles,
        instruments=args.instruments,
        soundfont=args.soundfont,
        log=log,
    )
    print(summary.table())
    speed = (
        f"; {summary.audio_seconds:.0f} s of audio rendered, {summary.speed:.1f}x real time"
        if summary.rendered
        else ""
    )
    print(
        f"{summary.clips} clips in {summary.out_dir} ({summary.rendered} rendered, "
        f"{summary.reused} reused) in {summary.elapsed:.1f} s{speed}"
    )
    print(f"manifests: {', '.join(f'{t}.csv' for t in summary.counts)}, clips.csv; see summary.txt")
    if summary.failures:
        print(f"{len(summary.failures)} clips failed and were left out:", file=sys.stderr)
        for index, err in summary.failures[:20]:
            print(f"  clip {index}: {err}", file=sys.stderr)
        return 1
    return 0
