#!/usr/bin/env bash
# CLI tests for bytes-eval: eval.sh CASE
. "$(dirname "$0")/lib.sh"

TWIN="$BYTES_SHARED/bench/torch_flat.py"
model() {  # a small trained model and its data
  head -n 2000 "$BYTES_SHARED/data/tinyshakespeare.txt" >text.txt
  head -n 1800 text.txt >train.txt
  tail -n 200 text.txt >val.txt
  bytes-prep -q --train-input train.txt --val-input val.txt -o d.bds
  bytes-train -q -d d.bds -o run --d-model 64 --layers 2 --ctx 48 --batch 4 --steps 20 --val-every 0
}

case_help() {
  expect_exit 0 bytes-eval --help
  grep -q -- '--conditional' out && grep -q 'bytes-eval(1)' out || fail "help"
  expect_exit 0 bytes-eval --version
}

case_parity_torch() {
  [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import torch' 2>/dev/null || fail "python3-torch is not installed"
  model
  head -c 3000 val.txt >v.txt
  # A model the twin writes evaluates here to the same bpb, and ours evaluates there to ours.
  /usr/bin/python3 "$TWIN" export torch.safetensors --d 64 --layers 2 --ctx 40 --seed 3
  for pair in "torch.safetensors 40" "torch.safetensors 13" "run/model.safetensors 24" "run/model.safetensors 48"; do
    set -- $pair
    theirs=$(/usr/bin/python3 "$TWIN" eval "$1" v.txt --stride "$2")
    ours=$(bytes-eval --json -m "$1" --stride "$2" v.txt | python3 -c 'import json,sys; print(json.load(sys.stdin)["bpb"])')
    python3 -c "import sys; d = abs($theirs - $ours); sys.exit(0 if d < 1e-4 else 1)" \
      || fail "$1 stride $2: torch $theirs, bytes-eval $ours"
  done
}

case_protocol() {
  model
  # Every byte is scored once: the per-byte bits sum to the total, for any stride.
  for s in 1 7 24 48; do
    bytes-eval --json -m run/model.safetensors --stride $s val.txt >total
    bytes-eval -q -m run/model.safetensors --stride $s --per-byte val.txt >bytes.tsv
    [ "$(wc -l <bytes.tsv)" = "$(stat -c %s val.txt)" ] || fail "per-byte lines != bytes"
    python3 - <<'PY' || fail "stride $s: per-byte sum"
import json
t = json.load(open("total"))
s = sum(float(l.split("\t")[2]) for l in open("bytes.tsv"))
n = len(open("bytes.tsv").readlines())
assert abs(s - t["bits"]) <= 5e-5 * n + 1e-5, (s, t)  # per-byte bits are printed to 4 decimals
assert t["bytes"] == len(open("val.txt", "rb").read()) and 0 < t["zstd_bpb"] < 8
PY
  done
  # Stride ctx (no overlap) costs at least as many bits as a small stride (more context) on average.
  a=$(bytes-eval --json -m run/model.safetensors --stride 48 val.txt | python3 -c 'import json,sys; print(json.load(sys.stdin)["bpb"])')
  b=$(bytes-eval --json -m run/model.safetensors --stride 8 val.txt | python3 -c 'import json,sys; print(json.load(sys.stdin)["bpb"])')
  python3 -c "assert $b <= $a + 1e-3, ($a, $b)" || fail "more context made it worse: $a vs $b"
}

case_conditional() {
  model
  printf 'To be, or not to be' >ctx.txt
  printf ', that is the question' >tgt.txt
  cat ctx.txt tgt.txt >both.txt
  python3 -c 'import json; print(json.dumps({"context": open("ctx.txt").read(), "target": open("tgt.txt").read()})); print(json.dumps({"context": "", "target": "abc"}))' >pairs.jsonl
  bytes-eval -q -m run/model.safetensors --conditional pairs.jsonl >scores
  [ "$(wc -l <scores)" = 2 ] || fail "one line per pair"
  bytes-eval -q -m run/model.safetensors --per-byte both.txt >bytes.tsv
  python3 - <<'PY' || fail "conditional bits differ from the per-byte bits of the target"
import json
rows = [json.loads(l) for l in open("scores")]
bits = [float(l.split("\t")[2]) for l in open("bytes.tsv")]
n = len(open("ctx.txt", "rb").read())
assert rows[0]["target_bytes"] == len(bits) - n and rows[0]["line"] == 1
assert abs(rows[0]["bits"] - sum(bits[n:])) < 1e-3, (rows[0], sum(bits[n:]))
assert rows[1]["context_bytes"] == 0 and rows[1]["target_bytes"] == 3
PY
  printf '{"context":"a","target":"b"}\n{"context": 5}\n' >bad.jsonl
  expect_exit 1 bytes-eval -m run/model.safetensors --conditional bad.jsonl
  expect_error_line bytes-eval
  grep -q 'line 2' err || fail "bad JSON line not named"
  expect_exit 1 bytes-eval -m run/model.safetensors --conditional - < <(printf '{"context":"a","target":"b"}\nnot json\n')
  expect_error_line bytes-eval
  grep -q 'line 2' err || fail "malformed line not named"
}

case_pipes() {
  model
  bytes-eval --json -m run/model.safetensors --data d.bds >a
  bytes-prep cat --split val --no-delimiter d.bds | bytes-eval --json -m run/model.safetensors - >b
  python3 -c 'import json; a, b = json.load(open("a")), json.load(open("b")); assert a["bpb"] == b["bpb"], (a, b)' \
    || fail "stdin and --data disagree"
  bytes-eval -m run/model.safetensors --per-byte val.txt 2>err | head -n 3 >/dev/null || reader_stopped "${PIPESTATUS[@]}"
  [ ! -s err ] || grep -q info err || fail "stderr after head closed the pipe: $(cat err)"
  expect_exit 1 sh -c 'bytes-eval -m run/model.safetensors --per-byte val.txt >/dev/full'
  expect_error_line bytes-eval
}

case_streams() {
  model
  # --per-byte lines come out while the input is still open (its windows are scored as their
  # bytes arrive), and they are the lines of the same bytes read from a file.
  mkfifo in
  bytes-eval -q -m run/model.safetensors --per-byte in >lines &
  local pid=$!
  exec 3>in
  head -c 2000 val.txt >&3
  for _ in $(seq 1 300); do [ -s lines ] && break; sleep 0.1; done
  [ -s lines ] || { exec 3>&-; wait $pid; fail "no per-byte line before the input ended"; }
  tail -c +2001 val.txt >&3
  exec 3>&-
  wait $pid || fail "bytes-eval on a pipe failed"
  bytes-eval -q -m run/model.safetensors --per-byte val.txt >whole
  same lines whole
  # --max-bytes scores the first bytes as a document of their own.
  head -c 1000 val.txt >first.txt
  bytes-eval --json -m run/model.safetensors first.txt >a
  bytes-eval --json -m run/model.safetensors --max-bytes 1000 - <val.txt >b
  same a b
}

case_bad_inputs() {
  model
  : >empty.txt
  expect_exit 1 bytes-eval -m run/model.safetensors empty.txt
  expect_error_line bytes-eval
  head -c 1000 run/model.safetensors >cut.safetensors
  echo "not a model" >text.safetensors
  sed 's/"format_version":"[0-9]*"/"format_version":"9"/' run/model.safetensors >v9.safetensors
  for m in cut text v9 missing; do
    expect_exit 1 bytes-eval -m $m.safetensors val.txt
    expect_error_line bytes-eval
  done
  expect_exit 1 bytes-eval -m v9.safetensors val.txt
  grep -q 'version 9' err || fail "version not named: $(cat err)"
  expect_exit 2 bytes-eval -m run/model.safetensors --stride 0 val.txt
  expect_error_line bytes-eval
}

run_case "${1//-/_}"
