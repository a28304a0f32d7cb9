# Shared by the CLI tests: each test script runs one named case in a fresh folder.
# Every command of a case must succeed (set -e, pipefail, also inside $(...)): a failing check, a
# python3 assert or a program that exits nonzero fails the case, and the trap names the line.
# Expected failures go through expect_exit, 'if CMD; then fail ...; fi' or 'code=0; CMD || code=$?'.
set -Eeuo pipefail
shopt -s inherit_errexit
trap 'echo "FAIL: ${BASH_SOURCE[0]##*/} line $LINENO: $BASH_COMMAND (exit $?)" >&2; exit 1' ERR
B=${BYTES_BIN:?set BYTES_BIN to the folder of the built programs}
: "${BYTES_SOURCE:?set BYTES_SOURCE to the source tree}" "${BYTES_SHARED:?set BYTES_SHARED to the shared folder}"
export PATH="$B:$PATH" NO_COLOR=1 LC_ALL=C
T=$(mktemp -d "${TMPDIR:-/tmp}/bytes-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"

fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_exit CODE CMD...: runs CMD with stdout in out, stderr in err.
expect_exit() {
  local want=$1 got=0; shift
  "$@" >out 2>err || got=$?
  [ "$got" = "$want" ] || { cat err >&2; fail "'$*' exited $got, expected $want"; }
}
# A failure is one line on stderr, in the form 'bytes-X: error: ...'.
expect_error_line() {
  [ "$(wc -l <err)" = 1 ] || { cat err >&2; fail "expected one line on stderr"; }
  grep -q "^$1: error: " err || { cat err >&2; fail "expected '$1: error: ...'"; }
}
same() { cmp -s "$1" "$2" || fail "$1 and $2 differ"; }
# After 'WRITER | READER' where the reader stops early (head), as in
#   WRITER | head -c 10 >out || reader_stopped "${PIPESTATUS[@]}"
# the writer may succeed or end by SIGPIPE as cat would (141); any other status fails, as does a
# failing reader.
reader_stopped() {
  [ "$1" = 0 ] || [ "$1" = 141 ] || fail "the writer exited $1 when its reader stopped early"
  shift
  local s
  for s in "$@"; do [ "$s" = 0 ] || fail "a reader in the pipeline exited $s"; done
}
# d.bds: 2700 lines of tinyshakespeare to train on, the next 300 as the val split (and the texts:
# text.txt, train.txt, val.txt).
dataset() {
  head -n 3000 "$BYTES_SHARED/data/tinyshakespeare.txt" >text.txt
  head -n 2700 text.txt >train.txt
  tail -n 300 text.txt >val.txt
  bytes-prep -q --train-input train.txt --val-input val.txt -o d.bds
}

# Trains with ARGS straight through, and again interrupted by SIGINT after a checkpoint and
# resumed: the two models must be the same bytes.
resume_exact() {
  # shellcheck disable=SC2086
  bytes-train -q $1 -o straight
  # shellcheck disable=SC2086
  bytes-train -q $1 -o cut --checkpoint-every 20 2>/dev/null &
  local pid=$! code=0 step
  for _ in $(seq 1 400); do [ -s cut/state.bin ] && break; sleep 0.05; done
  kill -INT $pid
  wait $pid || code=$?
  [ "$code" = 130 ] || fail "SIGINT: exit $code, expected 130"
  step=$(python3 -c 'import json; print([json.loads(l) for l in open("cut/metrics.jsonl")][-1]["step"])')
  [ "$step" -lt 200 ] || fail "the run finished before the signal; nothing was tested"
  bytes-train -q --resume -o cut
  same straight/model.safetensors cut/model.safetensors
}

# Runs case_NAME and says 'ok' only when it returned 0: a failing command ends the script first.
# The case is called plainly on purpose: inside 'case_x || ...' or 'if case_x' bash ignores set -e.
run_case() {
  declare -F "case_$1" >/dev/null || fail "no such case: $1"
  "case_$1"
  echo "ok: $1"
}
