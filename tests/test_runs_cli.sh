#!/usr/bin/env bash
# test_runs_cli.sh — browsing and tidying runs (issue 21 item 3), as golden outputs: `ls` with status,
# steps done of train.steps, wall time, the params that differ within an experiment, tags and note;
# `diff RUN RUN` (the spec keys that differ, final metrics side by side); `tag` (and --rm), `note`,
# their lines in `show`, `ls --tag`; `rm` with its confirmation (a terminal through a pty, --yes, exit 2
# without either), its refusal of a run a live process holds, and what it deletes (every row, the run
# folder, the emptied experiment); a schema-2 database (before tags and notes) read as it is and
# upgraded by the first tag; merged shards keep their tags; did-you-mean for mistyped runs, tags,
# metrics and commands. Times and metric values are set in the database, so the goldens are exact.
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"
sha() { sha256sum "$1" | cut -d' ' -f1; }

# tty ANSWER CMD...: runs CMD on a pseudo-terminal, types ANSWER at its "[y/N]" prompt, prints what it
# showed and exits with its status
cat > on_pty.py <<'PY'
import os, pty, sys
answer, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
out, sent = b"", False
while True:
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
    if not sent and b"[y/N]" in out:
        os.write(fd, answer.encode() + b"\n")
        sent = True
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode("utf-8", "replace").replace("\r\n", "\n"))
sys.exit(os.WEXITSTATUS(st) if os.WIFEXITED(st) else 99)
PY
tty() { python3 on_pty.py "$@"; }

# ---- the fixture: three override runs of one experiment and one run of another ----
"$U" run "$SPEC/tiny.yaml" train.steps=20 --quiet
"$U" run "$SPEC/tiny.yaml" train.steps=20 seed=4 --quiet
"$U" run "$SPEC/tiny.yaml" train.steps=30 'model.hidden=[16, 16]' --quiet
"$U" run "$SPEC/tiny.yaml" train.steps=20 train.batch=8 name=other-exp --quiet
r1=$(q results.db "select run from params where key = 'train.steps' and value = '20' intersect select run from params where key = 'seed' and value = '3' intersect select run from params where key = 'train.batch' and value = '16'")
r2=$(q results.db "select run from params where key = 'seed' and value = '4'")
r3=$(q results.db "select run from params where key = 'train.steps' and value = '30'")
r4=$(q results.db "select id from runs where experiment = 'other-exp'")
check "the fixture: four runs" "[ \$(q results.db 'select count(*) from runs') -eq 4 ] && [ -n '$r1' ] && [ -n '$r2' ] && [ -n '$r3' ] && [ -n '$r4' ]"
# wall times of 12 s, 3 min 4 s, 1 h 2 min; the fourth RUNNING at step 7, last heartbeat 5.4 s in; fixed losses
python3 - results.db "$r1" "$r2" "$r3" "$r4" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
r1, r2, r3, r4 = sys.argv[2:]
t0 = 1.7e9
for rid, dt, loss in ((r1, 12.2, 1.5), (r2, 184.0, 1.25), (r3, 3720.0, -0.5)):
    c.execute("update runs set started = ?, ended = ?, heartbeat = ? where id = ?", (t0, t0 + dt, t0 + dt, rid))
    c.execute("update summary set last = ?, last_flag = null where run = ? and key = 'loss'", (loss, rid))
c.execute("update runs set status = 'RUNNING', step = 7, started = ?, ended = null, heartbeat = ? where id = ?",
          (t0, t0 + 5.4, r4))
c.execute("delete from summary where run = ?", (r4,))
c.commit()
PY
cp results.db v2.db   # before any tag or note: made a schema-2 database below

# ---- ls: status, steps, wall time, and the params that tell the runs of an experiment apart ----
"$U" ls > out.txt 2> err.txt
rc=$?
cat > want.txt <<EOF
id                status    steps  duration  experiment   loss  params
$r1  FINISHED  20/20  12s       runner-tiny  1.5   model.hidden=[32, 32] seed=3 train.steps=20
$r2  FINISHED  20/20  3m04s     runner-tiny  1.25  model.hidden=[32, 32] seed=4 train.steps=20
$r3  FINISHED  30/30  1h02m     runner-tiny  -0.5  model.hidden=[16, 16] seed=3 train.steps=30
$r4  RUNNING   7/20   5.4s      other-exp
EOF
check "ls: status, steps/total, wall time, loss, the params that differ within runner-tiny" \
  "[ $rc -eq 0 ] && diff -u want.txt out.txt && [ ! -s err.txt ]"
cp want.txt ls-v2.txt
"$U" ls --experiment other-exp > out.txt 2> err.txt
rc=$?
printf 'id                status   steps  duration  experiment  loss\n%s  RUNNING  7/20   5.4s      other-exp\n' "$r4" > want.txt
check "ls --experiment other-exp: its one run, no params (nothing differs), an empty metric cell" \
  "[ $rc -eq 0 ] && diff -u want.txt out.txt"
"$U" ls --experiment other-exp --metric nll > out.txt 2> err.txt
check "ls --metric nll where no listed run logged it: exit 1, nothing close to suggest" \
  "[ $? -eq 1 ] && grep -qxF \"unigfn ls: no listed run logged metric 'nll'\" err.txt"
"$U" ls --metric los > out.txt 2> err.txt
check "ls --metric los: exit 1, did you mean 'loss'" \
  "[ $? -eq 1 ] && grep -qxF \"unigfn ls: no listed run logged metric 'los' (did you mean 'loss'?)\" err.txt && [ ! -s out.txt ]"
"$U" ls --experiment runner-tin > out.txt 2> err.txt
check "ls --experiment runner-tin: exit 1, did you mean" \
  "[ $? -eq 1 ] && grep -qxF \"unigfn ls: no run of experiment 'runner-tin' (did you mean 'runner-tiny'?)\" err.txt"
"$U" ls --bogus > out.txt 2> err.txt
check "ls --bogus: exit 2 naming the option, then the usage" \
  "[ $? -eq 2 ] && [ \"\$(head -1 err.txt)\" = \"unigfn ls: unknown option '--bogus'\" ] && grep -q '^usage: unigfn ls' err.txt"
"$U" ls --tag > out.txt 2> err.txt
check "ls --tag with no value: exit 2 saying so" "[ $? -eq 2 ] && grep -qxF \"unigfn ls: --tag needs a value\" err.txt"

# keys that change together beyond three are shown by the shortest of them, and a note says so
"$U" run "$SPEC/tiny.yaml" train.steps=10 name=swap --db swap.db --quiet
"$U" run "$SPEC/tiny.yaml" train.steps=10 name=swap optim.forward.lr=0.01 optim.forward.eps=1e-6 \
  optim.forward.momentum=0.5 optim.forward.weight_decay=0.1 --db swap.db --quiet
"$U" ls --db swap.db > out.txt 2> err.txt
check "ls: four keys that change together shown by the shortest, with a note" \
  "[ $? -eq 0 ] && [ \$(grep -cE '  optim.forward.lr=0.0(1|01)\$' out.txt) -eq 2 ] && ! grep -q 'eps=' out.txt && [ \"\$(tail -1 out.txt)\" = 'params: optim.forward.lr stands for the 3 keys of swap that change with it (\`unigfn diff\` lists them)' ]"

# ---- tag, note, and what ls and show make of them ----
"$U" tag "${r1:0:8}" best baseline > out.txt 2> err.txt
check "tag RUN best baseline: exit 0, the run's tags sorted" "[ $? -eq 0 ] && [ \"\$(cat out.txt)\" = 'run $r1: tags baseline, best' ]"
"$U" tag "$r2" best > /dev/null
"$U" note "$r1" first try: lr too high, and a long tail of words after it > out.txt 2> err.txt
check "note RUN TEXT...: exit 0, the words joined" \
  "[ $? -eq 0 ] && [ \"\$(cat out.txt)\" = 'run $r1: note set' ] && [ \"\$(q results.db \"select note from runs where id = '$r1'\")\" = 'first try: lr too high, and a long tail of words after it' ]"
"$U" ls > out.txt 2> err.txt
rc=$?
cat > want.txt <<EOF
id                status    steps  duration  experiment   loss  tags           note                      params
$r1  FINISHED  20/20  12s       runner-tiny  1.5   baseline,best  first try: lr too high,…  model.hidden=[32, 32] seed=3 train.steps=20
$r2  FINISHED  20/20  3m04s     runner-tiny  1.25  best                                     model.hidden=[32, 32] seed=4 train.steps=20
$r3  FINISHED  30/30  1h02m     runner-tiny  -0.5                                           model.hidden=[16, 16] seed=3 train.steps=30
$r4  RUNNING   7/20   5.4s      other-exp
EOF
check "ls: tags and the note (cut with an ellipsis)" "[ $rc -eq 0 ] && diff -u want.txt out.txt"
"$U" ls --tag best > out.txt 2> err.txt
rc=$?
cat > want.txt <<EOF
id                status    steps  duration  experiment   loss  tags           note                      params
$r1  FINISHED  20/20  12s       runner-tiny  1.5   baseline,best  first try: lr too high,…  seed=3
$r2  FINISHED  20/20  3m04s     runner-tiny  1.25  best                                     seed=4
EOF
check "ls --tag best: the two tagged runs; of their params only the seed differs" "[ $rc -eq 0 ] && diff -u want.txt out.txt"
"$U" ls --tag best --tag baseline > out.txt 2> err.txt
check "ls --tag best --tag baseline: the run with both" \
  "[ $? -eq 0 ] && [ \$(wc -l < out.txt) -eq 2 ] && grep -q '^$r1  FINISHED' out.txt"
"$U" ls --tag bset > out.txt 2> err.txt
check "ls --tag bset: exit 1, did you mean 'best'" \
  "[ $? -eq 1 ] && grep -qxF \"unigfn ls: no run has the tag 'bset' (did you mean 'best'?)\" err.txt && [ ! -s out.txt ]"
"$U" ls --experiment other-exp --tag best > out.txt 2> err.txt
check "ls --experiment other-exp --tag best: exit 1, no run of it has the tag" \
  "[ $? -eq 1 ] && grep -qxF \"unigfn ls: no run of the experiment has the tag 'best'\" err.txt"
"$U" tag "$r1" --rm bset > out.txt 2> err.txt
check "tag --rm bset: exit 1, did you mean 'best', nothing changed" \
  "[ $? -eq 1 ] && grep -qxF \"unigfn tag: run $r1 has no tag 'bset' (did you mean 'best'?)\" err.txt && [ \$(q results.db \"select count(*) from tags where run = '$r1'\") -eq 2 ]"
"$U" tag "$r1" 'a,b' > out.txt 2> err.txt
check "tag RUN a,b: exit 2, a tag has no commas" \
  "[ $? -eq 2 ] && grep -qxF \"unigfn tag: tag 'a,b' holds a comma; a tag is one word without commas\" err.txt"
"$U" tag "$r1" new --rm baseline > out.txt 2> err.txt
check "tag RUN new --rm baseline: both at once" "[ $? -eq 0 ] && [ \"\$(cat out.txt)\" = 'run $r1: tags best, new' ]"
"$U" tag "$r3" > out.txt 2> err.txt
check "tag RUN with no tag: prints them (none)" "[ $? -eq 0 ] && [ \"\$(cat out.txt)\" = 'run $r3 has no tags' ]"
"$U" note "$r1" > out.txt 2> err.txt
check "note RUN: prints the note" "[ $? -eq 0 ] && [ \"\$(cat out.txt)\" = 'first try: lr too high, and a long tail of words after it' ]"
"$U" show "$r1" > out.txt 2> err.txt
check "show: the tags and the note" \
  "[ $? -eq 0 ] && grep -qx 'tags       best, new' out.txt && grep -qx 'note       first try: lr too high, and a long tail of words after it' out.txt"
"$U" show "$r3" > out.txt 2> err.txt
check "show of a run without: 'tags -', no note line" "[ $? -eq 0 ] && grep -qx 'tags       -' out.txt && ! grep -q '^note' out.txt"
"$U" note "$r2" "" > out.txt 2> err.txt
check "note RUN '': removes it" "[ $? -eq 0 ] && [ \"\$(cat out.txt)\" = 'run $r2: note removed' ]"

# ---- diff: the spec keys that differ, final metrics side by side ----
python3 - results.db "$r1" "$r3" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
a, b = sys.argv[2:]
c.execute("delete from summary where run in (?, ?)", (a, b))
for run, key, v in ((a, "loss", 1.5), (b, "loss", -0.5), (a, "nll", 22.25), (b, "nll", 21.75), (a, "only_a", 3.0),
                    (b, "only_b", float("nan"))):
    c.execute("insert into summary(run, key, last, last_flag, last_step, min, max, n) values(?, ?, ?, ?, 20, 0, 0, 1)",
              (run, key, None if v != v else v, "nan" if v != v else None))
c.commit()
PY
"$U" diff "${r1:0:6}" "$r3" > out.txt 2> err.txt
rc=$?
cat > want.txt <<EOF
            A                                 B
run         $r1                  $r3
experiment  runner-tiny                       runner-tiny
status      FINISHED                          FINISHED
steps       20/20                             30/30
duration    12s                               1h02m
tags        best,new                          -
note        first try: lr too high, and a l…  -

spec: 2 of $(q results.db "select count(*) from params where run = '$r1'") keys differ
  key           A         B
  model.hidden  [32, 32]  [16, 16]
  train.steps   20        30

final metrics (last value logged):
  metric  A         B         B - A
  loss    1.5       -0.5      -2
  nll     22.25     21.75     -0.5
  only_a  3         (absent)  (only in A)
  only_b  (absent)  nan       (only in B)
EOF
check "diff A B: golden" "[ $rc -eq 0 ] && diff -u want.txt out.txt && [ ! -s err.txt ]"
"$U" diff "$r3" "$r4" > out.txt 2> err.txt
check "diff of two experiments: name and the keys only one has, each shown (absent) on the other side" \
  "[ $? -eq 0 ] && grep -qE '^  name +runner-tiny +other-exp\$' out.txt && grep -qE '^  train.batch +16 +8\$' out.txt && grep -qE '^final metrics' out.txt"
"$U" diff "$r2" "$r2" > out.txt 2> err.txt
check "diff of a run with itself: the same keys" "[ $? -eq 0 ] && grep -qE '^spec: the same [0-9]+ keys \\(the same run\\)\$' out.txt"
typo=${r1:0:5}$(printf '%s' "${r1:5:1}" | tr '0-9a-f' '1-9a-f0')
if [ -z "$(q results.db "select id from runs where id like '$typo%'")" ]; then
  "$U" diff "$typo" "$r2" > out.txt 2> err.txt
  check "diff of a mistyped prefix: exit 1, did you mean the run's" \
    "[ $? -eq 1 ] && grep -qxF \"unigfn diff: no run in results.db with an id beginning '$typo' (did you mean '${r1:0:6}'?)\" err.txt && [ ! -s out.txt ]"
fi
"$U" diff zzzzzzzz "$r2" > out.txt 2> err.txt
check "diff of an unknown run: exit 1 saying so" \
  "[ $? -eq 1 ] && grep -qxF \"unigfn diff: no run in results.db with an id beginning 'zzzzzzzz'\" err.txt"
fake=${r1:0:4}ffffffffffff
[ "$fake" = "$r1" ] && fake=${r1:0:4}eeeeeeeeeeee
python3 -c 'import sqlite3, sys
c = sqlite3.connect("results.db"); c.execute("insert into runs(id, experiment, status, created) values(?, ?, ?, 0)", (sys.argv[1], "runner-tiny", "QUEUED")); c.commit()' "$fake"
"$U" diff "${r1:0:4}" "$r2" > out.txt 2> err.txt
check "diff of an ambiguous prefix: exit 1 naming the runs it begins" \
  "[ $? -eq 1 ] && grep -qF \"unigfn diff: run id prefix '${r1:0:4}' is ambiguous: it begins 2 runs (\" err.txt && grep -qF '$fake' err.txt && grep -qF '$r1' err.txt"
"$U" diff "$r1" > out.txt 2> err.txt
check "diff with one run: exit 2" "[ $? -eq 2 ] && grep -qxF 'unigfn diff: needs two runs, got 1' err.txt"
"$U" dif "$r1" "$r2" > out.txt 2> err.txt
check "a mistyped command: exit 2, did you mean 'diff'" "[ $? -eq 2 ] && grep -qxF \"unigfn: unknown command 'dif' (did you mean 'diff'?)\" err.txt"

# ---- rm: confirmation, refusals, and everything of the run gone ----
rows() {  # rows of run $1 in every table that names it
  q results.db "select (select count(*) from runs where id = '$1') + (select count(*) from params where run = '$1') +
    (select count(*) from metrics where run = '$1') + (select count(*) from summary where run = '$1') +
    (select count(*) from artifacts where run = '$1') + (select count(*) from tags where run = '$1')"
}
"$U" rm "$r2" < /dev/null > out.txt 2> err.txt
check "rm without a terminal or --yes: exit 2 with the reason, nothing deleted" \
  "[ $? -eq 2 ] && grep -qxF 'unigfn rm: standard input is not a terminal, so nobody can confirm the deletion; pass --yes to delete without asking' err.txt && [ \$(rows $r2) -gt 0 ] && [ -d runs/$r2 ]"
"$U" rm "$r2" nosuchrun --yes > out.txt 2> err.txt
check "rm of a known and an unknown run: exit 1, nothing deleted" \
  "[ $? -eq 1 ] && grep -qF \"unigfn rm: no run in results.db with an id beginning 'nosuchrun'\" err.txt && [ \$(rows $r2) -gt 0 ] && [ -d runs/$r2 ]"
tty n "$U" rm "$r2" > out.txt
rc=$?
check "rm on a terminal, answered n: exit 1, nothing deleted" \
  "[ $rc -eq 1 ] && grep -qF 'delete 1 run from results.db, with its folder:' out.txt && grep -qE '^  $r2  FINISHED  runner-tiny +step 20  3m04s  runs/$r2' out.txt && grep -q 'nothing deleted' out.txt && [ \$(rows $r2) -gt 0 ] && [ -d runs/$r2 ]"
tty y "$U" rm "${r2:0:8}" > out.txt
rc=$?
check "... answered y: exit 0, deleted" "[ $rc -eq 0 ] && grep -qF 'deleted run $r2 and runs/$r2' out.txt"
check "... every row of it gone (runs, params, metrics, summary, artifacts, tags) and its folder" \
  "[ \$(rows $r2) -eq 0 ] && [ ! -e runs/$r2 ] && [ \$(q results.db 'select count(*) from runs') -eq 4 ]"
"$U" rm "$fake" --yes > out.txt 2> err.txt
check "rm --yes of a run with no folder: exit 0, says so" "[ $? -eq 0 ] && [ \"\$(cat out.txt)\" = 'deleted run $fake (it had no folder)' ]"
"$U" rm "$r4" -y > out.txt 2> err.txt
check "rm -y of a RUNNING row no process holds: deleted, and its experiment with it" \
  "[ $? -eq 0 ] && [ \$(rows $r4) -eq 0 ] && [ ! -e runs/$r4 ] && [ \$(q results.db \"select count(*) from experiments where name = 'other-exp'\") -eq 0 ]"
# a run another process is running: refused, unless --force
"$U" run "$SPEC/tiny.yaml" train.steps=100000 name=live --quiet 2> live.err &
pid=$!
end=$((SECONDS + 120))
until [ "$(q results.db "select count(*) from metrics m join runs r on r.id = m.run where r.experiment = 'live'" 2>/dev/null)" -ge 2 ] 2>/dev/null || [ $SECONDS -ge $end ]; do sleep 0.05; done
live=$(q results.db "select id from runs where experiment = 'live'")
"$U" rm "$live" --yes > out.txt 2> err.txt
check "rm of a run a live process holds: exit 1 naming the process, nothing deleted" \
  "[ $? -eq 1 ] && grep -qF \"unigfn rm: run $live is RUNNING: pid $pid on host \" err.txt && grep -qF 'pass --force' err.txt && [ \$(rows $live) -gt 0 ] && [ -d runs/$live ]"
"$U" rm "$live" --yes --force > out.txt 2> err.txt
check "... --force deletes it anyway, with a warning" \
  "[ $? -eq 0 ] && grep -qF 'warning: run $live is RUNNING by pid $pid' err.txt && [ \$(rows $live) -eq 0 ] && [ ! -e runs/$live ]"
kill -TERM $pid 2> /dev/null
wait $pid
check "... and the process it was under stops (exit non-zero)" "! kill -0 $pid 2> /dev/null"

# ---- a schema-2 database: read as it is, upgraded by the first tag ----
python3 - v2.db <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("drop table tags")
c.execute("alter table runs drop column note")
c.execute("update meta set value = '2' where key = 'schema_version'")
c.commit()
PY
h=$(sha v2.db)
"$U" ls --db v2.db > out.txt 2> err.txt
check "ls of a schema-2 database: exit 0, as before tags and notes" "[ $? -eq 0 ] && diff -u ls-v2.txt out.txt"
"$U" show "$r1" --db v2.db > out.txt 2> err.txt
check "... show: tags -" "[ $? -eq 0 ] && grep -qx 'tags       -' out.txt"
"$U" diff "$r1" "$r3" --db v2.db > out.txt 2> err.txt
check "... diff" "[ $? -eq 0 ] && grep -q '^spec: 2 of ' out.txt && ! grep -q '^tags' out.txt"
"$U" tag "$r1" --db v2.db > out.txt 2> err.txt
check "... tag RUN (only reading)" "[ $? -eq 0 ] && [ \"\$(cat out.txt)\" = 'run $r1 has no tags' ]"
check "... and the file is not changed (not upgraded)" "[ \"\$(sha v2.db)\" = $h ]"
"$U" tag "$r1" old --db v2.db > out.txt 2> err.txt
check "tag on a schema-2 database: upgrades it, and the tag is there" \
  "[ $? -eq 0 ] && [ \"\$(q v2.db \"select value from meta where key = 'schema_version'\")\" = \"\$(q results.db \"select value from meta where key = 'schema_version'\")\" ] && [ \"\$(q v2.db 'select tag from tags')\" = old ]"

# ---- merged shards keep their tags and notes ----
"$U" db merge merged.db results.db v2.db > out.txt 2> err.txt
check "db merge: tags of both databases, the note" \
  "[ $? -eq 0 ] && [ \"\$(q merged.db \"select group_concat(tag) from (select tag from tags where run = '$r1' order by tag)\")\" = 'best,new,old' ] && [ -n \"\$(q merged.db \"select note from runs where id = '$r1'\")\" ]"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
