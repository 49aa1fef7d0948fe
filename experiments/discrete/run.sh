#!/usr/bin/env bash
# run.sh — every experiment of issue 19 (discrete families, UCI digits, Fashion-MNIST) into
# experiments/discrete/results.db, then RESULTS.md from it (make_results.py).
#   experiments/discrete/run.sh [-j N] [SPEC ... | torch]
# Default: specs/*.yaml in the order below (the Gray-coded 2-D tasks, digits, Fashion-MNIST 28x28 and the
# 14x14 DMNIST comparison), then `torch`: the PyTorch anchors of the Fashion-MNIST MADE and VAE
# (tools/reference/fmnist_torch.py, seeds 0-2, JSON in torch/). Each spec's `sweep:` block lists its tasks or
# seeds; `unigfn sweep` skips FINISHED runs and starts anything else again; a torch anchor whose JSON
# exists is skipped. -j N runs N sweep jobs at once (the specs say threads: 1).
set -uo pipefail
cd "$(dirname "$0")"
ug=${UNIGFN:-../../build/unigfn}
py=${TORCH_PYTHON:-/usr/bin/python3}
jobs=1
if [[ "${1:-}" == "-j" ]]; then jobs=$2; shift 2; fi
specs=("$@")
if [[ ${#specs[@]} -eq 0 ]]; then
  specs=(specs/ar-gray.yaml specs/d3pm-gray.yaml specs/ar-digits.yaml specs/d3pm-digits-uniform.yaml
         specs/d3pm-digits-absorbing.yaml specs/ar-fmnist.yaml specs/hvae-fmnist.yaml specs/d3pm-fmnist.yaml
         specs/mlegfn-dmnist14.yaml specs/ebgfn-dmnist14.yaml torch)
fi
stop=0
trap 'stop=1' INT TERM
for s in "${specs[@]}"; do
  [[ $stop == 1 ]] && break
  echo "run.sh: $s"
  if [[ $s == torch ]]; then
    mkdir -p torch
    for m in made vae; do
      for seed in 0 1 2; do
        [[ $stop == 1 ]] && break
        out=torch/fmnist-$m-seed$seed.json
        [[ -s $out ]] && continue
        "$py" ../../tools/reference/fmnist_torch.py --model $m --seed $seed --threads 1 --out "$out.part" \
          > "logs/torch-$m-seed$seed.log" 2>&1 && mv "$out.part" "$out"
      done
    done
  else
    "$ug" sweep "$s" -j "$jobs" --db results.db
  fi
done
python3 make_results.py --unigfn "$ug"
