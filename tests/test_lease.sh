#!/usr/bin/env bash
# test_lease.sh — one live process per run (issue 20 item 2, run_lease.h), with real processes: while a
# run is RUNNING, `run --force`, `run` and `resume` of it are refused naming the process that holds it,
# `gc --mark-crashed --stale 0` leaves it RUNNING, and the live run ends with its history whole (no
# (run, step, key) twice, integrity_check ok); once its process is gone (SIGKILL) the lease is free.
# Then SIGKILL and SIGTERM at random moments of a run that checkpoints every step (so many land inside
# a checkpoint write), each followed by gc and resume: after every stop the database passes
# integrity_check with no row twice and a checkpoint no later than the step its row records, and the
# run finishes with exactly the metric rows of an uninterrupted run. Waits poll the database with a
# deadline; the random delays only choose where a signal lands.
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"
CK="$UG_SOURCE_ROOT/tests/ckpt_tool.py"

# wait_for DB SQL N: poll until the query's number is >= N; 1 after a 120 s deadline.
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

# ---- 1. a second process for a live run is refused; the live one is untouched ----
"$U" run "$SPEC/tiny.yaml" train.steps=100000 --db live.db --quiet 2> live.err &
pid=$!
wait_for live.db "$loss_rows" 3
id=$(q live.db 'select id from runs')
for c in "run $SPEC/tiny.yaml train.steps=100000 --force" "run $SPEC/tiny.yaml train.steps=100000" "resume $id"; do
  "$U" $c --db live.db --quiet > out.txt 2> err.txt
  rc=$?
  check "$c of a live run: exit 1 naming the run and its process" \
    "[ $rc -eq 1 ] && grep -q \"run $id is being run by another process (pid $pid on host \" err.txt"
done
check "... the live run is still RUNNING, with its checkpoint in place" \
  "[ \"\$(q live.db 'select status from runs')\" = RUNNING ] && [ -s runs/$id/checkpoint.bin ] && [ -s runs/$id/lock ]"
"$U" gc --mark-crashed --stale 0 --db live.db > gc.txt
check "gc --mark-crashed --stale 0 leaves it RUNNING and says why" \
  "[ \"\$(q live.db 'select status from runs')\" = RUNNING ] && grep -q \"run $id has no recent heartbeat but is alive (pid $pid \" gc.txt && grep -q '^gc: 0 RUNNING runs' gc.txt"
n=$(q live.db "$loss_rows")
wait_for live.db "$loss_rows" $((n + 3))
check "... and it trains on" "kill -0 $pid"
kill -TERM $pid
wait $pid
rc=$?
check "the live run ends KILLED on its SIGTERM (exit 130), not failed by another writer" \
  "[ $rc -eq 130 ] && [ \"\$(q live.db 'select status from runs')\" = KILLED ] && ! grep -v 'KILLED by signal 15' live.err"
step=$(q live.db 'select step from runs')
check "its history is whole: one loss row per logging window, no (run, step, key) twice, integrity ok" \
  "[ \$(q live.db \"$loss_rows\") -eq $((step / 10)) ] && [ \$(q live.db \"$dup_rows\") -eq 0 ] && [ \"\$(q live.db 'pragma integrity_check')\" = ok ]"
check "... and its lock file is gone with it" "[ ! -e runs/$id/lock ] && [ -s runs/$id/checkpoint.bin ]"

echo "section 2 at ${SECONDS} s"
# ---- 2. a process that died (SIGKILL) holds nothing: gc marks it, --force may start it again ----
"$U" resume "$id" --db live.db --quiet &
pid=$!
wait_for live.db "$loss_rows" $((step / 10 + 2))
kill -KILL $pid
wait $pid 2> /dev/null
"$U" run "$SPEC/tiny.yaml" train.steps=100000 --db live.db --quiet 2> err.txt
check "run of a RUNNING row nobody holds: exit 1, its process died" \
  "[ \$? -eq 1 ] && grep -q \"run $id is RUNNING in the database, but no process holds its lease\" err.txt"
"$U" gc --mark-crashed --stale 0 --db live.db > gc.txt
check "gc --stale 0 marks the dead run CRASHED" \
  "grep -q '^gc: 1 RUNNING run with' gc.txt && [ \"\$(q live.db 'select status from runs')\" = CRASHED ]"
started=$(q live.db 'select started from runs')
"$U" run "$SPEC/tiny.yaml" train.steps=100000 --db live.db --quiet --force 2> err.txt &
pid=$!
wait_for live.db "select count(*) from runs where started > $started and status = 'RUNNING'" 1
wait_for live.db "$loss_rows" 2
kill -TERM $pid
wait $pid
check "... and run --force then starts it again from step 0" \
  "[ \$? -eq 130 ] && [ \"\$(q live.db 'select status from runs')\" = KILLED ] && [ \$(q live.db \"$dup_rows\") -eq 0 ]"

echo "section 3 at ${SECONDS} s"
# ---- 3. SIGKILL / SIGTERM at random moments, checkpoints every step; resume after each ----
seed=${UG_TEST_SEED:-$$}
RANDOM=$seed
echo "random seed $seed (UG_TEST_SEED replays it)"
args=(train.steps=160 train.log_every=1 train.checkpoint_every=1 train.eval_every=16 threads=1
      metrics.0.samples=32)
mkdir ref
"$U" run "$SPEC/tiny.yaml" "${args[@]}" --db ref/r.db --quiet
rows="select group_concat(step || ':' || key || '=' || coalesce(value, flag), ' ') from (select * from metrics order by step, key)"
exe=$(readlink -f "$U")
kid=""
bad=0
stops=0
for i in $(seq 1 12); do
  if [ -z "$kid" ]; then "$U" run "$SPEC/tiny.yaml" "${args[@]}" --db k.db --quiet 2>> k.err &
  else "$U" resume "$kid" --db k.db --quiet 2>> k.err & fi
  pid=$!
  # signal unigfn, not the forked shell before its exec (which would run this script's EXIT trap)
  end=$((SECONDS + 30))
  while [ "$(readlink /proc/$pid/exe 2> /dev/null)" != "$exe" ] && kill -0 $pid 2> /dev/null && [ $SECONDS -lt $end ]; do :; done
  if [ $((i % 2)) -eq 1 ] && [ -n "$kid" ]; then
    # the moment a checkpoint write begins: its temporary file exists (deadline 30 s); one a SIGKILL
    # left behind is this process's to remove first
    while [ -e "runs/$kid/checkpoint.bin.tmp" ] && kill -0 $pid 2> /dev/null && [ $SECONDS -lt $end ]; do :; done
    end=$((SECONDS + 30))
    while [ ! -e "runs/$kid/checkpoint.bin.tmp" ] && kill -0 $pid 2> /dev/null && [ $SECONDS -lt $end ]; do :; done
  else
    sleep "$(printf '0.%02d' $((RANDOM % 30 + 1)))"   # 0.01-0.30 s: start-up, the row's writes, steps
  fi
  sig=KILL
  [ $((RANDOM % 3)) -eq 0 ] && sig=TERM
  kill -$sig $pid 2> /dev/null && stops=$((stops + 1))
  wait $pid 2> /dev/null
  rc=$?
  [ -z "$kid" ] && kid=$(q k.db 'select id from runs' 2> /dev/null)
  [ -z "$kid" ] && continue   # stopped before its row existed: run again
  st=$(q k.db 'select status from runs')
  if [ "$st" = RUNNING ]; then
    "$U" gc --mark-crashed --stale 0 --db k.db > /dev/null
    st=$(q k.db 'select status from runs')
  fi
  ok=1
  [ "$(q k.db 'pragma integrity_check')" = ok ] || ok=0
  [ "$(q k.db "$dup_rows")" -eq 0 ] || ok=0
  case "$st" in KILLED|CRASHED|FINISHED) ;; *) ok=0 ;; esac
  if [ -e "runs/$kid/checkpoint.bin" ]; then
    [ "$(python3 "$CK" step "runs/$kid/checkpoint.bin")" -le "$(q k.db 'select step from runs')" ] || ok=0
  else
    [ "$(q k.db 'select step from runs')" -eq 0 ] || ok=0
  fi
  if [ $ok -eq 0 ]; then
    bad=$((bad + 1))
    echo "stop $i (SIG$sig, exit $rc): status $st, step $(q k.db 'select step from runs'), integrity $(q k.db 'pragma integrity_check'), duplicates $(q k.db "$dup_rows")"
  fi
  [ "$st" = FINISHED ] && break
done
echo "random stops done at ${SECONDS} s ($stops signals)"
check "every random stop left the database whole (integrity ok, no row twice, checkpoint <= row step)" "[ $bad -eq 0 ]"
# On an idle machine the run can reach FINISHED after a handful of stops (the loop ends there), so the
# floor is what any machine reaches, not the loop's length.
check "... and several of them landed (at least 3 signals)" "[ $stops -ge 3 ]"
if [ -n "$kid" ] && [ "$(q k.db 'select status from runs')" != FINISHED ]; then
  "$U" resume "$kid" --db k.db --quiet 2>> k.err
fi
check "the run then finishes" "[ \"\$(q k.db 'select status, step from runs')\" = 'FINISHED|160' ] || { cat k.err; false; }"
check "... with exactly the metric rows of an uninterrupted run" "[ \"\$(q k.db \"$rows\")\" = \"\$(q ref/r.db \"$rows\")\" ]"
check "... and its parameters" "python3 \"$CK\" same runs/$kid/checkpoint.bin ref/runs/$kid/checkpoint.bin"
check "no resume was refused along the way" "! grep -q 'cannot resume' k.err || { cat k.err; false; }"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
