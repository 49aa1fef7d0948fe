#!/usr/bin/env bash
# test_eval_cli.sh — `unigfn eval RUN [metric overrides]` (issue 21 item 3): the run's own metrics on its
# last checkpoint equal what the runner recorded at that step, and the same lines tools/diag/metric_at
# prints (one evaluation and printing code); the database is left as it was; overrides change the
# metrics (a setting, the whole list, +/~ an entry) but nothing else; --dir takes the pictures; a run
# that is not FINISHED is evaluated at its last checkpoint with a note. Refusals are golden messages
# with their exit status (2: arguments or overrides, 1: the run).
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"
TOOLS="$UG_BUILD_ROOT/tools"

"$U" run "$SPEC/tiny-eb.yaml" threads=1 --db r.db --quiet
check "the EB-GFN run finishes" "[ \"$(q r.db 'select status, step from runs')\" = 'FINISHED|40' ]"
id=$(q r.db "select id from runs")
# what must not change (a reader's SQLite may leave r.db-wal and r.db-shm, which hold no rows)
state() { ls -A | grep -E '\.db$|^runs$'; sha256sum r.db; find runs -type f -exec sha256sum {} + | sort; }
before=$(state)

# ---- the run's own metrics: the runner's numbers, metric_at's lines ----
"$U" eval "$id" threads=1 --db r.db > ev.txt 2> err.txt
check "eval exits 0 and says nothing else for a FINISHED run" "[ $? -eq 0 ] && [ ! -s err.txt ]"
check "three metrics at step 40" "[ \$(grep -c '^step 40 metric [0-2] ' ev.txt) -eq 3 ] && [ \$(wc -l < ev.txt) -eq 3 ]"
for key in curve_nll nll mmd; do
  want=$(q r.db "select printf('%.6g', value) from metrics where run='$id' and key='$key' and step=40")
  got=$(tr -s ' ' '\n' < ev.txt | grep -A1 -x "$key" | tail -n 1)
  check "eval's $key equals the runner's ($got vs $want)" "[ -n \"$want\" ] && [ \"$got\" = \"$want\" ]"
done
"$TOOLS/metric_at" "$SPEC/tiny-eb.yaml" "runs/$id/checkpoint.bin" threads=1 > at.txt
check "metric_at on the same checkpoint prints the same lines" "cmp -s ev.txt at.txt"
"$U" eval "${id:0:6}" --only mmd threads=1 --db r.db > one.txt
check "a run prefix and --only: the one mmd line" "[ \$(wc -l < one.txt) -eq 1 ] && grep -q '^step 40 metric 2 mmd:  mmd ' one.txt && grep -qF \"\$(cat one.txt)\" ev.txt"
check "the database and the run folder are as they were" "[ \"\$(state)\" = \"\$before\" ]"

# ---- metric overrides ----
"$U" eval "$id" threads=1 metrics.0.particles=8 --only nll --db r.db > p8.txt
c4=$(tr -s ' ' '\n' < ev.txt | grep -A1 -x curve_nll | tail -n 1)
c8=$(tr -s ' ' '\n' < p8.txt | grep -A1 -x curve_nll | tail -n 1)
check "metrics.0.particles=8 changes curve_nll ($c4 -> $c8), both nll metrics shown" \
  "[ \$(wc -l < p8.txt) -eq 2 ] && [ -n \"$c8\" ] && [ \"$c8\" != \"$c4\" ]"
"$U" eval "$id" threads=1 'metrics=[{plugin: mmd, groups: 2, samples: 50}]' --db r.db > list.txt
check "a whole metrics list: one mmd line as metric 0" "[ \$(wc -l < list.txt) -eq 1 ] && grep -q '^step 40 metric 0 mmd:  mmd ' list.txt"
# overrides apply in order: an index is into the list the earlier ones left
"$U" eval "$id" threads=1 '~metrics.1' '~metrics.0' --db r.db > del.txt
check "~metrics.N removes metrics" "[ \$(wc -l < del.txt) -eq 1 ] && grep -q '^step 40 metric 0 mmd:' del.txt"
"$U" eval "$id" threads=1 '+metrics.3={plugin: nll, particles: 2, samples: 10}' --db r.db > add.txt
check "+metrics.3 adds one" "[ \$(wc -l < add.txt) -eq 4 ] && grep -q '^step 40 metric 3 nll:  nll ' add.txt"
mkdir pics
"$U" eval "$id" threads=1 'metrics=[{plugin: density_png, samples: 500, bins: 16}]' --dir pics --db r.db > png.txt
png=$(sed -n 's/.*\[png \([^]]*\)\].*/\1/p' png.txt)
check "--dir: the picture is written there and named ($png)" "[ -n \"$png\" ] && [ \"\${png#pics/}\" != \"$png\" ] && [ -s \"$png\" ]"

# ---- refusals: exit status and the exact message ----
cp r.db lost.db
while IFS='|' read -r rc args want; do
  [ -z "$rc" ] && continue
  eval "\"\$U\" eval $args" > out.txt 2> err.txt
  got=$?
  check "eval $args: exit $rc, '$want'" "[ $got -eq $rc ] && [ \"\$(head -n 1 err.txt)\" = \"\$want\" ] && [ ! -s out.txt ]"
done <<EOF2
2|$id 'model.hidden=[8]' --db r.db|unigfn eval: 'model.hidden=[8]' is not a metric setting: eval changes only metrics... and threads (the model and data are the run's checkpoint)
2|$id metrics.0.particlez=3 --db r.db|unigfn eval: <command line> 'metrics.0.particlez=3': metrics.0.particlez: unknown key (did you mean 'metrics.0.particles'?)
2|$id +threads=2 --db r.db|unigfn eval: <command line> '+threads=2': threads: already in the spec (runner-tiny-eb:4:1); 'threads=2' changes it
1|$id --only nlll --db r.db|unigfn eval: run $id has no metric 'nlll' (did you mean 'nll'?) (its metrics: nll, mmd)
2|$id 'metrics=[]' --db r.db|unigfn eval: run $id has no metrics to evaluate; give some, e.g. 'metrics=[{plugin: nll}]'
2|--db r.db|unigfn eval: which run? (an id or a unique prefix; \`unigfn ls\` lists them)
2|$id --only|unigfn eval: --only needs a value
1|nosuch --db r.db|unigfn eval: no run in r.db with an id beginning 'nosuch'
EOF2
mkdir other && mv lost.db other/ && "$U" eval "$id" --db other/lost.db > out.txt 2> err.txt
check "a run whose folder is not beside the database: exit 1, the path and what to do" \
  "[ \$? -eq 1 ] && [ \"\$(cat err.txt)\" = \"unigfn eval: run $id (FINISHED) has no checkpoint at other/runs/$id/checkpoint.bin (its runs/ folder is not beside this database: copy it along, or pass the database that ran it as --db)\" ]"

# ---- a run that did not finish: its last checkpoint, with a note ----
"$U" run "$SPEC/tiny.yaml" train.steps=100000 --db k.db --quiet &
term_after_logs k.db 6 $!   # past the checkpoint at step 50, then KILLED
kid=$(q k.db 'select id from runs')
"$U" eval "$kid" threads=1 --db k.db > k.txt 2> kerr.txt
ks=$(sed -n "s/^unigfn eval: run $kid is KILLED: evaluating its last checkpoint, step \([0-9]*\) of 100000\$/\1/p" kerr.txt)
check "a KILLED run: exit 0, a note naming the checkpoint's step ($ks), its metric at that step" \
  "[ \$? -eq 0 ] && [ -n \"$ks\" ] && [ \"$ks\" -ge 50 ] && grep -q \"^step $ks metric 0 nll:  nll \" k.txt"

echo "test_eval_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
