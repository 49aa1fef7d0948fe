# shell_checks.sh — sourced by the shell tests: check NAME EXPR counts passes and prints failures;
# q DB SQL prints query rows as a|b|c (python3's sqlite3, so the tests need no sqlite3 CLI);
# term_after_logs DB N PID sends SIGTERM to a background run once DB holds N loss rows (or after a
# 120 s deadline, far past what a sanitizer build on a loaded machine needs: a count of polls would
# shrink as the machine slows), waits for it and returns its exit status.
pass=0 fail=0
check() {
  if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1  [$2]"; fi
}
q() { python3 -c 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1])
for r in c.execute(sys.argv[2]): print("|".join(str(x) for x in r))' "$@"; }
term_after_logs() {
  local n end=$((SECONDS + 120))
  while [ $SECONDS -lt $end ]; do
    n=$(q "$1" "select count(*) from metrics where key='loss'" 2>/dev/null || echo 0)
    [ "${n:-0}" -ge "$2" ] && break
    sleep 0.05
  done
  kill -TERM "$3"
  wait "$3"
}
