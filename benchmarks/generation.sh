#!/usr/bin/env bash
# Generation benchmark end to end (issue 11): train the symbolic LSTM, the conditioned WaveNet
# and a style classifier with `musicrep train`, then measure agreement of rendered audio with
# its roll and run the style check (benchmarks/generation.py; numbers in benchmarks/README.md).
#
#   bash benchmarks/generation.sh [WORKDIR]        # default WORKDIR: runs/generation
#
# The style classifier is musicnn trained on a piano-only corpus (`--solo-fraction 1
# --instruments piano`): the WaveNet renders piano, and the usual corpus gives each style its
# own ensemble, so a classifier trained on it could tell the styles apart by timbre alone.
# About 8 minutes on 2 CPU cores (classifier ~4.5 min, LSTM ~1 min, WaveNet ~1 min, benchmark
# ~2 min). Every step resumes (finished runs are reused).
set -euo pipefail
W=${1:-runs/generation}
M=${MUSICREP:-musicrep}
PY=${PYTHON:-python}
mkdir -p "$W"

$M data corpus --out "$W/corpus-piano" --clips 280 --seconds 4 --solo-fraction 1 \
    --instruments piano --jobs 2 --no-progress
train() {  # train OUT ARGS...: skip a run that already has its results
    local out=$1
    shift
    [ -f "$out/results.json" ] || $M train --out "$out" --overwrite "$@"
}
train "$W/style" --model musicnn --manifest "$W/corpus-piano/style.csv" \
    --set training.max_epochs=8 training.batch_size=16 training.schedule=plateau \
    training.lr=1e-3 data.valid_chunks=4 evaluation.chunks=4 training.early_stopping_patience=4
train "$W/gen_lstm" --recipe configs/gen_lstm.yaml
train "$W/gen_wavenet" --recipe configs/gen_wavenet.yaml
for m in style gen_lstm gen_wavenet; do
    [ -f "$W/models/$m/model.safetensors" ] || $M export "$W/$m" "$W/models/$m"
done
$PY benchmarks/generation.py --lstm "$W/models/gen_lstm" --wavenet "$W/models/gen_wavenet" \
    --classifier "$W/models/style" --clips-per-style 4 --seconds 3 --threads 2 \
    --wav-dir "$W/clips" --out "$W/generation.json"
