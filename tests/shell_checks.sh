# shell_checks.sh — sourced by the shell tests: check NAME EXPR counts passes and prints failures;
# q DB SQL prints query rows as a|b|c (python3's sqlite3, so the tests need no sqlite3 CLI).
pass=0 fail=0
check() {
  if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1  [$2]"; fi
}
q() { python3 -c 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1])
for r in c.execute(sys.argv[2]): print("|".join(str(x) for x in r))' "$@"; }
