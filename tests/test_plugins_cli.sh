#!/usr/bin/env bash
# test_plugins_cli.sh — `unigfn plugins NAME` beyond the schema (issue 21 item 7): the model capabilities
# an objective or metric requires and a model's parameter groups and provided capabilities, with the
# defaults and with each setting that changes them, against the golden tests/golden/plugins-needs.txt
# (the in-tree plugins only: the test plugins' datasets would be picked as smaller). Then the messages:
# an unknown name, and a model no installed dataset takes.
#   To accept a deliberate change: tests/test_plugins_cli.sh --update (writes the golden file).
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"
unset UNIGFN_PLUGIN_PATH
GOLDEN="$UG_SOURCE_ROOT/tests/golden/plugins-needs.txt"

for p in binary_gfn ar ddpm tb kl_tb db tbc ebm_cd nll sample_grid; do
  echo "== $p"
  "$U" plugins "$p" | grep -E '^  (parameter groups|capabilities|model capabilities)|^    with '
done > needs.txt
if [ "${1:-}" = --update ]; then cp needs.txt "$GOLDEN"; echo "wrote $GOLDEN"; exit 0; fi
diff -u "$GOLDEN" needs.txt > needs.diff
check "the lines match $GOLDEN" "[ \$? -eq 0 ] || { cat needs.diff; false; }"
check "binary_gfn: log_z: true is its default and log_z: false drops group logZ and capability log_z" \
  "grep -qx '    with log_z: false: groups forward ([0-9]* values), backward ([0-9]* values); provides partial' needs.txt"
check "tb requires log_reward and log_z, and with reward: data only log_z" \
  "grep -qx '  model capabilities it requires (defaults): log_reward, log_z' needs.txt && grep -qx '    with reward: data: log_z' needs.txt"

"$U" plugins nosuch > out.txt 2> err.txt
check "an unknown plugin: exit 1, the message" "[ \$? -eq 1 ] && [ \"\$(cat err.txt)\" = \"unigfn plugins: no plugin named 'nosuch' (unigfn plugins lists them)\" ] && [ ! -s out.txt ]"
# tiny_binary wants a 3-bit binary dataset; the in-tree ones are 2-D, 64 or 784 values
"$U" plugins tiny_binary > tiny.txt
check "a model no installed dataset takes: the schema, and why its groups are not known" \
  "[ \$? -eq 0 ] && grep -q '^  parameter groups and capabilities: not known (no installed dataset builds it with its defaults; ' tiny.txt && grep -q '^  parameters:' tiny.txt"

echo "test_plugins_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
