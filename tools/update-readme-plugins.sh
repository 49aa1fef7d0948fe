#!/usr/bin/env bash
# update-readme-plugins.sh — rewrite README.md's table of plugins (between <!-- plugins:begin --> and
# <!-- plugins:end -->) from `unigfn plugins --markdown`, so the list of what is implemented is the
# registry's, not a hand-kept one. Usage: tools/update-readme-plugins.sh [path/to/unigfn]
set -euo pipefail
cd "$(dirname "$0")/.."
cli=${1:-build/unigfn}
table=$("$cli" plugins --markdown)
python3 - README.md "$table" <<'PY'
import sys
path, table = sys.argv[1], sys.argv[2]
s = open(path).read()
b, e = "<!-- plugins:begin -->\n", "<!-- plugins:end -->"
i, j = s.index(b) + len(b), s.index(e)
open(path, "w").write(s[:i] + table + "\n" + s[j:])
PY
