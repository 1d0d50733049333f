#!/usr/bin/env bash
# GPU run of the multi-view reproduction (NOT RUN yet; expected < 120 s on an H200).
#
# Needs musicrep installed and a rendered corpus (CORPUS, default data/corpus; render with
# `musicrep data corpus --out data/corpus`). Trains gblend, uniform and concat multi-view nets
# (4 views, 3-s crops, 10 epochs) on corpus style and writes under $OUT:
#   report.md / results.json   accuracy per method, G-Blend weight trajectory
#   throughput.txt             multi-view forward+backward clips per second on cuda
set -euo pipefail
OUT=${OUT:-gpu_out}
CORPUS=${CORPUS:-data/corpus}
mkdir -p "$OUT"
cd "$(dirname "$0")/../.."
timeout 30 python - > "$OUT/throughput.txt" <<'PY'
import time
import torch
from musicrep.models import create_model
m = create_model("multiview", num_outputs=10).cuda()
x = torch.randn(64, 48000, device="cuda")
opt = torch.optim.Adam(m.parameters())
for i in range(13):
    if i == 3:
        torch.cuda.synchronize(); t0 = time.perf_counter()
    opt.zero_grad(); m(x).logsumexp(1).mean().backward(); opt.step()
torch.cuda.synchronize()
print(f"multiview train step, batch 64 x 3 s: {640 / (time.perf_counter() - t0):.0f} clips/s")
PY
for method in gblend uniform concat; do
  recipe=configs/multiview_${method/concat/uniform}.yaml
  w=$([ "$method" = concat ] && echo joint || ([ "$method" = gblend ] && echo gblend || echo uniform))
  timeout 40 musicrep train --recipe "$recipe" --manifest "$CORPUS/style.csv" \
    --out "$OUT/runs/$method" --overwrite --max-epochs 10 --accelerator gpu \
    --set objective.weighting=$w training.batch_size=64 > "$OUT/$method.log" 2>&1 || true
done
python - "$OUT" > "$OUT/report.md" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
for m in ("concat", "uniform", "gblend"):
    r = out / "runs" / m / "results.json"
    acc = json.loads(r.read_text())["metrics"]["accuracy"] if r.exists() else "failed"
    print(f"| {m} | {acc} |")
w = out / "runs" / "gblend" / "gblend_weights.csv"
print(w.read_text() if w.exists() else "no weights")
PY
