"""Throughput of every registered front-end, with librosa and nnAudio for comparison.

Each front-end (``musicrep.frontends.list_frontends()``, built with its defaults, in eval mode)
transforms a batch of random-noise clips on the CPU, forward only, under
``torch.inference_mode``: one warm-up run, then the median of ``--repeats`` timed runs. The
reference rows compute the same mel / CQT settings with librosa (a per-clip loop on numpy
arrays, including the dB conversion) and with nnAudio's modules (batched, like ours). The
timed runs are interleaved across cases, so the load of a shared machine hits all rows alike.

Throughput is in seconds of audio per wall-clock second (``batch * seconds / median time``).

Run from the repository root::

    python benchmarks/frontends.py                       # batch 8 x 30 s, 2 threads, 5 repeats
    python benchmarks/frontends.py --batch 4 --seconds 10 --repeats 3 --no-write

The table is printed and, unless ``--no-write``, stored in the "Front-ends" section of
``benchmarks/README.md`` together with the command, date, versions and CPU model (other sections
of that file are kept).
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import shlex
import statistics
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from _common import cpu_model, update_section
from _common import load_average as _load
from _common import n_cpus as _n_cpus
from _common import version as _version

README = Path(__file__).resolve().parent / "README.md"
SECTION = "## Front-ends"


def musicrep_cases(batch: int, seconds: float) -> list[tuple[str, str, Callable[[], object]]]:
    """(row name, implementation, setup) for every registered front-end.

    ``setup()`` builds the front-end and its input and returns ``(run, shape)``; it is called
    lazily so a front-end that fails to build is reported in the table instead of aborting.
    """
    from musicrep.frontends import create_frontend, list_frontends

    cases = []
    for name in list_frontends():

        def setup(name: str = name):
            fe = create_frontend(name).eval()
            n = int(round(seconds * fe.sample_rate))
            wave = torch.randn(batch, n, generator=torch.Generator().manual_seed(0)) * 0.1
            return (lambda: fe(wave)), tuple(fe.output_shape(n))

        cases.append((name, "musicrep", setup))
    return cases


def reference_cases(
    batch: int, seconds: float, sample_rate: int
) -> list[tuple[str, str, Callable[[], object]]]:
    """librosa (per-clip loop) and nnAudio (batched) mel and CQT with musicrep's defaults."""
    import librosa
    from nnAudio import features

    from musicrep.frontends.spectral import (
        C1_HZ,
        ZOO_F_MAX,
        ZOO_HOP,
        ZOO_N_FFT,
        ZOO_N_MELS,
    )

    n = int(round(seconds * sample_rate))
    frames = 1 + n // ZOO_HOP
    rng = np.random.default_rng(0)
    clips = (0.1 * rng.standard_normal((batch, n))).astype(np.float32)
    wave = torch.from_numpy(clips)
    mel_kw = dict(n_fft=ZOO_N_FFT, hop_length=ZOO_HOP, n_mels=ZOO_N_MELS, fmax=ZOO_F_MAX)

    def librosa_mel():
        def run():
            for y in clips:
                s = librosa.feature.melspectrogram(
                    y=y, sr=sample_rate, htk=True, norm=None, **mel_kw
                )
                librosa.power_to_db(s, amin=1e-10, top_db=None)

        return run, (1, ZOO_N_MELS, frames)

    def librosa_cqt():
        def run():
            for y in clips:
                c = librosa.cqt(y, sr=sample_rate, hop_length=ZOO_HOP, fmin=C1_HZ, n_bins=84)
                librosa.amplitude_to_db(np.abs(c), top_db=None)

        return run, (1, 84, frames)

    def nnaudio_mel():
        m = features.MelSpectrogram(
            sr=sample_rate,
            n_fft=ZOO_N_FFT,
            hop_length=ZOO_HOP,
            n_mels=ZOO_N_MELS,
            fmin=0.0,
            fmax=ZOO_F_MAX,
            htk=True,
            norm=None,
            pad_mode="constant",
            verbose=False,
        ).eval()
        return (lambda: m(wave)), (1, ZOO_N_MELS, frames)

    def nnaudio_cqt(cls):
        def setup():
            m = cls(
                sr=sample_rate,
                hop_length=ZOO_HOP,
                fmin=C1_HZ,
                n_bins=84,
                pad_mode="constant",
                verbose=False,
            ).eval()
            return (lambda: m(wave)), (1, 84, frames)

        return setup

    return [
        ("mel (librosa, per clip, + dB)", "librosa", librosa_mel),
        ("cqt (librosa, per clip, + dB)", "librosa", librosa_cqt),
        ("mel (nnAudio MelSpectrogram)", "nnAudio", nnaudio_mel),
        ("cqt (nnAudio CQT1992v2)", "nnAudio", nnaudio_cqt(features.CQT1992v2)),
        ("cqt (nnAudio CQT2010v2)", "nnAudio", nnaudio_cqt(features.CQT2010v2)),
    ]


def run_benchmark(args: argparse.Namespace) -> tuple[list[dict], list[str]]:
    """Time every case; return the rows and the failures (``name: error``).

    The timed runs are interleaved (round ``r`` times every case once), so a change in the load
    of a shared machine affects all rows alike instead of whichever case ran at the time.
    """
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    failures: list[str] = []
    cases = musicrep_cases(args.batch, args.seconds) + reference_cases(
        args.batch, args.seconds, args.sample_rate
    )
    audio_seconds = args.batch * args.seconds
    with threadpool_limits(limits=args.threads), torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ready = []  # (name, impl, run, shape, times)
        for name, impl, setup in cases:
            print(f"building and warming up {name} ...", file=sys.stderr, flush=True)
            try:
                run, shape = setup()
                for _ in range(args.warmup):
                    run()
            except Exception as exc:  # noqa: BLE001 - record, go on with the rest
                failures.append(f"{name}: {type(exc).__name__}: {exc}")
                traceback.print_exc(file=sys.stderr)
                continue
            ready.append((name, impl, run, shape, []))
        for r in range(args.repeats):
            print(f"timed round {r + 1}/{args.repeats} ...", file=sys.stderr, flush=True)
            for _, _, run, _, times in ready:
                start = time.perf_counter()
                run()
                times.append(time.perf_counter() - start)
    rows = []
    for name, impl, _, shape, times in ready:
        median = statistics.median(times)
        rows.append(
            {
                "name": name,
                "impl": impl,
                "shape": shape,
                "median_s": median,
                "throughput": audio_seconds / median,
            }
        )
    return rows, failures


def markdown_table(rows: list[dict]) -> str:
    lines = [
        "| front-end | implementation | output per clip | median s / batch | audio s / s |",
        "|---|---|---|---:|---:|",
    ]
    for r in rows:
        shape = "x".join(str(d) for d in r["shape"])
        lines.append(
            f"| `{r['name']}` | {r['impl']} | {shape} | {r['median_s']:.3f} "
            f"| {r['throughput']:,.0f} |"
        )
    return "\n".join(lines)


def section_text(args: argparse.Namespace, table: str, failures: list[str], command: str) -> str:
    from musicrep.frontends import list_frontends

    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        SECTION,
        "",
        "Throughput of every registered front-end (defaults, eval mode, forward only under "
        "`torch.inference_mode`) on random-noise clips, against librosa (per-clip loop, numpy) "
        "and nnAudio (batched modules) computing musicrep's default mel (128 HTK bands, "
        "n_fft 512, hop 256, to 8 kHz) and CQT (84 bins from C1, hop 256) settings. One warm-up "
        "run each, then timed rounds that run every case once (interleaved, so load changes on "
        "a shared machine hit all rows alike); the table gives the median per case. Throughput "
        "= seconds of audio per wall-clock second.",
        "",
        f"- command: `{command}`",
        f"- date: {date}",
        f"- batch {args.batch} x {args.seconds:g} s at {args.sample_rate} Hz, "
        f"{args.threads} threads (torch and BLAS), {args.repeats} timed runs",
        f"- torch {torch.__version__}, numpy {np.__version__}, "
        f"librosa {_version('librosa')}, nnAudio {_version('nnAudio')}, Python "
        f"{platform.python_version()}",
        f"- CPU: {cpu_model()} ({_n_cpus()} logical CPUs visible; 1-min load average "
        f"{args.load_before:.1f} before, {_load():.1f} after the run: other processes share "
        "the CPU when it exceeds 0, so compare rows of one run rather than across runs)",
        f"- registered front-ends: {', '.join(list_frontends())}",
        "",
        table,
        "",
    ]
    if failures:
        parts += ["Failures:", ""] + [f"- {f}" for f in failures] + [""]
    return "\n".join(parts)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=8, help="clips per batch (default 8)")
    p.add_argument("--seconds", type=float, default=30.0, help="clip length in s (default 30)")
    p.add_argument("--threads", type=int, default=2, help="torch / BLAS threads (default 2)")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per case (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed warm-up runs (default 1)")
    p.add_argument("--sample-rate", type=int, default=16000, help="for the reference rows")
    p.add_argument("--readme", type=Path, default=README, help="file to write the section to")
    p.add_argument("--no-write", action="store_true", help="only print the table")
    args = p.parse_args(argv)
    if min(args.batch, args.threads, args.repeats) < 1 or args.seconds <= 0 or args.warmup < 0:
        p.error("--batch, --threads, --repeats must be >= 1, --seconds > 0, --warmup >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.load_before = _load()
    command = "python benchmarks/frontends.py" + (
        " " + shlex.join(sys.argv[1:] if argv is None else argv)
        if (sys.argv[1:] if argv is None else argv)
        else ""
    )
    rows, failures = run_benchmark(args)
    table = markdown_table(rows)
    print(table)
    for f in failures:
        print(f"FAILED {f}", file=sys.stderr)
    if not args.no_write:
        update_section(args.readme, SECTION, section_text(args, table, failures, command))
        print(f"wrote the '{SECTION[3:]}' section of {args.readme}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
