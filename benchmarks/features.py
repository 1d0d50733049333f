"""Throughput of the feature extractors (torch vs librosa) and of the augmentations.

Every registered feature extractor (``musicrep.features.list_features()``, defaults: 16 kHz, hop
160) computes a batch of random-noise clips, forward only under ``torch.inference_mode``; where
librosa computes the same feature, a librosa row does it clip by clip on numpy arrays (the way
PASE computed its worker targets), and the F0 rows compare our batched YIN with ``librosa.yin``
and ``librosa.pyin``. Then every augmentation transform (applied to every example, default
parameters) and the two named chains (``clmr``, ``pase_plus``, with their probabilities). One
warm-up run, then the median of ``--repeats`` interleaved timed runs.

Run from the repository root::

    python benchmarks/features.py                        # batch 16 x 2 s, 2 threads, 3 repeats
    python benchmarks/features.py --device cuda --no-librosa --batch 64 --no-write

The table is printed and, unless ``--no-write``, stored in the "Features and augmentations"
section of ``benchmarks/README.md`` with the command, date, versions and CPU model.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import shlex
import statistics
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from _common import cpu_model, load_average, n_cpus, time_cases, update_section, version

README = Path(__file__).resolve().parent / "README.md"
SECTION = "## Features and augmentations"
SR, HOP = 16000, 160


def feature_cases(wave: torch.Tensor) -> list:
    from musicrep.features import create_feature, list_features

    def setup(name: str):
        fx = create_feature(name).to(wave.device).eval()
        return (lambda: fx(wave)), f"{fx.dims} x {fx.num_frames(wave.shape[-1])}"

    return [(f"{name}", "torch", lambda n=name: setup(n)) for name in list_features()]


def librosa_cases(clips: np.ndarray) -> list:
    """librosa computing the same features, one clip at a time."""
    import librosa

    def per_clip(fn):
        def setup():
            return (lambda: [fn(y) for y in clips]), "-"

        return setup

    def lps(y):
        power = np.abs(librosa.stft(y, n_fft=2048, hop_length=HOP, win_length=400)) ** 2
        return librosa.power_to_db(power, top_db=None)

    def fbank(y):
        mel = librosa.feature.melspectrogram(
            y=y, sr=SR, n_fft=512, hop_length=HOP, win_length=400, n_mels=40, htk=True, norm=None
        )
        return librosa.power_to_db(mel, top_db=None)

    def onset(y):
        return librosa.onset.onset_strength(
            y=y, sr=SR, n_fft=1024, hop_length=HOP, n_mels=64, center=False
        )

    def prosody(y):
        f0 = librosa.yin(y, fmin=60, fmax=300, sr=SR, frame_length=1024, hop_length=HOP)
        rms = librosa.feature.rms(y=y, frame_length=320, hop_length=HOP)
        zcr = librosa.feature.zero_crossing_rate(y, frame_length=320, hop_length=HOP)
        return f0, rms, zcr

    spectral = {
        k: (
            lambda y, k=k: getattr(librosa.feature, f"spectral_{k}")(y=y, n_fft=512, hop_length=HOP)
        )
        for k in ("centroid", "bandwidth", "rolloff", "flatness")
    }
    fns = {
        "lps": lps,
        "fbank": fbank,
        "mfcc": lambda y: librosa.feature.mfcc(
            y=y, sr=SR, n_mfcc=13, n_fft=512, hop_length=HOP, win_length=400, n_mels=40
        ),
        "cqt": lambda y: librosa.amplitude_to_db(
            np.abs(librosa.cqt(y, sr=SR, hop_length=HOP, n_bins=84)), top_db=None
        ),
        "chroma": lambda y: librosa.feature.chroma_stft(
            y=y, sr=SR, n_fft=2048, hop_length=HOP, tuning=0.0
        ),
        "onset_strength": onset,
        "tempogram": lambda y: librosa.feature.tempogram(
            onset_envelope=onset(y), sr=SR, hop_length=HOP, win_length=384
        ),
        "prosody": prosody,
        "f0: yin": lambda y: librosa.yin(
            y, fmin=60, fmax=300, sr=SR, frame_length=1024, hop_length=HOP
        ),
        "f0: pyin": lambda y: librosa.pyin(
            y, fmin=60, fmax=300, sr=SR, frame_length=1024, hop_length=HOP
        ),
        **{f"spectral_{k}": fn for k, fn in spectral.items()},
    }
    return [(name, "librosa", per_clip(fn)) for name, fn in fns.items()]


def yin_case(wave: torch.Tensor) -> list:
    from musicrep.features import yin

    def setup():
        return (lambda: yin(wave, SR, 60, 300, 1024, HOP)), "-"

    return [("f0: yin", "torch", setup)]


def augmentation_cases(wave: torch.Tensor) -> list:
    import musicrep.augment as A

    n = wave.shape[-1]
    transforms = {
        "RandomCrop": lambda: A.RandomCrop(int(0.9 * n)),
        "Gain": lambda: A.Gain(),
        "PolarityInversion": lambda: A.PolarityInversion(),
        "Clip": lambda: A.Clip(),
        "Delay": lambda: A.Delay(SR),
        "TimeMask": lambda: A.TimeMask(SR),
        "AddNoise (white/pink/brown)": lambda: A.AddNoise(SR, color=["white", "pink", "brown"]),
        "LowPass": lambda: A.LowPass(SR),
        "HighPass": lambda: A.HighPass(SR),
        "BandPass": lambda: A.BandPass(SR),
        "BandStop": lambda: A.BandStop(SR),
        "Downsample": lambda: A.Downsample(SR),
        "PitchShift": lambda: A.PitchShift(SR),
        "Reverb": lambda: A.Reverb(SR),
        "chain: clmr": lambda: A.create_augmentation(
            "clmr", sample_rate=SR, num_samples=int(0.9 * n), seed=0
        ),
        "chain: pase_plus": lambda: A.create_augmentation("pase_plus", sample_rate=SR, seed=0),
    }

    def setup(make):
        t = make().to(wave.device)
        return (lambda: t(wave)), "-"

    return [(name, "torch", lambda m=make: setup(m)) for name, make in transforms.items()]


def run_benchmark(args: argparse.Namespace):
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    n = int(round(args.seconds * SR))
    clips = (0.1 * np.random.default_rng(0).standard_normal((args.batch, n))).astype(np.float32)
    wave = torch.from_numpy(clips).to(device)
    cases = [(f"{name}|{impl}", setup) for name, impl, setup in feature_cases(wave)]
    cases += [(f"{name}|{impl}", setup) for name, impl, setup in yin_case(wave)]
    if not args.no_librosa:
        cases += [(f"{name}|{impl}", setup) for name, impl, setup in librosa_cases(clips)]
    cases += [(f"{name}|aug", setup) for name, impl, setup in augmentation_cases(wave)]
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    with threadpool_limits(limits=args.threads), torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        timed, failures = time_cases(
            cases, args.warmup, args.repeats, sync, log=lambda m: print(m, file=sys.stderr)
        )
    return {name: (info, statistics.median(times)) for name, info, times in timed}, failures


def markdown_tables(results: dict, audio_seconds: float) -> str:
    def rate(t: float) -> str:
        return f"{audio_seconds / t:,.0f}"

    lines = [
        "| feature | dims x frames | torch ms / batch | audio s / s | librosa ms / batch "
        "| audio s / s | torch speed-up |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    names = [k.split("|")[0] for k in results if k.endswith("|torch")]
    for name in names:
        info, t = results[f"{name}|torch"]
        ref = results.get(f"{name}|librosa")
        lib = f"{1000 * ref[1]:,.1f} | {rate(ref[1])} | {ref[1] / t:,.1f}x" if ref else "- | - | -"
        lines.append(f"| `{name}` | {info} | {1000 * t:,.1f} | {rate(t)} | {lib} |")
    if "f0: pyin|librosa" in results:
        _, t = results["f0: pyin|librosa"]
        yin_t = results["f0: yin|torch"][1]
        lines.append(
            f"| `f0: pyin` (librosa only) | - | - | - | {1000 * t:,.1f} | {rate(t)} "
            f"| {t / yin_t:,.0f}x (torch YIN) |"
        )
    lines += ["", "| augmentation (applied to every example) | ms / batch | audio s / s |"]
    lines += ["|---|---:|---:|"]
    for key, (_, t) in results.items():
        if key.endswith("|aug"):
            lines.append(f"| `{key[:-4]}` | {1000 * t:,.1f} | {rate(t)} |")
    return "\n".join(lines)


def section_text(args: argparse.Namespace, table: str, failures: list[str], command: str) -> str:
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        SECTION,
        "",
        "Every feature extractor of the registry (defaults: 16 kHz, hop 160 = 10 ms) on a "
        "batch of random-noise clips, forward only, against librosa computing the same "
        "feature clip by clip on numpy arrays (how PASE computed its worker targets); the F0 "
        "rows compare our batched YIN with `librosa.yin` (same algorithm) and `librosa.pyin`. "
        "Then every augmentation applied to every example (default parameters) and the two "
        "named chains with their probabilities. One warm-up run, then interleaved timed rounds; "
        "medians. Audio s / s = seconds of audio per wall-clock second.",
        "",
        f"- command: `{command}`",
        f"- date: {date}",
        f"- batch {args.batch} x {args.seconds:g} s at {SR} Hz on {args.device}, "
        f"{args.threads} threads (torch and BLAS), {args.repeats} timed runs",
        f"- torch {torch.__version__}, numpy {np.__version__}, librosa {version('librosa')}, "
        f"Python {platform.python_version()}",
        f"- CPU: {cpu_model()} ({n_cpus()} logical CPUs visible; 1-min load average "
        f"{args.load_before:.1f} before, {load_average():.1f} after the run: compare rows of "
        "one run rather than across runs)",
        "",
        table,
        "",
    ]
    if failures:
        parts += ["Failures:", ""] + [f"- {f}" for f in failures] + [""]
    return "\n".join(parts)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=16, help="clips per batch (default 16)")
    p.add_argument("--seconds", type=float, default=2.0, help="clip length in s (default 2)")
    p.add_argument("--threads", type=int, default=2, help="torch / BLAS threads (default 2)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per case (default 3)")
    p.add_argument("--warmup", type=int, default=1, help="untimed warm-up runs (default 1)")
    p.add_argument("--device", default="cpu", help="torch device of the torch rows (cpu)")
    p.add_argument("--no-librosa", action="store_true", help="skip the librosa rows")
    p.add_argument("--readme", type=Path, default=README, help="file to write the section to")
    p.add_argument("--no-write", action="store_true", help="only print the table")
    args = p.parse_args(argv)
    if min(args.batch, args.threads, args.repeats) < 1 or args.seconds <= 0 or args.warmup < 0:
        p.error("--batch, --threads, --repeats must be >= 1, --seconds > 0, --warmup >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.load_before = load_average()
    given = sys.argv[1:] if argv is None else argv
    command = "python benchmarks/features.py" + (" " + shlex.join(given) if given else "")
    results, failures = run_benchmark(args)
    table = markdown_tables(results, args.batch * args.seconds)
    print(table)
    for f in failures:
        print(f"FAILED {f}", file=sys.stderr)
    if not args.no_write:
        update_section(args.readme, SECTION, section_text(args, table, failures, command))
        print(f"wrote the '{SECTION[3:]}' section of {args.readme}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
