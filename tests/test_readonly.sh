#!/usr/bin/env bash
# test_readonly.sh — read-only places and databases that are not there (issue 20 items 10 and 11): the
# commands that only read (ls, show, diff, export, report, sample, sweep --dry-run, plugins) work in a folder
# they cannot write and on a database file they cannot write, with the changes still in a -wal and
# without; they never write, upgrade or create a database (`ls --db typo.db`, `ls` in an empty folder),
# and neither do tag, note and rm, which write to one that is there;
# a failed `db merge` leaves no output it created behind, and never removes one that was there.
#
# As root, chmod does not stop writes, so the read-only cases run as an unprivileged user (nobody,
# through setpriv) when there is one that can run the build, else in a read-only bind mount, else they
# are skipped with the reason.
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"
chmod 755 "$T"   # an unprivileged user reads the fixtures in here
sha() { sha256sum "$1" | cut -d' ' -f1; }
listing() { (cd "$1" && find . | LC_ALL=C sort | tr '\n' ' '); }

# ---- a FINISHED run with metrics, an evaluation and a checkpoint ----
mkdir src
"$U" run "$SPEC/tiny.yaml" train.steps=100 --db src/results.db --quiet
rid=$(q src/results.db 'select id from runs')
check "the fixture run FINISHED with a checkpoint" \
  "[ \"\$(q src/results.db 'select status from runs')\" = FINISHED ] && [ -s src/runs/$rid/checkpoint.bin ]"

# Every read-only command on the database in folder $1 (run as "$as" ...): each exits 0 with its output.
read_all() {
  local d=$1 what=$2
  $as "$U" ls --db "$d/results.db" > out.txt 2> err.txt
  check "$what: ls" "[ $? -eq 0 ] && grep -q '^$rid  FINISHED' out.txt && [ ! -s err.txt ]"
  $as "$U" show "${rid:0:6}" --db "$d/results.db" > out.txt 2> err.txt
  check "$what: show" "[ $? -eq 0 ] && grep -q '^status     FINISHED' out.txt && grep -q '^resolved spec:' out.txt"
  $as "$U" diff "${rid:0:6}" "$rid" --db "$d/results.db" > out.txt 2> err.txt
  check "$what: diff" "[ $? -eq 0 ] && grep -q '^spec: the same [0-9]* keys (the same run)\$' out.txt && grep -q '^  loss ' out.txt"
  $as "$U" export "$rid" --metric loss --db "$d/results.db" > out.txt 2> err.txt
  check "$what: export" "[ $? -eq 0 ] && [ \$(grep -c \"^$rid,runner-tiny,loss,\" out.txt) -eq 10 ]"
  $as "$U" report table --rows seed --cols name --metric loss --db "$d/results.db" > out.txt 2> err.txt
  check "$what: report table" "[ $? -eq 0 ] && grep -q '^| seed' out.txt"
  $as "$U" sample "$rid" -n 3 --db "$d/results.db" > out.txt 2> err.txt
  check "$what: sample" "[ $? -eq 0 ] && [ \$(grep -cE '^[01]{32}\$' out.txt) -eq 3 ]"
  $as "$U" sweep "$SPEC/tiny.yaml" seed=3,4 train.steps=100 --dry-run --db "$d/results.db" > out.txt 2> err.txt
  check "$what: sweep --dry-run sees the FINISHED run" \
    "[ $? -eq 0 ] && grep -qE '^0 +$rid +FINISHED +seed=3' out.txt && grep -qE '^1 +[0-9a-f]{16} +- +seed=4' out.txt"
  if [ $png -eq 1 ]; then
    $as "$U" report curves --metric loss -o "$T/out/c.png" --db "$d/results.db" > out.txt 2> err.txt
    check "$what: report curves" "[ $? -eq 0 ] && [ -s $T/out/c.png ]"
    $as "$U" report samples "$rid" -n 64 -o "$T/out/s.png" --db "$d/results.db" > out.txt 2> err.txt
    check "$what: report samples" "[ $? -eq 0 ] && [ -s $T/out/s.png ]"
    rm -f "$T"/out/*.png
  fi
}
mkdir out && chmod 777 out
png=0
"$U" report curves --metric loss -o out/probe.png --db src/results.db > /dev/null 2>&1 && png=1  # built with libpng
rm -f out/probe.png

# ---- 1. how to be without the power to write ----
as=""
mode=""
mounts=""
if [ "$(id -u)" -ne 0 ]; then
  mode=self
elif id nobody > /dev/null 2>&1 && command -v setpriv > /dev/null &&
     setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups test -x "$U" 2> /dev/null &&
     setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups test -r src/results.db 2> /dev/null; then
  as="setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups"
  mode=nobody
else
  mkdir probe
  if mount --bind probe probe 2> /dev/null; then
    mount -o remount,bind,ro probe 2> /dev/null && mode=bind
    umount probe
  fi
fi
# lock DIR / unlock DIR: make DIR and what is in it unwritable for the commands under test, and undo it
lock() {
  chmod -R a-w "$1"
  if [ "$mode" = bind ]; then mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && mounts="$mounts $T/$1"; fi
}
unlock() {
  if [ "$mode" = bind ]; then umount "$1"; mounts=${mounts% $T/$1}; fi
  chmod -R u+w "$1"
}
trap 'for m in $mounts; do umount "$m"; done; cd /; rm -rf "$T"' EXIT
case $mode in
  self) echo "read-only cases run as this user ($(id -un))" ;;
  nobody) echo "read-only cases run as nobody (root ignores chmod)" ;;
  bind) echo "read-only cases run in read-only bind mounts (no unprivileged user can run $U)" ;;
  *) echo "skip: the read-only cases: root, and neither an unprivileged user that can run $U (setpriv) nor a bind mount" ;;
esac

# ---- 2. a read-only folder (chmod 555, files 444): every read-only command works, nothing appears ----
if [ -n "$mode" ]; then
  mkdir ro
  cp -r src/results.db src/runs ro/
  before=$(listing ro)
  lock ro
  read_all ro "read-only folder"
  check "... and the folder is as it was (no -wal, -shm or anything)" "[ \"\$(listing ro)\" = \"$before\" ]"
  unlock ro
fi

# ---- 3. changes still in the -wal, in a read-only folder: read with them (-shm there), refused without ----
mkdir wal
cp -r src/results.db src/runs wal/
python3 - wal/results.db <<'PY'
import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("pragma wal_autocheckpoint=0")
c.execute("insert or ignore into experiments(name, created) values('in-the-wal', 0)")
c.execute("update runs set experiment = 'in-the-wal'")
c.commit()
os._exit(0)  # no close: the change stays in results.db-wal, with results.db-shm beside it
PY
check "the fixture has a -wal with frames and a -shm" "[ -s wal/results.db-wal ] && [ -s wal/results.db-shm ]"
if [ -n "$mode" ]; then
  lock wal
  $as "$U" ls --db wal/results.db > out.txt 2> err.txt
  check "read-only folder, -wal and -shm there: ls shows the change in the -wal" \
    "[ $? -eq 0 ] && grep -q '^$rid  FINISHED .* in-the-wal' out.txt"
  unlock wal
  rm wal/results.db-shm
  lock wal
  $as "$U" ls --db wal/results.db > out.txt 2> err.txt
  check "... without the -shm: exit 1 naming the -wal, not stale rows" \
    "[ $? -eq 1 ] && grep -qF 'unigfn: results db wal/results.db: cannot read it here: wal/results.db-wal holds' err.txt && [ ! -s out.txt ]"
  unlock wal
fi

# ---- 4. a database file this user cannot write, in a folder it can ----
if [ "$mode" = nobody ] || [ "$mode" = self ]; then
  mkdir rofile
  cp -r src/results.db src/runs rofile/
  chmod 444 rofile/results.db
  [ "$mode" = nobody ] && chown nobody rofile
  h=$(sha rofile/results.db)
  read_all rofile "read-only file"
  check "... and the file is unchanged" "[ \"\$(sha rofile/results.db)\" = $h ]"
else
  echo "skip: the read-only file case: root, and no unprivileged user that can run $U"
fi

# ---- 5. an older schema is read as it is, never upgraded by a command that only reads ----
mkdir v1
cp src/results.db v1/
python3 - v1/results.db <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("alter table runs drop column blas")
c.execute("alter table runs drop column init_from")
c.execute("drop table provenance")
c.execute("update meta set value = '1' where key = 'schema_version'")
c.commit()
c.close()
PY
h=$(sha v1/results.db)
"$U" show "$rid" --db v1/results.db > out.txt 2> err.txt
check "show on a schema-1 database: exit 0, blas '-', no provenance rows" "[ $? -eq 0 ] && grep -q '^blas       -\$' out.txt && grep -A1 '^provenance:\$' out.txt | grep -q '^metrics (last):\$'"
"$U" ls --db v1/results.db > out.txt 2> err.txt
check "... ls too" "[ $? -eq 0 ] && grep -q '^$rid  FINISHED' out.txt"
check "... and the file is not upgraded" \
  "[ \"\$(sha v1/results.db)\" = $h ] && [ \"\$(q v1/results.db \"select value from meta where key = 'schema_version'\")\" = 1 ]"
"$U" diff "$rid" "$rid" --db v1/results.db > out.txt 2> err.txt
check "... diff too" "[ $? -eq 0 ] && grep -q '^status  *FINISHED  *FINISHED\$' out.txt"
check "... and the file is still not upgraded" "[ \"\$(sha v1/results.db)\" = $h ]"
current=$(q src/results.db "select value from meta where key = 'schema_version'")
"$U" gc --mark-crashed --db v1/results.db > out.txt 2> err.txt
check "a command that writes (gc) upgrades it (to $current), provenance table and all" \
  "[ $? -eq 0 ] && [ \"\$(q v1/results.db \"select value from meta where key = 'schema_version'\")\" = $current ] && [ \"\$(q v1/results.db \"select count(*) from sqlite_master where name = 'provenance'\")\" = 1 ]"

# ---- 6. no database there: a clear refusal, and nothing created ----
mkdir empty
cd empty || exit 1
for c in "ls" "ls --db typo.db" "show $rid --db typo.db" "export $rid --db typo.db" \
         "report table --rows seed --cols name --metric loss --db typo.db" "sample $rid -n 2 --db typo.db" \
         "report samples $rid --db typo.db" "gc --mark-crashed --db typo.db" "diff $rid $rid --db typo.db" \
         "tag $rid best --db typo.db" "tag $rid --db typo.db" "note $rid text --db typo.db" "note $rid --db typo.db" \
         "rm $rid --yes --db typo.db"; do
  db=typo.db
  case $c in ls) db=results.db ;; esac
  # shellcheck disable=SC2086
  "$U" $c > out.txt 2> err.txt
  rc=$?
  check "$c with no database: exit 1 saying so" \
    "[ $rc -eq 1 ] && grep -qF 'unigfn: no results database at $db (--db PATH names the database;' err.txt"
  rm -f out.txt err.txt
  check "... and creates nothing" "[ -z \"\$(ls -A)\" ]"
done
"$U" resume "$rid" --db typo.db > out.txt 2> err.txt
rc=$?
check "resume with no database: exit 1 saying so" "[ $rc -eq 1 ] && grep -qF 'no results database at typo.db' err.txt"
rm -f out.txt err.txt
check "... and creates nothing" "[ -z \"\$(ls -A)\" ]"
"$U" sweep "$SPEC/tiny.yaml" seed=1,2 --dry-run --db typo.db > out.txt 2> err.txt
check "sweep --dry-run with no database: exit 0, no job run before" "[ $? -eq 0 ] && [ \$(grep -cE '^[01] +[0-9a-f]{16} +- ' out.txt) -eq 2 ]"
rm -f out.txt err.txt
check "... and creates nothing" "[ -z \"\$(ls -A)\" ]"
cd "$T" || exit 1
mkfifo fifo.db
timeout 60 "$U" ls --db fifo.db > out.txt 2> err.txt
check "ls --db FIFO: exit 1 at once, not a hang" "[ $? -eq 1 ] && grep -qF 'unigfn: results db fifo.db: a FIFO, not a database file' err.txt"
"$U" ls --db empty > out.txt 2> err.txt
check "ls --db DIRECTORY: exit 1 saying so" "[ $? -eq 1 ] && grep -qF 'unigfn: results db empty: a directory, not a database file' err.txt"
: > zero.db
"$U" ls --db zero.db > out.txt 2> err.txt
check "ls --db EMPTY-FILE: exit 1, and it stays empty" "[ $? -eq 1 ] && grep -qF 'zero.db is empty' err.txt && [ ! -s zero.db ]"

# ---- 7. db merge: a failed merge removes the output it created, never one that was there ----
printf 'this is not a database, but it is long enough to look like a file header.....\n' > junk.db
"$U" db merge new.db src/results.db missing.db > out.txt 2> err.txt
check "merge with a missing shard: exit 1, nothing created" \
  "[ $? -eq 1 ] && grep -q 'shard refused: no results database at missing.db' err.txt && grep -q 'nothing merged' err.txt && [ ! -e new.db ] && [ ! -s out.txt ]"
"$U" db merge new.db junk.db > out.txt 2> err.txt
check "merge of a file that is not a database: exit 1, nothing created" "[ $? -eq 1 ] && [ ! -e new.db ] && [ ! -e new.db-wal ]"
"$U" db merge src/results.db src/results.db > out.txt 2> err.txt
check "merge of the output into itself: exit 1" "[ $? -eq 1 ] && grep -q 'is the output database itself' err.txt"
# a shard that passes the check but breaks the copy: a run status the output's schema refuses
cp src/results.db bad.db
python3 - bad.db <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("pragma ignore_check_constraints = 1")
c.execute("update runs set status = 'BOGUS'")
c.commit()
c.close()
PY
"$U" db merge new.db bad.db > out.txt 2> err.txt
check "a merge that fails into a new output: exit 1, the output removed" \
  "[ $? -eq 1 ] && grep -q 'CHECK constraint failed' err.txt && grep -qF 'removed new.db, which this merge had created' err.txt && [ -z \"\$(ls new.db* 2> /dev/null)\" ]"
cp src/results.db old.db   # an output without the shard's run, so the copy is tried
python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("pragma foreign_keys = on"); c.execute("delete from runs"); c.commit()' old.db
h=$(sha old.db)
"$U" db merge old.db bad.db > out.txt 2> err.txt
check "... into an output that was there: exit 1, the output kept as it was" \
  "[ $? -eq 1 ] && ! grep -q removed err.txt && [ \"\$(sha old.db)\" = $h ]"
"$U" db merge new.db src/results.db > out.txt 2> err.txt
check "a good merge creates the output" "[ $? -eq 0 ] && [ \"\$(q new.db 'select count(*) from runs')\" = 1 ]"

# ---- 7. a folder the reader can write: reading leaves no -wal/-shm behind, and does not disturb a writer ----
mkdir tidy && cp src/results.db tidy/ && h=$(sha tidy/results.db)
check "the copy has no -wal/-shm" "[ -z \"\$(ls tidy/results.db-* 2> /dev/null)\" ]"
"$U" ls --db tidy/results.db > /dev/null && "$U" show "$rid" --db tidy/results.db > /dev/null &&
  "$U" diff "$rid" "$rid" --db tidy/results.db > /dev/null && "$U" export "$rid" --db tidy/results.db > /dev/null &&
  "$U" report html tidy/html --db tidy/results.db > /dev/null
check "ls, show, diff, export, report html: no -wal/-shm left beside the database" "[ \$? -eq 0 ] && [ -z \"\$(ls tidy/results.db-* 2> /dev/null)\" ]"
check "... and the database file is byte for byte as it was" "[ \"\$(sha tidy/results.db)\" = $h ]"
"$U" run "$SPEC/tiny.yaml" train.steps=400 seed=9 --db tidy/results.db --quiet &
wpid=$!
for i in $(seq 40); do "$U" ls --db tidy/results.db > /dev/null 2>&1; done
wait $wpid
check "a run writing beside 40 readers FINISHED" "[ \$? -eq 0 ] && [ \"\$(q tidy/results.db \"select status from runs where seed=9\")\" = FINISHED ]"
check "... with all its loss rows, and the file intact" \
  "[ \$(q tidy/results.db \"select count(*) from metrics m join runs r on r.id=m.run where r.seed=9 and key='loss'\") -eq 40 ] && [ \"\$(q tidy/results.db 'pragma integrity_check')\" = ok ]"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
