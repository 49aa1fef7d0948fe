#!/bin/sh
# run.sh — build the spec fuzzer with clang and run it for $1 seconds (default 30) on a seed corpus
# made from tests/specs. Exits non-zero when libFuzzer reports a crash, a leak or a broken contract.
# FUZZ_WORK=dir keeps the binary, the grown corpus and any crash-* reproducer there (else a temp dir).
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
mkdir -p "$work/corpus" "$work/seeds"
CC=${CC_FUZZ:-clang}

src="$root/core/src"
"$CC" -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$root/core/include" -I"$src" -I"$root/tests" \
    "$root/tests/fuzz/fuzz_spec.c" "$src/spec/config.c" "$src/spec/spec.c" "$src/spec/spec_errors.c" "$src/spec/spec_yaml.c" "$src/spec/spec_override.c" \
    "$src/spec/spec_check.c" "$src/spec/spec_emit.c" "$src/base/sha256.c" "$src/base/status.c" "$src/base/util.c" \
    $(pkg-config --cflags --libs yaml-0.1) -lm -o "$work/fuzz_spec"

# Seeds: every spec as is; a case with overrides as text NUL arg NUL arg ...
for f in "$root"/tests/specs/good/*.yaml "$root"/tests/specs/bad/*.yaml; do
    seed="$work/seeds/$(basename "$f")"
    cp "$f" "$seed"
    args="${f%.yaml}.args"
    if [ -f "$args" ]; then
        while IFS= read -r line; do printf '\0%s' "$line" >> "$seed"; done < "$args"
    fi
done

cd "$work"
rc=0
"$work/fuzz_spec" -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "$work/corpus" "$work/seeds" || rc=$?
if [ "$rc" -ne 0 ]; then
    echo "fuzz_spec failed (exit $rc); reproducer and corpus kept in $work" >&2
elif [ "$cleanup" -eq 1 ]; then
    cd / && rm -rf "$work"
fi
exit "$rc"
