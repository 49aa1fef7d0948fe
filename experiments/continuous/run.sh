#!/usr/bin/env bash
# run.sh — make (and continue) the runs behind experiments/continuous/RESULTS.md, then regenerate it.
#   experiments/continuous/run.sh [-j N] [SPEC ... | s43]
# Default: every specs/*.yaml in family order, then `s43`: the paper's §4.3 comparison (DDPM fixed β,
# iDDPM learned P_F variance, MLE-GFN learned β) over seeds 0-2 on checkerboard, 2spirals, 8gaussians.
# Each spec's `sweep:` block lists its tasks (and seeds); `unigfn sweep` skips FINISHED runs and starts
# anything else again (a KILLED run restarts from step 0: these runs take minutes). -j N runs N jobs at
# once (one thread each: the specs say threads: 1). Results go to experiments/continuous/results.db,
# run folders (checkpoints, density pictures) beside it in runs/.
set -uo pipefail
cd "$(dirname "$0")"
ug=${UNIGFN:-../../build/unigfn}
jobs=1
if [[ "${1:-}" == "-j" ]]; then jobs=$2; shift 2; fi
specs=("$@")
if [[ ${#specs[@]} -eq 0 ]]; then
  for s in ddpm iddpm mlegfn-ddpm scoresde-ssm scoresde-dsm realnvp hvae hvae-warmup mlegfn-hvae sb finetune-ddpm; do
    [[ -f specs/$s.yaml ]] && specs+=("specs/$s.yaml")
  done
  specs+=(s43)
fi
stop=0
trap 'stop=1' INT TERM
for s in "${specs[@]}"; do
  [[ $stop == 1 ]] && break
  echo "run.sh: $s"
  if [[ $s == s43 ]]; then
    for f in ddpm iddpm mlegfn-ddpm; do
      [[ $stop == 1 ]] && break
      "$ug" sweep "specs/$f.yaml" seed=0,1,2 dataset.data=checkerboard,2spirals,8gaussians -j "$jobs" --db results.db
    done
  else
    "$ug" sweep "$s" -j "$jobs" --db results.db
  fi
done
python3 make_results.py --unigfn "$ug"
