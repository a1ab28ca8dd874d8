#!/usr/bin/env bash
# Five seeds of each algorithm with the default (quick) recipe, as
# results/mnist/seeds.md and results/probes/ use them:
#   local  (γ = 0.1): the default command's 6 epochs (2,808 steps);
#   global (γ = 1):   the quick preset run to 2,000 network steps (its 6
#                     epochs are only 936 steps with 3 critic steps each).
# One core per run, two runs at once; each run is then scored with
# `wakesleep eval --n 10000` and the seeds compared with `eval --compare`.
#
#   scripts/seeds.sh                 # about 1 h 20 min on 2 cores
#   OUT=/tmp/seeds scripts/seeds.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/seeds}
BIN=${BIN:-$OUT/wakesleep}
SEED_LIST=${SEED_LIST:-1 2 3 4 5}
GLOBAL_STEPS=${GLOBAL_STEPS:-2000}
mkdir -p "$OUT"
go build -o "$BIN" ./cmd/wakesleep

one() { # one <algorithm> <seed>
  local alg=$1 s=$2 run="$OUT/$1-s$2" extra=()
  [[ $alg == global ]] && extra=(--epochs 1000 --max-steps "$GLOBAL_STEPS" --checkpoint-every 500)
  [[ -f $run/eval/eval.json ]] && return
  if [[ -f $run/config.json ]]; then
    GOMAXPROCS=1 "$BIN" train --run "$run" --resume > "$run.log" 2>&1
  else
    GOMAXPROCS=1 "$BIN" train mnist --algorithm "$alg" --seed "$s" "${extra[@]}" --run "$run" > "$run.log" 2>&1
  fi
  GOMAXPROCS=1 "$BIN" eval --checkpoint "$run" --n 10000 > "$run.eval.log" 2>&1
}
for alg in local global; do
  for s in $SEED_LIST; do one "$alg" "$s" & if (( $(jobs -r | wc -l) >= 2 )); then wait -n; fi; done
done
wait
for alg in local global; do
  runs=(); for s in $SEED_LIST; do runs+=("$OUT/$alg-s$s"); done
  "$BIN" eval --compare "${runs[@]}"
done
