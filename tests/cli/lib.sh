# Shared by the CLI tests: each test script runs one named case in a fresh folder.
set -u
B=${BYTES_BIN:?set BYTES_BIN to the folder of the built programs}
: "${BYTES_SOURCE:?set BYTES_SOURCE to the source tree}" "${BYTES_SHARED:?set BYTES_SHARED to the shared folder}"
export PATH="$B:$PATH" NO_COLOR=1 LC_ALL=C
T=$(mktemp -d "${TMPDIR:-/tmp}/bytes-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"

fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_exit CODE CMD...: runs CMD with stdout in out, stderr in err.
expect_exit() {
  local want=$1; shift
  "$@" >out 2>err; local got=$?
  [ "$got" = "$want" ] || { cat err >&2; fail "'$*' exited $got, expected $want"; }
}
# A failure is one line on stderr, in the form 'bytes-X: error: ...'.
expect_error_line() {
  [ "$(wc -l <err)" = 1 ] || { cat err >&2; fail "expected one line on stderr"; }
  grep -q "^$1: error: " err || { cat err >&2; fail "expected '$1: error: ...'"; }
}
same() { cmp -s "$1" "$2" || fail "$1 and $2 differ"; }
run_case() {
  declare -F "case_$1" >/dev/null || fail "no such case: $1"
  "case_$1"
  echo "ok: $1"
}
