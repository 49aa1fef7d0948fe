#!/usr/bin/env bash
# test_readme_plugins.sh — README.md's table of what is implemented is exactly `unigfn plugins
# --markdown` (every plugin the build makes, with its version and summary); a plugin added, renamed
# or re-described without tools/update-readme-plugins.sh fails here. Usage: test_readme_plugins.sh UNIGFN README
set -euo pipefail
cli=$1 readme=$2
want=$("$cli" plugins --markdown)
have=$(sed -n '/<!-- plugins:begin -->/,/<!-- plugins:end -->/p' "$readme" | sed '1d;$d')
[[ -n "$have" ]] || { echo "README has no <!-- plugins:begin --> ... <!-- plugins:end --> block"; exit 1; }
if [[ "$want" != "$have" ]]; then
  echo "README's plugin table differs from 'unigfn plugins --markdown' (run tools/update-readme-plugins.sh):"
  diff <(echo "$have") <(echo "$want") || true
  exit 1
fi
# Every kind is there and every row names a plugin the registry lists.
for k in model objective dataset metric; do grep -q "^| $k | " <<<"$have" || { echo "no $k row"; exit 1; }; done
n=$("$cli" plugins | wc -l)
rows=$(grep -c '^| [a-z]* | `' <<<"$have")
[[ $n -eq $rows ]] || { echo "README lists $rows plugins, unigfn plugins $n"; exit 1; }
echo "README's plugin table matches unigfn plugins ($rows plugins)"
