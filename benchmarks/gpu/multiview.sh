#!/usr/bin/env bash
# GPU run of the multi-view reproduction at a larger size (NOT RUN yet).
#
# The same script as the CPU table (benchmarks/multiview_reproduction.py: 4 single views, late
# fusion, concatenation, uniform, G-Blend on corpus style, instrument and tags), larger: 3-s
# crops (the recipes' size), 20 epochs, batch 32, 8 test chunks per track; throughput on cuda.
# Renders the corpus first when CORPUS has none (`musicrep data corpus`, builtin renderer).
# Expected: a few minutes on one H100/H200 (21 short trainings, each mostly process start and
# data loading at this size). Writes under $OUT:
#   corpus.log, reproduction.log
#   mv/report.md, mv/results.json, mv/weights.png, mv/runs/TASK/gblend/gblend_weights.csv
set -euo pipefail
OUT=${OUT:-gpu_out}
CORPUS=${CORPUS:-data/corpus}
mkdir -p "$OUT"
cd "$(dirname "$0")/../.."
if [ ! -f "$CORPUS/instrument.csv" ]; then
  timeout 240 musicrep data corpus --out "$CORPUS" > "$OUT/corpus.log" 2>&1
fi
nvidia-smi --query-gpu=name,memory.total --format=csv > "$OUT/gpu.txt" 2>&1 || true
timeout 500 python benchmarks/multiview_reproduction.py --corpus "$CORPUS" --out "$OUT/mv" \
  --epochs 20 --samples 48000 --batch-size 32 --chunks 8 --throughput-device cuda \
  --throughput-steps 20 --quiet > "$OUT/reproduction.log" 2>&1 || true
# runs' own files are large (checkpoints); keep the report, results and weights only
find "$OUT/mv/runs" -name '*.ckpt' -delete 2>/dev/null || true
find "$OUT/mv/runs" -name 'model.safetensors' -delete 2>/dev/null || true
