#!/usr/bin/env bash
# GPU check of musicrep.features / musicrep.augment / pase_plus (expected ~90 s on an H200).
#
# Needs musicrep installed with its dependencies (librosa, nnAudio, soundfile, soxr wheels).
# Writes under $OUT (default ./gpu_out):
#   features_gpu.md     throughput table of every feature extractor and augmentation on cuda
#                       (batch 64 x 2 s; CPU rows are in benchmarks/README.md)
#   checks.txt          CPU-vs-GPU agreement of every feature, seeded augmentation determinism on
#                       cuda, and pase_plus forward/backward samples per second on cuda
set -euo pipefail
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
cd "$(dirname "$0")/../.."
timeout 240 python benchmarks/features.py --device cuda --no-librosa --batch 64 --seconds 2 \
    --repeats 10 --threads 8 --no-write > "$OUT/features_gpu.md"
timeout 240 python - > "$OUT/checks.txt" <<'PY'
import time
import torch
from musicrep.augment import create_augmentation
from musicrep.features import create_feature, list_features
from musicrep.models import create_encoder

x = 0.1 * torch.randn(8, 32000, generator=torch.Generator().manual_seed(0))
print("feature: max |cpu - cuda| / max |cpu|")
for name in list_features():
    fx = create_feature(name).eval()
    with torch.no_grad():
        cpu = fx(x)
        gpu = fx.to("cuda")(x.cuda()).cpu()
    print(f"  {name:20s} {float((cpu - gpu).abs().max() / cpu.abs().max().clamp(min=1e-12)):.2e}")
for name in ("clmr", "pase_plus"):
    kw = {"num_samples": 30000} if name == "clmr" else {}
    a = create_augmentation(name, sample_rate=16000, seed=0, **kw).cuda()
    y1 = a(x.cuda())
    a.reseed(0)
    y2 = a(x.cuda())
    print(f"augmentation {name}: seeded repeat identical on cuda: {torch.equal(y1, y2)}")
enc = create_encoder("pase_plus").cuda()
opt = torch.optim.Adam(enc.parameters(), 1e-4)
wave = torch.randn(32, 32000, device="cuda")
for step in range(13):
    if step == 3:
        torch.cuda.synchronize()
        start = time.perf_counter()
    loss = enc.forward_sequence(wave).square().mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
torch.cuda.synchronize()
rate = 10 * 32 / (time.perf_counter() - start)
print(f"pase_plus train step (batch 32 x 2 s, fp32): {rate:.0f} samples/s")
PY
cat "$OUT/checks.txt"
