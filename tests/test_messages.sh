#!/usr/bin/env bash
# test_messages.sh — bytes from files never reach the terminal raw (issue 20 item 11): names in a
# checkpoint, keys of a spec, strings of the database (an experiment name, a stored error, a parameter
# value) that hold ESC, C1 controls or broken UTF-8 are shown as \xNN in messages and in `ls`/`show`;
# and the exit on a refused plugin folder frees what it loaded (valgrind, or LeakSanitizer under ASan).
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"

# raw_free FILE: the file is printable UTF-8 lines (no C0 control but newline, no DEL, no C1, no broken UTF-8)
raw_free() {
  python3 - "$1" <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
try:
    t = d.decode("utf-8")
except UnicodeDecodeError:
    sys.exit(1)
sys.exit(1 if any((ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f for c in t) else 0)
PY
}

# ---- 1. a spec whose keys hold control bytes (YAML escapes): the message shows them escaped ----
{
  sed -n '/^model:/q;p' "$SPEC/tiny.yaml"
  printf 'model:\n  plugin: binary_gfn\n  hidden: [32, 32]\n  log_z: false\n  "k\\x9b31m\\e[2J": 1\n'
  sed -n '/^objective:/,$p' "$SPEC/tiny.yaml"
} > keys.yaml
"$U" run keys.yaml --check > out.txt 2> err.txt
check "a spec key with a C1 control and ESC: exit 2, shown escaped" \
  "[ $? -eq 2 ] && grep -qF 'model.k\\xc2\\x9b31m?[2J: unknown key' err.txt && raw_free err.txt"
sed 's/^  plugin: binary_gfn$/  plugin: "binary\\e]0;pwned\\a_gfn"/' "$SPEC/tiny.yaml" > plug.yaml
"$U" run plug.yaml --check > out.txt 2> err.txt
check "a plugin name with ESC and BEL: exit 2, no raw byte in the message" "[ $? -eq 2 ] && grep -q 'binary?\]0;pwned?_gfn' err.txt && raw_free err.txt"

# ---- 2. names inside a checkpoint (hash resealed, so the loader reads them) ----
"$U" run "$SPEC/tiny.yaml" train.steps=20 --db c.db --quiet
rid=$(q c.db 'select id from runs')
ck=runs/$rid/checkpoint.bin
cp "$ck" good.bin
# rename WHAT (group: the first group's name; param: its first parameter's) to bytes of the same length,
# recompute the END hash, and print the name as the loader shows it
mangle() {
  python3 - "$1" "$2" "$3" <<'PY'
import hashlib, struct, sys
src, dst, what = sys.argv[1:]
b = bytearray(open(src, "rb").read())
off = 16
tag, ln = struct.unpack_from("<4sQ", b, off)
assert tag == b"GRUP"
p = off + 12
n = struct.unpack_from("<I", b, p)[0]
if what == "param":
    p += 4 + n + 8 + 4          # past the group's name, count and n_params: the first parameter's name
    n = struct.unpack_from("<I", b, p)[0]
bad = (b"\x1b[2J\xc2\x9b'\xff" + b"x" * n)[:n]
b[p + 4:p + 4 + n] = bad
end = len(b) - 44
assert b[end:end + 4] == b"END\0"
b[end + 12:] = hashlib.sha256(bytes(b[:end])).digest()
open(dst, "wb").write(b)
print("".join(chr(c) if 0x20 <= c < 0x7f and c != 0x27 else "\\x%02x" % c for c in bad))
PY
}
for what in group param; do
  shown=$(mangle good.bin "$ck" $what)
  "$U" sample "$rid" -n 2 --db c.db > out.txt 2> err.txt
  rc=$?
  if [ $what = group ]; then want="group '$shown' is in the file but not in the model"
  else want="parameter 0 of group 'forward' is '$shown'"; fi
  check "a checkpoint whose $what name holds ESC, C1, a quote and a stray byte: exit 1, shown escaped" \
    "[ $rc -eq 1 ] && grep -qF \"\$want\" err.txt && raw_free err.txt"
done
cp good.bin "$ck"
"$U" sample "$rid" -n 2 --db c.db > out.txt
check "the real checkpoint still loads" "[ $? -eq 0 ] && [ \$(wc -l < out.txt) -eq 2 ]"

# ---- 3. strings of the database: an experiment name, a stored error, a parameter value ----
cp c.db h.db
python3 - h.db <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("pragma foreign_keys = off")
bad = "ev\x1b[31mil\u009b2J\udcff".encode("utf-8", "surrogateescape").decode("latin-1")
bad = bad.encode("latin-1")  # bytes: ESC, a UTF-8 C1 control, a stray 0xff
c.execute("update runs set experiment = cast(? as text), error = cast(? as text), spec = 'model: [' || cast(? as text)",
          (bad, b"stored \x1b]0;title\x07 error", bad))
c.execute("insert into experiments(name, created) values(cast(? as text), 0)", (bad,))
c.execute("update params set value = cast(? as text) where key = 'seed'", (b"3\x1b[5m",))
c.commit()
PY
"$U" ls --db h.db > out.txt 2> err.txt
check "ls of a hostile experiment name: exit 0, shown escaped" "[ $? -eq 0 ] && grep -qF 'ev\\x1b[31mil\\xc2\\x9b2J\\xff' out.txt && raw_free out.txt"
"$U" show "$rid" --db h.db > out.txt 2> err.txt
check "show: the experiment, the stored error and the spec escaped" \
  "[ $? -eq 0 ] && grep -qF 'error      stored \\x1b]0;title\\x07 error' out.txt && grep -qF 'model: [ev\\x1b[31m' out.txt && raw_free out.txt"
"$U" sample "$rid" -n 2 --db h.db > out.txt 2> err.txt
check "sample of a run whose stored spec is broken: exit 1, the experiment named without raw bytes" \
  "[ $? -eq 1 ] && grep -qF 'ev?[31mil\\xc2\\x9b2J\\xff' err.txt && raw_free err.txt"
"$U" report table --rows seed --cols name --metric loss --where seed=99 --db h.db > out.txt 2> err.txt
check "report: the values present listed escaped" "[ $? -eq 1 ] && grep -qF 'values present: 3\\x1b[5m' err.txt && raw_free err.txt"
# a misspelt metric: the closest name the runs did log (did-you-mean), and none when nothing is close
"$U" report table --rows seed --cols name --metric los --db c.db > out.txt 2> err.txt
check "report --metric los: exit 1, did you mean 'loss'" "[ $? -eq 1 ] && grep -qF \"no selected run logged metric 'los' (did you mean 'loss'?)\" err.txt"
"$U" report table --rows seed --cols name --metric zzzzzzzz --db c.db > out.txt 2> err.txt
check "report --metric zzzzzzzz: exit 1, no suggestion" "[ $? -eq 1 ] && grep -qF \"no selected run logged metric 'zzzzzzzz'\" err.txt && ! grep -q 'did you mean' err.txt"
# ls --experiment and export --metric of a name the database does not have: exit 1 and the closest name
exp=$(q c.db 'select experiment from runs limit 1')
"$U" ls --experiment "${exp}x" --db c.db > out.txt 2> err.txt
check "ls --experiment ${exp}x: exit 1, did you mean '$exp'" "[ $? -eq 1 ] && grep -qF \"no run of experiment '${exp}x' (did you mean '$exp'?)\" err.txt"
"$U" ls --experiment "$exp" --db c.db > out.txt 2> err.txt
check "ls --experiment $exp: exit 0, its runs" "[ $? -eq 0 ] && [ \$(wc -l < out.txt) -ge 2 ] && [ ! -s err.txt ]"
"$U" export "$rid" --metric los --db c.db > out.txt 2> err.txt
check "export --metric los: exit 1, did you mean 'loss', nothing written" "[ $? -eq 1 ] && grep -qF \"no selected run logged metric 'los' (did you mean 'loss'?)\" err.txt && [ ! -s out.txt ]"
"$U" export "$rid" --metric loss --db c.db > out.txt 2> err.txt
check "export --metric loss: exit 0, rows" "[ $? -eq 0 ] && [ \$(grep -c ',loss,' out.txt) -ge 1 ]"

# ---- 4. a refused plugin folder: exit 1 with the reason, and nothing leaked on the way out ----
mkdir ww && chmod 777 ww   # writable by others, not sticky: refused
want="refusing to load a plugin from a directory writable by other users"
if ldd "$U" 2> /dev/null | grep -q libasan; then
  UNIGFN_PLUGIN_PATH="$T/ww" "$U" plugins > out.txt 2> err.txt
  check "a refused plugin folder: exit 1 with the reason, no leak (LeakSanitizer)" \
    "[ $? -eq 1 ] && grep -qF '$want' err.txt && ! grep -q LeakSanitizer err.txt"
elif command -v valgrind > /dev/null; then
  UNIGFN_PLUGIN_PATH="$T/ww" timeout 600 valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
    --error-exitcode=99 "$U" plugins > out.txt 2> err.txt
  check "a refused plugin folder: exit 1 with the reason, no leak (valgrind)" \
    "[ $? -eq 1 ] && grep -qF '$want' err.txt && ! grep -q 'definitely lost' err.txt"
else
  UNIGFN_PLUGIN_PATH="$T/ww" "$U" plugins > out.txt 2> err.txt
  check "a refused plugin folder: exit 1 with the reason" "[ $? -eq 1 ] && grep -qF '$want' err.txt"
  echo "note: neither ASan nor valgrind here; the leak on the refused-plugin-folder exit is not checked"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
