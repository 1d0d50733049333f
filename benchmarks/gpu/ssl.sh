#!/usr/bin/env bash
# GPU run of the self-supervised recipes (expected < 120 s on an H200; NOT run yet).
#
# Pre-trains PASE+ (music workers, DWA weighting) and CLMR (SampleCNN) for a few epochs on the
# built-in corpus (labels unused), then benchmarks both frozen encoders beside the untrained
# zoo encoders and MFCC. Writes under $OUT (default ./gpu_out):
#   ssl_train.log   per-epoch losses and samples/s of both runs
#   ssl_report/     musicrep benchmark report (report.md, results.csv)
set -euo pipefail
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
cd "$(dirname "$0")/../.."
CORPUS="$OUT/corpus"
musicrep data corpus --out "$CORPUS" --clips 200 --seconds 6 --no-progress >/dev/null
{
  timeout 45 musicrep train --recipe configs/music_multitask.yaml --manifest "$CORPUS/style.csv" \
    --out "$OUT/runs/music_mt" --overwrite --max-epochs 4 --accelerator gpu \
    --set training.batch_size=32 objective.stats_batches=5 data.num_workers=8
  timeout 35 musicrep train --recipe configs/clmr.yaml --manifest "$CORPUS/style.csv" \
    --out "$OUT/runs/clmr" --overwrite --max-epochs 4 --accelerator gpu \
    --set training.batch_size=48 data.num_workers=8
} > "$OUT/ssl_train.log" 2>&1
timeout 30 musicrep benchmark --tasks corpus-style,corpus-instrument \
  --models "music_mt=$OUT/runs/music_mt,clmr=$OUT/runs/clmr,pase_plus=pase_plus,samplecnn=samplecnn,mfcc=mfcc" \
  --corpus-dir "$CORPUS" --clips 200 --seconds 6 --repeats 2 --device cuda -q --out "$OUT/ssl_report"
