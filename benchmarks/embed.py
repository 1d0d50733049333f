"""Speed and memory of embedding extraction (``musicrep.embed.Embedder``).

1. **Throughput**: seconds of audio embedded per wall-clock second by ``Embedder.files`` (decode
   + resample + front-end + model + writing the ``.npz``), default non-overlapping windows,
   batch 16, on ``--threads`` CPU threads, for every zoo model (untrained weights: the speed
   does not depend on them) and the MFCC baseline, over ``--files`` WAV files (16 kHz mono,
   noise + tones) of ``--seconds`` seconds in total. Each model is warmed up on one short file
   first (lazy imports, allocator), then timed once.
2. **Peak memory on a long file**: a ``--hour-seconds`` (one hour) 16 kHz WAV is embedded in a
   fresh subprocess per case (model, batch size), which loads the model, warms it up on one
   window, resets the kernel's peak-RSS counter (``/proc/self/clear_refs``, Linux) and reports
   the peak RSS of the embedding (``VmHWM``; ``resource.getrusage`` ``ru_maxrss`` where the
   reset is not allowed: after a fork it also counts the parent's RSS) beside the RSS before
   it. ``stream`` is ``Embedder.file`` (blocks); ``whole`` decodes the whole file first
   (``audio.load`` + ``Embedder.timestamps``), for comparison.
3. **HEAR**: ``musicrep.hear.get_timestamp_embeddings`` at ``--hear-cases`` hops (the cost of
   HEAR's recommended 50 ms hop) and ``get_scene_embeddings``, 2 sounds of 10 s.

Run from the repository root::

    python benchmarks/embed.py                                   # everything (~10-20 min)
    python benchmarks/embed.py --models musicnn mfcc --hour-cases mfcc:16 --no-write

The tables are printed and, unless ``--no-write``, stored in the "Embedding" section of
``benchmarks/README.md`` with the command, date, versions and CPU (other sections are kept).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import cpu_model, update_section

README = Path(__file__).resolve().parent / "README.md"
SECTION = "## Embedding"
SR = 16000


def write_wav(path: Path, seconds: float, seed: int) -> None:
    """A 16 kHz mono PCM-16 WAV of noise + two tones, written in 60 s pieces."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    total = int(round(seconds * SR))
    with sf.SoundFile(path, "w", samplerate=SR, channels=1, subtype="PCM_16") as f:
        for a in range(0, total, 60 * SR):
            n = min(60 * SR, total - a)
            t = (a + np.arange(n)) / SR
            x = 0.05 * rng.standard_normal(n) + 0.2 * np.sin(2 * np.pi * 220 * t)
            x += 0.1 * np.sin(2 * np.pi * (330 + 50 * np.sin(t / 7)) * t)
            f.write(x.astype(np.float32))


def throughput(models: list[str], folder: Path, threads: int, batch: int) -> list[dict]:
    import torch

    from musicrep.embed import Embedder

    torch.set_num_threads(threads)
    warm = folder.parent / "warm.wav"
    write_wav(warm, 2.0, seed=99)
    rows = []
    for name in models:
        emb = Embedder(name, batch_size=batch)
        emb.file(warm)
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            report = emb.files([folder], out, progress=False)
            elapsed = time.perf_counter() - t0
        if report.failed:
            raise RuntimeError(f"{name}: {report.failed}")
        rate = report.audio_seconds / elapsed
        rows.append(
            {
                "model": name,
                "window_s": emb.window_seconds,
                "dim": emb.embed_dim,
                "seconds": report.audio_seconds,
                "elapsed": elapsed,
                "rate": rate,
            }
        )
        print(f"{name:18s} {rate:8.1f} audio s/s", file=sys.stderr)
    return rows


def _vm(field: str) -> float:
    """A ``/proc/self/status`` memory field in MB (Linux), or NaN."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def rss_child(model: str, path: str, mode: str, threads: int, batch: int) -> None:
    """Run in a subprocess: print JSON with the resident memory before and the peak during the
    embedding of ``path``.

    The peak counter is reset after the model is loaded and warmed up (``echo 5 >
    /proc/self/clear_refs``, Linux), so ``VmHWM`` afterwards is the peak of the embedding
    itself; where the reset is not allowed, ``ru_maxrss`` (the peak of the whole process).
    """
    import resource

    import torch

    from musicrep import audio
    from musicrep.embed import Embedder

    torch.set_num_threads(threads)
    emb = Embedder(model, batch_size=batch)
    emb.timestamps(np.zeros(emb.window_samples, np.float32), emb.sample_rate)
    try:
        Path("/proc/self/clear_refs").write_text("5")
        reset = True
    except OSError:
        reset = False
    before = _vm("VmRSS")
    t0 = time.perf_counter()
    if mode == "stream":
        frames, _ = emb.file(path)
    else:
        wave, sr = audio.load(path, sr=emb.sample_rate)
        frames, _ = emb.timestamps(wave, sr)
    elapsed = time.perf_counter() - t0
    # after the reset, VmHWM is the peak of the embedding. ru_maxrss is not: Linux reports the
    # max with the RSS this process inherited at fork (its parent's), which the reset leaves.
    peak = _vm("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "before_mb": before,
                "peak_mb": peak,
                "reset": reset,
                "elapsed": elapsed,
                "frames": int(frames.shape[0]),
            }
        )
    )


def peak_rss(cases: list[str], path: Path, threads: int) -> list[dict]:
    rows = []
    for case in cases:
        name, _, batch = case.partition(":")
        batch = batch or "16"
        for mode in ("stream", "whole"):
            cmd = [
                sys.executable,
                __file__,
                "--rss-child",
                name,
                str(path),
                mode,
                "--threads",
                str(threads),
                "--batch",
                batch,
            ]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            row = json.loads(out.strip().splitlines()[-1])
            row |= {"model": name, "mode": mode, "batch": int(batch)}
            rows.append(row)
            print(
                f"{name:8s} batch {batch:>3s} {mode:6s} before {row['before_mb']:.0f} MB, "
                f"peak {row['peak_mb']:.0f} MB, {row['elapsed']:.0f} s",
                file=sys.stderr,
            )
    return rows


def hear_rates(cases: list[str], threads: int, seconds: float = 10.0) -> list[dict]:
    """Audio seconds per second of ``musicrep.hear.get_timestamp_embeddings`` (2 sounds)."""
    import torch

    from musicrep import hear

    torch.set_num_threads(threads)
    rows = []
    for case in cases:
        name, _, hop = case.partition(":")
        model = hear.load_model(name, hop_ms=float(hop or hear.DEFAULT_HOP_MS))
        gen = torch.Generator().manual_seed(0)
        warm = torch.rand(1, model.sample_rate, generator=gen) * 2 - 1
        hear.get_timestamp_embeddings(warm, model)
        audio = torch.rand(2, int(seconds * model.sample_rate), generator=gen) * 2 - 1
        t0 = time.perf_counter()
        emb, _ = hear.get_timestamp_embeddings(audio, model)
        rate = 2 * seconds / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        hear.get_scene_embeddings(audio, model)
        scene = 2 * seconds / (time.perf_counter() - t0)
        row = {
            "model": name,
            "hop_ms": model.hop_ms,
            "window_s": model.window_samples / model.sample_rate,
            "frames": emb.shape[1],
            "rate": rate,
            "scene_rate": scene,
        }
        rows.append(row)
        print(f"hear {name} {model.hop_ms:g} ms: {rate:.2f} audio s/s", file=sys.stderr)
    return rows


def render(args, tp: list[dict], mem: list[dict], hr: list[dict], hour_seconds: float) -> str:
    import torch

    import musicrep

    load = f"{__import__('os').getloadavg()[0]:.1f}"
    lines = [
        SECTION,
        "",
        "Embedding extraction with `musicrep.embed.Embedder` (what `musicrep embed` runs). "
        "Throughput: seconds of audio per wall-clock second of `Embedder.files` (decode + "
        "resample + front-end + model + atomic `.npz` write), default non-overlapping windows of "
        "each model's native length, untrained weights, one warm-up file, then one timed pass. "
        "Memory: a fresh subprocess per case loads the model, warms it up on one window, resets "
        "the kernel's peak-RSS counter (`/proc/self/clear_refs`), embeds one long file and "
        "reports the peak RSS during the embedding (`VmHWM`) beside the RSS before it; `stream` = `Embedder.file` (blocks of 30 s), `whole` = `audio.load` of "
        "the whole file + `Embedder.timestamps`. Files shorter than a whole number of windows "
        "pay for a zero-padded last window, which penalises long-window models (fcn, crnn: 29 s).",
        "",
        f"- command: `python benchmarks/embed.py{' ' + shlex.join(sys.argv[1:]) if sys.argv[1:] else ''}`",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- throughput: {args.files} WAV files, {args.seconds:g} s of 16 kHz mono audio in total; "
        f"batch {args.batch}; {args.threads} threads",
        f"- torch {torch.__version__}, musicrep {musicrep.__version__}, Python "
        f"{platform.python_version()}; CPU: {cpu_model()}; 1-min load average {load} at the "
        "end: the machine is shared with other jobs, so compare rows of one run",
        "",
        "| model | window (s) | dim | audio s / s |",
        "|---|---:|---:|---:|",
    ]
    for r in tp:
        lines.append(f"| `{r['model']}` | {r['window_s']:.2f} | {r['dim']} | {r['rate']:,.1f} |")
    if mem:
        lines += [
            "",
            f"Peak resident memory embedding one {hour_seconds:g} s ({hour_seconds / 3600:.3g} h) 16 kHz WAV "
            f"({hour_seconds * SR * 2 / 1e6:.0f} MB PCM-16 on disk; "
            f"{hour_seconds * SR * 4 / 1e6:.0f} MB as float32):",
            "",
            "| model | batch | mode | RSS before (MB) | peak RSS during (MB) | windows | time (s) |",
            "|---|---:|---|---:|---:|---:|---:|",
        ]
        for r in mem:
            lines.append(
                f"| `{r['model']}` | {r['batch']} | {r['mode']} | {r['before_mb']:.0f} | "
                f"{r['peak_mb']:.0f} | {r['frames']} | {r['elapsed']:.0f} |"
            )
        lines += [
            "",
            "Streaming keeps the audio out of memory; what remains is the model's activations "
            "for one batch of windows (batch x window: 16 x 29 s for `fcn`). Lower "
            "`--batch-size` for long-window models.",
        ]
        if not all(r["reset"] for r in mem):
            lines.append("\n(peak counter reset not allowed: peaks include model loading)")
    if hr:
        lines += [
            "",
            "HEAR API (`musicrep.hear`): `get_timestamp_embeddings` on 2 sounds of 10 s of noise "
            "(windows centred every `hop_ms`, so each second of audio runs window / hop seconds "
            "of network input) and `get_scene_embeddings` (non-overlapping windows) on the same:",
            "",
            "| model | window (s) | hop (ms) | timestamps | timestamp audio s / s | scene audio s / s |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for r in hr:
            lines.append(
                f"| `{r['model']}` | {r['window_s']:.2f} | {r['hop_ms']:g} | {r['frames']} | "
                f"{r['rate']:,.2f} | {r['scene_rate']:,.1f} |"
            )
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- input pipeline
PIPELINE_SECTION = "## Embedding pipeline"


def reference_musicnn(paths: list[Path], batch: int) -> float:
    """The musicnn package's extractor, reimplemented: seconds to embed ``paths``.

    As ``musicnn.extractor.batch_data``: ``librosa.load(path, sr=16000)``, then
    ``librosa.feature.melspectrogram(n_fft=512, hop_length=256, n_mels=96)``, ``log10(10000 x
    + 1)``, cut into non-overlapping patches of 187 frames (3 s); the patches then go through
    the musicnn network (here musicrep's untrained ``musicnn`` back-end after its input
    BatchNorm, on the librosa mel: the same network cost; the original runs TensorFlow).
    Everything runs in one thread of control, file after file (as the package does).
    """
    import librosa
    import torch

    from musicrep.embed import resolve_model

    enc = resolve_model("musicnn").encoder
    frames = enc.frontend(torch.zeros(1, enc.input_samples)).shape[-1]
    t0 = time.perf_counter()
    with torch.inference_mode():
        for path in paths:
            y, _ = librosa.load(path, sr=16000)
            mel = librosa.feature.melspectrogram(
                y=y, sr=16000, n_fft=512, hop_length=256, n_mels=96
            ).T
            mel = np.log10(10000 * mel + 1).astype(np.float32)
            if len(mel) < frames:  # musicnn pads a short file up to one patch
                mel = np.pad(mel, ((0, frames - len(mel)), (0, 0)))
            starts = range(0, len(mel) - frames + 1, frames)
            patches = np.stack([mel[a : a + frames].T for a in starts])
            for i in range(0, len(patches), batch):
                x = torch.from_numpy(patches[i : i + batch])
                enc.backend(enc.frontend._finish(x))
    return time.perf_counter() - t0


def pipeline_rate(name: str, folder: Path, batch: int, workers: int | None) -> tuple[float, float]:
    """``(seconds, audio seconds)`` of ``Embedder.files`` over ``folder`` (after a warm-up)."""
    from musicrep.embed import Embedder

    emb = Embedder(name, batch_size=batch, workers=workers)
    warm = folder.parent / "warm.wav"
    if not warm.exists():
        write_wav(warm, 2.0, seed=99)
    emb.file(warm)
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        report = emb.files([folder], out, progress=False)
        return time.perf_counter() - t0, report.audio_seconds


def rss_command(code: str, threads: int) -> float:
    """Peak RSS (GB) of a fresh Python running ``code`` (its own ``ru_maxrss`` at the end)."""
    full = (
        f"import torch; torch.set_num_threads({threads})\n"
        + code
        + "import resource; print('RSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", full], check=True, capture_output=True, text=True)
    kb = next(line.split()[1] for line in out.stdout.splitlines() if line.startswith("RSS "))
    return int(kb) / 2**20


def pipeline_main(args) -> int:
    import torch

    from musicrep.embed import default_workers

    torch.set_num_threads(args.threads)
    workers = default_workers()
    lines = []
    rows_cost = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # 1. side by side: the reference extractor, sequential musicrep, parallel musicrep
        clips = tmp / "clips"
        clips.mkdir()
        for i in range(args.clips):
            write_wav(clips / f"c{i}.wav", args.clip_seconds, seed=i)
        paths = sorted(clips.glob("*.wav"))
        audio = args.clips * args.clip_seconds
        reference_musicnn(paths[:1], args.batch)  # warm-up (imports, allocator)
        # interleaved rounds, median of each: the machine is shared, so a single run can land
        # on a busy moment for one extractor only
        cases = [("ref", None), ("w", 0)] + [("w", w) for w in sorted({1, 2, workers} - {0})]
        times: dict = {c: [] for c in cases}
        for _ in range(args.rounds):
            for kind, w in cases:
                if kind == "ref":
                    times[kind, w].append(reference_musicnn(paths, args.batch))
                else:
                    times[kind, w].append(pipeline_rate("musicnn", clips, args.batch, w)[0])
        med = {c: float(np.median(v)) for c, v in times.items()}
        t_ref = med["ref", None]
        side = [("musicnn reference extractor (librosa mel on the CPU, then the network)", t_ref)]
        for kind, w in cases[1:]:
            how = "sequential" if w == 0 else "packed batches"
            default = " (default here)" if w == workers else ""
            side.append((f"musicrep embed, --workers {w} ({how}){default}", med[kind, w]))
        ray_rows = []
        if args.ray:  # the Ray engine on this machine, same files (ray.init timed separately)
            import ray

            from musicrep.embed import Embedder

            t0 = time.perf_counter()
            ray.init(num_cpus=args.threads, include_dashboard=False, log_to_driver=False)
            t_init = time.perf_counter() - t0
            for attempt in ("first (actor start, model load)", "second (warm cluster)"):
                with tempfile.TemporaryDirectory() as out:
                    t0 = time.perf_counter()
                    Embedder("musicnn", batch_size=args.batch).files(
                        [clips], out, engine="ray", progress=False
                    )
                    ray_rows.append((f"--engine ray, {attempt}", time.perf_counter() - t0))
            ray.shutdown()
            ray_rows.insert(0, ("ray.init of a local 2-CPU instance (once per run)", t_init))
        # 2. cost per audio second, 10 s files to one 1-hour file
        for seconds, count in args.cost_cases:
            folder = tmp / f"cost{seconds:g}"
            folder.mkdir()
            for i in range(count):
                write_wav(folder / f"f{i}.wav", seconds, seed=1000 + i)
            t, a = pipeline_rate("musicnn", folder, args.batch, workers)
            rows_cost.append((seconds, count, a, t))
            for f in folder.iterdir():
                f.unlink()
        # 3. peak RSS on the one-hour file: embed and predict (old whole-file predict for
        # comparison)
        long = tmp / "hour.wav"
        write_wav(long, args.hour_seconds, seed=7)
        common = (
            "import numpy as np, torch\n"
            "from musicrep.models import create_model\n"
            "torch.manual_seed(0); m = create_model('musicnn').eval()\n"
            "meta = {'task': 'multilabel', 'input_samples': m.encoder.input_samples, "
            "'sample_rate': m.encoder.sample_rate}\n"
        )
        whole = (
            common + "from musicrep import audio\n"
            "from musicrep.evaluate_tracks import activation_for\n"
            f"w, _ = audio.load({str(long)!r}, sr=16000)\n"
            "n = -(-len(w) // 48000)\n"
            "c = audio.equally_spaced_chunks(w, 48000, n, endpoint=True)\n"
            "with torch.inference_mode():\n"
            "    for i in range(0, n, 16):\n"
            "        activation_for('multilabel')(m(torch.from_numpy(c[i:i+16])))\n"
        )
        stream = common + (
            f"from musicrep.io import predict_file\npredict_file(m, meta, {str(long)!r})\n"
        )
        emb = (
            "from musicrep.embed import Embedder\n"
            f"Embedder('musicnn').files([{str(long)!r}], {str(tmp / 'o')!r}, progress=False)\n"
        )
        rss = [
            ("embed, musicnn, 1-hour file (default workers)", rss_command(emb, args.threads)),
            (
                "predict before (whole file decoded, chunks copied)",
                rss_command(whole, args.threads),
            ),
            ("predict now (streamed)", rss_command(stream, args.threads)),
        ]
    cmd = "python benchmarks/embed.py --pipeline " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    lines += [
        PIPELINE_SECTION,
        "",
        f"Command: `{cmd.strip()}` ({dt.date.today()}, {cpu_model()}, torch "
        f"{__import__('torch').__version__}, {args.threads} torch threads, batch {args.batch}; "
        "untrained musicnn, synthetic 16 kHz WAVs (noise + tones); one run each, so expect "
        "~10% noise from other jobs on the machine).",
        "",
        f"Side by side, {args.clips} files x {args.clip_seconds:g} s, in one run: median of "
        f"{args.rounds} interleaved rounds (Ray rows: one run each):",
        "",
        "| extractor | seconds | audio s/s | vs reference |",
        "|---|---:|---:|---:|",
    ]
    for label, t in side:
        lines.append(f"| {label} | {t:.2f} | {audio / t:.1f} | {t_ref / t:.2f}x |")
    for label, t in ray_rows:
        rate = f"{audio / t:.1f}" if label.startswith("--engine") else "—"
        ratio = f"{t_ref / t:.2f}x" if label.startswith("--engine") else "—"
        lines.append(f"| {label} | {t:.2f} | {rate} | {ratio} |")
    lines += [
        "",
        "Cost per audio second by file length (musicnn, default workers):",
        "",
        "| file length | files | audio s | seconds | ms per audio s |",
        "|---:|---:|---:|---:|---:|",
    ]
    for seconds, count, a, t in rows_cost:
        lines.append(f"| {seconds:g} s | {count} | {a:.0f} | {t:.2f} | {1000 * t / a:.2f} |")
    lines += [
        "",
        f"Peak RSS of a fresh process, {args.hour_seconds:g} s file (musicnn):",
        "",
        "| case | peak RSS (GB) |",
        "|---|---:|",
    ]
    for label, gb in rss:
        lines.append(f"| {label} | {gb:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        update_section(args.readme, PIPELINE_SECTION, text)
        print(f"wrote the '{PIPELINE_SECTION[3:]}' section of {args.readme}", file=sys.stderr)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", help="models to time (default: every zoo model + mfcc)")
    p.add_argument("--seconds", type=float, default=120.0, help="audio for throughput (120)")
    p.add_argument("--files", type=int, default=2, help="files the audio is split into (2)")
    p.add_argument(
        "--hour-cases",
        nargs="*",
        default=["fcn:16", "fcn:4", "mfcc:16"],
        metavar="MODEL:BATCH",
        help="peak-memory cases (fcn:16 fcn:4 mfcc:16); none to skip",
    )
    p.add_argument("--hour-seconds", type=float, default=3600.0, help="long file length (3600)")
    p.add_argument(
        "--hear-cases",
        nargs="*",
        default=["samplecnn:50", "samplecnn:500", "mfcc:50"],
        metavar="MODEL:HOP_MS",
        help="HEAR timestamp-embedding cases (samplecnn:50 samplecnn:500 mfcc:50)",
    )
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--no-write", action="store_true", help="print only")
    p.add_argument("--readme", type=Path, default=README)
    p.add_argument(
        "--pipeline",
        action="store_true",
        help="only the input-pipeline section: musicnn vs its reference extractor, cost per "
        "audio second by file length, peak RSS of embed/predict on one long file",
    )
    p.add_argument(
        "--ray", action="store_true", help="--pipeline: also time --engine ray (needs ray)"
    )
    p.add_argument(
        "--rounds", type=int, default=3, help="--pipeline: interleaved side-by-side rounds (3)"
    )
    p.add_argument("--clips", type=int, default=20, help="--pipeline: side-by-side files (20)")
    p.add_argument("--clip-seconds", type=float, default=10.0, help="their length (10 s)")
    p.add_argument(
        "--cost-cases",
        nargs="*",
        type=lambda t: tuple(float(v) if i == 0 else int(v) for i, v in enumerate(t.split(":"))),
        default=[(10.0, 12), (60.0, 2), (600.0, 1), (3600.0, 1)],
        metavar="SECONDS:FILES",
        help="--pipeline cost cases (10:12 60:2 600:1 3600:1)",
    )
    p.add_argument(
        "--rss-child", nargs=3, metavar=("MODEL", "PATH", "MODE"), help=argparse.SUPPRESS
    )
    args = p.parse_args()
    if args.rss_child:
        rss_child(*args.rss_child, threads=args.threads, batch=args.batch)
        return 0
    if args.pipeline:
        return pipeline_main(args)

    from musicrep.models import list_models

    models = args.models or [*list_models(), "mfcc"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "audio"
        folder.mkdir()
        for i in range(args.files):
            write_wav(folder / f"clip{i}.wav", args.seconds / args.files, seed=i)
        mem = []
        if args.hour_cases:  # first, while this process is small
            long = Path(tmp) / "long.wav"
            write_wav(long, args.hour_seconds, seed=123)
            mem = peak_rss(args.hour_cases, long, args.threads)
            long.unlink()
        tp = throughput(models, folder, args.threads, args.batch)
        hr = hear_rates(args.hear_cases, args.threads) if args.hear_cases else []
    text = render(args, tp, mem, hr, args.hour_seconds)
    print(text)
    if not args.no_write:
        update_section(args.readme, SECTION, text)
        print(f"wrote the '{SECTION[3:]}' section of {args.readme}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
