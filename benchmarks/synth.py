"""Speed of the built-in synthesizer (``musicrep.data.synth.render``), single thread.

For every instrument two seeded textures are rendered at ``--sr`` with the default room reverb:

* **solo**: a melodic line in the instrument's middle register, note lengths 0.25-1 s;
* **4-part**: a homophonic chorale-like texture, four parts of the same instrument spaced over
  its range, chords of 0.5-1 s (the typical corpus texture);

plus two mixed 4-part ensembles. The speed is seconds of audio per second of CPU time of this
process (``time.process_time``; BLAS/OpenMP pinned to one thread with threadpoolctl and the
``*_NUM_THREADS`` variables, so CPU time = time on one core); the best of ``--repeats`` runs after
a warm-up. A texture must render at >= 50x real time to meet the synthesizer's speed target.

Run from the repository root::

    python benchmarks/synth.py                         # 30 s textures, 16 kHz, 3 repeats
    python benchmarks/synth.py --seconds 10 --repeats 1 --no-write

The table is printed and, unless ``--no-write``, stored in the "Synthesizer" section of
``benchmarks/README.md`` with the command, date, versions and CPU model (other sections of that
file are kept).
"""

from __future__ import annotations

import os

from _common import cpu_model, update_section

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from musicrep.data.synth import INSTRUMENTS, Part, list_instruments, render  # noqa: E402

README = Path(__file__).resolve().parent / "README.md"
SECTION = "## Synthesizer"
TARGET = 50.0  # x real time per core
MIXED = {
    "mixed winds (flute, clarinet, french_horn, bassoon)": (
        "flute",
        "clarinet",
        "french_horn",
        "bassoon",
    ),
    "mixed (violin, choir_aahs, piano, cello)": ("violin", "choir_aahs", "piano", "cello"),
}


def solo_line(instrument: str, seconds: float, rng: np.random.Generator) -> list[Part]:
    """A random-walk melody in the middle of the instrument's range, filling ``seconds``."""
    inst = INSTRUMENTS[instrument]
    lo, hi = inst.lowest + 3, inst.highest - 3
    pitch, onset, duration = [], [], []
    t, p = 0.0, (lo + hi) // 2
    while t < seconds:
        d = float(rng.choice([0.25, 0.5, 0.5, 0.75, 1.0]))
        p = int(np.clip(p + rng.integers(-4, 5), lo, hi))
        pitch.append(p)
        onset.append(t)
        duration.append(d)
        t += d
    n = len(pitch)
    return [Part(instrument, pitch, onset, duration, rng.uniform(0.5, 0.9, n))]


def chorale(instruments: tuple[str, ...], seconds: float, rng: np.random.Generator) -> list[Part]:
    """Four homophonic parts (soprano..bass), chords of 0.5-1 s, filling ``seconds``.

    Part ``i`` moves around the ``(4 - i)``-th fifth of its instrument's range (a single
    instrument playing all parts spreads them over its range like SATB).
    """
    n_chords = int(np.ceil(seconds / 0.5))
    durations = rng.choice([0.5, 0.5, 0.75, 1.0], n_chords)
    onsets = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
    keep = onsets < seconds
    onsets, durations = onsets[keep], durations[keep]
    parts = []
    for voice, name in enumerate(instruments):
        inst = INSTRUMENTS[name]
        span = inst.highest - inst.lowest
        centre = inst.lowest + span * (4 - voice) / 5.0 if len(set(instruments)) == 1 else None
        if centre is None:
            centre = inst.lowest + span * 0.45
        steps = rng.integers(-2, 3, len(onsets)).cumsum()
        pitch = np.clip(np.round(centre + steps), inst.lowest, inst.highest)
        vel = rng.uniform(0.55, 0.8, len(onsets))
        parts.append(Part(name, pitch, onsets, durations, vel))
    return parts


def speed(parts: list[Part], seconds: float, sr: int, repeats: int) -> float:
    """Seconds of audio per CPU second (best of ``repeats`` after one warm-up)."""
    render(parts, sr=sr, seconds=seconds, rng=np.random.default_rng(0))
    best = float("inf")
    for r in range(repeats):
        start = time.process_time()
        render(parts, sr=sr, seconds=seconds, rng=np.random.default_rng(r))
        best = min(best, time.process_time() - start)
    return seconds / max(best, 1e-9)


def run_benchmark(args: argparse.Namespace) -> list[dict]:
    rows = []
    rng = np.random.default_rng(args.seed)
    with threadpool_limits(1):
        for name in list_instruments():
            solo = speed(solo_line(name, args.seconds, rng), args.seconds, args.sr, args.repeats)
            four = speed(
                chorale((name,) * 4, args.seconds, rng), args.seconds, args.sr, args.repeats
            )
            rows.append(
                {"texture": name, "family": INSTRUMENTS[name].family, "solo": solo, "four": four}
            )
            print(f"{name:24s} solo {solo:7.0f}x   4-part {four:7.0f}x", file=sys.stderr)
        for label, names in MIXED.items():
            four = speed(chorale(names, args.seconds, rng), args.seconds, args.sr, args.repeats)
            rows.append({"texture": label, "family": "-", "solo": None, "four": four})
            print(f"{label:24s} 4-part {four:7.0f}x", file=sys.stderr)
    return rows


def markdown_table(rows: list[dict]) -> str:
    lines = [
        "| texture | family | solo line (x real time) | 4-part (x real time) |",
        "|---|---|---:|---:|",
    ]
    for r in rows:
        solo = "-" if r["solo"] is None else f"{r['solo']:.0f}"
        lines.append(f"| {r['texture']} | {r['family']} | {solo} | {r['four']:.0f} |")
    return "\n".join(lines)


def section_text(args: argparse.Namespace, rows: list[dict], command: str) -> str:
    four = [r["four"] for r in rows]
    slowest = min(rows, key=lambda r: r["four"])
    return "\n".join(
        [
            SECTION,
            "",
            "Speed of `musicrep.data.synth.render` (built-in synthesizer, default reverb) in "
            "seconds of audio per second of CPU time on one thread (BLAS/OpenMP pinned to 1 "
            f"thread), best of {args.repeats} runs after a warm-up, {args.seconds:g} s "
            f"textures at {args.sr} Hz. Target: >= {TARGET:.0f}x real time for a 4-part texture.",
            "",
            f"- command: `{command}`",
            f"- date: {dt.date.today().isoformat()}; CPU: {cpu_model()}; Python "
            f"{platform.python_version()}, numpy {np.__version__}, scipy {_version('scipy')}",
            f"- 4-part textures: median {np.median(four):.0f}x, slowest {slowest['four']:.0f}x "
            f"({slowest['texture']}); target {'met' if min(four) >= TARGET else 'NOT met'}",
            "- the machine may be shared with other jobs; CPU time excludes waiting but not "
            "cache contention",
            "",
            markdown_table(rows),
            "",
        ]
    )


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except Exception:  # noqa: BLE001 - reporting only
        return "?"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=30.0, help="length of each texture (s)")
    p.add_argument("--sr", type=int, default=16000, help="sample rate (Hz)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per texture (best kept)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated textures")
    p.add_argument("--readme", type=Path, default=README, help="file to write the section to")
    p.add_argument("--no-write", action="store_true", help="only print the table")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python benchmarks/synth.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    rows = run_benchmark(args)
    section = section_text(args, rows, command.strip())
    print(section)
    if not args.no_write:
        update_section(args.readme, SECTION, section)
        print(f"wrote the '{SECTION[3:]}' section of {args.readme}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
