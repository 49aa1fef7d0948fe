#!/usr/bin/env bash
# test_init_from.sh — `unigfn run SPEC --init-from RUN`: a new run from step 0 whose parameters (only)
# are RUN's last checkpoint's: with no term due, its parameters and its metric equal the source's and its
# optimizers have taken no step; its id is the spec's id hashed with RUN's (never the from-scratch run's),
# RUN is in its row, its provenance and `show`; parameter averages restart at the loaded values; a
# changed source checkpoint runs it again. Refusals: a parameter of another shape (exit 2, naming it and
# both shapes), no such run, a RUNNING source, no checkpoint, --from with it; none leaves a row or folder.
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"
mkdir a
"$U" run "$SPEC/tiny.yaml" train.steps=20 --db a/r.db --quiet
src=$(q a/r.db "select id from runs")
src_nll=$(q a/r.db "select value from metrics where run='$src' and key='nll' and step=20")
# No term is due before step 20: the run trains nothing, so what it ends with is what it started from.
idle=(train.steps=20 objective.0.start=20 objective.1.start=20)
spec_id=$("$U" run "$SPEC/tiny.yaml" "${idle[@]}" --check --db a/r.db | sed -n 's/.*run id \([0-9a-f]*\);.*/\1/p')
want=$(printf '%s init-from %s' "$spec_id" "$src" | sha256sum | cut -c1-16)

"$U" run "$SPEC/tiny.yaml" "${idle[@]}" --init-from "${src:0:8}" --check --db a/r.db > out.txt
check "--check says where the parameters come from" "[ $? -eq 0 ] && grep -q \"ok (run id $want; parameters from run $src at step 20)\" out.txt"
check "--check writes nothing" "[ $(q a/r.db 'select count(*) from runs') -eq 1 ] && [ $(ls a/runs | wc -l) -eq 1 ]"

"$U" run "$SPEC/tiny.yaml" "${idle[@]}" --init-from "${src:0:8}" --db a/r.db > out.txt
check "--init-from exits 0" "[ $? -eq 0 ]"
dst=$(q a/r.db "select id from runs where id != '$src'")
check "its id is sha256('<spec id> init-from <source>'), not the spec's" "[ \"$dst\" = \"$want\" ] && [ \"$dst\" != \"$spec_id\" ]"
check "it says so when it starts" "grep -q \"^run $dst (runner-tiny): 20 steps, parameters from run $src\$\" out.txt"
check "the row names the source" "[ \"$(q a/r.db "select init_from||'|'||status||'|'||step from runs where id='$dst'")\" = \"$src|FINISHED|20\" ]"
check "its parameters are the source's" "python3 \"$UG_SOURCE_ROOT/tests/ckpt_tool.py\" params a/runs/$src/checkpoint.bin a/runs/$dst/checkpoint.bin"
check "its optimizers start fresh (no step), the source's had 20" \
  "[ \"$(python3 "$UG_SOURCE_ROOT/tests/ckpt_tool.py" optim-steps a/runs/$dst/checkpoint.bin)\" = '0 0' ] && [ \"$(python3 "$UG_SOURCE_ROOT/tests/ckpt_tool.py" optim-steps a/runs/$src/checkpoint.bin)\" = '20 20' ]"
check "its metric at step 20 is the source's (same parameters, same draws)" \
  "[ -n \"$src_nll\" ] && [ \"$(q a/r.db "select value from metrics where run='$dst' and key='nll' and step=20")\" = \"$src_nll\" ]"
check "the source checkpoint is in its provenance" \
  "[ \"$(q a/r.db "select name||'|'||version||'|'||sha256 from provenance where run='$dst' and kind='checkpoint'")\" = \"$src|step 20|$(sha256sum a/runs/$src/checkpoint.bin | cut -c1-64)\" ]"
"$U" --db a/r.db show "$dst" > show.txt
check "show names the source" "grep -q \"^init from  $src (parameters of its last checkpoint)\" show.txt && grep -qE \"^  checkpoint +$src +step 20 +sha256 \" show.txt"
"$U" run "$SPEC/tiny.yaml" "${idle[@]}" --init-from "$src" --db a/r.db > out.txt
check "the same spec from the same source is that run, FINISHED" "grep -q \"run $dst is already FINISHED\" out.txt"
"$U" run "$SPEC/tiny.yaml" "${idle[@]}" --db a/r.db --quiet
check "from scratch it is another run" "[ $(q a/r.db "select count(*) from runs where id='$spec_id' and init_from is null") -eq 1 ]"
check "the from-scratch run's metric differs" "[ \"$(q a/r.db "select value from metrics where run='$spec_id' and key='nll'")\" != \"$src_nll\" ]"

# Parameter averages (ema) restart at the loaded values: the metric, which sees the averages, is still
# the source's.
"$U" run "$SPEC/tiny.yaml" "${idle[@]}" optim.forward.ema=0.99 --init-from "$src" --db a/r.db --quiet
eid=$(q a/r.db "select id from runs where init_from='$src' and id != '$dst'")
check "with ema: the metric is the source's" "[ -n \"$eid\" ] && [ \"$(q a/r.db "select value from metrics where run='$eid' and key='nll'")\" = \"$src_nll\" ]"

# A real fine-tune (another learning rate) trains on from the source's parameters.
"$U" run "$SPEC/tiny.yaml" train.steps=20 optim.forward.lr=1e-4 --init-from "$src" --db a/r.db --quiet
check "a fine-tune with training exits 0, FINISHED" "[ $? -eq 0 ] && [ $(q a/r.db "select count(*) from runs where init_from='$src' and status='FINISHED'") -eq 3 ]"

# The source run again (--force): its checkpoint changed, so the fine-tuned run is run again, saying so.
old=$(sha256sum a/runs/$src/checkpoint.bin | cut -c1-64)
"$U" run "$SPEC/tiny.yaml" train.steps=20 --force --db a/r.db --quiet
new=$(sha256sum a/runs/$src/checkpoint.bin | cut -c1-64)
"$U" run "$SPEC/tiny.yaml" "${idle[@]}" --init-from "$src" --db a/r.db > out.txt
check "a changed source checkpoint: run again, naming it" \
  "[ \"$old\" != \"$new\" ] && grep -q \"^run $dst FINISHED with the checkpoint of run $src sha256 ${old:0:12}, now ${new:0:12}: running it again\$\" out.txt"

# Refusals: no run row, no run folder.
refuse() {  # NAME CODE MESSAGE-REGEX ARGS...
  local name=$1 code=$2 msg=$3
  shift 3
  local before
  before=$(q a/r.db "select count(*) from runs")
  "$U" run "$@" --db a/r.db --quiet 2> err.txt
  local rc=$?
  check "$name: exits $code" "[ $rc -eq $code ] || { echo rc=$rc; cat err.txt; false; }"
  check "$name: says why" "grep -qE -e \"$msg\" err.txt || { cat err.txt; false; }"
  check "$name: no run row" "[ $(q a/r.db "select count(*) from runs") -eq $before ]"
  check "$name: no run folder" "[ $(ls a/runs | wc -l) -eq $before ]"
}
refuse "another shape" 2 "^unigfn: --init-from $src: checkpoint a/runs/$src/checkpoint.bin: parameter 0 of group 'forward' is 'pf.0.w' \\[32, 32\\] in the file but 'pf.0.w' \\[16, 32\\] in the model\$" \
  "$SPEC/tiny.yaml" train.steps=20 model.hidden=[16,32] --init-from "$src"
refuse "no such run" 1 "--init-from: no run 'ffffffff'" "$SPEC/tiny.yaml" train.steps=20 --init-from ffffffff
refuse "--from with it" 2 "give one of them" "$SPEC/tiny.yaml" train.steps=40 --from "$src" --init-from "$src"
mv a/runs/$src/checkpoint.bin ckpt.bin
refuse "no checkpoint" 1 "--init-from $src: no checkpoint at a/runs/$src/checkpoint.bin" "$SPEC/tiny.yaml" train.steps=20 optim.forward.lr=2e-4 --init-from "$src"
mv ckpt.bin a/runs/$src/checkpoint.bin
python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("update runs set status = ? where id = ?", ("RUNNING", sys.argv[2])); c.commit()' a/r.db "$src"
refuse "a RUNNING source" 1 "--init-from $src: the run is RUNNING; its checkpoint is not final" "$SPEC/tiny.yaml" train.steps=20 optim.forward.lr=2e-4 --init-from "$src"

echo "init_from: $pass passed, $fail failed"
[ $fail -eq 0 ]
