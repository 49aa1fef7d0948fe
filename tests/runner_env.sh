# runner_env.sh — sourced by the shell tests of the CLI runner: U (the unigfn CLI), SPEC (the runner
# test specs), the test plugins on the search path, a fresh temporary folder as the working directory
# (removed on exit), and the helpers of shell_checks.sh.
U="$UG_BUILD_ROOT/unigfn"
SPEC="$UG_SOURCE_ROOT/tests/specs/runner"
export UNIGFN_PLUGIN_PATH="$UG_BUILD_ROOT/tests/plugins_test"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
. "$UG_SOURCE_ROOT/tests/shell_checks.sh"
