#!/usr/bin/env bash
# test_signals.sh — one signal policy for every signal that would end a run (runner.c, issue 20),
# with real runs and real signals: SIGPIPE (`unigfn run ... | head -3`), SIGHUP, SIGTERM during the
# final evaluation (KILLED, not FINISHED; resume evaluates what is left, to the values of an
# uninterrupted run, with no row twice), SIGXFSZ (ignored) and a write past `ulimit -f` (FAILED with
# EFBIG). Nothing sleeps in place of synchronisation: every wait polls the database with a deadline.
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"

# wait_for DB SQL N: poll until the query's number is >= N; 1 after a 120 s deadline (far beyond the
# few seconds the runs here need, so a loaded machine is not a failure).
wait_for() {
  local end=$((SECONDS + 120)) n
  while [ $SECONDS -lt $end ]; do
    n=$(q "$1" "$2" 2>/dev/null || echo 0)
    [ "${n:-0}" -ge "$3" ] && return 0
    sleep 0.05
  done
  echo "wait_for: timed out waiting for ($2) >= $3 in $1"
  return 1
}
loss_rows="select count(*) from metrics where key='loss'"
dup_rows="select count(*) from (select run, step, key from metrics group by run, step, key having count(*) > 1)"

# 1. SIGPIPE: the reader of stdout goes away; the run records KILLED with a checkpoint (exit 130),
#    not exit 141 with the row left RUNNING.
"$U" run "$SPEC/tiny.yaml" train.steps=100000 --db pipe.db --plain 2> err.txt | head -3 > head.txt
rc=${PIPESTATUS[0]}
pid_id=$(q pipe.db 'select id from runs')
check "run | head -3: exit 130" "[ $rc -eq 130 ]"
check "... KILLED by signal 13 at a step reached" \
  "q pipe.db 'select status, step from runs' | grep -qE '^KILLED\|[1-9][0-9]*$' && grep -q 'KILLED by signal 13' err.txt"
check "... with a checkpoint" "[ -s runs/$pid_id/checkpoint.bin ] && [ ! -e runs/$pid_id/checkpoint.bin.tmp ]"
check "head got its 3 lines" "[ \$(wc -l < head.txt) -eq 3 ]"

# 2. SIGHUP (the terminal or ssh session went away): KILLED with a checkpoint, no temporary left.
"$U" run "$SPEC/tiny.yaml" train.steps=100000 --db hup.db --quiet 2> err.txt &
pid=$!
wait_for hup.db "$loss_rows" 3
kill -HUP $pid
wait $pid
rc=$?
hid=$(q hup.db 'select id from runs')
check "SIGHUP: exit 130, KILLED" "[ $rc -eq 130 ] && [ \"\$(q hup.db 'select status from runs')\" = KILLED ]"
check "... with a checkpoint and no checkpoint.bin.tmp" "[ -s runs/$hid/checkpoint.bin ] && [ ! -e runs/$hid/checkpoint.bin.tmp ]"

# 3. SIGXFSZ is ignored: the run goes on training (it would have died with 153, RUNNING).
"$U" run "$SPEC/tiny.yaml" train.steps=100000 --db xfsz.db --quiet 2> err.txt &
pid=$!
wait_for xfsz.db "$loss_rows" 2
kill -XFSZ $pid
n=$(q xfsz.db "$loss_rows")
wait_for xfsz.db "$loss_rows" $((n + 2))
check "SIGXFSZ: the run trains on" "kill -0 $pid 2> /dev/null"
kill -TERM $pid
wait $pid
rc=$?
check "... and a SIGTERM then records KILLED" "[ $rc -eq 130 ] && [ \"\$(q xfsz.db 'select status from runs')\" = KILLED ]"

# 4. A write past the file-size limit fails with EFBIG: the run is FAILED with the reason (it was killed
#    by SIGXFSZ mid-write, RUNNING). The checkpoint of a [256, 256] network is past 400 KiB; the database is not.
(ulimit -f 400 && exec "$U" run "$SPEC/tiny.yaml" 'model.hidden=[256, 256]' train.steps=40 train.checkpoint_every=20 \
  --db fsize.db --quiet) 2> err.txt
rc=$?
check "a checkpoint past ulimit -f: exit 1" "[ $rc -eq 1 ]"
check "... FAILED naming the file and EFBIG" \
  "q fsize.db 'select status, error from runs' | grep -q '^FAILED|checkpoint .*checkpoint.bin: write failed: File too large'"

# 5. SIGTERM during the final evaluation: KILLED at the last step, not FINISHED; resume evaluates the
#    metrics the signal cut off, to the values an uninterrupted run gets, each row once.
{
  printf 'name: sig-final-eval\nseed: 3\n'
  printf 'dataset: {plugin: synthetic2d, data: checkerboard}\n'
  printf 'model: {plugin: binary_gfn, hidden: [32, 32], log_z: false}\n'
  printf 'objective:\n  - {plugin: kl_tb, updates: [forward]}\n  - {plugin: tbc, updates: [backward]}\n'
  printf 'optim: {forward: {lr: 1.0e-3}, backward: {lr: 1.0e-4}}\n'
  printf 'train: {steps: 20, batch: 16, log_every: 10}\nmetrics:\n'
  for i in $(seq 1 16); do printf '  - {plugin: nll, at_end_only: true, particles: 4, samples: 300, prefix: e%d_}\n' $i; done
} > eval.yaml
mkdir ref
"$U" run eval.yaml --db ref/r.db --quiet
"$U" run eval.yaml --db ev.db --quiet 2> err.txt &
pid=$!
wait_for ev.db "select count(*) from metrics where key='loss' and step=20" 1   # the final evaluation begins
kill -TERM $pid
wait $pid
rc=$?
check "SIGTERM in the final evaluation: exit 130" "[ $rc -eq 130 ]"
check "... KILLED at step 20, not FINISHED" "[ \"\$(q ev.db 'select status, step from runs')\" = 'KILLED|20' ]"
eid=$(q ev.db 'select id from runs')
"$U" resume "$eid" --db ev.db --quiet
check "resume finishes it" "[ $? -eq 0 ] && [ \"\$(q ev.db 'select status from runs')\" = FINISHED ]"
vals="select group_concat(key || '=' || value) from (select key, value from metrics where step = 20 and key like 'e%' order by key)"
check "every final metric once, with the uninterrupted run's values" \
  "[ \"\$(q ev.db \"$vals\")\" = \"\$(q ref/r.db \"$vals\")\" ] && [ \$(q ev.db \"select count(*) from metrics where step = 20 and key like 'e%_nll'\") -eq 16 ]"
check "no (run, step, key) twice" "[ \$(q ev.db \"$dup_rows\") -eq 0 ]"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
