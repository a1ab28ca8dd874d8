#!/usr/bin/env bash
# results/probes/: every probe study (Sec. 4) over independently trained
# seeds of each algorithm, with the controls that an untrained model fails
# (the same seeds untrained, trivial detectors, permutation nulls), the
# crossed MNIST × Fashion-MNIST novelty design and Holm-corrected verdicts.
#
#   SEEDS=runs/seeds scripts/probes.sh            # probe existing runs
#   TRAIN=1 SEEDS=runs/seeds scripts/probes.sh    # first train what is missing
#
# Expects, per algorithm A (local, global) and seed s (1..5, $SEED_LIST):
#   $SEEDS/A-s<s>            MNIST runs (wakesleep train --algorithm A --seed s)
# and, when present (TRAIN=1 trains them as scripts/seeds.sh does: the quick
# preset, global runs to $GLOBAL_STEPS steps):
#   $SEEDS/fashion-A-s<s>    Fashion-MNIST runs, the crossed design's second arm
#   $SEEDS/silenced-A-s<s>   MNIST runs with --silence-z $SILENCE, the
#                            silencing study's perturbed runs (controls: A-s<s>)
#   $SEEDS/sham-A-s<s>       MNIST runs with --sham-z $SILENCE, its sham
#                            perturbation (used only when every pair has one)
# A study whose runs are missing is skipped (and says so); a verdict needs
# at least 3 seeds. Only results/probes/<A>/ is written. EXTRA adds flags to
# every probe command (e.g. EXTRA="--n 200 --align-n 2000" for a quick look).
# ALGS chooses the algorithms (default "local global"); two invocations with
# ALGS=local and ALGS=global (and their own BIN) run side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-runs/seeds}
RES=${RES:-results/probes}
SEED_LIST=${SEED_LIST:-1 2 3 4 5}
SILENCE=${SILENCE:-0,1,2,3,4,5,6,7}
GLOBAL_STEPS=${GLOBAL_STEPS:-2000}
BIN=${BIN:-$SEEDS/wakesleep-probe}
mkdir -p "$SEEDS" "$RES"
go build -o "$BIN" ./cmd/wakesleep

join() { local IFS=,; echo "$*"; }

for alg in ${ALGS:-local global}; do
  mnist=() fashion=() perturbed=() control=() sham=()
  for s in $SEED_LIST; do
    if [[ "${TRAIN:-0}" == 1 ]]; then
      # as scripts/seeds.sh: global runs go to $GLOBAL_STEPS network steps
      extra=()
      [[ $alg == global ]] && extra=(--epochs 1000 --max-steps "$GLOBAL_STEPS" --checkpoint-every 500)
      [[ -d "$SEEDS/$alg-s$s" ]] || "$BIN" train --algorithm "$alg" --seed "$s" "${extra[@]}" --run "$SEEDS/$alg-s$s"
      [[ -d "$SEEDS/fashion-$alg-s$s" ]] || "$BIN" train fashionmnist --algorithm "$alg" --seed "$s" "${extra[@]}" --run "$SEEDS/fashion-$alg-s$s"
      [[ -d "$SEEDS/silenced-$alg-s$s" ]] || "$BIN" train --algorithm "$alg" --seed "$s" "${extra[@]}" --silence-z "$SILENCE" --run "$SEEDS/silenced-$alg-s$s"
      [[ -d "$SEEDS/sham-$alg-s$s" ]] || "$BIN" train --algorithm "$alg" --seed "$s" "${extra[@]}" --sham-z "$SILENCE" --run "$SEEDS/sham-$alg-s$s"
    fi
    [[ -d "$SEEDS/$alg-s$s" ]] && mnist+=("$SEEDS/$alg-s$s")
    [[ -d "$SEEDS/fashion-$alg-s$s" ]] && fashion+=("$SEEDS/fashion-$alg-s$s")
    if [[ -d "$SEEDS/silenced-$alg-s$s" && -d "$SEEDS/$alg-s$s" ]]; then
      perturbed+=("$SEEDS/silenced-$alg-s$s") control+=("$SEEDS/$alg-s$s")
      [[ -d "$SEEDS/sham-$alg-s$s" ]] && sham+=("$SEEDS/sham-$alg-s$s")
    fi
  done
  if (( ${#mnist[@]} == 0 )); then
    echo "probes: no $alg runs under $SEEDS" >&2
    continue
  fi
  args=(probe --study all --out "$RES/$alg" --checkpoints "$(join "${mnist[@]}")" --max-checkpoints 6)
  # shellcheck disable=SC2206 # EXTRA is a list of flags
  args+=(${EXTRA:-})
  (( ${#fashion[@]} > 0 )) && args+=(--novel-checkpoints "$(join "${fashion[@]}")")
  (( ${#perturbed[@]} > 0 )) && args+=(--perturbed "$(join "${perturbed[@]}")" --control "$(join "${control[@]}")")
  if (( ${#perturbed[@]} > 0 && ${#sham[@]} == ${#perturbed[@]} )); then
    args+=(--sham "$(join "${sham[@]}")")
  elif (( ${#sham[@]} > 0 )); then
    echo "probes: $alg: sham runs for ${#sham[@]} of ${#perturbed[@]} silenced pairs: silencing without the sham control" >&2
  fi
  echo "+ wakesleep ${args[*]}" >&2
  "$BIN" "${args[@]}"
done
