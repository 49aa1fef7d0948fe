#!/usr/bin/env bash
# test_doctor.sh — `unigfn doctor` and the BLAS fields end to end. Every invocation sets or removes
# OPENBLAS_CORETYPE itself, so the outcome does not depend on the caller's environment. OpenBLAS picks
# its Prescott (SSE3) kernels when told to, which is the slow case of issue 22 on any AVX2/AVX-512 CPU:
#   - as OpenBLAS chooses (or, where it chooses badly, with doctor's remedy applied): exit 0;
#   - OPENBLAS_CORETYPE=Prescott: exit 1, a verdict and the exact `export OPENBLAS_CORETYPE=X` line; X
#     applied: exit 0 and a higher measured sgemm rate;
#   - run rows record the BLAS; `run` warns once with Prescott and not with X; a sweep warns once for all
#     its jobs; `run --blas-core auto` runs on a verified core and records it.
# Without AVX2 there is no slow case to make: the test says so and exits 77 (skipped) after the rest.
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"
unset UNIGFN_BLAS_CORE UNIGFN_BLAS_CHECKED
D() { "$U" doctor --seconds 0.2 "$@"; }
rate_now() { sed -n 's/^  as now ([^)]*) *[A-Za-z0-9_]* *\([0-9.]*\) .*/\1/p' "$1"; }

# 1. The probe line a child prints, and the usage.
env OPENBLAS_CORETYPE=Prescott "$U" doctor --probe --seconds 0.05 > probe.txt
check "probe exits 0 with one parsable line" "[ $? -eq 0 ] && grep -qE '^probe core=Prescott gflops=[0-9.]+ max_err=[0-9.e+-]+ threads=[0-9]+$' probe.txt"
"$U" doctor --seconds 0 > /dev/null 2> err.txt
check "a bad --seconds exits 2" "[ $? -eq 2 ] && grep -q \"seconds must be a number of seconds from 0.01 to 60, got '0'\" err.txt"

# 2. As OpenBLAS chooses: all well, or doctor's remedy makes it so.
env -u OPENBLAS_CORETYPE "$U" doctor --seconds 0.2 > unset.txt
rc=$?
if ! grep -q '^blas      OpenBLAS' unset.txt; then
  echo "SKIP: the BLAS is not OpenBLAS here ($(sed -n 's/^blas *//p' unset.txt)): no kernel set to choose"
  exit 77
fi
isa=$(sed -n 's/^cpu .*): isa \([a-z0-9]*\);.*/\1/p' unset.txt)
check "doctor names the CPU's ISA" "[ -n '$isa' ]"
check "a table row per candidate, each checked ok" "[ \$(grep -cE '^  [A-Za-z]+ +[A-Za-z]+ +[0-9.]+ +[0-9.e+-]+  ok$' unset.txt) -ge 1 ]"
good=""
if [ $rc -eq 0 ]; then
  check "unset: the verdict is ok, with no remedy" "grep -q '^verdict   ok' unset.txt && ! grep -q '^export OPENBLAS_CORETYPE' unset.txt"
else
  good=$(sed -n 's/^export OPENBLAS_CORETYPE=//p' unset.txt)
  echo "note: OpenBLAS chooses badly here by itself; doctor's remedy: OPENBLAS_CORETYPE=$good"
  env OPENBLAS_CORETYPE="$good" "$U" doctor --seconds 0.2 > remedied.txt
  check "unset is slow here, and with doctor's remedy doctor exits 0" "[ $? -eq 0 ] && [ -n '$good' ]"
fi

if [ "$isa" != avx2 ] && [ "$isa" != avx512 ]; then
  echo "$pass passed, $fail failed"
  echo "SKIP: this CPU's ISA is '$isa', not AVX2 or AVX-512: Prescott is not far below it, so there is no slow case to test"
  [ $fail -eq 0 ] && exit 77
  exit 1
fi

# 3. Prescott on an AVX2/AVX-512 CPU: slow, with the remedy; the remedy applied is fast and all well.
env OPENBLAS_CORETYPE=Prescott "$U" doctor --seconds 0.2 > bad.txt
check "Prescott: doctor exits 1" "[ $? -eq 1 ]"
check "Prescott: the verdict says slow, names the kernel and the CPU" "grep -q '^verdict   slow: OpenBLAS runs its Prescott kernels (sse) on this $isa CPU' bad.txt"
fix=$(sed -n 's/^export OPENBLAS_CORETYPE=//p' bad.txt)
check "Prescott: exactly one remedy line, a verified core of this CPU" "[ \$(grep -c '^export OPENBLAS_CORETYPE=' bad.txt) -eq 1 ] && grep -qE '^  $fix +$fix +[0-9.]+ +[0-9.e+-]+  ok$' bad.txt"
check "Prescott: the remedy is put as an environment line" "grep -q '^put this line in your environment' bad.txt"
env OPENBLAS_CORETYPE="$fix" "$U" doctor --seconds 0.2 > fixed.txt
check "with the remedy ($fix) doctor exits 0" "[ $? -eq 0 ] && grep -q '^verdict   ok' fixed.txt"
slow_rate=$(rate_now bad.txt)
fast_rate=$(rate_now fixed.txt)
check "the remedy raises the measured sgemm rate ($slow_rate -> $fast_rate GFLOP/s)" "python3 -c 'import sys; sys.exit(not float(\"$fast_rate\") > float(\"$slow_rate\"))'"

# 4. Run rows carry the BLAS; the warning comes once with Prescott, never with the remedy.
env OPENBLAS_CORETYPE=Prescott "$U" run "$SPEC/tiny.yaml" train.steps=20 --db r.db --quiet 2> run-bad.txt
check "Prescott run exits 0" "[ $? -eq 0 ]"
check "Prescott run: one warning line with the rate and the remedy" "[ \$(grep -c '^unigfn: warning: OpenBLAS' run-bad.txt) -eq 1 ] && grep -qE 'runs its Prescott kernels \\(sse\\) on this $isa CPU: sgemm [0-9.]+ GFLOP/s on [0-9]+ threads?; try .export OPENBLAS_CORETYPE=[A-Za-z]+.' run-bad.txt"
check "Prescott run: the row records the BLAS" "q r.db 'select blas from runs' | grep -qE '^OpenBLAS [0-9.]+ Prescott threads=[0-9]+ cpu=$isa OPENBLAS_CORETYPE=Prescott$'"
env OPENBLAS_CORETYPE="$fix" "$U" run "$SPEC/tiny.yaml" train.steps=30 --db r.db --quiet 2> run-good.txt
check "run with $fix: no warning" "[ $? -eq 0 ] && ! grep -q 'warning' run-good.txt"
check "run with $fix: the row records it" "q r.db 'select blas from runs where blas like \"%$fix%\"' | grep -qE '^OpenBLAS [0-9.]+ $fix threads=[0-9]+ cpu=$isa OPENBLAS_CORETYPE=$fix$'"
id=$(q r.db "select id from runs where blas like '%Prescott%'")
check "show prints the BLAS line" "\"$U\" show $id --db r.db | grep -q '^blas       OpenBLAS .* Prescott '"

# 5. A sweep warns once, not once per job; its jobs record the BLAS.
env OPENBLAS_CORETYPE=Prescott "$U" sweep "$SPEC/tiny.yaml" train.steps=20 seed=21,22,23 -j 2 --db s.db > sweep.txt 2> sweep-err.txt
check "sweep exits 0" "[ $? -eq 0 ]"
check "sweep: one warning line for all three jobs" "[ \$(grep -c 'warning: OpenBLAS' sweep-err.txt) -eq 1 ] && ! grep -l 'warning' runs/*/sweep.log > /dev/null 2>&1"
check "sweep: every job's row records Prescott" "[ \$(q s.db \"select count(*) from runs where blas like '%Prescott%'\") -eq 3 ]"

# 6. run --blas-core auto (off unless given) runs on a verified core and records the choice.
env OPENBLAS_CORETYPE=Prescott "$U" run "$SPEC/tiny.yaml" train.steps=40 --db a.db --quiet --blas-core auto 2> auto.txt
check "--blas-core auto exits 0 without the warning" "[ $? -eq 0 ] && ! grep -q 'warning' auto.txt && grep -q 'restarting with OPENBLAS_CORETYPE=' auto.txt"
check "--blas-core auto: the row records the core chosen and how" "q a.db 'select blas from runs' | grep -qE '^OpenBLAS [0-9.]+ [A-Za-z]+ threads=[0-9]+ cpu=$isa OPENBLAS_CORETYPE=([A-Za-z]+) blas-core=auto:Prescott->[A-Za-z]+$' && ! q a.db 'select blas from runs' | grep -q 'OpenBLAS [0-9.]* Prescott'"
"$U" run "$SPEC/tiny.yaml" train.steps=40 --db a.db --quiet --blas-core fast 2> err.txt
check "--blas-core takes only auto" "[ $? -eq 2 ] && grep -q \"takes 'auto'\" err.txt"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
