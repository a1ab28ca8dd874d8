#!/usr/bin/env bash
# Fig. 3 with the default (quick) recipe, as committed in results/mnist/:
# both algorithms, seeds 1 and 2, one core per run and two runs at once,
# scored with `wakesleep eval --n 2000` every 500 steps, then the final
# checkpoint of each run evaluated on the whole test set (n = 10,000), its
# grids drawn (samples and means) and its diagnosis written.
#
#   scripts/fig3.sh                  # about 1 hour on 2 cores
#   OUT=/tmp/fig3 scripts/fig3.sh    # elsewhere
#
# Wall times in the table are per run on one core with the other core busy
# with the other seed: pessimistic for a user who gives one run both cores.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/fig3}
RES=${RES:-results/mnist}
BIN=${BIN:-$OUT/wakesleep}
LOCAL_STEPS=${LOCAL_STEPS:-500,1000,1500,2000,2500,3000,3500,4000}
GLOBAL_STEPS=${GLOBAL_STEPS:-500,1000,1500,2000,2500,3000,3500,4000,4500,5000}
mkdir -p "$OUT" "$RES"
go build -o "$BIN" ./cmd/wakesleep

python3 scripts/recipe_study.py --bin "$BIN" --out "$OUT" --workers 2 --seeds 1,2 \
  --steps "$LOCAL_STEPS" --settings quick-local --csv "$RES/fig3.csv"
python3 scripts/recipe_study.py --bin "$BIN" --out "$OUT" --workers 2 --seeds 1,2 \
  --steps "$GLOBAL_STEPS" --settings quick-global --csv "$RES/fig3.csv"

for alg in local global; do
  for seed in 1 2; do
    run="$OUT/quick-$alg-s$seed"
    ck=$(ls "$run"/ckpt-*.safetensors | sort | tail -1)
    dst="$RES/$alg-s$seed"
    mkdir -p "$dst"
    GOMAXPROCS=2 "$BIN" eval --checkpoint "$ck" --out "$dst/eval" >/dev/null
    GOMAXPROCS=2 "$BIN" diagnose --checkpoint "$ck" --out "$dst/diagnose.json" > "$dst/diagnose.txt"
    "$BIN" sample --checkpoint "$ck" --out "$dst/samples.png" >/dev/null
    "$BIN" sample --checkpoint "$ck" --means --out "$dst/samples-mean.png" >/dev/null
    "$BIN" reconstruct --checkpoint "$ck" --out "$dst/recon.png" >/dev/null
    "$BIN" reconstruct --checkpoint "$ck" --means --out "$dst/recon-mean.png" >/dev/null
  done
done

go run ./scripts/studyplot --csv "$RES/fig3.csv" --metric recon_agreement \
  --label "reconstruction class agreement" --title "MNIST, default recipe: reconstructions keep the digit" \
  --out "$RES/curve-agreement"
go run ./scripts/studyplot --csv "$RES/fig3.csv" --settings quick-global --metric sleep_confidence \
  --label "classifier confidence of sleep samples" --title "MNIST global critic: sleep samples" \
  --out "$RES/curve-confidence"
