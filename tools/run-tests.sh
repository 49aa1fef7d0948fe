#!/usr/bin/env bash
# run-tests.sh — build and run the whole test suite (the README's test command; .ci/run calls it).
#   tools/run-tests.sh              release build in build/, every test
#   tools/run-tests.sh --sanitize   AddressSanitizer + UBSan build in build-asan/, every test
# Prints meson's per-test lines and a closing "N passed, N failed" line; exits non-zero on a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build
opts=()
if [[ "${1:-}" == "--sanitize" ]]; then
  dir=build-asan
  opts=(-Db_sanitize=address,undefined -Dbuildtype=debugoptimized -Db_lundef=false)
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
if [[ ! -f "$dir/build.ninja" ]]; then
  meson setup "$dir" "${opts[@]}"
fi
ninja -C "$dir"
set +e
meson test -C "$dir" --print-errorlogs --num-processes 2
rc=$?
set -e
log="$dir/meson-logs/testlog.json"
if [[ -f "$log" ]]; then
  python3 - "$log" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"): p += 1
    elif r == "SKIP": s += 1
    else: f += 1
print(f"tests: {p} passed, {f} failed, {s} skipped")
PY
fi
exit $rc
