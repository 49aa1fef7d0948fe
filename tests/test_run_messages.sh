#!/usr/bin/env bash
# test_run_messages.sh — what `run` says and leaves behind when it does not train (issue 20 item 11, the
# runner's part): a run refused before it writes anything leaves no run folder; the plugins that did not
# load are named (as `unigfn plugins` names them); memory running out while the model is built is a
# failure (exit 1, the reason), not a spec error (exit 2); and another `name` for a finished spec says
# that the run id does not depend on it.
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"

# As tests/test_hostile_input.sh: under AddressSanitizer its allocation limit stands in for ulimit -v.
asan=0
if ldd "$U" 2>/dev/null | grep -q libasan || [ -n "${ASAN_OPTIONS:-}" ]; then asan=1; fi
small_memory() {  # run "$@" where allocations beyond ~1 GiB fail
  if [ $asan -eq 1 ]; then
    ASAN_OPTIONS="${ASAN_OPTIONS:-}:allocator_may_return_null=1:max_allocation_size_mb=1024" "$@"
  else
    (ulimit -v 1500000 && exec "$@")
  fi
}

# ---- no empty run folder after a run that wrote nothing ----
"$U" run "$SPEC/tiny.yaml" train.steps=20 --db f.db --quiet
fid=$(q f.db 'select id from runs')
rm -r runs
"$U" run "$SPEC/tiny.yaml" train.steps=20 --db f.db > out.txt
check "an already FINISHED run: exit 0, says so, and leaves no runs/ behind" \
  "[ \$? -eq 0 ] && grep -q \"^run $fid is already FINISHED (use --force\" out.txt && [ ! -e runs ]"
python3 -c 'import sqlite3; c = sqlite3.connect("f.db"); c.execute("update runs set status = \"RUNNING\""); c.commit()'
"$U" run "$SPEC/tiny.yaml" train.steps=20 --db f.db 2> err.txt
check "a RUNNING row whose process is gone: exit 1, and no runs/ behind" \
  "[ \$? -eq 1 ] && grep -q 'no process holds its lease' err.txt && [ ! -e runs ]"
mkdir -p "runs/$fid"
"$U" run "$SPEC/tiny.yaml" train.steps=20 --db f.db 2> /dev/null
check "... a folder that was there before stays" "[ -d runs/$fid ] && [ -z \"\$(ls -A runs/$fid)\" ]"

# ---- plugins that did not load are named by run (and --check) ----
UNIGFN_PLUGIN_PATH="$UNIGFN_PLUGIN_PATH:$T/no-plugins-here" "$U" run "$SPEC/tiny.yaml" --check > out.txt 2> err.txt
check "run --check names a plugin directory that is not there" \
  "[ \$? -eq 0 ] && grep -qx \"unigfn: warning: $T/no-plugins-here: no such directory (from UNIGFN_PLUGIN_PATH)\" err.txt"
UNIGFN_PLUGIN_PATH="$UNIGFN_PLUGIN_PATH:$UG_BUILD_ROOT/tests/plugins_bad" "$U" plugins > /dev/null 2> want.txt
UNIGFN_PLUGIN_PATH="$UNIGFN_PLUGIN_PATH:$UG_BUILD_ROOT/tests/plugins_bad" "$U" run "$SPEC/tiny.yaml" train.steps=10 \
  --db p.db --quiet 2> err.txt
check "run prints every warning \`unigfn plugins\` prints (broken libraries)" \
  "[ \$? -eq 0 ] && [ \$(grep -c '^unigfn: warning: ' want.txt) -ge 3 ] && [ -z \"\$(grep -vxFf err.txt want.txt)\" ]"

# ---- out of memory while the model is built: exit 1 with the reason, nothing written ----
mkdir m
small_memory "$U" run "$SPEC/tiny.yaml" 'model.hidden=[65536, 65536]' --db m/m.db --quiet 2> err.txt
check "a model too big for memory: exit 1 (not 2), saying out of memory" \
  "[ \$? -eq 1 ] && grep -q '^unigfn: cannot build the run: .*out of memory' err.txt || { cat err.txt; false; }"
check "... and nothing written: no database, no run folder" "[ -z \"\$(ls -A m)\" ]"

# ---- another name for a finished spec: the same run, and it says so ----
"$U" run "$SPEC/tiny.yaml" train.steps=20 name=renamed --db n.db --quiet
nid=$(q n.db 'select id from runs')
"$U" run "$SPEC/tiny.yaml" train.steps=20 name=other --db n.db > out.txt
check "name=other of a FINISHED run: exit 0 naming the recorded experiment and why" \
  "[ \$? -eq 0 ] && grep -qF \"run $nid is already FINISHED as experiment 'renamed'; the run id does not depend on \\\`name\\\` ('other' here)\" out.txt"
check "... and nothing changed" "[ \"\$(q n.db 'select experiment, status from runs')\" = 'renamed|FINISHED' ]"
"$U" run "$SPEC/tiny.yaml" train.steps=20 name=other --db n.db --force --quiet
check "--force runs it again under the new name" \
  "[ \$? -eq 0 ] && [ \"\$(q n.db 'select id, experiment, status from runs')\" = \"$nid|other|FINISHED\" ]"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
