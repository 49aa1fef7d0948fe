#!/usr/bin/env bash
# test_diag_tools.sh — the diagnostics of tools/diag on a real run's checkpoint: metric_at reproduces
# the metrics the runner recorded at that step (same spec, same random streams), ebm_nll prints a
# finite energy NLL for a model with an energy and refuses one without, pb_erasures walks P_B back
# from data; bad arguments exit 1 with a message.
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"
TOOLS="$UG_BUILD_ROOT/tools"

"$U" run "$SPEC/tiny-eb.yaml" threads=1 --db r.db --quiet
check "the EB-GFN run finishes" "[ \"$(q r.db 'select status, step from runs')\" = 'FINISHED|40' ]"
id=$(q r.db "select id from runs")
ck="runs/$id/checkpoint.bin"

# metric_at against the database, both printed with 6 significant digits.
"$TOOLS/metric_at" "$SPEC/tiny-eb.yaml" "$ck" threads=1 > at.txt
check "metric_at exits 0" "[ $? -eq 0 ]"
check "metric_at evaluates the three metrics at step 40" "[ \$(grep -c '^step 40 metric' at.txt) -eq 3 ]"
for key in curve_nll nll mmd; do
  want=$(q r.db "select printf('%.6g', value) from metrics where run='$id' and key='$key' and step=40")
  python3 - "$key" "$want" at.txt <<'PY' > got.txt
import sys
key, want, path = sys.argv[1:]
toks = open(path).read().split()
got = [f"{float(toks[i + 1]):.6g}" for i, t in enumerate(toks) if t == key]
print("ok" if got == [want] else f"got {got}, database {want}")
PY
  check "metric_at's $key equals the runner's ($want)" "[ \"\$(cat got.txt)\" = ok ] || { cat got.txt; false; }"
done
"$TOOLS/metric_at" "$SPEC/tiny-eb.yaml" "$ck" threads=1 --only mmd > at.txt
check "--only evaluates one metric" "[ \$(grep -c '^step 40 metric 2 mmd' at.txt) -eq 1 ] && [ \$(wc -l < at.txt) -eq 1 ]"
"$TOOLS/metric_at" "$SPEC/tiny-eb.yaml" "$ck" threads=1 --only nosuch 2> err.txt
check "--only with no such metric exits 1 with a message" "[ $? -eq 1 ] && grep -q 'no metric named nosuch' err.txt"
"$TOOLS/metric_at" "$SPEC/tiny-eb.yaml" no/such/checkpoint.bin threads=1 2> err.txt
check "a missing checkpoint exits 1 with a message" "[ $? -eq 1 ] && [ -s err.txt ]"

# ebm_nll: an energy model gives a finite NLL; a model without one is refused.
"$TOOLS/ebm_nll" "$SPEC/tiny-eb.yaml" "$ck" threads=1 --codes 4096 --groups 2 --rows 200 > e.txt
check "ebm_nll exits 0" "[ $? -eq 0 ]"
check "ebm_nll prints a finite energy NLL" "python3 -c 'import math,sys; v=float(open(\"e.txt\").read().split(\"energy-model NLL \")[1].split()[0]); sys.exit(not math.isfinite(v))'"
"$U" run "$SPEC/tiny.yaml" threads=1 train.steps=20 --db m.db --quiet
mid=$(q m.db "select id from runs")
"$TOOLS/ebm_nll" "$SPEC/tiny.yaml" "runs/$mid/checkpoint.bin" threads=1 train.steps=20 2> err.txt
check "ebm_nll refuses a model without an energy" "[ $? -eq 1 ] && grep -q 'no log_reward' err.txt"

# pb_erasures: walks back from data rows with the learned P_B.
"$TOOLS/pb_erasures" "$SPEC/tiny-eb.yaml" "$ck" threads=1 --rows 100 --k 2 > p.txt
check "pb_erasures exits 0 with output" "[ $? -eq 0 ] && [ -s p.txt ]"

echo "diag_tools: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
