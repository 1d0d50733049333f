#!/usr/bin/env bash
# Self-supervised ablation on the built-in corpus: multi-task worker sets x loss weightings and
# CLMR, pre-trained WITHOUT labels, then `musicrep benchmark` (COALA protocol: frozen
# embeddings, logistic-regression / MLP probes, REPEATS seeds) of each encoder beside the same
# encoder untrained, the MFCC baseline and the same encoder trained supervised on corpus-style.
#
# Every method trains ONE small encoder, so rows differ only by the objective: PASE (SincNet
# with 32 filters, conv channels 32-64-64-128-128-128-128, 64-d frames every 10 ms, no RNN,
# 0.3 M parameters) on 1-s crops, batch 16, Adam, EPOCHS epochs over the train split of a
# CLIPS x SECS-s corpus; the waveform decoder is the per-frame MLP (PASE+'s transposed-conv
# decoder costs ~5 GFLOP per second of audio, more than this encoder). BatchNorm statistics
# are recomputed before each validation (training.precise_bn_batches). Sized for a shared
# 2-core CPU: a sanity-level comparison, not a reproduction of the papers' numbers.
#
# Usage: bash benchmarks/ssl_ablation.sh
#   env: OUT, CORPUS, CLIPS (200), SECS (4), EPOCHS (6), RUNS, REPEATS (3), SUPERVISED (1),
#        RUNS_SET: label:workers:weighting[:seed] for multitask (music workers: MLP decoder,
#          no distortion; seed: training.seed, default 0), "clmr", "pase_plus" (the PASE+
#          recipe: its speech workers WITH its online distortions, on the same encoder);
#        UNTRAINED_SEEDS ("0 1"): one untrained column per weight seed, untrained_s<seed>;
#        BENCHMARK (1): 0 trains only (split a long run into several jobs; a finished run
#          with the same settings is reused, so a later job with the whole RUNS_SET only
#          benchmarks). The summary (ssl_ablation_summary.py) averages the columns that
#          differ only by seed (untrained_s0/_s1, mt_X/mt_X_s1) and shows each value.
set -euo pipefail
OUT=${OUT:-reports/ssl}
CORPUS=${CORPUS:-data/ssl-corpus}
CLIPS=${CLIPS:-200}
SECS=${SECS:-4}
EPOCHS=${EPOCHS:-6}
RUNS=${RUNS:-runs/ssl}
REPEATS=${REPEATS:-3}
SUPERVISED=${SUPERVISED:-1}
UNTRAINED_SEEDS=${UNTRAINED_SEEDS:-"0 1"}
BENCHMARK=${BENCHMARK:-1}
RUNS_SET=${RUNS_SET:-"spectral:spectral:equal music:music:equal clmr music_unc:music:uncertainty music_dwa:music:dwa music_gn:music:gradnorm music_inv:music:inverse pase_plus music_unc_s1:music:uncertainty:1"}
FE='{"n_filters": 32}'
BE='{"emb_dim": 64, "channels": [32, 64, 64, 128, 128, 128, 128]}'
ENC=(model.name=pase model.input_samples=16000 "model.frontend_kwargs=$FE" "model.backend_kwargs=$BE")
COMMON=(training.batch_size=16 data.num_workers=0 training.precise_bn_batches=4
        training.early_stopping_patience=0)

musicrep data corpus --out "$CORPUS" --clips "$CLIPS" --seconds "$SECS" --no-progress >/dev/null
train() {  # run-folder, then musicrep train arguments; a run finished with the same settings is kept
  local run=$1; shift
  local stamp="CLIPS=$CLIPS SECS=$SECS EPOCHS=$EPOCHS $*"
  if [ -f "$run/.ablation-done" ] && [ "$(cat "$run/.ablation-done")" = "$stamp" ]; then
    echo "$run: trained"; return
  fi
  musicrep train --out "$run" --overwrite --manifest "$CORPUS/style.csv" --max-epochs "$EPOCHS" "$@"
  printf '%s' "$stamp" >"$run/.ablation-done"
}
models=()
if [ "$SUPERVISED" = 1 ]; then  # the same encoder trained on the corpus-style labels
  train "$RUNS/supervised" --model pase --set "${ENC[@]}" "${COMMON[@]}"
  models+=("supervised=$RUNS/supervised")
fi
for spec in $RUNS_SET; do
  if [ "$spec" = clmr ]; then
    train "$RUNS/clmr" --recipe configs/clmr.yaml --set "${ENC[@]}" "${COMMON[@]}"
    models+=("clmr=$RUNS/clmr")
  elif [ "$spec" = pase_plus ]; then  # PASE+ workers (gammatone, prosody, ...) + distortions
    train "$RUNS/pase_plus" --recipe configs/pase_plus.yaml --set "${ENC[@]}" "${COMMON[@]}" \
      objective.hidden=64 objective.decoder_head=mlp objective.stats_batches=8
    models+=("pase_plus=$RUNS/pase_plus")
  else
    IFS=: read -r label workers weighting seed <<<"$spec"
    train "$RUNS/mt-$label" --recipe configs/music_multitask.yaml --set "${ENC[@]}" "${COMMON[@]}" \
      objective.workers="$workers" objective.weighting="$weighting" objective.hidden=64 \
      objective.decoder_head=mlp objective.stats_batches=8 training.seed="${seed:-0}"
    models+=("mt_$label=$RUNS/mt-$label")
  fi
done
[ "$BENCHMARK" = 1 ] || { echo "BENCHMARK=0: trained, not benchmarked"; exit 0; }
# the same encoder untrained (random weights drawn with each seed), exported as embedding models
for seed in $UNTRAINED_SEEDS; do
  python - "$RUNS/untrained-s$seed" "$FE" "$BE" "$seed" <<'PY'
import json, shutil, sys, torch
from musicrep import io
from musicrep.models import create_encoder
shutil.rmtree(sys.argv[1], ignore_errors=True)
torch.manual_seed(int(sys.argv[4]))
enc = create_encoder("pase", input_samples=16000, frontend_kwargs=json.loads(sys.argv[2]),
                     backend_kwargs=json.loads(sys.argv[3]))
io.save_model(enc, sys.argv[1])
PY
  models+=("untrained_s$seed=$RUNS/untrained-s$seed")
done
models+=("mfcc=mfcc")
IFS=,; list="${models[*]}"; unset IFS
musicrep benchmark --tasks corpus-style,corpus-instrument,corpus-tags --models "$list" \
  --corpus-dir "$CORPUS" --clips "$CLIPS" --seconds "$SECS" --repeats "$REPEATS" --out "$OUT"
python "$(dirname "$0")/ssl_ablation_summary.py" "$OUT/results.json" | tee "$OUT/summary.md"
