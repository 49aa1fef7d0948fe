#!/usr/bin/env bash
# test_experiment_specs.sh — every committed experiment spec loads, validates against the real plugin
# schemas and builds (unigfn run --check), so a renamed key or plugin cannot break the paper's specs.
set -u
pass=0 fail=0
for f in "$UG_SOURCE_ROOT"/experiments/*/*.yaml "$UG_SOURCE_ROOT"/experiments/*/specs/*.yaml; do
  if out=$("$UG_BUILD_ROOT/unigfn" run "$f" --check 2>&1); then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $out"; fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
