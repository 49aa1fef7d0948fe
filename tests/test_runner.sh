#!/usr/bin/env bash
# test_runner.sh — the runner and CLI end to end on real plugins: FINISHED, spec errors (exit 2, no run
# row), a NaN loss (FAILED with step and term, earlier metrics kept), SIGTERM (KILLED, metrics kept),
# resume continuing bit-identically (and on other threads), two processes writing one database at once, and every command's -h.
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"

# 1. A run finishes, with its metrics, params and checkpoint.
"$U" run "$SPEC/tiny.yaml" train.steps=200 --db a.db --quiet
check "run exits 0" "[ $? -eq 0 ]"
id=$(q a.db "select id from runs")
check "one FINISHED run" "[ \"$(q a.db 'select status from runs')\" = FINISHED ]"
check "loss logged every 10 steps" "[ $(q a.db "select count(*) from metrics where key='loss'") -eq 20 ]"
check "nll evaluated at 100 and 200" "[ \"$(q a.db "select group_concat(step) from metrics where key='nll'")\" = '100,200' ]"
check "params flattened" "[ \"$(q a.db "select value from params where key='model.hidden'")\" = '[32, 32]' ]"
check "checkpoint written" "[ -s runs/$id/checkpoint.bin ]"
check "show prints the status" "\"$U\" show ${id:0:6} --db a.db | grep -q '^status     FINISHED'"
check "sample prints 5 rows of 32 bits" "[ \$(\"$U\" sample $id -n 5 --db a.db | grep -cE '^[01]{32}\$') -eq 5 ]"
# The first run's last lines say where the results and pictures went (README's first command).
rm -rf w && mkdir w && (cd w && "$U" run "$UG_SOURCE_ROOT/experiments/smoke/first-run.yaml" train.steps=20 \
  'metrics=[{plugin: density_png, samples: 2000}]' > out.txt 2>&1)
wid=$(q w/results.db "select id from runs")
check "first run: results line names the database and show" "grep -qx '  results   results.db (unigfn show $wid; unigfn ls)' w/out.txt"
check "first run: picture line names a file that exists" "grep -qx '  picture   runs/$wid/density-20.png' w/out.txt && [ -s w/runs/$wid/density-20.png ]"
check "first run: samples line" "grep -qx '  samples   unigfn sample $wid -n 10' w/out.txt"
"$U" run "$SPEC/tiny.yaml" train.steps=200 --db a.db --quiet
check "re-running a FINISHED spec does nothing" "[ $(q a.db "select count(*) from metrics where key='loss'") -eq 20 ]"

# 2. Spec errors: exit 2 and no run row.
"$U" run "$SPEC/tiny.yaml" model.hiden=3 --db b.db --quiet 2> err.txt
check "unknown key exits 2" "[ $? -eq 2 ]"
check "message names the key" "grep -q \"model.hiden: unknown key (did you mean 'hidden'?)\" err.txt"
check "no database written" '[ ! -e b.db ]'
"$U" run nosuch.yaml --db b.db --quiet 2> err.txt
check "a missing spec file is a spec error: exit 2, the reason, no database" "[ \$? -eq 2 ] && grep -qx 'nosuch.yaml: cannot open: No such file or directory' err.txt && [ ! -e b.db ]"
"$U" run "$SPEC/tiny.yaml" 'objective.0.plugin=tb' --db b.db --quiet 2> err.txt
check "missing capability exits 2" "[ $? -eq 2 ] && grep -q 'needs capability' err.txt"

# 3. A NaN loss is a failure with the step and the term; earlier metrics stay.
"$U" run "$SPEC/nan.yaml" --db n.db --quiet 2> err.txt
check "NaN run exits 1" "[ $? -eq 1 ]"
check "FAILED with the message" "q n.db 'select status, error from runs' | grep -q '^FAILED|step 25: objective term 0 (nan_loss): loss is nan'"
check "metrics before the failure kept" "[ $(q n.db "select count(*) from metrics where key='loss'") -eq 5 ]"

# 4. SIGTERM → KILLED (metrics kept); resume continues bit-identically to an uninterrupted run. 500
#    steps: the signal comes at step 80, and the 420 left are the margin for a slow poll (they were
#    1500, which made this test the one to pass meson's timeout in a sanitizer build on a busy machine).
mkdir ref kill
"$U" run "$SPEC/tiny.yaml" train.steps=500 --db ref/r.db --quiet
"$U" run "$SPEC/tiny.yaml" train.steps=500 --db kill/k.db --quiet &
term_after_logs kill/k.db 8 $!
check "SIGTERM exits 130" "[ $? -eq 130 ]"
check "KILLED with the step reached" "q kill/k.db 'select status, step from runs' | grep -qE '^KILLED\|[0-9]+$'"
kstep=$(q kill/k.db 'select step from runs')
check "killed before the end" "[ $kstep -gt 0 ] && [ $kstep -lt 500 ]"
check "metrics kept after the kill" "[ $(q kill/k.db "select count(*) from metrics where key='loss'") -ge 8 ]"
rid=$(q kill/k.db 'select id from runs')
"$U" resume "$rid" --db kill/k.db --quiet
check "resume exits 0 and FINISHED" "[ $? -eq 0 ] && [ \"$(q kill/k.db 'select status from runs')\" = FINISHED ]"
check "resumed parameters are bit-identical" "python3 \"\$UG_SOURCE_ROOT/tests/ckpt_tool.py\" same ref/runs/$rid/checkpoint.bin kill/runs/$rid/checkpoint.bin"
check "resumed loss curve is identical" "[ \"$(q ref/r.db "select group_concat(step||':'||value) from (select * from metrics where key='loss' order by step)")\" = \"$(q kill/k.db "select group_concat(step||':'||value) from (select * from metrics where key='loss' order by step)")\" ]"

# 4b. resume --threads N continues the same run on N threads and records them in its row.
mkdir thr
"$U" run "$SPEC/tiny.yaml" train.steps=500 threads=1 --db thr/t.db --quiet &
term_after_logs thr/t.db 8 $!
tid=$(q thr/t.db 'select id from runs')
"$U" resume "$tid" --threads 2 --db thr/t.db > thr/out.txt
rc=$?
check "resume --threads 2 FINISHED the same run, 2 threads recorded" "[ $rc -eq 0 ] && [ \"$(q thr/t.db 'select count(*), status, threads from runs')\" = '1|FINISHED|2' ]"
check "resume --threads says so" "grep -q '^continuing on 2 threads (the spec says 1)' thr/out.txt"
"$U" resume "$tid" --threads 0 --db thr/t.db 2> err.txt
check "resume --threads 0 exits 2 with a message" "[ $? -eq 2 ] && grep -q 'whole number from 1' err.txt"

# 5. Two processes writing one database at once lose nothing.
"$U" run "$SPEC/tiny.yaml" train.steps=150 seed=11 --db c.db --quiet &
p1=$!
"$U" run "$SPEC/tiny.yaml" train.steps=150 seed=12 --db c.db --quiet &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
check "both concurrent runs exit 0" "[ $r1 -eq 0 ] && [ $r2 -eq 0 ]"
check "both FINISHED" "[ $(q c.db "select count(*) from runs where status='FINISHED'") -eq 2 ]"
check "no metric row lost" "[ $(q c.db "select count(*) from metrics where key='loss'") -eq 30 ]"

# 6. Every command prints its usage with -h (exit 0, stdout), even those whose argument is a run id or
# spec path; and, without its required argument, the same usage on stderr with exit 2.
for c in run resume plugins ls show sample sweep db gc report export doctor; do
  "$U" $c -h --db c.db > help.txt 2> help-err.txt
  check "$c -h exits 0 with its usage on stdout" "[ $? -eq 0 ] && grep -q \"^usage: unigfn $c\" help.txt && [ ! -s help-err.txt ]"
done
for c in run resume show sample; do
  "$U" $c --db c.db > help.txt 2> help-err.txt
  check "$c without arguments exits 2 with its usage on stderr" "[ $? -eq 2 ] && grep -q \"^usage: unigfn $c\" help-err.txt"
done

# 7. --version names the project version, the git revision, the plugin ABI of plugin.h and the build line,
# and needs no database (none is created).
abi=$(sed -n 's/^#define UG_ABI_MAJOR \([0-9]*\)$/\1/p' "$UG_SOURCE_ROOT/core/include/unigfn/plugin.h").$(sed -n 's/^#define UG_ABI_MINOR \([0-9]*\)$/\1/p' "$UG_SOURCE_ROOT/core/include/unigfn/plugin.h")
mkdir -p vdir && (cd vdir && "$U" --version > ../version.txt 2> ../version-err.txt)
check "--version exits 0" "[ $? -eq 0 ] && [ ! -s version-err.txt ]"
check "--version: 'unigfn X.Y.Z (git REV; plugin ABI $abi; COMPILER ... buildtype=...)' ($(cat version.txt))" \
  "grep -qE '^unigfn [0-9]+\.[0-9]+\.[0-9]+ \(git [^;]+; plugin ABI ${abi//./\\.}; .*buildtype=[a-z]+ .*\)$' version.txt"
check "--version creates no database" "[ -z \"\$(ls -A vdir)\" ]"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
