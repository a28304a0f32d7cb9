#!/usr/bin/env bash
# CLI tests for bytes-gen: gen.sh CASE
. "$(dirname "$0")/lib.sh"

model() {  # a small model trained a little, context 96
  head -n 1500 "$BYTES_SHARED/data/tinyshakespeare.txt" >text.txt
  bytes-prep -q --docs paragraph -o d.bds text.txt
  bytes-train -q -d d.bds -o run --d-model 64 --layers 2 --ctx 96 --batch 4 --steps 30 --val-every 0
}
M=run/model.safetensors

case_help() {
  expect_exit 0 bytes-gen --help
  grep -q -- '--top-p' out && grep -q 'bytes-gen(1)' out || fail "help"
  expect_exit 0 bytes-gen --version
  grep -q '^bytes-gen ' out || fail "version"
}

# Greedy output is, byte for byte, what bytes-eval --per-byte names as most likely.
case_greedy_matches_eval() {
  model
  printf 'First Citizen:\nWe are' >prompt.txt
  for n in 60 300; do  # within one window; and sliding past it (ctx 96)
    bytes-gen -m $M -f prompt.txt -n $n -t 0 --ignore-end >gen.out
    [ "$(stat -c %s gen.out)" = $n ] || fail "-n $n gave $(stat -c %s gen.out) bytes"
    cat prompt.txt gen.out >all.txt
    bytes-eval -q -m $M --per-byte all.txt >bytes.tsv
    P=$(stat -c %s prompt.txt) N=$(stat -c %s all.txt) python3 - <<'PY' || fail "-n $n: greedy differs from eval's argmax"
import os
rows = [l.split("\t") for l in open("bytes.tsv")]
p, n, step = int(os.environ["P"]), int(os.environ["N"]), 48
# bytes-eval anchors a document's last window at its end; generation cannot know the end, so
# beyond the context the last partial stride is predicted from a shorter window (bytes-gen(1)).
checked = n if n <= 96 else n - n % step
bad = [i for i in range(p, checked) if rows[i][1] != rows[i][3].strip()]
assert not bad, bad[:5]
PY
  done
}

case_seeds() {
  model
  bytes-gen -m $M -p 'ROMEO:' -n 200 --ignore-end --seed 1 >a
  bytes-gen -m $M -p 'ROMEO:' -n 200 --ignore-end --seed 1 >b
  bytes-gen -m $M -p 'ROMEO:' -n 200 --ignore-end --seed 2 >c
  same a b
  if cmp -s a c; then fail "seeds 1 and 2 gave the same bytes"; fi
  [ "$(stat -c %s a)" = 200 ] || fail "-n 200"
  # -n N is a prefix of -n 2N: the count never changes what comes first.
  bytes-gen -m $M -p 'ROMEO:' -n 100 --ignore-end --seed 1 >d
  cmp -s d <(head -c 100 a) || fail "-n 100 is not a prefix of -n 200"
}

# bf16 weights (on any CPU): the same bytes for the same seed, a model that is not the f32 one, and
# a precision that does not exist refused.
case_bf16() {
  model
  bytes-gen -m $M -p 'ROMEO:' -n 300 --ignore-end --precision bf16 >a
  bytes-gen -m $M -p 'ROMEO:' -n 300 --ignore-end --precision bf16 >b
  same a b
  [ "$(stat -c %s a)" = 300 ] || fail "-n 300 in bf16"
  # The same seed draws the same uniforms: only probabilities that moved can change a byte.
  bytes-gen -m $M -p 'ROMEO:' -n 300 --ignore-end >c
  cmp -s a c && fail "bf16 weights gave the f32 text byte for byte over 300 sampled bytes"
  expect_exit 2 bytes-gen -m $M -p x --precision f16
  expect_error_line bytes-gen
}

case_pipes() {
  model
  # head closes the pipe: bytes-gen ends at once and says nothing.
  start=$(date +%s)
  bytes-gen -m $M -n -1 --ignore-end 2>err | head -c 10 >out || reader_stopped "${PIPESTATUS[@]}"
  [ "$(stat -c %s out)" = 10 ] || fail "head got $(stat -c %s out) bytes"
  [ ! -s err ] || fail "stderr after head closed the pipe: $(cat err)"
  [ $(($(date +%s) - start)) -lt 20 ] || fail "bytes-gen ran on after head closed the pipe"
  expect_exit 1 bash -c "bytes-gen -m $M -n 20 >/dev/full"
  expect_error_line bytes-gen
  # The prompt is taken as is: NUL bytes and invalid UTF-8 from stdin, a file or -p.
  printf 'a\0b\377\300c' >odd.txt
  bytes-gen -m $M --echo -n 0 <odd.txt >echo.out
  same odd.txt echo.out
  bytes-gen -m $M --echo -n 0 -f odd.txt >echo2.out
  same odd.txt echo2.out
  bytes-gen -m $M --echo -n 5 -p "$(printf 'x\377y')" >echo3.out
  [ "$(head -c 3 echo3.out | od -An -tx1 | tr -d ' ')" = 78ff79 ] || fail "-p bytes changed"
  # stdin as the prompt is the same as the prompt as a file.
  bytes-gen -m $M -n 40 --seed 4 <odd.txt >s1
  bytes-gen -m $M -n 40 --seed 4 -f odd.txt >s2
  same s1 s2
}

case_lines() {
  model
  printf 'KING HENRY\nROMEO\n\nFirst Citizen' >prompts.txt
  bytes-gen -m $M --lines -n 30 --seed 5 <prompts.txt >lines.out
  [ "$(wc -l <lines.out)" = 4 ] || fail "one line per prompt: $(wc -l <lines.out)"
  # Each line is what the prompt gives on its own, ended at its first newline.
  i=0
  while IFS= read -r p; do
    i=$((i + 1))
    bytes-gen -m $M -p "$p" -n 30 --seed 5 --stop '\n' >one
    cmp -s one <(sed -n "${i}p" lines.out | tr -d '\n') || fail "line $i differs from the single prompt"
  done < <(cat prompts.txt; echo)
  # A co-process: each answer arrives before the next prompt is written.
  coproc G { bytes-gen -m $M --lines -n 10 -t 0; }
  echo 'ROMEO' >&"${G[1]}"
  IFS= read -r -t 20 answer <&"${G[0]}" || fail "no answer to the first line before the second"
  exec {G[1]}>&-
  wait $G_PID || fail "co-process exit"
}

case_stop() {
  model
  bytes-gen -m $M -p 'ROMEO:' -n 300 -t 0 --ignore-end >full
  # Stop at a string the greedy text contains: the output is the text before it.
  stop=$(python3 -c 'd = open("full", "rb").read(); print(d[40:43].decode("latin-1"), end="")')
  bytes-gen -m $M -p 'ROMEO:' -n 300 -t 0 --ignore-end --stop "$stop" --stop 'zzzz' >cut
  python3 - "$stop" <<'PY' || fail "--stop"
import sys
full, cut, stop = open("full", "rb").read(), open("cut", "rb").read(), sys.argv[1].encode("latin-1")
assert cut == full[: full.index(stop)], (cut, full)
PY
}

case_utf8_escape() {
  # Random weights write every byte value; --utf8 must mask the ones that break characters.
  /usr/bin/python3 -c 'import torch' 2>/dev/null || fail "python3-torch is not installed"
  /usr/bin/python3 "$BYTES_SHARED/bench/torch_flat.py" export rnd.safetensors --d 64 --layers 1 --ctx 64 --seed 2
  for seed in 1 2 3; do
    bytes-gen -m rnd.safetensors -n 400 --ignore-end --seed $seed -t 2 >raw
    bytes-gen -m rnd.safetensors -n 400 --ignore-end --seed $seed -t 2 --utf8 >u8
    if python3 -c 'open("raw", "rb").read().decode("utf-8")' 2>/dev/null; then
      fail "seed $seed: raw output happened to be UTF-8"
    fi
    python3 -c 'open("u8", "rb").read().decode("utf-8")' || fail "seed $seed: --utf8 output is not UTF-8"
    bytes-gen -m rnd.safetensors -n 400 --ignore-end --seed $seed -t 2 --escape >esc
    python3 - <<'PY' || fail "seed $seed: --escape does not decode back to the raw bytes"
import re, unicodedata
raw, esc = open("raw", "rb").read(), open("esc", "rb").read().decode("utf-8")
assert all(c in "\n\t" or unicodedata.category(c) != "Cc" for c in esc)  # no control characters
back = re.sub(r"\\x([0-9a-f]{2})|\\\\|[^\\]+", lambda m: (chr(int(m[1], 16)) if m[1] else "\\" if m[0] == "\\\\" else m[0].encode().decode("latin-1")), esc)
assert back.encode("latin-1") == raw
PY
  done
}

case_usage_errors() {
  model
  for args in "-n -2" "-t -1" "--top-p 2" "--min-p -0.5" "--top-k 999" "--stop ''" "--repeat-penalty 0" \
              "--stride 0" "-n x" "--lines -p hi" "-p a -f b" "--stop '\\q'" "--bogus"; do
    eval "expect_exit 2 bytes-gen -m $M $args"
    expect_error_line bytes-gen
  done
  expect_exit 2 bytes-gen -p hi
  expect_error_line bytes-gen
}

case_bad_inputs() {
  model
  head -c 5000 $M >cut.safetensors
  printf 'not a model at all' >text.safetensors
  head -c 4000 /dev/urandom >garbage.safetensors
  for m in cut text garbage missing; do
    expect_exit 1 bytes-gen -m $m.safetensors -p hi
    expect_error_line bytes-gen
  done
  expect_exit 1 bytes-gen -m $M -f missing.txt
  expect_error_line bytes-gen
  expect_exit 1 bytes-gen -m $M -f .
  expect_error_line bytes-gen
}

case_interrupt() {
  model
  bytes-gen -m $M -n -1 --ignore-end >out 2>err &
  pid=$!
  sleep 2
  kill -INT $pid
  code=0
  wait $pid || code=$?
  [ $code = 130 ] || fail "SIGINT: exit $code, expected 130"
  [ -s out ] || fail "nothing generated before the signal"
}

run_case "${1//-/_}"
