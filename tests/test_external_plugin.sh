#!/usr/bin/env bash
# test_external_plugin.sh — do what docs/plugins.md says, in a temporary directory: install the project
# (DESTDIR), build the doc's two example plugins with the doc's own commands against the installed
# headers and unigfn.pc, and load them through UNIGFN_PLUGIN_PATH. Sources and commands are cut out of
# the doc between its BEGIN/END markers, so the doc cannot drift from what works.
#
#   test_external_plugin.sh PLUGIN_PROBE   (env: UG_SOURCE_ROOT, UG_BUILD_ROOT)
set -euo pipefail

probe=$(realpath "${1:?usage: test_external_plugin.sh PLUGIN_PROBE}")
src=${UG_SOURCE_ROOT:?}
build=${UG_BUILD_ROOT:?}
doc="$src/docs/plugins.md"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ug_extplug.XXXXXX")
chmod 700 "$tmp"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The text between <!-- BEGIN name --> and <!-- END name -->, without the code fences.
extract() {
    awk -v name="$1" '
        $0 == "<!-- BEGIN " name " -->" { on = 1; next }
        $0 == "<!-- END " name " -->"   { on = 0; found = 1 }
        on && !/^```/ { print }
        END { if (!found) exit 1 }' "$doc"
}

# 1. Install into $tmp/root (the build's own prefix, under DESTDIR).
destdir="$tmp/root"
meson install -C "$build" --no-rebuild --destdir "$destdir" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "meson install"; }
pc=$(find "$destdir" -name unigfn.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc" ] || fail "no unigfn.pc installed"
prefix=$(pkg-config --variable=prefix "$pc")
pcdir=$(dirname "$pc")
for h in plugin.h api.h api_list.h plugin_api_defs.h model.h objective.h metric.h; do
    [ -f "$destdir$prefix/include/unigfn/$h" ] || fail "header unigfn/$h not installed"
done
[ ! -e "$destdir$prefix/include/unigfn/meson.build" ] || fail "meson.build installed with the headers"
# every helper header an in-tree plugin includes from a shared folder ("../X.h") is installed, so a
# plugin written outside the tree can use what the in-tree ones do (the doc's logvar_tb below does)
helpers=$(grep -rhoE '#include "\.\./[A-Za-z0-9_]+\.h"' "$src/plugins" | sed 's|.*"\.\./||; s|"||' | sort -u)
[ -n "$helpers" ] || fail "found no helper header included by the in-tree plugins"
for h in $helpers; do
    [ -f "$destdir$prefix/include/unigfn/helpers/$h" ] || fail "helper header unigfn/helpers/$h (included by in-tree plugins) not installed"
done
echo "helper headers installed: $(echo $helpers)"
plugindir=$(pkg-config --define-variable=prefix="$destdir$prefix" --variable=plugindir "$pc")
[ -d "$plugindir" ] || fail "plugindir $plugindir does not exist"
libs=$(pkg-config --libs "$pc")
[ -z "$libs" ] || fail "unigfn.pc has Libs ($libs): plugins must not link the core"
echo "installed: prefix $prefix under $destdir; unigfn.pc in ${pcdir#"$destdir"}; plugins in ${plugindir#"$destdir"}"

# 2. The doc's sources and build commands.
work="$tmp/work"
mkdir "$work"
cd "$work"
# shellcheck disable=SC2094  # the argument names a block of the doc, not a file
extract logvar_tb.c >logvar_tb.c || fail "docs/plugins.md has no logvar_tb.c block"
# shellcheck disable=SC2094
extract pf_entropy.c >pf_entropy.c || fail "docs/plugins.md has no pf_entropy.c block"
# shellcheck disable=SC2094
extract build.sh >build.sh || fail "docs/plugins.md has no build.sh block"

# The doc's commands run as written, with three stand-ins: pkg-config finds the temporary
# installation, cc turns warnings into errors, and `unigfn plugins NAME` is the installed CLI when there
# is one (else the loader probe, which does the same search). HOME is the temporary folder.
mkdir -p "$tmp/home"
HOME=$(cd "$tmp/home" && pwd -P)   # the loader reports resolved paths
export HOME
export PKG_CONFIG_PATH="$pcdir"
pkg-config() { command pkg-config --define-variable=prefix="$destdir$prefix" "$@"; }
cc() { command cc -Werror "$@"; }
cli="$destdir$prefix/bin/unigfn"
ran=0
unigfn() {
    ran=$((ran + 1))
    local out
    if [ -x "$cli" ]; then
        out=$("$cli" "$@" 2>&1) || { echo "$out" >&2; fail "installed unigfn $* failed"; }
        echo "$out"
        grep -q -- "$HOME/unigfn-plugins/${*: -1}.so" <<<"$out" || fail "installed unigfn $* does not show ${*: -1}'s file"
    fi
    out=$("$probe" "$@" 2>"$work/probe.err") || { cat "$work/probe.err" >&2; fail "probe $* failed"; }
    echo "$out"
    # the plugin must come from the doc's folder, and nothing from that folder may be refused
    grep -q "file: $HOME/unigfn-plugins/${*: -1}.so" <<<"$out" || fail "${*: -1} not loaded from \$HOME/unigfn-plugins"
    if grep -q "$HOME/unigfn-plugins" "$work/probe.err"; then cat "$work/probe.err" >&2; fail "refusal"; fi
}
echo "--- docs/plugins.md build.sh:"
cat build.sh
echo "---"
# shellcheck disable=SC1091
source ./build.sh
[ "$ran" -eq 2 ] || fail "expected the doc to run 'unigfn plugins' twice, it ran $ran"

# `unigfn plugins NAME` shows what the objective requires of a model (its required_caps)
if [ -x "$cli" ]; then
    "$cli" plugins logvar_tb | grep -qx "  model capabilities it requires (defaults): log_reward" ||
        fail "unigfn plugins logvar_tb does not show the capability it requires"
fi

# 3. The loaded plugins carry the doc's schema and capability.
out=$("$probe" plugins logvar_tb pf_entropy 2>/dev/null)
grep -q "^objective logvar_tb 1.0: " <<<"$out" || fail "logvar_tb descriptor"
grep -q "needs (default config): log_reward" <<<"$out" || fail "logvar_tb required_caps"
grep -Eq "^  batch +int +64 " <<<"$out" || fail "logvar_tb schema"
grep -Eq "^metric pf_entropy 1.0: " <<<"$out" || fail "pf_entropy descriptor"
grep -Eq "^  samples +int +1000 " <<<"$out" || fail "pf_entropy schema"

# 4. The same folder made world-writable is refused with the documented reason.
chmod 777 "$HOME/unigfn-plugins"
err=$("$probe" plugins logvar_tb 2>&1 >/dev/null) && fail "loaded from a 0777 folder"
grep -q "refusing to load a plugin from a directory writable by other users ($HOME/unigfn-plugins mode 0777)" <<<"$err" ||
    { echo "$err" >&2; fail "0777 refusal message"; }
chmod 755 "$HOME/unigfn-plugins"
echo "external plugins: OK"
