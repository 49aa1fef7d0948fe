#!/usr/bin/env bash
# test_provenance.sh — every run records the plugins it loaded (kind, name, resolved path, declared
# version, SHA-256 of the file), `show` prints them, and a FINISHED run whose plugin file changed since
# is run again under the same id (one line naming the plugin and both hash prefixes; the old metrics go,
# as with --force), by `run` and by `sweep`; unchanged plugins, and runs recorded before provenance
# existed, stay "already FINISHED"; `resume` with a changed plugin warns and records the new one.
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"
# The objective comes from a copy the test edits (a byte appended to an ELF file: it loads the same,
# with another hash); the other plugins from the build.
mkdir plug a
cp "$UG_BUILD_ROOT/tests/plugins_test/nan_loss.so" plug/
export UNIGFN_PLUGIN_PATH="$T/plug"
P="$SPEC/prov.yaml"
sha() { sha256sum "$1" | cut -c1-64; }
edit() { printf 'x' >> plug/nan_loss.so; }

"$U" run "$P" --db a/r.db --quiet
check "a run exits 0" "[ $? -eq 0 ]"
id=$(q a/r.db "select id from runs")
check "it records one row per plugin" "[ \"$(q a/r.db "select group_concat(kind||':'||name, ' ') from (select * from provenance where run='$id' order by kind, name)")\" = 'dataset:synthetic2d metric:nll model:binary_gfn objective:nan_loss' ]"
check "the objective's row: resolved path, declared version, the file's hash" \
  "[ \"$(q a/r.db "select path||'|'||version||'|'||sha256 from provenance where name='nan_loss'")\" = \"$(realpath plug/nan_loss.so)|1|$(sha plug/nan_loss.so)\" ]"
check "the model's row: the build's library" \
  "[ \"$(q a/r.db "select sha256 from provenance where name='binary_gfn'")\" = \"$(sha "$UG_BUILD_ROOT/plugins/models/binary_gfn/binary_gfn.so")\" ]"
"$U" --db a/r.db show "$id" > show.txt
check "show prints each plugin with version, hash and file" \
  "grep -qE \"^  objective +nan_loss +1 +sha256 $(sha plug/nan_loss.so)  $(realpath plug/nan_loss.so)\$\" show.txt && grep -qE '^  model +binary_gfn +1.0 +sha256 [0-9a-f]{64}  /' show.txt"

started=$(q a/r.db "select started from runs")
"$U" run "$P" --db a/r.db > out.txt
check "unchanged plugins: already FINISHED" "[ $? -eq 0 ] && grep -q \"run $id is already FINISHED\" out.txt && [ \"$(q a/r.db 'select started from runs')\" = \"$started\" ]"

old=$(sha plug/nan_loss.so)
edit
new=$(sha plug/nan_loss.so)
"$U" run "$P" --db a/r.db --plain > out.txt
check "a changed plugin: run again, exit 0" "[ $? -eq 0 ] && ! grep -q 'already FINISHED' out.txt"
check "one line names the plugin and both hash prefixes" \
  "[ \$(grep -c 'running it again' out.txt) -eq 1 ] && grep -q \"^run $id FINISHED with objective 'nan_loss' sha256 ${old:0:12}, now ${new:0:12}: running it again\$\" out.txt"
check "the same run id, FINISHED again, started anew" \
  "[ \"$(q a/r.db 'select count(*), id, status from runs')\" = \"1|$id|FINISHED\" ] && [ \"$(q a/r.db 'select started from runs')\" != \"$started\" ]"
check "the old metrics are gone, as with --force (4 loss rows, not 8)" "[ $(q a/r.db "select count(*) from metrics where key='loss'") -eq 4 ]"
check "the new hash is recorded" "[ \"$(q a/r.db "select sha256 from provenance where name='nan_loss'")\" = \"$new\" ]"
"$U" run "$P" --db a/r.db > out.txt
check "then it is FINISHED as it stands" "grep -q 'already FINISHED' out.txt"

# A run recorded before provenance existed (no rows) keeps today's behaviour.
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("delete from provenance"); c.commit()' a/r.db
edit
"$U" run "$P" --db a/r.db > out.txt
check "no rows: already FINISHED despite the edit" "grep -q \"run $id is already FINISHED\" out.txt && ! grep -q 'running it again' out.txt"
"$U" run "$P" --db a/r.db --force --quiet
check "--force still runs it, and records its rows" "[ $(q a/r.db "select count(*) from provenance where run='$id'") -eq 4 ]"

# sweep: the changed FINISHED jobs run again, each named once; the rest are skipped.
mkdir s
"$U" --db s/r.db sweep "$P" seed=1,2 > out.txt
check "sweep: two jobs FINISHED" "[ $(q s/r.db "select count(*) from runs where status='FINISHED'") -eq 2 ]"
"$U" --db s/r.db sweep "$P" seed=1,2 > out.txt
check "sweep again: both skipped" "grep -q '2 FINISHED before (skipped); 0 to run' out.txt"
old=$(sha plug/nan_loss.so)
edit
new=$(sha plug/nan_loss.so)
"$U" --db s/r.db sweep "$P" seed=1,2,3 --dry-run > out.txt
check "sweep --dry-run says which FINISHED jobs run again" "[ \$(grep -c \"FINISHED with objective 'nan_loss' sha256 ${old:0:12}, now ${new:0:12}: runs again\" out.txt) -eq 2 ]"
"$U" --db s/r.db sweep "$P" seed=1,2,3 > out.txt
check "sweep: exit 0" "[ $? -eq 0 ]"
check "sweep: one line per changed job" "[ \$(grep -c \"^sweep: job [01]: run [0-9a-f]* FINISHED with objective 'nan_loss' sha256 ${old:0:12}, now ${new:0:12}: running it again\$\" out.txt) -eq 2 ]"
check "sweep: none counted FINISHED before, all three ran" "grep -q '0 FINISHED before (skipped); 3 to run' out.txt && grep -q 'ran 3: 3 FINISHED' out.txt"
check "sweep: every run records the new hash" "[ \"$(q s/r.db "select count(*) from provenance where name='nan_loss' and sha256='$new'")\" = 3 ]"
"$U" --db s/r.db sweep "$P" seed=1,2,3 > out.txt
check "sweep again: all skipped" "grep -q '3 FINISHED before (skipped); 0 to run' out.txt"

# resume with a changed plugin: a warning, and the segment's plugin is recorded (as its BLAS is).
mkdir k
"$U" run "$P" train.steps=5000 --db k/r.db --quiet &
term_after_logs k/r.db 3 $!
kid=$(q k/r.db "select id from runs")
check "the run to resume is KILLED" "[ \"$(q k/r.db 'select status from runs')\" = KILLED ]"
old=$(sha plug/nan_loss.so)
edit
new=$(sha plug/nan_loss.so)
"$U" --db k/r.db resume "$kid" --quiet 2> err.txt
check "resume: exit 0" "[ $? -eq 0 ] && [ \"$(q k/r.db 'select status from runs')\" = FINISHED ]"
check "resume warns, naming the plugin and both hashes" "grep -q \"run $kid was trained so far with objective 'nan_loss' sha256 ${old:0:12}, now ${new:0:12}\" err.txt"
check "resume records the plugin it went on with" "[ \"$(q k/r.db "select sha256 from provenance where name='nan_loss'")\" = \"$new\" ] && [ $(q k/r.db 'select count(*) from provenance') -eq 4 ]"

echo "provenance: $pass passed, $fail failed"
[ $fail -eq 0 ]
