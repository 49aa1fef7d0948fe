#!/usr/bin/env bash
# test_d3pm_cli.sh — the d3pm model plugin through the CLI: `unigfn plugins` lists the model d3pm and the
# objective d3pm_hybrid and `unigfn plugins d3pm` prints its schema; a short MLE-GFN run
# (tests/specs/runner/d3pm-cats.yaml: d3pm_hybrid + tbc on test_cats) FINISHES with a falling hybrid loss, an
# nll below the uniform law's and bits/dim beside it; `unigfn sample` draws rows of values 0..3;
# a continuous dataset is refused as a spec error that says why.
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"

"$U" plugins > list.txt
check "plugins lists model d3pm" "grep -qE '^model +d3pm +0\.1\.0 ' list.txt"
check "plugins lists objective d3pm_hybrid" "grep -qE '^objective +d3pm_hybrid +0\.1\.0 ' list.txt"
"$U" plugins d3pm > d3pm.txt
check "plugins d3pm exits 0" "[ $? -eq 0 ]"
for k in steps kernel schedule beta_start beta_end hidden act temb pf_beta dim categories; do
  check "schema shows key $k" "grep -qE '^    $k +' d3pm.txt"
done
check "schema shows the kernels" "grep -q 'one of uniform|absorbing' d3pm.txt"
"$U" plugins d3pm_hybrid > hyb.txt
check "schema of d3pm_hybrid shows ce_weight" "grep -qE '^    ce_weight +float' hyb.txt"

"$U" run "$SPEC/d3pm-cats.yaml" --db a.db --quiet
check "run exits 0" "[ $? -eq 0 ]"
check "one FINISHED run" "[ \"$(q a.db 'select status from runs')\" = FINISHED ]"
first=$(q a.db "select avg(value) from (select value from metrics where key='loss.d3pm_hybrid' order by step limit 3)")
last=$(q a.db "select avg(value) from (select value from metrics where key='loss.d3pm_hybrid' order by step desc limit 3)")
check "the hybrid loss falls by 1 nat ($first -> $last)" "python3 -c 'import sys; sys.exit(not ($last < $first - 1.0))'"
check "nll evaluated at 150 and 300" "[ \"$(q a.db "select group_concat(step) from metrics where key='nll'")\" = '150,300' ]"
nll=$(q a.db "select value from metrics where key='nll' and step=300")
bpd=$(q a.db "select value from metrics where key='bpd' and step=300")
check "nll below the uniform 6 ln 4 = 8.32 by 1.5 nats ($nll)" "python3 -c 'import sys; sys.exit(not $nll < 6.82)'"
check "bpd = nll / (6 ln 2) ($bpd)" "python3 -c 'import sys, math; sys.exit(not abs($bpd - $nll / (6 * math.log(2))) < 1e-6)'"
check "tbc logged every 20 steps" "[ $(q a.db "select count(*) from metrics where key='loss.tbc'") -eq 15 ]"
id=$(q a.db "select id from runs")
check "sample prints 5 rows of 6 values 0..3" "[ \$(\"$U\" sample $id -n 5 --db a.db | grep -cE '^[0-3]( [0-3]){5}\$') -eq 5 ]"

cat > cont.yaml <<'YAML'
seed: 1
dataset: {plugin: synthetic2d, data: moons, encoding: continuous}
model: {plugin: d3pm, steps: 4}
objective: [{plugin: kl_tb, updates: [forward]}]
optim: {forward: {lr: 1.0e-3}}
train: {steps: 1}
YAML
"$U" run cont.yaml --db b.db --quiet 2> err.txt
check "continuous data exits 2" "[ $? -eq 2 ]"
check "the message says why" "grep -q \"d3pm: dataset 'synthetic2d' is continuous\" err.txt"

echo "test_d3pm_cli: $pass passed, $fail failed (loss $first -> $last, nll $nll, bpd $bpd)"
[ "$fail" -eq 0 ]
