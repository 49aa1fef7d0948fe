#!/usr/bin/env bash
# test_resume_guard.sh — a checkpoint is bound to its run (issue 20 items 4 and 5, run_lease.h): resume
# refuses, with the reason and the way out and changing nothing, a checkpoint of another run, of the
# same run in another database, of another spec, one whose step is outside [0, train.steps] or past the
# step the database records (files that pass every check of the file itself: tests/ckpt_tool.py
# rewrites the step and the hash), and a missing checkpoint once the row records steps; `sample` and
# `run --from` refuse a foreign checkpoint too. A checkpoint without identity (written before this
# change) still loads, with a warning; a run at step 0 without one starts from step 0.
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"
CK="$UG_SOURCE_ROOT/tests/ckpt_tool.py"

# kill_at DB N ARGS...: run "$U" ARGS in the background and SIGTERM it once DB holds N loss rows.
kill_at() {
  local db=$1 n=$2
  shift 2
  "$U" "$@" --db "$db" --quiet 2> /dev/null &
  term_after_logs "$db" "$n" $!
}

# Run A (KILLED between checkpoints), a run of another seed in the same database (another run id),
# and A's spec in another database (the same run id, started elsewhere).
args=(train.steps=400 threads=1)
mkdir a b
kill_at a/r.db 8 run "$SPEC/tiny.yaml" "${args[@]}"
id=$(q a/r.db 'select id from runs')
ck="runs/$id/checkpoint.bin"
"$U" run "$SPEC/tiny.yaml" train.steps=100 threads=1 seed=4 --db a/r.db --quiet
oid=$(q a/r.db "select id from runs where id != '$id'")
kill_at b/r.db 3 run "$SPEC/tiny.yaml" "${args[@]}"
check "setup: A KILLED past step 60 with a checkpoint; the same run in b; another run in a" \
  "[ \"\$(q a/r.db \"select status from runs where id = '$id'\")\" = KILLED ] && [ -s a/$ck ] && [ -s b/$ck ] && [ -s a/runs/$oid/checkpoint.bin ]"
row="select status || ' ' || step from runs where id = '$id'"
before_row=$(q a/r.db "$row")
hist="select count(*) || ' ' || coalesce(max(step), 0) from metrics where run = '$id'"
before_hist=$(q a/r.db "$hist")
cp a/$ck own.bin

# refused DESCRIPTION WANT: resume A refuses with WANT, exit 1, the row, its history and the checkpoint
# as they were.
refused() {
  cp a/$ck tried.bin
  "$U" resume "$id" --db a/r.db --quiet > out.txt 2> err.txt
  local rc=$?
  check "$1: exit 1 with the reason" "[ $rc -eq 1 ] && grep -qF -e \"$2\" err.txt || { cat err.txt; false; }"
  check "... and the way out" "grep -qF 'unigfn run SPEC --force' err.txt && grep -qF \"unigfn show $id\" err.txt"
  check "... changing nothing (row, history, file)" \
    "[ \"\$(q a/r.db \"$row\")\" = \"$before_row\" ] && [ \"\$(q a/r.db \"$hist\")\" = \"$before_hist\" ] && cmp -s a/$ck tried.bin"
}

# ---- item 4: checkpoints of another run ----
cp a/runs/$oid/checkpoint.bin a/$ck
refused "another run's checkpoint (same model, another seed)" "belongs to run $oid, not to run $id"
cp b/$ck a/$ck
refused "the same run's checkpoint from another database" "it comes from another database or an earlier start"
cp own.bin a/$ck
python3 -c 'import sqlite3, sys
c = sqlite3.connect("a/r.db"); c.execute("update runs set spec = spec || ?1 where id = ?2", ("#edited\n", sys.argv[1])); c.commit()' "$id"
refused "a checkpoint of another spec than the row's" "was written for another spec of run $id"
python3 -c 'import sqlite3, sys
c = sqlite3.connect("a/r.db"); c.execute("update runs set spec = substr(spec, 1, length(spec) - 8) where id = ?1", (sys.argv[1],)); c.commit()' "$id"
astep=$(q a/r.db "select step from runs where id = '$id'")
for s in -50 5000000 401; do
  cp own.bin a/$ck
  python3 "$CK" set-step a/$ck $s
  refused "a hash-valid checkpoint at step $s" "is at step $s, outside this run's [0, 400]"
done
cp own.bin a/$ck
python3 "$CK" set-step a/$ck $((astep + 10))
refused "a checkpoint past the step the database records ($astep)" "is at step $((astep + 10)), past step $astep that the database records"

# sample and --from refuse it too
cp a/runs/$oid/checkpoint.bin a/$ck
"$U" sample "$id" -n 2 --db a/r.db > out.txt 2> err.txt
check "sample of a foreign checkpoint: exit 1, no samples" "[ \$? -eq 1 ] && grep -qF \"belongs to run $oid, not to run $id\" err.txt && [ ! -s out.txt ]"
"$U" run "$SPEC/tiny.yaml" threads=1 train.steps=500 --from "$id" --db a/r.db --quiet 2> err.txt
check "--from a run with a foreign checkpoint: exit 1, no new run" \
  "[ \$? -eq 1 ] && grep -qF \"belongs to run $oid, not to run $id\" err.txt && [ \$(q a/r.db 'select count(*) from runs') -eq 2 ]"

# ---- item 5: the checkpoint missing while the row records steps ----
rm a/$ck
"$U" resume "$id" --db a/r.db --quiet > out.txt 2> err.txt
check "a missing checkpoint at step $astep: exit 1 saying so" \
  "[ \$? -eq 1 ] && grep -qF \"the database records step $astep but its checkpoint a/runs/$id/checkpoint.bin is missing\" err.txt || { cat err.txt; false; }"
check "... and the way out" "grep -qF 'unigfn run SPEC --force' err.txt"
check "... keeping the history and the row" "[ \"\$(q a/r.db \"$row\")\" = \"$before_row\" ] && [ \"\$(q a/r.db \"$hist\")\" = \"$before_hist\" ]"
ln -s nowhere a/$ck
"$U" resume "$id" --db a/r.db --quiet 2> err.txt
check "a dangling link there: refused as before, history kept" \
  "[ \$? -eq 1 ] && [ \"\$(q a/r.db \"$hist\")\" = \"$before_hist\" ]"
rm a/$ck

# ---- its own checkpoint resumes; one without identity (older unigfn) loads with a warning ----
cp own.bin a/$ck
python3 "$CK" drop-identity a/$ck
"$U" sample "$id" -n 2 --db a/r.db > out.txt 2> err.txt
check "sample of a checkpoint without identity: 2 samples and one warning" \
  "[ \$? -eq 0 ] && [ \$(wc -l < out.txt) -eq 2 ] && [ \$(grep -c 'has no run identity' err.txt) -eq 1 ]"
"$U" resume "$id" --db a/r.db > out.txt 2> err.txt
check "resume of it: FINISHED, with the warning" \
  "[ \$? -eq 0 ] && [ \"\$(q a/r.db \"$row\")\" = 'FINISHED 400' ] && grep -q 'has no run identity' err.txt && grep -q \"^resuming run $id at step $astep\$\" out.txt"
check "... whose new checkpoint names it" "[ \"\$(python3 \"$CK\" identity a/$ck)\" = $id ]"
"$U" resume "$(q b/r.db "select id from runs where status = 'KILLED'")" --db b/r.db --quiet
check "a run's own checkpoint resumes (b)" "[ \$? -eq 0 ] && [ \"\$(q b/r.db 'select status, step from runs')\" = 'FINISHED|400' ]"

# ---- a row at step 0 with no checkpoint starts from step 0; `run --force` is the way out ----
cp a/r.db z.db   # its run folder is ./runs/ID, which holds nothing
python3 -c 'import sqlite3, sys
c = sqlite3.connect("z.db"); c.execute("update runs set status = ?2, step = 0 where id = ?1", (sys.argv[1], "KILLED"))
c.execute("delete from metrics where run = ?1", (sys.argv[1],)); c.commit()' "$id"
"$U" resume "$id" --db z.db > out.txt 2> err.txt
check "a KILLED row at step 0 without a checkpoint resumes from step 0 to FINISHED" \
  "[ \$? -eq 0 ] && grep -q \"^resuming run $id at step 0\$\" out.txt && [ \"\$(q z.db \"$row\")\" = 'FINISHED 400' ]"
python3 -c 'import sqlite3, sys
c = sqlite3.connect("a/r.db"); c.execute("update runs set status = ?2 where id = ?1", (sys.argv[1], "KILLED")); c.commit()' "$id"
rm a/$ck
"$U" resume "$id" --db a/r.db --quiet 2> /dev/null
check "(the row at step 400 without its checkpoint is refused)" "[ \$? -eq 1 ]"
"$U" run "$SPEC/tiny.yaml" "${args[@]}" --force --db a/r.db --quiet
check "run --force starts it again from step 0 to FINISHED" \
  "[ \$? -eq 0 ] && [ \"\$(q a/r.db \"$row\")\" = 'FINISHED 400' ] && [ \"\$(python3 \"$CK\" identity a/$ck)\" = $id ]"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
