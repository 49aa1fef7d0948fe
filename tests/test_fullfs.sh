#!/usr/bin/env bash
# test_fullfs.sh — a run whose store and run folder are on a filesystem that fills up (issue 20, the
# fault suite): a small tmpfs, mounted here when the machine allows it (root with CAP_SYS_ADMIN),
# else the test is skipped (exit 77) saying why. A checkpoint that does not fit, and a disk that fills
# while the run logs, end the run FAILED with the reason (exit 1), and nothing written before is lost:
# an earlier run's rows are unchanged, the failed run keeps every step it logged, `pragma
# integrity_check` is ok, and a read-only command still reads the database. Every wait polls the
# database with a deadline.
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"
skip() { echo "skip: $*"; exit 77; }

mkdir full
mount -t tmpfs -o size=4m,mode=0755 tmpfs full 2> mount.err ||
  skip "cannot mount a tmpfs here ($(tr '\n' ' ' < mount.err)); the full-filesystem cases need root with CAP_SYS_ADMIN"
trap 'umount "$T/full" 2> /dev/null; cd /; rm -rf "$T"' EXIT

integrity() { q "$1" 'pragma integrity_check'; }
loss_rows() { q "$1" "select count(*) from metrics where run = '$2' and key = 'loss'"; }
history() { q "$1" "select group_concat(key || '@' || step || '=' || value, ' ') from (select * from metrics where run = '$2' order by key, step)"; }
# wait_for DB SQL N: until the query's number is >= N, or 1 after a deadline far beyond what the runs need
wait_for() {
  local end=$((SECONDS + 240)) n
  while [ $SECONDS -lt $end ]; do
    n=$(q "$1" "$2" 2> /dev/null || echo 0)
    [ "${n:-0}" -ge "$3" ] && return 0
    sleep 0.05
  done
  echo "wait_for: timed out waiting for ($2) >= $3 in $1"
  return 1
}

# ---- 1. an earlier run, FINISHED, whose history must survive everything below ----
"$U" run "$SPEC/tiny.yaml" train.steps=50 --db full/results.db --quiet
first=$(q full/results.db 'select id from runs')
check "an earlier run FINISHED on the tmpfs" "[ \"\$(q full/results.db 'select status from runs')\" = FINISHED ]"
h1=$(history full/results.db "$first")

# ---- 2. a checkpoint that does not fit: FAILED with the reason, the rows before it kept ----
# [256, 256]: its checkpoint is past 1.5 MiB; leave ~1 MiB free for it, room enough for the database
dd if=/dev/zero of=full/ballast bs=1024 count=2500 status=none
"$U" run "$SPEC/tiny.yaml" 'model.hidden=[256, 256]' train.steps=40 train.checkpoint_every=20 \
  --db full/results.db --quiet 2> err.txt
rc=$?
big=$(q full/results.db "select id from runs where id != '$first'")
check "a checkpoint past the free space: exit 1" "[ $rc -eq 1 ]"
check "... FAILED naming the checkpoint and ENOSPC" \
  "q full/results.db \"select status, error from runs where id = '$big'\" | grep -q '^FAILED|checkpoint .*checkpoint.bin: write failed: No space left on device'"
# The runner writes a checkpoint at step 0, before training (a run with steps in its row always has
# one), so the checkpoint that does not fit is that one and no step was logged.
check "... before its first step (the step-0 checkpoint)" "[ \"\$(loss_rows full/results.db $big)\" -eq 0 ]"
check "... and no checkpoint.bin.tmp left" "[ ! -e full/runs/$big/checkpoint.bin.tmp ]"
check "... the earlier run's history unchanged, the database intact" \
  "[ \"\$(history full/results.db $first)\" = \"\$h1\" ] && [ \"\$(integrity full/results.db)\" = ok ]"
rm -f full/ballast

# ---- 3. the disk fills while a run logs every step: FAILED (or exit 1 saying why), nothing lost ----
"$U" run "$SPEC/tiny.yaml" train.steps=1000000 train.log_every=1 train.checkpoint_every=1000000 \
  --db full/results.db --quiet 2> err.txt &
pid=$!
wait_for full/results.db "select count(*) from metrics where key = 'loss' and run not in ('$first', '$big')" 20
live=$(q full/results.db "select id from runs where id not in ('$first', '$big')")
before=$(loss_rows full/results.db "$live")
dd if=/dev/zero of=full/fill bs=65536 status=none 2> /dev/null   # until ENOSPC
end=$((SECONDS + 240))
while kill -0 $pid 2> /dev/null && [ $SECONDS -lt $end ]; do sleep 0.05; done
kill -0 $pid 2> /dev/null && { echo "the run did not end within 240 s of the disk filling"; kill -KILL $pid; }
wait $pid
rc=$?
status=$(q full/results.db "select status from runs where id = '$live'")
echo "the run that met the full disk: exit $rc, $(q full/results.db "select status, step, error from runs where id = '$live'")"
check "the disk fills mid-run: exit 1" "[ $rc -eq 1 ]"
check "... FAILED with the reason, or a clear message where even that could not be written" \
  "if [ \"$status\" = FAILED ]; then q full/results.db \"select error from runs where id = '$live'\" | grep -qE 'disk is full|No space left'; else grep -qE 'disk is full|No space left' err.txt; fi"
after=$(loss_rows full/results.db "$live")
check "... every step logged before the fill kept ($before before, $after after)" "[ $after -ge $before ]"
check "... and they are the steps 1..$after, none missing" \
  "[ \"\$(q full/results.db \"select count(distinct step), min(step), max(step) from metrics where run = '$live' and key = 'loss'\")\" = \"$after|1|$after\" ]"
check "... the earlier run's history unchanged, the database intact" \
  "[ \"\$(history full/results.db $first)\" = \"\$h1\" ] && [ \"\$(integrity full/results.db)\" = ok ]"
"$U" ls --db full/results.db > out.txt 2> err.txt
check "... and ls reads it (the disk still full)" "[ $? -eq 0 ] && [ \$(grep -c '^[0-9a-f]\{16\} ' out.txt) -eq 3 ]"
"$U" export "$first" -o full/first.csv --db full/results.db > out.txt 2> err.txt
check "export -o onto the full disk: exit 1 with the reason" \
  "[ $? -eq 1 ] && grep -qF 'unigfn export: cannot write full/first.csv: No space left on device' err.txt"
rm -f full/fill full/first.csv
"$U" show "$live" --db full/results.db > out.txt 2> err.txt
check "with space again, show reads the failed run" "[ $? -eq 0 ] && grep -qE '^status     (FAILED|RUNNING)' out.txt"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
