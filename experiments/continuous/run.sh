#!/usr/bin/env bash
# run.sh — make (and continue) the runs behind experiments/continuous/RESULTS.md, then regenerate it.
#   experiments/continuous/run.sh [-j N] [SPEC ...]      (default: every specs/*.yaml in FAMILY order)
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
  for s in ddpm iddpm mlegfn-ddpm scoresde-ssm scoresde-dsm realnvp hvae mlegfn-hvae sb finetune-ddpm; do
    [[ -f specs/$s.yaml ]] && specs+=("specs/$s.yaml")
  done
fi
stop=0
trap 'stop=1' INT TERM
for s in "${specs[@]}"; do
  [[ $stop == 1 ]] && break
  echo "run.sh: $s"
  "$ug" sweep "$s" -j "$jobs" --db results.db
done
python3 make_results.py --unigfn "$ug"
