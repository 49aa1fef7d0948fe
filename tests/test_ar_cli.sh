#!/usr/bin/env bash
# test_ar_cli.sh — the ar model plugin through the CLI: `unigfn plugins` lists it and `unigfn plugins ar`
# prints its schema; a short maximum-likelihood run (tests/specs/runner/ar-gray32.yaml: kl_tb from data
# on the Gray-coded checkerboard) FINISHES with a falling loss and nll (M = 1) equal to nll_exact;
# `unigfn sample` draws 32-bit rows from it; a continuous dataset is refused as a spec error.
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"

"$U" plugins > list.txt
check "plugins lists model ar" "grep -qE '^model +ar +1\.0 ' list.txt"
"$U" plugins ar > ar.txt
check "plugins ar exits 0" "[ $? -eq 0 ]"
for k in hidden act order order_seed degrees mask_seed input log_z dim categories; do
  check "schema shows key $k" "grep -qE '^    $k +' ar.txt"
done
check "schema shows the order's choices" "grep -q 'one of natural|random' ar.txt"

"$U" run "$SPEC/ar-gray32.yaml" --db a.db --quiet
check "run exits 0" "[ $? -eq 0 ]"
check "one FINISHED run" "[ \"$(q a.db 'select status from runs')\" = FINISHED ]"
check "loss logged every 20 steps" "[ $(q a.db "select count(*) from metrics where key='loss'") -eq 20 ]"
first=$(q a.db "select avg(value) from (select value from metrics where key='loss' order by step limit 3)")
last=$(q a.db "select avg(value) from (select value from metrics where key='loss' order by step desc limit 3)")
check "loss falls by 0.3 nats ($first -> $last)" "python3 -c 'import sys; sys.exit(not ($last < $first - 0.3))'"
check "nll evaluated at 200 and 400" "[ \"$(q a.db "select group_concat(step) from metrics where key='nll'")\" = '200,400' ]"
nll=$(q a.db "select value from metrics where key='nll' and step=400")
exact=$(q a.db "select value from metrics where key='nll_exact' and step=400")
check "nll (M = 1) equals nll_exact ($nll vs $exact)" "python3 -c 'import sys; sys.exit(not abs($nll - $exact) < 1e-4)'"
check "nll below the uniform 32 ln 2 = 22.18 ($nll)" "python3 -c 'import sys; sys.exit(not $nll < 21.9)'"
id=$(q a.db "select id from runs")
check "sample prints 5 rows of 32 bits" "[ \$(\"$U\" sample $id -n 5 --db a.db | grep -cE '^[01]{32}\$') -eq 5 ]"
# --seed: 0 is the default draw, another seed another draw, the same seed the same rows; a negative one refused
"$U" sample $id -n 20 --db a.db > s-default.txt
"$U" sample $id -n 20 --seed 0 --db a.db > s0.txt
"$U" sample $id -n 20 --seed 7 --db a.db > s7.txt
"$U" sample $id -n 20 --seed 7 --db a.db > s7b.txt
check "sample --seed 0 is the default draw" "cmp -s s-default.txt s0.txt"
check "sample --seed 7: another draw, and again the same" "! cmp -s s0.txt s7.txt && cmp -s s7.txt s7b.txt && [ \$(grep -cE '^[01]{32}\$' s7.txt) -eq 20 ]"
"$U" sample $id -n 2 --seed -1 --db a.db > out.txt 2> err.txt
check "sample --seed -1: exit 2, says why" "[ \$? -eq 2 ] && grep -qF -- \"--seed must be a whole number from 0 to\" err.txt"

"$U" run "$SPEC/ar-gray32.yaml" dataset.encoding=continuous --db b.db --quiet 2> err.txt
check "continuous data exits 2" "[ $? -eq 2 ]"
check "the message says why" "grep -q \"ar: dataset 'synthetic2d' is continuous\" err.txt"

echo "test_ar_cli: $pass passed, $fail failed (loss $first -> $last, nll $nll, nll_exact $exact)"
[ "$fail" -eq 0 ]
