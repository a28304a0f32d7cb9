#!/usr/bin/env bash
# CLI tests for bytes-perturb: perturb.sh CASE
. "$(dirname "$0")/lib.sh"

text() {  # some lines of tinyshakespeare, with non-ASCII letters and stray bytes mixed in
  head -n 3000 "$BYTES_SHARED/data/tinyshakespeare.txt" >t.txt
  printf 'Crème brûlée für Ångström, naïve café \xff\xfe broken \xe2\x82 end\n' >>t.txt
}

case_help() {
  expect_exit 0 bytes-perturb --help
  grep -q -- '--noise' out && grep -q 'bytes-perturb(1)' out || fail "help"
  expect_exit 0 bytes-perturb --version
  grep -q '^bytes-perturb ' out || fail "version"
  expect_exit 0 bytes-perturb --list
  for n in drop insert substitute adm swap typo repeat randcase upper lower antspeak ws-drop ws-insert \
           diacritics homoglyph inner-permute word-permute word-replace word-delete; do
    grep -q "^$n " out || fail "--list lacks $n"
  done
  [ "$(wc -l <out)" = 19 ] || fail "--list: $(wc -l <out) lines"
}

# The same seed and input give the same bytes: from a file, from a pipe that delivers a few
# bytes at a time, with -o, with other thread settings; another seed gives other bytes.
case_deterministic() {
  text
  chain="-n drop:0.1 -n typo:0.05 -n word-permute:0.1 -n homoglyph:0.05 -n repeat"
  bytes-perturb $chain --seed 3 t.txt >a || fail "file"
  dd if=t.txt bs=7 status=none | bytes-perturb $chain --seed 3 >b || fail "pipe"
  same a b
  OMP_NUM_THREADS=1 bytes-perturb $chain --seed 3 <t.txt >c
  same a c
  bytes-perturb $chain --seed 3 -o d t.txt
  same a d
  head -c 1000 t.txt >part1
  tail -c +1001 t.txt >part2
  bytes-perturb $chain --seed 3 part1 part2 >e
  same a e  # several files are one stream
  bytes-perturb $chain --seed 4 t.txt >f
  if cmp -s a f; then fail "seeds 3 and 4 gave the same output"; fi
  if cmp -s a t.txt; then fail "no noise"; fi
  # Rate 0 is the identity, stray bytes included.
  head -c 100000 /dev/urandom >garbage
  cat t.txt garbage >mixed
  bytes-perturb -n drop:0 -n upper:0 -n word-delete:0 mixed >g
  same g mixed
  bytes-perturb -n swap:0 --unit byte mixed >h
  same h mixed
}

case_report() {
  text
  bytes-perturb -n drop:0.2 -n upper:0.5 --seed 1 --report t.txt >out 2>err || fail "exit $?"
  python3 - <<'PY' || fail "report"
import json
r = json.loads(open("err").read().strip().splitlines()[-1])["report"]
assert [x["noise"] for x in r] == ["drop", "upper"], r
assert r[0]["rate"] == 0.2 and r[1]["rate"] == 0.5
for x in r:
    assert x["units"] > 20000 and abs(x["edit_rate"] - x["rate"]) < 0.01, x
    assert x["edit_rate"] == x["edits"] / x["units"]
PY
  # The report describes the output: drop's edits are the characters that are gone.
  in=$(python3 -c 'import sys; print(len(open("t.txt", "rb").read().decode("utf-8", "replace")))')
  bytes-perturb -n drop:0.2 --report t.txt >out 2>err
  got=$(python3 -c 'print(len(open("out", "rb").read().decode("utf-8", "replace")))')
  edits=$(python3 -c 'import json; print(json.loads(open("err").read())["report"][0]["edits"])')
  [ $((in - got)) = "$edits" ] || fail "dropped $((in - got)) characters, report says $edits"
}

# UTF-8 stays valid; stray bytes pass through; --unit byte works on bytes.
case_units() {
  text
  printf 'Crème brûlée für Ångström\n' >u.txt
  for n in drop insert substitute adm swap typo repeat randcase upper lower antspeak ws-drop ws-insert \
           diacritics homoglyph inner-permute word-permute word-replace word-delete; do
    bytes-perturb -n $n:0.5 u.txt >o || fail "$n"
    python3 -c 'open("o", "rb").read().decode("utf-8")' || fail "$n broke UTF-8"
  done
  o=$(bytes-perturb -n diacritics u.txt)
  [ "$o" = "Creme brulee fur Angstrom" ] || fail "diacritics: $o"
  o=$(bytes-perturb -n upper u.txt)
  [ "$o" = "CRÈME BRÛLÉE FÜR ÅNGSTRÖM" ] || fail "upper: $o"
  o=$(bytes-perturb -n upper --unit byte u.txt)
  [ "$o" = "CRèME BRûLéE FüR ÅNGSTRöM" ] || fail "upper --unit byte: $o"
  printf 'ab\xff\xfecd\xe2\x82' >s.bin
  bytes-perturb -n upper s.bin >o
  printf 'AB\xff\xfeCD\xe2\x82' >want
  same o want
  expect_exit 2 bytes-perturb -n diacritics --unit byte u.txt
  expect_error_line bytes-perturb
}

# --field: only that field changes; records are independent; bad lines name their number.
case_field() {
  cat >pairs.jsonl <<'EOF'
{"id":1,"context":"To be, or not to be, that is the question:","target":" Whether 'tis nobler"}

{"id":2,"context":"Now is the winter of our discontent","target":" Made glorious summer","extra":[1,2]}
{"id":3,"context":"Friends, Romans, countrymen, lend me your ears;","target":" I come to bury Caesar"}
EOF
  bytes-perturb --field context -n drop:0.3 -n upper:0.3 --seed 2 pairs.jsonl >out.jsonl || fail "exit $?"
  python3 - <<'PY' || fail "field"
import json
lines = open("out.jsonl").read().split("\n")
src = open("pairs.jsonl").read().split("\n")
assert len(lines) == len(src) and lines[1] == "", lines
for a, b in zip(src, lines):
    if not a:
        continue
    a, b = json.loads(a), json.loads(b)
    assert list(a) == list(b), (a, b)
    assert a["context"] != b["context"]
    assert {k: v for k, v in a.items() if k != "context"} == {k: v for k, v in b.items() if k != "context"}
PY
  # The third record's noise does not depend on the records before it.
  sed -n 4p pairs.jsonl >third.jsonl
  printf '{"context":"x"}\n{"context":"y"}\n' >two.jsonl
  cat two.jsonl two.jsonl >four.jsonl
  { cat two.jsonl; cat third.jsonl; } >a.jsonl
  { printf '{"context":"something much longer than x, with many more words"}\n{"context":"y"}\n'; cat third.jsonl; } >b.jsonl
  bytes-perturb --field context -n drop:0.3 --seed 2 a.jsonl | sed -n 3p >a.out
  bytes-perturb --field context -n drop:0.3 --seed 2 b.jsonl | sed -n 3p >b.out
  same a.out b.out
  # Bad records: an error naming the line, exit 1; with -o nothing is written.
  printf '{"context":"fine"}\n{"context":"fine"}\nnot json\n' >bad1.jsonl
  printf '{"context":"fine"}\n{"target":"no context"}\n' >bad2.jsonl
  printf '{"context":42}\n' >bad3.jsonl
  printf '["context"]\n' >bad4.jsonl
  printf '{"context":"cut\n' >bad5.jsonl
  # Nested too deep to write back out (it overflowed the stack: a crash, exit 139).
  python3 -c 'print("{\"context\":\"x\"}"); print("{\"context\":\"a\",\"x\":" + "[" * 300000 + "]" * 300000 + "}")' >bad6.jsonl
  for f in bad1:3 bad2:2 bad3:1 bad4:1 bad5:1 bad6:2; do
    expect_exit 1 bytes-perturb --field context -n drop ${f%:*}.jsonl -o o.jsonl
    expect_error_line bytes-perturb
    grep -q "line ${f#*:} of ${f%:*}.jsonl" err || fail "$f: $(cat err)"
    [ ! -e o.jsonl ] || fail "$f: -o left a file"
  done
  # On stdout the records before the bad line are whole, and nothing of it is written.
  expect_exit 1 bytes-perturb --field context -n drop:0 bad1.jsonl
  [ "$(wc -l <out)" = 2 ] && [ "$(tail -c 1 out | od -An -c | tr -d ' ')" = '\n' ] || fail "partial record on stdout"
  expect_exit 2 bytes-perturb --field context --unit byte -n drop pairs.jsonl
  expect_error_line bytes-perturb
}

case_pipes() {
  text
  for i in $(seq 40); do cat t.txt; done >big.txt
  # head closes the pipe: bytes-perturb ends at once and quietly.
  bytes-perturb -n drop big.txt 2>err | head -c 10 >out || reader_stopped "${PIPESTATUS[@]}"
  [ "$(stat -c %s out)" = 10 ] || fail "head got $(stat -c %s out) bytes"
  [ ! -s err ] || fail "stderr after head closed the pipe: $(cat err)"
  expect_exit 1 sh -c 'bytes-perturb -n drop t.txt >/dev/full'
  expect_error_line bytes-perturb
  # Empty input, empty output.
  : >empty
  bytes-perturb -n drop empty >out && [ ! -s out ] || fail "empty input"
  bytes-perturb -n drop </dev/null >out && [ ! -s out ] || fail "empty stdin"
  # Through a chain of real pipes.
  cat t.txt | bytes-perturb -n drop:0.05 | bytes-perturb -n upper:0.1 --seed 9 | wc -c >n
  [ "$(cat n)" -gt 50000 ] || fail "pipeline: $(cat n) bytes"
  # A pipe that delivers 4 bytes every 2 ms gives the same output as the file read at once
  # (issue 15: a run of more than 64 characters between insert hits, in one read, changed the
  # characters that later inserts drew from).
  head -c 1500 "$BYTES_SHARED/data/tinyshakespeare.txt" >short.txt
  slowly() {
    python3 -c 'import sys, time
d = open(sys.argv[1], "rb").read()
for i in range(0, len(d), 4):
    sys.stdout.buffer.write(d[i:i + 4]); sys.stdout.buffer.flush(); time.sleep(0.002)' "$1"
  }
  for chain in "-n swap:0.1 -n insert:1 -n insert:0.1" "-n adm:0.01"; do
    bytes-perturb --seed 14322 $chain short.txt >whole || fail "$chain: file"
    slowly short.txt | bytes-perturb --seed 14322 $chain >pieces || fail "$chain: pipe"
    cmp -s whole pieces || fail "$chain: a slow pipe gave other bytes than the file"
  done
}

case_usage_errors() {
  text
  for args in "-n dorp" "-n drop:1.5" "-n drop:-0.1" "-n drop:" "-n drop:x" "-n drop:nan" "" "--unit bits -n drop" \
              "-n" "--bogus" "-n drop --seed -1" "-n drop --seed x"; do
    eval "expect_exit 2 bytes-perturb $args t.txt"
    expect_error_line bytes-perturb
  done
  expect_exit 2 bytes-perturb -n dorp t.txt
  grep -q 'dorp' err || fail "the error does not name the bad noise: $(cat err)"
  expect_exit 1 bytes-perturb -n drop missing.txt
  expect_error_line bytes-perturb
  expect_exit 1 bytes-perturb -n drop .
  expect_error_line bytes-perturb
  # A bad input file after a good one, with -o: no file at all.
  expect_exit 1 bytes-perturb -n drop t.txt missing.txt -o o.txt
  [ ! -e o.txt ] || fail "-o left a file after an error"
}

case_interrupt() {
  yes 'All the world is a stage' | bytes-perturb -n drop -o o.txt 2>err &
  pid=$!
  sleep 1
  kill -INT $pid
  code=0
  wait $pid || code=$?
  [ $code = 130 ] || fail "SIGINT: exit $code, expected 130"
  [ ! -e o.txt ] || fail "-o left a file after SIGINT"
  if compgen -G '.o.txt*' >/dev/null; then fail "a temporary file was left: $(ls -A)"; fi
}

# The robustness pipeline of the README on a tiny model: a table, and an SVG.
case_robustness() {
  head -n 1500 "$BYTES_SHARED/data/tinyshakespeare.txt" >train.txt
  tail -n 400 "$BYTES_SHARED/data/tinyshakespeare.txt" >held.txt
  bytes-prep -q --docs paragraph -o d.bds train.txt
  bytes-train -q -d d.bds -o run --d-model 64 --layers 2 --ctx 128 --batch 4 --steps 20 --val-every 0
  BYTES_BIN=$B "$BYTES_SOURCE/scripts/robustness" run/model.safetensors held.txt --pairs 8 --context 96 \
    --target 32 --noise drop --noise homoglyph --rates 0.1,1 --svg r.svg >table 2>err || { cat err; fail "exit $?"; }
  grep -q '^8 pairs' table || fail "header: $(head -1 table)"
  [ "$(grep -c '^drop \|^homoglyph ' table)" = 4 ] || fail "rows: $(cat table)"
  grep -q '<svg' r.svg && grep -q 'homoglyph' r.svg || fail "svg"
  python3 -c 'import xml.dom.minidom; xml.dom.minidom.parse("r.svg")' || fail "the SVG is not XML"
  # Dropping every character of the context must cost bits.
  awk '$1 == "drop" && $2 == 1 { exit !($5 > 0) }' table || fail "drop:1 did not raise the bits: $(cat table)"
  expect_exit 1 "$BYTES_SOURCE/scripts/robustness" run/model.safetensors held.txt --noise dorp
}


# A file size limit (a full disk, for one file) under -o: one error line, exit 1, no partial file.
case_full_disk() {
  head -c 3000000 /dev/urandom | base64 -w 76 >big.txt
  if (ulimit -f 200; exec bytes-perturb -n typo:0.1 -o noisy.txt big.txt) >out 2>err; then
    fail "output larger than the file size limit was written"
  fi
  expect_error_line bytes-perturb
  grep -q 'File too large' err || fail "the error does not say why: $(cat err)"
  [ -z "$(ls -A | grep -v -e '^big.txt$' -e '^out$' -e '^err$')" ] || fail "left files: $(ls -A)"
}

run_case "${1//-/_}"
