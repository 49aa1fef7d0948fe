#!/usr/bin/env bash
# test_run_loop.sh — the run loop's per-term schedules (every, phase, start, stop), parameter moving
# averages (optim.<group>.ema: metrics see them, checkpoints keep them, run --from continues them bit for
# bit) and the divergence guard (train.max_loss, train.max_grad_norm fail the run with the step), on
# the tiny MLE-GFN spec of the runner tests.
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"
TINY="$SPEC/tiny.yaml"
base=(threads=1 train.steps=20 train.log_every=1 train.eval_every=0 train.checkpoint_every=0)

# 1. Keys at their defaults leave the run id alone (specs written before schedules keep their ids).
id0=$("$U" run "$TINY" "${base[@]}" --check | sed -n 's/.*run id \([0-9a-f]*\);.*/\1/p')
id1=$("$U" run "$TINY" "${base[@]}" objective.1.every=1 objective.1.phase=0 objective.1.start=0 \
      objective.1.stop=0 optim.forward.ema=0 train.max_loss=0 train.max_grad_norm=0 --check |
      sed -n 's/.*run id \([0-9a-f]*\);.*/\1/p')
check "defaults do not change the run id" "[ -n \"$id0\" ] && [ \"$id0\" = \"$id1\" ]"

# 2. A sparse term: TBC every 4th step from step 2 (s % 4 == 2), stopping before step 15 — trains and
# logs exactly at steps 2, 6, 10, 14 (logged at the step reached after it: 3, 7, 11, 15).
mkdir s
"$U" run "$TINY" "${base[@]}" objective.1.every=4 objective.1.phase=2 objective.1.stop=15 --db s/r.db --quiet
check "the scheduled run finishes" "[ $? -eq 0 ]"
got=$(q s/r.db "select group_concat(step, ',') from (select step from metrics where key='loss.tbc' order by step)")
check "tbc logged only after the steps it ran at (got $got)" "[ \"$got\" = '3,7,11,15' ]"
n_kl=$(q s/r.db "select count(*) from metrics where key='loss.kl_tb'")
check "kl_tb ran at every step ($n_kl rows)" "[ $n_kl -eq 20 ]"
gn=$(q s/r.db "select count(distinct value) from metrics where key='grad_norm.backward' and step > 15")
check "the backward group is untouched after stop (one grad norm value after step 15)" "[ $gn -eq 1 ]"

# 3. Spec errors name the key.
"$U" run "$TINY" "${base[@]}" objective.1.every=2 objective.1.phase=2 --check 2> err.txt
check "phase >= every is a spec error" "[ $? -eq 2 ] && grep -q 'objective.1.phase: phase 2 must be below every (2)' err.txt"
"$U" run "$TINY" "${base[@]}" objective.1.start=10 objective.1.stop=5 --check 2> err.txt
check "stop before start is a spec error" "[ $? -eq 2 ] && grep -q 'objective.1.stop: stop 5 must be after start' err.txt"
"$U" run "$TINY" "${base[@]}" optim.forward.ema=1 --check 2> err.txt
check "ema 1 is out of range" "[ $? -eq 2 ] && grep -q 'optim.forward.ema' err.txt"

# 4. EMA: the end-of-run NLL uses the averages, so it differs from the same run without them; a run
# continued with --from equals a fresh one (averages restored from the checkpoint bit for bit).
mkdir e n f
ema=(train.eval_at_end=true optim.forward.ema=0.9)
"$U" run "$TINY" "${base[@]}" "${ema[@]}" --db e/r.db --quiet
"$U" run "$TINY" "${base[@]}" train.eval_at_end=true --db n/r.db --quiet
nll_e=$(q e/r.db "select value from metrics where key='nll'")
nll_n=$(q n/r.db "select value from metrics where key='nll'")
check "metrics see the averages (nll $nll_e with ema, $nll_n without)" "[ -n \"$nll_e\" ] && [ \"$nll_e\" != \"$nll_n\" ]"
loss_e=$(q e/r.db "select group_concat(value, ',') from (select value from metrics where key='loss' order by step)")
loss_n=$(q n/r.db "select group_concat(value, ',') from (select value from metrics where key='loss' order by step)")
check "training itself is the same with or without ema" "[ \"$loss_e\" = \"$loss_n\" ]"
"$U" run "$TINY" "${ema[@]}" threads=1 train.steps=10 train.log_every=1 train.eval_every=0 train.checkpoint_every=0 \
  --db f/r.db --quiet
src=$(q f/r.db "select id from runs")
"$U" run "$TINY" "${base[@]}" "${ema[@]}" --from "$src" --db f/r.db --quiet
dst=$(q e/r.db "select id from runs")
check "--from continues an ema run to the fresh run's checkpoint, bit for bit" \
  "python3 \"\$UG_SOURCE_ROOT/tests/ckpt_tool.py\" same f/runs/$dst/checkpoint.bin e/runs/$dst/checkpoint.bin"
check "... and its end-of-run nll" "[ \"$(q f/r.db "select value from metrics where run='$dst' and key='nll'")\" = \"$nll_e\" ]"
check "sample draws from an ema run" "\"$U\" sample \"$dst\" -n 3 --db e/r.db | wc -l | grep -q 3"

# 5. The divergence guard fails the run at the step it diverged, with the bound named.
mkdir g
"$U" run "$TINY" "${base[@]}" train.max_loss=1e-3 --db g/r.db 2> err.txt > /dev/null
check "max_loss fails the run" "[ $? -eq 1 ] && grep -q 'step 0: objective term 0 (kl_tb): loss .* is beyond train.max_loss = 0.001 (diverged)' err.txt"
check "... recorded FAILED at step 0" "[ \"$(q g/r.db "select status, step from runs")\" = 'FAILED|0' ]"
mkdir h
"$U" run "$TINY" "${base[@]}" train.max_grad_norm=1e-9 --db h/r.db 2> err.txt > /dev/null
check "max_grad_norm fails the run" "[ $? -eq 1 ] && grep -q \"gradient norm .* of group 'forward' is beyond train.max_grad_norm\" err.txt"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
