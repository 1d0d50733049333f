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
import os
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


#: The musicnn package's prediction batch (``musicnn/configuration.py``: ``BATCH_SIZE = 1``).
MUSICNN_PACKAGE_BATCH = 1


def reference_musicnn(paths: list[Path], net, patches: list | None = None) -> None:
    """The ``musicnn`` package's extractor (``musicnn.extractor.extractor``), reimplemented.

    Preprocessing as ``musicnn/extractor.py`` ``batch_data``: ``librosa.load(path, sr=16000)``;
    ``librosa.feature.melspectrogram(n_fft=512, hop_length=256, n_mels=96)``, transposed; the
    mel rounded to float16, then ``log10(10000 x + 1)`` (in float32: NumPy >= 2 would overflow
    float16 there, see :mod:`musicrep.models.musicnn_tf`); patches of 187 frames (3 s), no
    overlap, collected by repeated concatenation as the package does (the last partial patch is
    dropped). Model cost: the package's network layer for layer
    (:class:`musicrep.models.musicnn_tf.MusicnnNet`, the converted ``MTT_musicnn`` weights,
    every layer computed as with ``extract_features=True``), run ``BATCH_SIZE = 1`` patch at a
    time as the package does; the original runs the same graph in TensorFlow 1.x.

    With ``patches`` (a list), the network is not run: the patches of each file are appended
    (to time the network alone on them afterwards).
    """
    import librosa
    import torch

    frames = 187
    with torch.inference_mode():
        for path in paths:
            y, sr = librosa.load(path, sr=16000)
            mel = librosa.feature.melspectrogram(
                y=y, sr=sr, hop_length=256, n_fft=512, n_mels=96
            ).T.astype(np.float16)
            mel = np.log10(10000 * mel.astype(np.float32) + 1)
            batch = None
            for a in range(0, len(mel) - frames + 1, frames):
                patch = mel[None, a : a + frames]
                batch = patch if batch is None else np.concatenate((batch, patch), axis=0)
            if patches is not None:
                patches.append(batch)
                continue
            for i in range(0, len(batch), MUSICNN_PACKAGE_BATCH):
                net.layers(torch.from_numpy(batch[i : i + MUSICNN_PACKAGE_BATCH]))


def side_child(kind: str, folder: str, threads: int, batch: int) -> None:
    """Run in a fresh subprocess: one warm-up file, then time ``kind`` over ``folder``.

    ``kind`` is ``reference`` or ``musicrep:W[:bf16]`` (``Embedder("musicnn-mtt", workers=W,
    precision=...).files``, what ``musicrep embed --model musicnn-mtt --workers W [--precision
    bf16]`` runs). Prints JSON with the wall time, the process's CPU time (user + system) and
    the audio seconds.
    """
    import torch

    from musicrep.embed import Embedder, resolve_model

    torch.set_num_threads(threads)
    paths = sorted(Path(folder).glob("*.wav"))
    warm = Path(folder).parent / "warm.wav"
    audio = sum(__import__("soundfile").info(p).duration for p in paths)
    if kind in ("reference", "network"):
        net = resolve_model("musicnn-mtt").encoder.net
        patches: list = []
        reference_musicnn(paths, net, patches)  # (untimed) for "network"
        patches = [torch.from_numpy(p[i : i + 1]) for p in patches for i in range(len(p))]

        def work() -> None:
            if kind == "reference":
                reference_musicnn(paths, net)
            else:  # the package's network alone on the reference's patches
                with torch.inference_mode():
                    for x in patches:
                        net.layers(x)

        reference_musicnn([warm], net)
    else:
        _, workers, *flags = kind.split(":")
        shards = threads if "shards" in flags else 1
        if shards > 1:  # one torch thread per process: no 2-thread pool exists before fork
            torch.set_num_threads(1)
        emb = Embedder(
            "musicnn-mtt",
            batch_size=batch,
            workers=int(workers),
            precision="bf16" if "bf16" in flags else "fp32",
        )
        if "noopt" in flags:  # the original graph, without musicrep.models.inference
            emb.model.__dict__["_inference"] = emb.model.encoder

        def work() -> None:
            with tempfile.TemporaryDirectory() as out:
                if shards == 1:
                    report = emb.files([folder], out, progress=False)
                    assert not report.failed, report.failed
                    return
                # `musicrep embed --shard i/N`: N single-thread processes (forked after the
                # model load and warm-up), each embedding every N-th file
                pids = []
                for i in range(shards):
                    pid = os.fork()
                    if pid == 0:  # pragma: no cover - child
                        code = 1
                        try:
                            report = emb.files([folder], out, progress=False, shard=(i, shards))
                            code = 1 if report.failed else 0
                        finally:
                            os._exit(code)
                    pids.append(pid)
                for pid in pids:
                    assert os.waitpid(pid, 0)[1] == 0

        with tempfile.TemporaryDirectory() as out:
            emb.files([warm], out, progress=False)
    c0, t0 = time.process_time(), time.perf_counter()
    ch0 = os.times()
    work()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    ch1 = os.times()  # CPU of the forked shard processes (zero otherwise)
    cpu += (ch1.children_user - ch0.children_user) + (ch1.children_system - ch0.children_system)
    print(json.dumps({"wall": wall, "cpu": cpu, "audio": audio, "load": os.getloadavg()[0]}))


def side_by_side(folder: Path, cases: list[str], rounds: int, threads: int, batch: int) -> dict:
    """``{case: [result per round]}``: every case in its own fresh process, rounds interleaved
    (A B A B ...), so slow moments of the shared machine hit every case alike."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": "1"}
    results: dict = {c: [] for c in cases}
    for r in range(rounds):
        for case in cases:
            cmd = [sys.executable, __file__, "--side-child", case, str(folder)]
            cmd += ["--threads", str(threads), "--batch", str(batch)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            results[case].append(row)
            print(
                f"round {r + 1} {case:12s} {row['wall']:.2f} s wall, {row['cpu']:.2f} s CPU, "
                f"load {row['load']:.1f}",
                file=sys.stderr,
            )
    return results


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
        write_wav(tmp / "warm.wav", args.clip_seconds, seed=99)
        audio = args.clips * args.clip_seconds
        # every case in a fresh process, interleaved rounds; median and range of each
        cases = ["reference", "network"] + [f"musicrep:{w}" for w in sorted({0, 1, workers})]
        cases += [f"musicrep:{workers}:bf16"] if args.bf16 else []
        cases += ["musicrep:0:noopt"] if args.noopt else []
        cases += ["musicrep:0:shards"] if args.shards and args.threads > 1 else []
        runs = side_by_side(clips, cases, args.rounds, args.threads, args.batch)
        ref_wall = [r["wall"] for r in runs["reference"]]
        ref_cpu = [r["cpu"] for r in runs["reference"]]
        side = []
        for case in cases:
            if case == "reference":
                label = "musicnn package extractor, reimplemented (librosa mel, batch 1)"
            elif case == "network":
                label = "its network alone on its patches (batch 1; no decoding, no mel)"
            else:
                w = int(case.split(":")[1])
                how = "sequential" if w == 0 else "decoding threads, packed batches"
                default = ", default here" if w == workers else ""
                flag = " --precision bf16" if case.endswith("bf16") else ""
                label = f"`musicrep embed --model musicnn-mtt --workers {w}{flag}` ({how}{default})"
                if case.endswith("shards"):
                    label = (
                        f"`musicrep embed --model musicnn-mtt --workers 0 --shard i/{args.threads}`"
                        f", {args.threads} single-thread processes (`OMP_NUM_THREADS=1`)"
                    )
                if case.endswith("noopt"):
                    label = (
                        "`musicrep embed --model musicnn-mtt --workers 0`, original graph "
                        "(no `optimize_for_inference`, as before it)"
                    )
            side.append((label, runs[case]))
        t_ref = float(np.median(ref_wall))
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
                    Embedder("musicnn-mtt", batch_size=args.batch).files(
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
            t, a = pipeline_rate("musicnn-mtt", folder, args.batch, workers)
            rows_cost.append((seconds, count, a, t))
            for f in folder.iterdir():
                f.unlink()
        # 3. peak RSS on the one-hour file: embed and predict (both stream the file)
        rss = []
        if args.side_only:
            args.hour_seconds = 0.0
        long = tmp / "hour.wav"
        write_wav(long, args.hour_seconds, seed=7)
        predict = (
            "from musicrep.io import load_model, predict_file\n"
            "m, meta, _ = load_model('musicnn-mtt')\n"
            f"predict_file(m, meta, {str(long)!r})\n"
        )
        emb = (
            "from musicrep.embed import Embedder\n"
            f"Embedder('musicnn-mtt').files([{str(long)!r}], {str(tmp / 'o')!r}, progress=False)\n"
        )
        if not args.side_only:
            rss = [
                (
                    "`musicrep embed --model musicnn-mtt` (default workers)",
                    rss_command(emb, args.threads),
                ),
                ("`musicrep predict --model musicnn-mtt`", rss_command(predict, args.threads)),
            ]
    cmd = "python benchmarks/embed.py --pipeline " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    lines += [
        PIPELINE_SECTION,
        "",
        f"Command: `{cmd.strip()}` ({dt.date.today()}, {cpu_model()}, torch "
        f"{__import__('torch').__version__}, {args.threads} torch threads, batch {args.batch}; "
        "musicnn = the shipped `musicnn-mtt` (the musicnn package's MTT_musicnn, converted); "
        "synthetic 16 kHz WAVs (noise + tones)).",
        "",
        f"Side by side on the same {args.clips} files x {args.clip_seconds:g} s, in one run: "
        "each case runs in a fresh process (imports, model load and one warm-up file untimed; "
        f"`OMP_NUM_THREADS={args.threads}`, `OPENBLAS_NUM_THREADS=1`), cases interleaved "
        f"(A B A B ...) for {args.rounds} rounds; median [min-max]. CPU = the process's user + "
        "system time, less sensitive than wall time to other jobs on this shared machine. "
        "musicrep covers each file to its end (a 10 s file: 4 windows of 2.98 s, the last "
        "zero-padded); the package drops the partial last patch (3 patches). Ray rows: one run "
        "each, in this process.",
        "",
        "| extractor | wall s | audio s/s | vs reference (wall) | CPU s | vs reference (CPU) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    ref_c = float(np.median(ref_cpu))
    for label, rows in side:
        w = [r["wall"] for r in rows]
        c = [r["cpu"] for r in rows]
        mw, mc = float(np.median(w)), float(np.median(c))
        lines.append(
            f"| {label} | {mw:.2f} [{min(w):.2f}-{max(w):.2f}] | {audio / mw:.1f} | "
            f"{t_ref / mw:.2f}x [{min(ref_wall) / max(w):.2f}-{max(ref_wall) / min(w):.2f}] | "
            f"{mc:.2f} | {ref_c / mc:.2f}x |"
        )
    for label, t in ray_rows:
        rate = f"{audio / t:.1f}" if label.startswith("--engine") else "—"
        ratio = f"{t_ref / t:.2f}x" if label.startswith("--engine") else "—"
        lines.append(f"| {label} | {t:.2f} | {rate} | {ratio} | | |")
    loads = [r["load"] for rows in runs.values() for r in rows]
    lines.append("")
    lines.append(f"1-minute load average during the rounds: {min(loads):.1f}-{max(loads):.1f}.")
    if rows_cost:
        lines += [
            "",
            "Cost per audio second by file length (`musicnn-mtt`, default workers):",
            "",
            "| file length | files | audio s | seconds | ms per audio s |",
            "|---:|---:|---:|---:|---:|",
        ]
    for seconds, count, a, t in rows_cost:
        lines.append(f"| {seconds:g} s | {count} | {a:.0f} | {t:.2f} | {1000 * t / a:.2f} |")
    if rss:
        lines += [
            "",
            f"Peak RSS of a fresh process, {args.hour_seconds:g} s file:",
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
    p.add_argument(
        "--bf16", action="store_true", help="--pipeline: also time --precision bf16 on the CPU"
    )
    p.add_argument(
        "--shards",
        action="store_true",
        help="--pipeline: also time --threads single-thread processes, each on its --shard of "
        "the files (forked after the model load)",
    )
    p.add_argument(
        "--noopt",
        action="store_true",
        help="--pipeline: also time musicrep without musicrep.models.inference (the original "
        "graph)",
    )
    p.add_argument(
        "--side-only",
        action="store_true",
        help="--pipeline: only the side-by-side table (no cost rows, no RSS; implies --no-write)",
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
    p.add_argument("--side-child", nargs=2, metavar=("KIND", "FOLDER"), help=argparse.SUPPRESS)
    p.add_argument(
        "--rss-child", nargs=3, metavar=("MODEL", "PATH", "MODE"), help=argparse.SUPPRESS
    )
    args = p.parse_args()
    if args.side_child:
        side_child(*args.side_child, threads=args.threads, batch=args.batch)
        return 0
    if args.rss_child:
        rss_child(*args.rss_child, threads=args.threads, batch=args.batch)
        return 0
    if args.pipeline:
        if args.side_only:
            args.no_write, args.cost_cases = True, []
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
