#!/usr/bin/env bash
# CLI tests for bytes-train: train.sh CASE
. "$(dirname "$0")/lib.sh"

tiny="--d-model 64 --layers 1 --ctx 32 --batch 4 --val-bytes 2K --val-every 10 --log-every 5"
case_help() {
  expect_exit 0 bytes-train --help
  grep -q -- '--resume' out && grep -q 'bytes-train(1)' out || fail "help lacks --resume or the man page"
  expect_exit 0 bytes-train --version
  grep -Eq '^bytes-train [0-9.]+$' out || fail "version line"
}

case_usage_errors() {
  dataset
  for args in "-d d.bds -o r" "-d d.bds -o r --steps 0" "-d d.bds -o r --steps 5 --d-model 100" \
              "-d d.bds -o r --time 0" "-d d.bds -o r --bytes 0" "-d d.bds -o r --time soon" \
              "-d d.bds -o r --steps 5 --precision f8" "-o r --steps 5" "-d d.bds -o r --steps 5 --lr -1"; do
    # shellcheck disable=SC2086
    expect_exit 2 bytes-train $args
    expect_error_line bytes-train
  done
  [ ! -e r ] || fail "a usage error created the run directory"
}

case_tiny_run() {
  dataset
  bytes-train $tiny -d d.bds -o run --steps 30 --json >report 2>log || { cat log; fail "training failed"; }
  for f in model.safetensors state.bin config.toml metrics.jsonl; do [ -s run/$f ] || fail "run/$f missing"; done
  # The fixed log line, when stderr is not a terminal.
  grep -Eq '^bytes-train: info: step 30/30 train_bpb [0-9]+\.[0-9]{4} val_bpb [0-9]+\.[0-9]{4} bytes/s [0-9]+ ms/step [0-9.]+ lr [0-9.e+-]+$' log \
    || { cat log; fail "no final log line of the fixed form"; }
  python3 - <<'PY' || fail "metrics"
import json
rows = [json.loads(l) for l in open("run/metrics.jsonl")]
assert [r["step"] for r in rows] == [5, 10, 15, 20, 25, 30], rows
assert all(k in rows[-1] for k in ("bytes", "train_bpb", "val_bpb", "lr", "bytes_per_s", "seconds")), rows[-1]
assert rows[-1]["bytes"] == 30 * 4 * 32
# Learning is happening: uniform over 258 symbols is 8.01 bits.
assert rows[-1]["train_bpb"] < rows[0]["train_bpb"] < 8.1, rows
assert 3.0 < rows[-1]["val_bpb"] < 7.9, rows[-1]
rep = json.load(open("report"))
assert rep["step"] == 30
PY
  # The config file repeats the run exactly.
  bytes-train -q --config run/config.toml -o again
  same run/model.safetensors again/model.safetensors
  # The model evaluates, and its val bpb matches the validation done in training.
  bytes-eval --json -m run/model.safetensors --data d.bds --max-bytes 2K >ev
  python3 -c '
import json
e = json.load(open("ev")); last = [json.loads(l) for l in open("run/metrics.jsonl")][-1]
assert abs(e["bpb"] - last["val_bpb"]) < 1e-3, (e, last)' || fail "bytes-eval disagrees with the run's validation"
}

case_resume_exact() {
  dataset
  args="$tiny -d d.bds --steps 300 --checkpoint-every 20 --val-every 100 --log-every 1"
  bytes-train -q $args -o straight
  bytes-train -q $args -o cut 2>err &
  pid=$!
  for _ in $(seq 1 200); do [ -s cut/state.bin ] && break; sleep 0.05; done
  kill -TERM $pid
  code=0
  wait $pid || code=$?
  [ "$code" = 143 ] || fail "SIGTERM: exit $code, expected 143"
  grep -q SIGTERM err || fail "no word of the signal"
  step=$(python3 -c 'import json; print([json.loads(l) for l in open("cut/metrics.jsonl")][-1]["step"])')
  [ "$step" -lt 300 ] || fail "the run finished before the signal; nothing was tested"
  # The signal's checkpoint holds the last logged step: nothing done before the signal is lost.
  saved=$(python3 -c '
import struct
d = open("cut/state.bin", "rb").read()
n = struct.unpack_from("<I", d, 12)[0]
print(struct.unpack_from("<q", d, 16 + n)[0])')
  [ "$saved" = "$step" ] || fail "checkpoint at step $saved, but the run got to step $step"
  bytes-train -q --resume -o cut
  same straight/model.safetensors cut/model.safetensors
  diff <(cut -d, -f1-3 straight/metrics.jsonl) <(cut -d, -f1-3 cut/metrics.jsonl) >/dev/null \
    || fail "metrics of the resumed run differ"
}

case_refuse_existing() {
  dataset
  bytes-train -q $tiny -d d.bds -o run --steps 2
  expect_exit 1 bytes-train $tiny -d d.bds -o run --steps 2
  expect_error_line bytes-train
  grep -q -- '--resume' err || fail "error does not mention --resume"
  expect_exit 1 bytes-train --resume -o nothing-here -d d.bds --steps 2
  expect_error_line bytes-train
  # Resuming with another model shape is refused.
  expect_exit 1 bytes-train --resume -o run -d d.bds --steps 4 --d-model 128
  expect_error_line bytes-train
}

case_bad_inputs() {
  dataset
  head -c 500 d.bds >cut.bds
  expect_exit 1 bytes-train $tiny -d cut.bds -o r --steps 2
  expect_error_line bytes-train
  echo "text" >notdata.bds
  expect_exit 1 bytes-train $tiny -d notdata.bds -o r --steps 2
  expect_error_line bytes-train
  bytes-prep -q --val-input val.txt -o valonly.bds
  expect_exit 1 bytes-train $tiny -d valonly.bds -o r --steps 2
  expect_error_line bytes-train
  grep -q 'train split' err || fail "empty train split not named"
  # A context far beyond memory is refused before any work.
  expect_exit 1 bytes-train -d d.bds -o huge --steps 2 --ctx 4000000 --batch 512
  expect_error_line bytes-train
  grep -q 'memory' err || fail "memory refusal does not say why"
  [ ! -e huge ] || fail "refused run left a directory"
}

run_case "${1//-/_}"
