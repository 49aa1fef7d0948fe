#!/usr/bin/env bash
# test_run_from.sh — `unigfn run SPEC --from RUN`: a longer run continued from a shorter run's
# checkpoint equals a fresh run of the longer spec (metrics, summary and parameters bit for bit),
# from a FINISHED source and from one KILLED between two log steps; and every refusal (another spec,
# its own run, a cosine schedule, a short last logging window, a checkpoint past train.steps, a RUNNING
# source, no such run) exits 1 and writes nothing.
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"
mkdir a b k r
# rows of a run as key:step:value, in one order, for comparing two databases
rows() { q "$1" "select group_concat(key||':'||step||':'||ifnull(value,flag), ' ') from
  (select * from metrics where run='$2' order by key, step)"; }
summ() { q "$1" "select group_concat(key||':'||last||':'||last_step||':'||min||':'||max||':'||n, ' ') from
  (select * from summary where run='$2' order by key)"; }

# 1. EB-GFN: 20 steps, then 40 steps from it; against 40 fresh steps in another database.
"$U" run "$SPEC/tiny-eb.yaml" threads=1 train.steps=20 --db a/r.db --quiet
src=$(q a/r.db "select id from runs")
nsrc=$(q a/r.db "select count(*) from metrics where run='$src'")
"$U" run "$SPEC/tiny-eb.yaml" threads=1 --from "${src:0:8}" --db a/r.db > out.txt
check "--from exits 0" "[ $? -eq 0 ]"
dst=$(q a/r.db "select id from runs where id != '$src'")
check "it says where it continues from" "grep -q \"continuing run $src from step 20\" out.txt"
check "the continued run is FINISHED at 40" "[ \"$(q a/r.db "select status, step from runs where id='$dst'")\" = 'FINISHED|40' ]"
check "from_run is recorded" "[ \"$(q a/r.db "select value from params where run='$dst' and key='from_run'")\" = \"$src@20\" ]"
check "the source is untouched" "[ $(q a/r.db "select count(*) from metrics where run='$src'") -eq $nsrc ]"
check "the source's end-of-run metrics are not copied" "[ $(q a/r.db "select count(*) from metrics where run='$dst' and key in ('nll','mmd') and step=20") -eq 0 ]"
"$U" run "$SPEC/tiny-eb.yaml" threads=1 --db b/r.db --quiet
check "the fresh run has the same id" "[ \"$(q b/r.db "select id from runs")\" = \"$dst\" ]"
check "metric rows equal a fresh run's" "[ -n \"$(rows a/r.db $dst)\" ] && [ \"$(rows a/r.db $dst)\" = \"$(rows b/r.db $dst)\" ]"
check "summary equals a fresh run's" "[ \"$(summ a/r.db $dst)\" = \"$(summ b/r.db $dst)\" ]"
check "parameters equal a fresh run's" "python3 \"\$UG_SOURCE_ROOT/tests/ckpt_tool.py\" same a/runs/$dst/checkpoint.bin b/runs/$dst/checkpoint.bin"

# --check with --from: the checks only.
nruns=$(q a/r.db "select count(*) from runs")
"$U" run "$SPEC/tiny-eb.yaml" threads=1 train.steps=60 --from "$src" --check --db a/r.db > out.txt
check "--check --from says what it would continue" "[ $? -eq 0 ] && grep -q \"continues run $src from step 20)\" out.txt"
"$U" run "$SPEC/tiny-eb.yaml" threads=1 train.steps=60 optim.energy.lr=2e-3 --from "$src" --check --db a/r.db 2> err.txt
check "--check --from refuses another spec" "[ $? -eq 1 ] && grep -q 'differs from this one' err.txt"
check "--check --from writes nothing" "[ $(q a/r.db "select count(*) from runs") -eq $nruns ] && [ $(ls a/runs | wc -l) -eq $nruns ]"

# 2. MLE-GFN KILLED between two log steps (its checkpoint holds an open logging window), continued to
#    a longer budget; against the longer budget fresh.
"$U" run "$SPEC/tiny.yaml" train.steps=3000 --db k/k.db --quiet &
term_after_logs k/k.db 8 $!
ksrc=$(q k/k.db "select id from runs")
kstep=$(q k/k.db "select step from runs")
check "the source is KILLED mid-run" "[ \"$(q k/k.db 'select status from runs')\" = KILLED ] && [ $kstep -lt 3000 ]"
"$U" run "$SPEC/tiny.yaml" train.steps=$((kstep + 60)) --from "$ksrc" --db k/k.db --quiet
check "continuing a KILLED run exits 0" "[ $? -eq 0 ]"
kdst=$(q k/k.db "select id from runs where id != '$ksrc'")
"$U" run "$SPEC/tiny.yaml" train.steps=$((kstep + 60)) --db r/r.db --quiet
check "metric rows equal a fresh run's (KILLED source at step $kstep)" "[ \"$(rows k/k.db $kdst)\" = \"$(rows r/r.db $kdst)\" ]"
check "parameters equal a fresh run's (KILLED source)" "python3 \"\$UG_SOURCE_ROOT/tests/ckpt_tool.py\" same k/runs/$kdst/checkpoint.bin r/runs/$kdst/checkpoint.bin"

# 3. Refusals: exit 1, a message, no run row and no run folder.
refuse() {  # NAME MESSAGE-REGEX ARGS...
  local name=$1 msg=$2
  shift 2
  local before
  before=$(q a/r.db "select count(*) from runs")
  "$U" run "$@" --db a/r.db --quiet 2> err.txt
  local rc=$?
  check "$name: exits 1" "[ $rc -eq 1 ]"
  check "$name: says why" "grep -qE -e \"$msg\" err.txt || { cat err.txt; false; }"
  check "$name: no run row" "[ $(q a/r.db "select count(*) from runs") -eq $before ]"
  check "$name: no run folder" "[ $(ls a/runs | wc -l) -eq $before ]"
}
refuse "another spec" "differs from this one in 1 key other than train.steps \\(optim.energy.lr: 0.001 there, 0.002 here\\)" \
  "$SPEC/tiny-eb.yaml" threads=1 train.steps=60 optim.energy.lr=2e-3 --from "$src"
refuse "its own run" "this spec's own run; .unigfn resume" "$SPEC/tiny-eb.yaml" threads=1 train.steps=20 --from "$src"
refuse "past train.steps" "checkpoint is at step 40, past train.steps 30" "$SPEC/tiny-eb.yaml" threads=1 train.steps=30 --from "$dst"
refuse "no such run" "--from: no run 'ffffffff'" "$SPEC/tiny-eb.yaml" threads=1 train.steps=60 --from ffffffff
"$U" run "$SPEC/tiny-eb.yaml" threads=1 train.steps=25 --db a/r.db --quiet
short=$(q a/r.db "select id from runs where step = 25")
refuse "a short last window" "has 0 steps in its logging window where a fresh run has 5" \
  "$SPEC/tiny-eb.yaml" threads=1 train.steps=60 --from "$short"
python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("update runs set status = ? where id = ?", ("RUNNING", sys.argv[2])); c.commit()' a/r.db "$short"
refuse "a RUNNING source" "the run is RUNNING; its checkpoint is not final" \
  "$SPEC/tiny-eb.yaml" threads=1 train.steps=60 --from "$short"
"$U" run "$SPEC/tiny-eb.yaml" threads=1 train.steps=20 optim.forward.schedule=cosine --db a/r.db --quiet
cos=$(q a/r.db "select r.id from runs r join params p on p.run = r.id where p.key = 'optim.forward.schedule' and p.value = 'cosine'")
refuse "a cosine schedule" "group 'forward' has a cosine schedule" \
  "$SPEC/tiny-eb.yaml" threads=1 train.steps=60 optim.forward.schedule=cosine --from "$cos"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
