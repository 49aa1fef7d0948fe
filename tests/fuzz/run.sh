#!/bin/sh
# run.sh — build the libFuzzer targets with clang under AddressSanitizer + UBSan and run each for $1
# seconds (default 30; CI runs 30): the spec fuzzer (fuzz_spec.c) on a seed corpus made from
# tests/specs, and the checkpoint-loader fuzzer (fuzz_checkpoint.c) on real small checkpoints and
# mutants of them that it writes itself. Exits non-zero when libFuzzer reports a crash, a leak, a hang
# (-timeout) or a broken contract in either. FUZZ_WORK=dir keeps the binaries, the grown corpora and
# any crash-* reproducer there (else a temp dir, removed when all is well).
set -eu
secs=${1:-30}
root=$(cd "$(dirname "$0")/../.." && pwd)
cleanup=0
if [ -n "${FUZZ_WORK:-}" ]; then
    work=$FUZZ_WORK
else
    work=$(mktemp -d)
    cleanup=1
fi
mkdir -p "$work/corpus" "$work/seeds" "$work/ck-corpus" "$work/ck-seeds"
CC=${CC_FUZZ:-clang}
FLAGS="-std=c11 -D_GNU_SOURCE -fno-math-errno -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"

src="$root/core/src"
# every file of spec/ (a new one, such as spec_interp.c, must not break the fuzzer's link)
# shellcheck disable=SC2086
"$CC" $FLAGS -I"$root/core/include" -I"$src" -I"$root/tests" \
    "$root/tests/fuzz/fuzz_spec.c" "$src"/spec/*.c "$src/base/sha256.c" "$src/base/status.c" "$src/base/util.c" \
    $(pkg-config --cflags --libs yaml-0.1) -lm -o "$work/fuzz_spec"
# The loader with the numerics it stands on (parameters, optimizers, tensors, the CPU backend), all
# instrumented.
# shellcheck disable=SC2086
"$CC" $FLAGS -I"$root/core/include" -I"$src" "$root/tests/fuzz/fuzz_checkpoint.c" \
    "$src"/base/*.c "$src"/tensor/*.c "$src"/ops/*.c "$src"/backend/*.c "$src"/backend/cpu/*.c "$src"/nn/*.c \
    $(pkg-config --cflags --libs openblas 2>/dev/null || echo -lopenblas) -lm -lpthread -o "$work/fuzz_checkpoint"

# Seeds: every spec as is; a case with overrides as text NUL arg NUL arg ...
for f in "$root"/tests/specs/good/*.yaml "$root"/tests/specs/bad/*.yaml; do
    seed="$work/seeds/$(basename "$f")"
    cp "$f" "$seed"
    args="${f%.yaml}.args"
    if [ -f "$args" ]; then
        while IFS= read -r line; do printf '\0%s' "$line" >> "$seed"; done < "$args"
    fi
done
# Seeds of the checkpoint fuzzer: written by the fuzzer itself (it knows its model), no input run.
cd "$work"
OPENBLAS_NUM_THREADS=1 UG_FUZZ_SEEDS="$work/ck-seeds" "$work/fuzz_checkpoint" -runs=0 > "$work/ck-seeds.log" 2>&1 || {
    cat "$work/ck-seeds.log" >&2
    echo "fuzz_checkpoint could not write its seeds; kept in $work" >&2
    exit 1
}

rc=0
"$work/fuzz_spec" -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "$work/corpus" "$work/seeds" || rc=$?
[ "$rc" -ne 0 ] && echo "fuzz_spec failed (exit $rc)" >&2
rc2=0
OPENBLAS_NUM_THREADS=1 "$work/fuzz_checkpoint" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "$work/ck-corpus" "$work/ck-seeds" || rc2=$?
[ "$rc2" -ne 0 ] && echo "fuzz_checkpoint failed (exit $rc2)" >&2
[ "$rc" -eq 0 ] && rc=$rc2
if [ "$rc" -ne 0 ]; then
    echo "reproducers (crash-*, leak-*, timeout-*) and corpora kept in $work" >&2
elif [ "$cleanup" -eq 1 ]; then
    cd / && rm -rf "$work"
fi
exit "$rc"
