#!/usr/bin/env bash
# COALA reproduction on the built-in corpus dataset: train AE-C, E-C and CNN, then benchmark
# them with the MFCC baseline beside the paper's Tables 1 and 2 (musicrep benchmark --reference coala).
#
# Deviations from the paper, forced by the data and a 2-core CPU (all overridable below):
#   - data: the built-in corpus (CORPUS_CLIPS clips x 6 s, its freetags.csv) instead of ~190k
#     Freesound clips; downstream tasks are corpus-style / corpus-instrument / corpus-tags
#     instead of GTZAN / NSynth / US8K;
#   - EPOCHS epochs at batch 32 instead of 200 epochs at batch 128 (with a few hundred clips a
#     batch of 128 gives 2 updates per epoch).
# Usage: bash benchmarks/coala_reproduction.sh   (env: OUT, CORPUS, CORPUS_CLIPS, EPOCHS, RUNS)
set -euo pipefail
OUT=${OUT:-reports/coala}
CORPUS=${CORPUS:-data/coala-corpus}
CORPUS_CLIPS=${CORPUS_CLIPS:-400}
EPOCHS=${EPOCHS:-10}
RUNS=${RUNS:-runs}

musicrep data corpus --out "$CORPUS" --clips "$CORPUS_CLIPS" --seconds 6 --no-progress >/dev/null
musicrep data tags --manifest "$CORPUS/freetags.csv" --top 15
for v in ae_c e_c cnn; do
  run="$RUNS/coala-$v"
  if [ -f "$run/results.json" ]; then echo "$run: finished"; continue; fi
  resume=(); [ -f "$run/checkpoints/last.ckpt" ] && resume=(--resume)
  musicrep train --recipe "configs/coala_$v.yaml" --manifest "$CORPUS/freetags.csv" --out "$run" \
    --max-epochs "$EPOCHS" --set training.batch_size=32 "${resume[@]}"
done
musicrep benchmark --tasks corpus-style,corpus-instrument,corpus-tags \
  --models "ae_c=$RUNS/coala-ae_c,e_c=$RUNS/coala-e_c,cnn=$RUNS/coala-cnn,mfcc=mfcc" \
  --reference coala --cca --cca-split all --corpus-dir "$CORPUS" --clips "$CORPUS_CLIPS" --seconds 6 --out "$OUT"
