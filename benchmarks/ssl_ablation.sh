#!/usr/bin/env bash
# Self-supervised ablation on the built-in corpus: multi-task worker sets x loss weightings and
# CLMR, pre-trained WITHOUT labels, then `musicrep benchmark` of each frozen encoder beside the
# same encoder untrained, the MFCC baseline and a supervised model (corpus-style labels).
#
# Sized for a shared 2-core CPU (all overridable): CLIPS clips x 6 s, EPOCHS epochs, small
# encoders (PASE with EMB-d frames, no RNN; SampleCNN at its native 59,049 samples). This is a
# sanity-level comparison, not a reproduction of the papers' numbers.
# Usage: bash benchmarks/ssl_ablation.sh   (env: OUT, CORPUS, CLIPS, EPOCHS, RUNS, EMB, RUNS_SET)
set -euo pipefail
OUT=${OUT:-reports/ssl}
CORPUS=${CORPUS:-data/ssl-corpus}
CLIPS=${CLIPS:-120}
EPOCHS=${EPOCHS:-3}
RUNS=${RUNS:-runs/ssl}
EMB=${EMB:-64}
# label:workers:weighting (multitask) and "clmr"
RUNS_SET=${RUNS_SET:-"spectral:spectral:equal music:music:equal music_dwa:music:dwa music_unc:music:uncertainty clmr"}
PASE=(model.name=pase model.input_samples=16000 model.backend_kwargs.emb_dim="$EMB"
      objective.hidden=64 training.batch_size=16 data.num_workers=0)

musicrep data corpus --out "$CORPUS" --clips "$CLIPS" --seconds 6 --no-progress >/dev/null
train() {  # run-folder, then musicrep train arguments
  local run=$1; shift
  if [ -f "$run/checkpoints/best.ckpt" ] && [ ! -f "$run/checkpoints/last.ckpt.tmp" ]; then
    echo "$run: trained"; return; fi
  musicrep train --out "$run" --overwrite --manifest "$CORPUS/style.csv" --max-epochs "$EPOCHS" "$@"
}
models=()
for spec in $RUNS_SET; do
  if [ "$spec" = clmr ]; then
    train "$RUNS/clmr" --recipe configs/clmr.yaml --set training.batch_size=16 data.num_workers=0
    models+=("clmr=$RUNS/clmr")
  else
    IFS=: read -r label workers weighting <<<"$spec"
    train "$RUNS/mt-$label" --recipe configs/music_multitask.yaml \
      --set "${PASE[@]}" objective.workers="$workers" objective.weighting="$weighting"
    models+=("mt_$label=$RUNS/mt-$label")
  fi
done
# the same encoders untrained (same sizes, seed 0), exported as embedding models
python - "$RUNS" "$EMB" <<'PY'
import shutil, sys, torch
from musicrep import io
from musicrep.models import create_encoder
runs, emb = sys.argv[1], int(sys.argv[2])
shutil.rmtree(f"{runs}/pase-untrained", ignore_errors=True)
torch.manual_seed(0)
io.save_model(create_encoder("pase", input_samples=16000, backend_kwargs={"emb_dim": emb}),
              f"{runs}/pase-untrained")
PY
models+=("pase_untrained=$RUNS/pase-untrained" "samplecnn_untrained=samplecnn" "mfcc=mfcc")
# supervised reference: SampleCNN trained on the corpus-style labels
train "$RUNS/supervised" --model samplecnn --set training.batch_size=16 data.num_workers=0
models+=("supervised=$RUNS/supervised")
IFS=,; list="${models[*]}"; unset IFS
musicrep benchmark --tasks corpus-style,corpus-instrument,corpus-tags --models "$list" \
  --corpus-dir "$CORPUS" --clips "$CLIPS" --seconds 6 --repeats 3 --out "$OUT"
