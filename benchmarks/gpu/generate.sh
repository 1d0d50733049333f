#!/usr/bin/env bash
# GPU run of the generation models (expected < 120 s on an H200; NOT RUN yet).
#
# Trains a larger conditioned WaveNet (20 layers, 2 dilation cycles, 64/128 channels, 0.5-s crops)
# and the biaxial LSTM (Johnson-like sizes) for a fixed number of steps on built-in corpus data,
# then renders one 2-s clip per style with the benchmark script. Writes under $OUT:
#   lstm/results.json, wavenet/results.json   test NLL / loss (conditioned, roll zeroed)
#   generation.json                           audio/roll agreement (chroma, onsets, pYIN), speed (CPU)
set -euo pipefail
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
cd "$(dirname "$0")/../.."
timeout 50 musicrep train --recipe configs/gen_lstm.yaml --out "$OUT/lstm" --overwrite \
  --set "objective.network={time_hidden: 128, pitch_hidden: 64, time_layers: 2, pitch_layers: 2, window: 12}" \
        objective.frames=64 training.batch_size=64 training.max_steps=600 training.max_epochs=20
timeout 50 musicrep train --recipe configs/gen_wavenet.yaml --out "$OUT/wavenet" --overwrite \
  --set "objective.network={layers: 20, cycle: 10, channels: 64, skip_channels: 128}" \
        objective.clips=128 objective.crop=8000 training.batch_size=16 training.max_steps=400 \
        training.max_epochs=50
musicrep export "$OUT/lstm" "$OUT/lstm_model"
musicrep export "$OUT/wavenet" "$OUT/wavenet_model"
# rendering runs on the CPU (the cached step is launch-bound on a GPU); a small sample only
timeout 30 python benchmarks/generation.py --lstm "$OUT/lstm_model" \
  --wavenet "$OUT/wavenet_model" --styles bach,folk,fiddle --clips-per-style 1 --seconds 0.5 \
  --threads 8 --out "$OUT/generation.json"
