#!/usr/bin/env bash
# test_cli_args.sh — the command-line conventions of docs/cli.md (issue 21 item 4), for every command:
#   1. -h prints the usage on stdout and exits 0;
#   2. an unknown option exits 2 saying "unknown option" on the first line, then the synopsis;
#   3. a missing RUN/SPEC/OUT, required option or value, an extra argument, a bad value: exit 2 with the
#      reason on the first line (golden lines); a name the database lacks: exit 1 with did-you-mean;
#   4. --opt=value works as --opt value does, `--` ends the options, options may come before or after
#      the operands, and an override whose value starts with '-' is not taken for an option;
#   5. every example in every command's -h text runs (run with --check, sweep with --dry-run added),
#      on a database of two short runs of the README's first spec, each command in a fresh copy of it.
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"
F="$UG_SOURCE_ROOT/experiments/smoke/first-run.yaml"

# ---- the database the commands work on: two short runs of the first spec, seeds 0 and 1 ----
mkdir base && cd base || exit 1
short=(train.steps=20 train.log_every=5 train.checkpoint_every=10
  'metrics=[{plugin: nll, particles: 2, samples: 100}, {plugin: mmd_rbf, groups: 2, samples: 200}, {plugin: density_png, at_end_only: true, samples: 2000, bins: 32}]')
"$U" run "$F" "${short[@]}" --quiet && "$U" run "$F" seed=1 "${short[@]}" --quiet
check "the two short runs finish" "[ \"\$(q results.db \"select count(*) from runs where status='FINISHED'\")\" = 2 ]"
A=$(q results.db "select id from runs order by created limit 1")
B=$(q results.db "select id from runs order by created limit 1 offset 1")
"$U" tag "$A" baseline > /dev/null
mkdir shards && cp results.db shards/job-0.db && cp results.db shards/job-1.db && cp -r runs shards/runs
ln -s "$UG_SOURCE_ROOT/experiments" experiments
cd "$T" || exit 1
fresh() { rm -rf "$T/w" && cp -a "$T/base" "$T/w" && cd "$T/w"; }
fresh

# ---- 1. -h: the usage on stdout, exit 0, nothing on stderr ----
CMDS=(run resume plugins ls show diff tag note rm sample eval sweep db gc "report" "report table" "report curves"
  "report samples" "report html" export doctor)
for c in "${CMDS[@]}"; do
  # shellcheck disable=SC2086
  "$U" $c -h > out.txt 2> err.txt
  rc=$?
  want="usage: unigfn ${c%% *}"
  check "$c -h: exit 0, the usage on stdout" "[ $rc -eq 0 ] && [ \"\$(head -c ${#want} out.txt)\" = \"$want\" ] && [ ! -s err.txt ]"
done
"$U" sample --help > out.txt 2> err.txt
check "sample --help: the same" "[ $? -eq 0 ] && grep -q '^usage: unigfn sample' out.txt"

# ---- 2. an unknown option: exit 2, the option named on the first line, then the synopsis ----
for c in "${CMDS[@]}"; do
  # shellcheck disable=SC2086
  "$U" $c --bogus > out.txt 2> err.txt
  rc=$?
  check "$c --bogus: exit 2, \"unigfn $c: unknown option '--bogus'\" first, then the synopsis" \
    "[ $rc -eq 2 ] && [ \"\$(head -n 1 err.txt)\" = \"unigfn $c: unknown option '--bogus'\" ] && sed -n 2p err.txt | grep -q '^usage: unigfn ${c%% *}' && [ ! -s out.txt ]"
done

# ---- 3. refusals: exit status and the first line, exactly ----
while IFS='|' read -r want_rc args want; do
  [ -z "$want_rc" ] && continue
  eval "\"\$U\" $args" > out.txt 2> err.txt
  rc=$?
  check "$args: exit $want_rc, '$want'" "[ $rc -eq $want_rc ] && [ \"\$(head -n 1 err.txt)\" = \"\$want\" ]"
done <<EOF
2||unigfn: which command? (the list follows; unigfn COMMAND -h for one)
2|lss|unigfn: unknown command 'lss' (did you mean 'ls'?)
2|ls --db|unigfn: --db needs a value
2|run|unigfn run: which spec? (unigfn run SPEC [key=value ...])
2|run "$F" "$F"|unigfn run: unexpected argument '$F' (one SPEC; overrides are key=value, +key=value or ~key)
2|run "$F" --from $A --init-from $B|unigfn run: --from continues a run, --init-from starts a new one from its parameters: give one of them
2|run "$F" --check=yes|unigfn run: option '--check' takes no value
2|run "$F" --blas-core fast|unigfn run: --blas-core takes 'auto', got 'fast'
2|run "$F" --from|unigfn run: --from needs a value
2|run nosuch.yaml --check|nosuch.yaml: cannot open: No such file or directory
1|run "$F" --from nosuch --check|unigfn: --from: no run 'nosuch' in the database
2|resume|unigfn resume: which run? (unigfn resume RUN; \`unigfn ls\` lists them)
2|resume $A $B|unigfn resume: unexpected argument '$B' (one RUN at a time)
2|resume $A --threads=0|unigfn resume: --threads must be a whole number from 1 to 4096, got '0'
2|plugins --markdown ddpm|unigfn plugins: unexpected argument 'ddpm' (--markdown lists every plugin, not named ones)
1|plugins ddpm nlll|unigfn plugins: no plugin named 'nlll' (did you mean 'nll'?)
2|ls --tag|unigfn ls: --tag needs a value
2|ls $A|unigfn ls: unexpected argument '$A' (ls takes options only; \`unigfn show RUN\` shows one run)
2|ls --metirc nll|unigfn ls: unknown option '--metirc' (did you mean '--metric'?)
1|ls --experiment first-run-ddpm-checkerbord|unigfn ls: no run of experiment 'first-run-ddpm-checkerbord' (did you mean 'first-run-ddpm-checkerboard'?)
2|show|unigfn show: which run? (unigfn show RUN; \`unigfn ls\` lists them)
2|show $A $B|unigfn show: unexpected argument '$B' (one RUN at a time; \`unigfn diff\` compares two)
1|show nosuch|unigfn show: no run in results.db with an id beginning 'nosuch'
2|diff $A|unigfn diff: needs two runs, got 1
2|tag|unigfn tag: which run? (RUN is a run id or a unique prefix of one)
2|tag $A --rm|unigfn tag: --rm needs a value
2|note|unigfn note: which run? (RUN is a run id or a unique prefix of one)
2|rm|unigfn rm: which runs? (RUN is a run id or a unique prefix of one)
2|rm $A --yes=1|unigfn rm: option '--yes' takes no value
2|sample|unigfn sample: which run? (unigfn sample RUN -n N; \`unigfn ls\` lists them)
2|sample $A|unigfn sample: -n is required: how many samples?
2|sample $A -n|unigfn sample: -n needs a value
2|sample $A -n 0|unigfn sample: -n must be a whole number from 1 to 1000000000, got '0'
2|sample $A $B -n 2|unigfn sample: unexpected argument '$B' (one RUN at a time)
2|sample $A -n 2 -x|unigfn sample: unknown option '-x'
1|sample nosuch -n 2|unigfn sample: no run in results.db with an id beginning 'nosuch'
2|eval|unigfn eval: which run? (an id or a unique prefix; \`unigfn ls\` lists them)
2|eval $A $B|unigfn eval: unexpected argument '$B' (one RUN; overrides are key=value, +key=value or ~key)
2|eval $A --only|unigfn eval: --only needs a value
2|sweep|unigfn sweep: which spec? (unigfn sweep SPEC [AXIS ...])
2|sweep "$F" seed|unigfn sweep: unexpected argument 'seed' (one SPEC; axes are key=v1,v2,... or key=a:b)
2|sweep "$F" -j 0|unigfn sweep: -j must be a whole number from 1 to 256, got '0'
2|sweep nosuch.yaml --dry-run|nosuch.yaml: cannot open: No such file or directory
2|db|unigfn db: which subcommand? (unigfn db merge OUT SHARD...)
2|db marge x.db shards/job-0.db|unigfn db: unknown subcommand 'marge' (the one there is: merge)
2|db merge x.db|unigfn db merge: no shards to merge into x.db
1|db merge x.db nosuch.db|unigfn db merge: shard refused: no results database at nosuch.db
2|gc|unigfn gc: --mark-crashed is required (it is what gc does)
2|gc --mark-crashed $A|unigfn gc: unexpected argument '$A' (gc takes options only)
2|gc --mark-crashed --stale=abc|unigfn gc: --stale must be a number of seconds, got 'abc'
2|report|unigfn report: which report? (table, curves, samples or html)
2|report tabel|unigfn report: unknown report 'tabel' (did you mean 'table'?)
2|report table --rows model.pf_var|unigfn report table: --cols is required (the key or keys, joined by ',', of the columns)
2|report table --rows model.pf_var --cols seed|unigfn report table: --metric is required (the metric in the cells)
2|report table --rows model.pf_var --cols seed --metric nll --stat sd|unigfn report table: --stat must be mean_std, sem or ci95, got 'sd'
2|report table --rows model.pf_var --cols seed --metric nll x|unigfn report table: unexpected argument 'x' (a table takes options only)
1|report table --rows model.pf_vr --cols seed --metric nll|unigfn report: no selected run has the key 'model.pf_vr' (did you mean 'model.pf_var'?)
1|report table --rows model.pf_var --cols seed --metric nl|unigfn report: no selected run logged metric 'nl' (did you mean 'nll'?)
2|report curves|unigfn report curves: --metric is required (the metric to draw)
2|report curves --metric loss --log|unigfn report curves: option '--log' is ambiguous: --log-y, --logy, --log-x, --logx
2|report curves --metric loss -o c.gif|unigfn report curves: -o c.gif: unknown picture format '.gif' (use .png, .svg or .pdf)
2|report samples|unigfn report samples: which run? (unigfn report samples RUN; \`unigfn ls\` lists them)
1|report samples nosuch|unigfn report samples: no run in results.db with an id beginning 'nosuch'
2|report html|unigfn report html: which folder? (unigfn report html OUT)
2|report html a b|unigfn report html: unexpected argument 'b' (one folder OUT)
2|export|unigfn export: which runs? (RUN ... or --where K=V; \`unigfn ls\` lists them)
2|export $A --format xml|unigfn export: --format must be csv or jsonl, got 'xml'
1|export nosuch|unigfn export: no run in results.db with an id beginning 'nosuch'
1|export $A --metric los|unigfn export: no selected run logged metric 'los' (did you mean 'loss'?)
2|doctor --seconds|unigfn doctor: --seconds needs a value
2|doctor --seconds=0|unigfn doctor: --seconds must be a number of seconds from 0.01 to 60, got '0'
2|doctor now|unigfn doctor: unexpected argument 'now' (doctor takes options only)
EOF

# ---- 4. --opt=value is --opt value; -- ends the options; options anywhere; values starting with '-' ----
"$U" run "$F" --init-from="$A" train.steps=40 --check > out.txt 2> err.txt
check "run --init-from=RUN: validated from RUN's parameters" "[ $? -eq 0 ] && grep -qF 'parameters from run $A' out.txt"
"$U" run --check "$F" seed=1 > out.txt 2> err.txt
check "run: options before the spec" "[ $? -eq 0 ] && grep -q ': ok (run id ' out.txt"
"$U" run -- "$F" --check > out.txt 2> err.txt
check "run: after --, --check is an argument (refused as one)" \
  "[ $? -eq 2 ] && [ \"\$(head -n 1 err.txt)\" = \"unigfn run: unexpected argument '--check' (one SPEC; overrides are key=value, +key=value or ~key)\" ]"
"$U" run "$F" optim.forward.lr=-1 --check > out.txt 2> err.txt
check "run: an override with a negative value reaches the spec check (exit 2 naming the key)" \
  "[ $? -eq 2 ] && grep -q 'optim.forward.lr' err.txt && ! grep -q 'option' err.txt"
"$U" resume "$A" --threads=2 > out.txt 2> err.txt
check "resume --threads=2 of a FINISHED run: exit 0" "[ $? -eq 0 ] && grep -q 'already FINISHED' err.txt"
"$U" plugins --markdown > md.txt && "$U" plugins --markdown=1 > out.txt 2> err.txt
check "plugins --markdown prints the table; --markdown=1 is refused (takes no value)" \
  "grep -q '^| kind | plugin |' md.txt && [ \"\$(head -n 1 err.txt)\" = \"unigfn plugins: option '--markdown' takes no value\" ]"
"$U" ls --experiment=first-run-ddpm-checkerboard --metric=nll > out.txt
check "ls --experiment=NAME --metric=nll: both runs, an nll column" "[ \$? -eq 0 ] && [ \$(grep -c FINISHED out.txt) -eq 2 ] && head -n 1 out.txt | grep -qw nll"
"$U" show -- "$A" > out.txt
check "show -- RUN" "[ \$? -eq 0 ] && grep -q \"^run        $A\" out.txt"
"$U" diff -- "$A" "$B" > out.txt
check "diff -- RUN RUN" "[ \$? -eq 0 ] && grep -q 'seed' out.txt"
"$U" tag "$A" --rm=baseline > out.txt
check "tag --rm=TAG removes it" "[ \$? -eq 0 ] && [ -z \"\$(q results.db \"select tag from tags where run='$A'\")\" ]"
"$U" note "$A" -- --not-an-option > /dev/null && "$U" note "$A" > out.txt
check "note: words after RUN are text, whatever they start with" "[ \"\$(cat out.txt)\" = '-- --not-an-option' ]"
"$U" sample "$A" -n 3 --seed=5 > s5a.txt && "$U" sample "$A" --seed 5 -n3 > s5b.txt && "$U" sample "$A" -n 3 > s0.txt
check "sample --seed=5 is --seed 5 (and -n3 is -n 3), not seed 0" "[ \$(wc -l < s5a.txt) -eq 3 ] && cmp -s s5a.txt s5b.txt && ! cmp -s s5a.txt s0.txt"
"$U" eval "$A" --only=nll > out.txt
check "eval --only=nll: the nll line only" "[ \$? -eq 0 ] && [ \$(wc -l < out.txt) -eq 1 ] && grep -q ' nll:' out.txt"
"$U" sweep "$F" --zip=seed=0,1 --zip optim.forward.lr=1e-3,3e-4 -j2 --dry-run > out.txt
check "sweep --zip=AXIS, --zip AXIS, -j2: two zipped jobs" "[ \$? -eq 0 ] && grep -q '2 jobs over 2 axes' out.txt && grep -q 'seed=1 optim.forward.lr=3e-4' out.txt"
"$U" sweep "$F" --slurm-opt --time=01:00:00 --slurm-dir=sl --no-submit seed=0:2 > out.txt
check "sweep --slurm-opt VALUE starting with '-', --slurm-dir=DIR" "[ \$? -eq 0 ] && grep -qx '#SBATCH --time=01:00:00' sl/sweep.sbatch"
"$U" gc --mark-crashed --stale=3600 > out.txt
check "gc --stale=3600" "[ \$? -eq 0 ] && grep -q 'no heartbeat for 3600 s' out.txt"
"$U" report table --rows=model.pf_var --cols=seed --metric=nll --format=csv -o t.csv 2> /dev/null
check "report table --rows=K --cols=K --metric=M --format=csv" "[ \$? -eq 0 ] && head -n 1 t.csv | grep -q seed"
"$U" report curves --metric=loss --log-y -o c.svg > /dev/null
check "report curves --metric=loss -o c.svg" "[ \$? -eq 0 ] && head -c 200 c.svg | grep -q '<svg'"
"$U" report samples "$A" -n 100 --bins=16 -o s.png > /dev/null
check "report samples -n 100 --bins=16" "[ \$? -eq 0 ] && [ -s s.png ]"
"$U" report html --title=first --points=50 h > /dev/null
check "report html --title=T --points=N OUT (options before OUT)" "[ \$? -eq 0 ] && grep -q '<title>first' h/index.html"
"$U" export "$A" --metric=loss --format=jsonl > out.txt
check "export --metric=loss --format=jsonl" "[ \$? -eq 0 ] && [ \$(grep -c '\"metric\": \"loss\"' out.txt) -eq \$(wc -l < out.txt) ] && [ -s out.txt ]"
"$U" db merge m.db shards/job-0.db shards/job-1.db > out.txt
check "db merge OUT SHARD SHARD" "[ \$? -eq 0 ] && [ \"\$(q m.db 'select count(*) from runs')\" = 2 ]"
"$U" rm "$B" --yes > out.txt
check "rm RUN --yes" "[ \$? -eq 0 ] && [ \"\$(q results.db 'select count(*) from runs')\" = 1 ]"

# ---- 5. every example of every -h runs ----
# examples CMD...: the lines after "examples:" in `unigfn CMD -h`, a trailing backslash joining two
examples() {
  "$U" "$@" -h | sed -n '/^examples:$/,$p' | sed 1d | sed -e :a -e '/\\$/N; s/\\\n *//; ta' | sed -n 's/^  unigfn /unigfn /p'
}
unigfn() { "$U" "$@"; }
for c in run resume plugins ls show diff tag note rm sample eval sweep db gc report "report html" export doctor; do
  # shellcheck disable=SC2086
  mapfile -t ex < <(examples $c)
  check "$c -h has examples" "[ ${#ex[@]} -ge 1 ]"
  fresh
  for e in "${ex[@]}"; do
    line=${e//RUN_A/$A}
    line=${line//RUN_B/$B}
    line=${line//RUN/$A}
    case $c in
      run) [[ $line == *--check* ]] || line="$line --check" ;;
      sweep) [[ $line == *--dry-run* ]] || line="$line --dry-run" ;;
    esac
    eval "$line" > out.txt 2> err.txt
    rc=$?
    # doctor's 1 is its advice (the BLAS is slow here), not a refusal
    if [ $c = doctor ]; then ok="[ $rc -le 1 ] && grep -q '^unigfn doctor' out.txt"; else ok="[ $rc -eq 0 ]"; fi
    eval "$ok" || sed 's/^/    /' err.txt | head -n 5
    check "example of $c -h: $e (exit $rc)" "$ok" && echo "ran: $line (exit $rc)"
  done
done
cd "$T" || exit 1

echo "test_cli_args: $pass passed, $fail failed"
[ $fail -eq 0 ]
