#!/usr/bin/env bash
# test_spec_include.sh — spec composition through the real CLI (issue 21 item 2): a spec written as
# `include:` + differences gets the run id of the flat file it replaces, the stored and shown spec is
# the resolved one (no `include` key), and the errors of a composed spec point at the right file:line
# (a missing include, a cycle, a bad value in a base file), as does an override given twice.
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"

# flat.yaml is tests/specs/runner/tiny.yaml; specs/tiny.yaml says the same as base + differences, the
# base one folder down (include paths are relative to the including file) and itself including a file.
cp "$SPEC/tiny.yaml" flat.yaml
mkdir -p specs/base
cat > specs/base/common.yaml <<'EOF'
include: train.yaml
name: runner-tiny
seed: 3
dataset: {plugin: synthetic2d, data: moons}
model:
  plugin: binary_gfn
  hidden: [64, 64, 64]
  log_z: false
objective:
  - {plugin: kl_tb, updates: [forward]}
optim:
  forward: {lr: 1.0e-3}
  backward: {lr: 1.0e-4}
metrics:
  - {plugin: nll, particles: 4, samples: 64}
EOF
cat > specs/base/train.yaml <<'EOF'
train: {steps: 200, batch: 16, log_every: 10, checkpoint_every: 50, eval_every: 100}
EOF
cat > specs/tiny.yaml <<'EOF'
include: base/common.yaml
dataset: {data: checkerboard}
model: {hidden: [32, 32]}
objective:
  - {plugin: kl_tb, updates: [forward]}
  - {plugin: tbc, updates: [backward]}
EOF
run_id() { sed -n 's/.*: ok (run id \([0-9a-f]*\);.*/\1/p' "$1"; }

# ---- the composed spec is the flat one: the same run id ----
"$U" run flat.yaml --check > flat.txt 2>&1
check "the flat spec checks" "[ \$? -eq 0 ] && [ -n \"\$(run_id flat.txt)\" ]"
"$U" run specs/tiny.yaml --check > comp.txt 2>&1
check "the composed spec checks" "[ \$? -eq 0 ] && [ -n \"\$(run_id comp.txt)\" ]"
check "composed and flat specs have one run id ($(run_id comp.txt) vs $(run_id flat.txt))" \
  "[ \"\$(run_id comp.txt)\" = \"\$(run_id flat.txt)\" ]"
"$U" run specs/tiny.yaml seed=4 --check > seed.txt 2>&1
check "an override of the composed spec changes the id" \
  "[ -n \"\$(run_id seed.txt)\" ] && [ \"\$(run_id seed.txt)\" != \"\$(run_id flat.txt)\" ]"

# ---- what is stored and shown is the resolved spec ----
"$U" run specs/tiny.yaml threads=1 train.steps=20 --db r.db --quiet
check "a short run of the composed spec finishes" "[ \$? -eq 0 ] && [ \"\$(q r.db 'select status from runs')\" = FINISHED ]"
rid=$(q r.db 'select id from runs')
q r.db 'select spec from runs' > stored.yaml
check "the stored spec has no include key" "! grep -q include stored.yaml"
check "the stored spec holds the merged values" \
  "grep -q '^  data: checkerboard\$' stored.yaml && grep -q '^  hidden: \[32, 32\]\$' stored.yaml && grep -q '^  batch: 16\$' stored.yaml && grep -q '^name: runner-tiny\$' stored.yaml"
"$U" show "$rid" --db r.db > show.txt
check "unigfn show names no include" "[ \$? -eq 0 ] && grep -q 'plugin: kl_tb' show.txt && ! grep -q include show.txt"
"$U" run flat.yaml threads=1 train.steps=20 --db r.db > again.txt
check "the flat spec finds the composed spec's run FINISHED" \
  "[ \$? -eq 0 ] && grep -q \"^run $rid is already FINISHED (use --force\" again.txt && [ \"\$(q r.db 'select count(*) from runs')\" = 1 ]"

# ---- errors point at the right file and line (exit 2: spec errors) ----
printf '# a spec on a base that is not there\ninclude:\n  - base/common.yaml\n  - base/nosuch.yaml\n' > specs/missing.yaml
"$U" run specs/missing.yaml --check 2> err.txt
check "a missing include: exit 2, the including file:line and the path tried" \
  "[ \$? -eq 2 ] && [ \"\$(cat err.txt)\" = \"specs/missing.yaml:4:5: include.1: cannot open 'specs/base/nosuch.yaml': No such file or directory\" ]"
printf 'include: b.yaml\nseed: 1\n' > specs/a.yaml
printf 'include: [base/common.yaml, a.yaml]\n' > specs/b.yaml
"$U" run specs/a.yaml --check 2> err.txt
check "an include cycle: exit 2, the chain of files" \
  "[ \$? -eq 2 ] && [ \"\$(cat err.txt)\" = 'specs/b.yaml:1:29: include.1: include cycle: specs/a.yaml -> specs/b.yaml -> specs/a.yaml' ]"
sed 's/batch: 16/batch: -2/' specs/base/train.yaml > specs/base/bad-train.yaml
sed 's/include: train.yaml/include: bad-train.yaml/' specs/base/common.yaml > specs/base/bad.yaml
printf 'include: base/bad.yaml\ntrain: {steps: 10}\n' > specs/bad.yaml
"$U" run specs/bad.yaml --check 2> err.txt
check "a bad value two includes down: exit 2, that file's line and column" \
  "[ \$? -eq 2 ] && [ \"\$(cat err.txt)\" = 'specs/base/bad-train.yaml:1:21: train.batch: must be > 0, got -2' ]"
"$U" run specs/tiny.yaml train.steps=10 model.hidden=[8] train.steps=20 --check 2> err.txt
check "an override given twice: exit 2, names the key" \
  "[ \$? -eq 2 ] && [ \"\$(cat err.txt)\" = \"<command line> 'train.steps=20': override 'train.steps' given twice (first as 'train.steps=10')\" ]"

# ---- +key, ~key and ${key} through the CLI: the resolved spec is the one written out ----
# tiny.yaml without checkpoint_every and with the nll metric deleted, the long way and by hand
sed '/checkpoint_every/d' flat.yaml > lean.yaml
"$U" run flat.yaml '~train.checkpoint_every' --check > del.txt 2>&1
"$U" run lean.yaml --check > lean.txt 2>&1
check "~key deletes a key: the id of the spec without it" \
  "[ -n \"\$(run_id del.txt)\" ] && [ \"\$(run_id del.txt)\" = \"\$(run_id lean.txt)\" ]"
"$U" run lean.yaml +train.checkpoint_every=50 --check > add.txt 2>&1
check "+key adds it back: the flat spec's id" "[ \"\$(run_id add.txt)\" = \"\$(run_id flat.txt)\" ]"
"$U" run flat.yaml +train.checkpoint_every=50 --check 2> err.txt
check "+key on a key the spec writes: exit 2, where it is written and how to change it" \
  "[ \$? -eq 2 ] && [ \"\$(cat err.txt)\" = \"<command line> '+train.checkpoint_every=50': train.checkpoint_every: already in the spec (flat.yaml:23:3); 'train.checkpoint_every=50' changes it\" ]"
"$U" run flat.yaml '~train.chekpoint_every' --check 2> err.txt
check "~key of a key that is not there: exit 2, the closest one" \
  "[ \$? -eq 2 ] && [ \"\$(cat err.txt)\" = \"<command line> '~train.chekpoint_every': train.chekpoint_every: not in the spec, nothing to delete (did you mean 'train.checkpoint_every'?)\" ]"
"$U" run flat.yaml model.hiden=[8] --check 2> err.txt
check "a plain override of a key no schema has: exit 2, the full key to type instead" \
  "[ \$? -eq 2 ] && [ \"\$(cat err.txt)\" = \"<command line> 'model.hiden=[8]': model.hiden: unknown key (did you mean 'model.hidden'?)\" ]"
sed 's/^  eval_every: 100$/  eval_every: ${train.steps}/; s/^    samples: 64$/    samples: "${train.batch}"/' flat.yaml > refs.yaml
sed 's/^  eval_every: 100$/  eval_every: 200/; s/^    samples: 64$/    samples: 16/' flat.yaml > written.yaml
"$U" run refs.yaml --check > refs.txt 2>&1
"$U" run written.yaml --check > written.txt 2>&1
check "\${key} resolves to the value: the id of the spec written out" \
  "[ -n \"\$(run_id refs.txt)\" ] && [ \"\$(run_id refs.txt)\" = \"\$(run_id written.txt)\" ]"
"$U" run refs.yaml threads=1 train.steps=20 --db i.db --quiet
q i.db 'select spec from runs' > stored-refs.yaml
check "the stored spec holds the values, no \${ (eval_every follows the overridden steps)" \
  "! grep -qF '\${' stored-refs.yaml && grep -q '^  eval_every: 20\$' stored-refs.yaml && grep -q '^    samples: 16\$' stored-refs.yaml"
sed 's/^  eval_every: 100$/  eval_every: ${train.step}/' flat.yaml > badref.yaml
"$U" run badref.yaml --check 2> err.txt
check "a reference to a missing key: exit 2, file:line and key, the closest key" \
  "[ \$? -eq 2 ] && [ \"\$(cat err.txt)\" = \"badref.yaml:24:3: train.eval_every: '\\\${train.step}': no key 'train.step' in the spec (did you mean 'train.steps'?)\" ]"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
