#!/usr/bin/env bash
# GPU rows of the embedding pipeline (issue 12): expected ~100 s on an H200 with 16 cores.
#
# Needs musicrep's dependencies; the GPU box lacks librosa/soundfile/soxr, so carry the wheels:
#   pip install --no-index --no-deps --target /tmp/site .whl/*.whl; export PYTHONPATH=/tmp/site:src
# Writes $OUT/embed_gpu.md (default ./gpu_out):
#   model alone (fp32, bf16), end to end (--workers 0 vs default, fp32 and bf16) for 48 x 30 s
#   files at 22.05 kHz, files/s for 400 x 1 s files, peak RSS of a 1-hour file, and musicnn's
#   GPU memory at batch 256 (allocated vs reserved, cudnn.benchmark off/on, per layer).
set -euo pipefail
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
cd "$(dirname "$0")/../.."
timeout 280 python - > "$OUT/embed_gpu.md" 2> "$OUT/embed_gpu.err" <<'PY'
import os, resource, tempfile, time
from pathlib import Path
import numpy as np, soundfile as sf, torch
from musicrep.embed import Embedder, default_workers, resolve_model

dev = "cuda"
print(f"# embed on {torch.cuda.get_device_name()} ({os.cpu_count()} cores), workers default "
      f"{default_workers()}\n")

def wav(path, seconds, sr, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.05 * rng.standard_normal(len(t)) + 0.2 * np.sin(2 * np.pi * 220 * t)
    sf.write(path, x.astype(np.float32), sr, subtype="PCM_16")

# 1. model alone, musicnn, batch 256 of 3 s windows
emb = resolve_model("musicnn", device=dev)
x = torch.randn(256, emb.window_samples, device=dev)
print("| musicnn model alone (batch 256) | audio s/s |\n|---|---:|")
for prec in ("fp32", "bf16"):
    with torch.inference_mode(), torch.autocast("cuda", torch.bfloat16, enabled=prec == "bf16"):
        for _ in range(3): emb(x)
        torch.cuda.synchronize(); t0 = time.perf_counter()
        for _ in range(10): emb(x)
        torch.cuda.synchronize(); dt = time.perf_counter() - t0
    print(f"| {prec} | {10 * 256 * 3 / dt:,.0f} |")

# 2. musicnn GPU memory at batch 256: allocated (activations) vs reserved, cudnn.benchmark off/on
print("\n| musicnn batch 256 memory | max allocated GB | max reserved GB |\n|---|---:|---:|")
for bench in (False, True):
    torch.backends.cudnn.benchmark = bench
    torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
    with torch.inference_mode(): emb(x)
    torch.cuda.synchronize()
    print(f"| inference, cudnn.benchmark={bench} | {torch.cuda.max_memory_allocated()/2**30:.2f} "
          f"| {torch.cuda.max_memory_reserved()/2**30:.2f} |")
torch.backends.cudnn.benchmark = False
sizes = {}
hooks = [m.register_forward_hook(lambda m, i, o, n=n: sizes.setdefault(n, o.numel() * 4 / 2**30))
         for n, m in emb.encoder.named_modules() if n.count(".") <= 2 and n]
with torch.inference_mode(): emb(x)
for h in hooks: h.remove()
print("\nlargest outputs at batch 256 (GB, fp32): " + ", ".join(
    f"{n} {g:.2f}" for n, g in sorted(sizes.items(), key=lambda t: -t[1])[:6]))
del x, emb; torch.cuda.empty_cache()

# 3. end to end
with tempfile.TemporaryDirectory() as tmp:
    tmp = Path(tmp)
    long_files, short_files = tmp / "long", tmp / "short"
    long_files.mkdir(); short_files.mkdir()
    for i in range(48): wav(long_files / f"l{i}.wav", 30, 22050, i)
    for i in range(400): wav(short_files / f"s{i}.wav", 1, 22050, i)
    print("\n| musicnn end to end | workers | precision | batch | audio s/s | files/s |\n"
          "|---|---:|---|---:|---:|---:|")
    for folder, label in ((long_files, "48 x 30 s"), (short_files, "400 x 1 s")):
        for workers, prec, batch in ((0, "fp32", 16), (None, "fp32", 256), (None, "bf16", 256)):
            e = Embedder("musicnn", device=dev, workers=workers, precision=prec, batch_size=batch)
            e.files([long_files / "l0.wav"], tmp / "warm", progress=False, overwrite=True)
            torch.cuda.synchronize(); t0 = time.perf_counter()
            r = e.files([folder], tmp / f"o{label}{workers}{prec}", progress=False)
            torch.cuda.synchronize(); dt = time.perf_counter() - t0
            print(f"| {label} | {e.workers} | {prec} | {e.batch_size} | "
                  f"{r.audio_seconds / dt:,.0f} | {len(r.written) / dt:,.0f} |")
    hour = tmp / "hour.wav"
    wav(hour, 3600, 16000, 7)
    e = Embedder("musicnn", device=dev, batch_size=256)
    t0 = time.perf_counter()
    r = e.files([hour], tmp / "hour", progress=False)
    dt = time.perf_counter() - t0
    print(f"\n1-hour file: {r.audio_seconds / dt:,.0f} audio s/s; peak RSS of this process so far "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB")
PY
# the same memory probe with cuDNN's convolution workspace capped at 1 GiB (must be set before
# CUDA starts, hence a second process): if reserved memory drops, the workspace was the cause
CUDNN_CONV_WSCAP_DBG=1024 timeout 60 python - >> "$OUT/embed_gpu.md" 2>> "$OUT/embed_gpu.err" <<'PY'
import time, torch
from musicrep.embed import resolve_model
emb = resolve_model("musicnn", device="cuda")
x = torch.randn(256, emb.window_samples, device="cuda")
for bench in (False, True):
    torch.backends.cudnn.benchmark = bench
    torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
    with torch.inference_mode():
        emb(x); torch.cuda.synchronize(); t0 = time.perf_counter()
        for _ in range(5): emb(x)
        torch.cuda.synchronize(); dt = time.perf_counter() - t0
    print(f"| CUDNN_CONV_WSCAP_DBG=1024, cudnn.benchmark={bench} | "
          f"{torch.cuda.max_memory_allocated()/2**30:.2f} | "
          f"{torch.cuda.max_memory_reserved()/2**30:.2f} | {5 * 256 * 3 / dt:,.0f} audio s/s |")
PY
cat "$OUT/embed_gpu.md"
