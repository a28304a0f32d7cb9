#!/usr/bin/env bash
# CLI tests for bytes-prep, through real files and pipes: prep.sh CASE
. "$(dirname "$0")/lib.sh"

awkward_folder() {
  mkdir -p in/sub/deeper
  : >in/empty.txt
  printf 'caf\xc3 \xff\xfe end\n' >in/invalid-utf8.txt
  printf 'a\0b\0\0c' >in/nul.bin
  head -c 3000000 /dev/urandom | base64 -w 0 >in/sub/deeper/huge-line.txt
  head -c 100000 /dev/urandom >in/sub/random.dat
  printf 'no newline at the end' >in/sub/last
}
docs() {  # the number of documents in a dataset
  bytes-prep list --json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["docs"])'
}

case_help() {
  expect_exit 0 bytes-prep --help
  grep -q '^Usage: bytes-prep' out || fail "no usage line"
  grep -q 'bytes-prep(1)' out || fail "help does not point at the man page"
  [ ! -s err ] || fail "help wrote to stderr"
  expect_exit 0 bytes-prep cat --help
  grep -q -- '--split' out || fail "cat --help lacks --split"
}

case_version() {
  expect_exit 0 bytes-prep --version
  [ "$(wc -l <out)" = 1 ] && grep -Eq '^bytes-prep [0-9]+\.[0-9]+\.[0-9]+$' out || fail "bad version line: $(cat out)"
}

case_usage_errors() {
  echo hello >a.txt
  for args in "--bogus" "-o d.bds --val 2 a.txt" "-o d.bds --val 0.7 --test 0.5 a.txt" "-o d.bds --level 99 a.txt" \
              "-o d.bds --block-size 1 a.txt" "-o d.bds --block-size 10Q a.txt" "-o d.bds --docs bogus a.txt" \
              "a.txt" "-o d.bds --docs line -s x a.txt" "-o d.bds --threads -1 a.txt" "-o d.bds -s \\q a.txt" \
              "cat" "list" "cat d.bds --split nope" "-o - a.txt"; do
    # shellcheck disable=SC2086
    expect_exit 2 bytes-prep $args
    expect_error_line bytes-prep
    grep -q -- "--help" err || fail "usage error for '$args' does not mention --help"
  done
  expect_exit 2 bytes-prep -o d.bds -s '' a.txt
  [ ! -e d.bds ] || fail "a usage error left an output file"
}

case_roundtrip_folder() {
  awkward_folder
  expect_exit 0 bytes-prep -q --binary keep --block-size 64K -o d.bds in
  expect_exit 0 bytes-prep list --documents d.bds
  [ "$(grep -c '	' out)" = 6 ] || fail "expected 6 documents: $(cat out)"
  while IFS=$'\t' read -r i _split len src; do
    bytes-prep cat --doc "$i" d.bds >doc || fail "cat --doc $i"
    same doc "$src"
    [ "$(stat -c %s "$src")" = "$len" ] || fail "listed length of $src"
  done < <(grep -P '^\d+\t' out)
  # Folder order is byte order of the paths.
  grep -P '^0\t' out | grep -q 'in/empty.txt$' || fail "first document is not in/empty.txt"
}

case_modes() {
  head -n 6000 "${BYTES_SHARED}/data/tinyshakespeare.txt" >ts.txt
  expect_exit 0 bytes-prep -q --docs line -o l.bds ts.txt
  bytes-prep cat l.bds >back
  same back ts.txt
  n=$(docs l.bds)
  [ "$n" = "$(wc -l <ts.txt)" ] || fail "line count: $n"
  printf 'one\n%%\ntwo\nlines\n%%\nthree\n%%\n' >f
  expect_exit 0 bytes-prep -q -s '\n%\n' -o f.bds f
  bytes-prep cat f.bds --delimiter '|' >back
  [ "$(cat back)" = "$(printf 'one|two\nlines|three|')" ] || fail "separator mode: $(cat back)"
  printf 'a\0b\0c' | bytes-prep -q --docs nul -o n.bds -
  n=$(docs n.bds)
  [ "$n" = 3 ] || fail "nul mode: $n documents"
  bytes-prep cat -z n.bds >back
  printf 'a\0b\0c\0' >want
  same back want
  printf '\n\nfirst\npara\n\n\n\nsecond\n' | bytes-prep -q --docs paragraph -o p.bds
  bytes-prep cat p.bds --no-delimiter >back
  [ "$(cat back)" = "$(printf 'first\nparasecond')" ] || fail "paragraph mode: $(cat back)"
}

case_splits_stable() {
  seq 1 3000 | sed 's/^/line /' >a.txt
  seq 1 1000 | sed 's/^/other /' >b.txt
  bytes-prep -q --docs line --val 0.2 --test 0.1 -o 1.bds a.txt
  bytes-prep -q --docs line --val 0.2 --test 0.1 -o 2.bds b.txt a.txt
  for s in train val test; do
    bytes-prep cat --split $s 1.bds | sort >one.$s
    bytes-prep cat --split $s 2.bds | grep '^line' | sort >two.$s
    same one.$s two.$s
  done
  n=$(wc -l <one.val)
  [ "$n" -gt 520 ] && [ "$n" -lt 680 ] || fail "val has $n of 3000 documents for a fraction of 0.2"
  [ "$(cat one.train one.val one.test | sort | uniq | wc -l)" = 3000 ] || fail "splits overlap or lose documents"
}

case_assigned_splits() {
  seq 1 100 >train.txt
  seq 500 520 >val.txt
  bytes-prep -q --docs line --val 0.5 --train-input train.txt --val-input val.txt -o d.bds
  bytes-prep cat --split val d.bds >v
  same v val.txt
  bytes-prep cat --split train d.bds >t
  same t train.txt
}

case_dedup() {
  printf 'a\nb\na\nc\nb\n' >x
  bytes-prep -q --docs line --dedup --json -o d.bds x >stats
  python3 -c 'import json,sys; j=json.load(open("stats")); assert j["duplicates"]==2 and j["duplicate_bytes"]==2, j' \
    || fail "dedup counts"
  bytes-prep cat d.bds >kept
  [ "$(cat kept)" = "$(printf 'a\nb\nc')" ] || fail "dedup kept the wrong documents: $(cat kept)"
}

case_binary() {
  mkdir in
  echo text >in/a.txt
  printf 'bin\0ary' >in/b.bin
  bytes-prep -q --json -o d.bds in >stats
  python3 -c 'import json; j=json.load(open("stats")); assert j["skipped_binary"]==1 and j["files"]==1, j' \
    || fail "the binary file was not skipped"
  bytes-prep -q --json --binary keep -o d.bds in >stats
  python3 -c 'import json; j=json.load(open("stats")); assert j["skipped_binary"]==0 and j["files"]==2, j' \
    || fail "--binary keep did not keep the binary file"
}

case_stdin_pipe() {
  head -n 3000 "${BYTES_SHARED}/data/tinyshakespeare.txt" >ts.txt
  bytes-prep -q --docs line -o a.bds <ts.txt
  bytes-prep cat a.bds | bytes-prep -q --docs line -o b.bds -
  bytes-prep cat b.bds >back
  same back ts.txt
  # A reader that stops early ends the writer quietly (SIGPIPE), with nothing on stderr.
  bytes-prep cat a.bds 2>err | head -c 10 >/dev/null || reader_stopped "${PIPESTATUS[@]}"
  [ ! -s err ] || fail "stderr after head closed the pipe: $(cat err)"
  : | bytes-prep -q -o empty.bds
  n=$(docs empty.bds)
  [ "$n" = 1 ] || fail "empty stdin gave $n documents, expected 1"
}

case_json() {
  seq 1 1000 >a.txt
  bytes-prep --json --docs line --val 0.1 -o d.bds a.txt >stats 2>err
  [ "$(wc -l <stats)" = 1 ] || fail "--json printed more than one line"
  python3 - <<'PY' || fail "json stats"
import json
j = json.load(open("stats"))
s = j["splits"]
assert s["train"]["docs"] + s["val"]["docs"] + s["test"]["docs"] == 1000, j
assert s["train"]["bytes"] + s["val"]["bytes"] == 3893 - 1000, j
assert 0 < s["train"]["zstd_bpb"] < 8 and j["input_bytes"] == 3893, j
PY
  bytes-prep list --json d.bds >listing
  python3 -c 'import json; j=json.load(open("listing")); assert j["meta"]["doc_mode"]=="line", j' || fail "doc_mode"
}

case_bad_datasets() {
  echo "just some text, not a dataset" >text.bds
  : >empty.bds
  head -c 100 /dev/urandom >garbage.bds
  seq 1 2000 >a.txt
  bytes-prep -q --docs line -o good.bds a.txt
  head -c 300 good.bds >cut.bds
  for f in text.bds empty.bds garbage.bds cut.bds missing.bds; do
    for cmd in list cat; do
      expect_exit 1 bytes-prep $cmd $f
      expect_error_line bytes-prep
    done
  done
  for cmd in list cat; do
    expect_exit 1 bytes-prep $cmd cut.bds
    grep -q truncated err || fail "$cmd: truncation not named: $(cat err)"
    expect_exit 1 bytes-prep $cmd text.bds
    grep -q 'not a bytes dataset' err || fail "$cmd: bad magic not named: $(cat err)"
  done
}

case_corrupt_every_byte() {
  printf 'first line\nsecond\n\nthird one here\n' >a.txt
  bytes-prep -q --docs line --val 0.3 -o good.bds a.txt
  size=$(stat -c %s good.bds)
  python3 - "$size" <<'PY'
import sys
data = open("good.bds", "rb").read()
for i in range(len(data)):
    b = bytearray(data); b[i] ^= 0x20
    open(f"flip{i}.bds", "wb").write(b)
PY
  for ((i = 0; i < size; i++)); do
    for cmd in list cat; do
      expect_exit 1 bytes-prep $cmd flip$i.bds  # the flip at byte $i is detected
      expect_error_line bytes-prep
    done
  done
  for ((n = 0; n < size; n += 7)); do
    head -c $n good.bds >cut.bds
    expect_exit 1 bytes-prep cat cut.bds  # the truncation to $n bytes is detected
  done
}

case_dev_full() {
  seq 1 1000 >a.txt
  bytes-prep -q --docs line -o d.bds a.txt
  expect_exit 1 sh -c 'bytes-prep cat d.bds >/dev/full'
  expect_error_line bytes-prep
  grep -q 'No space left' err || fail "error does not say why: $(cat err)"
}

case_no_partial_output() {
  echo ok >a.txt
  expect_exit 1 bytes-prep -o d.bds a.txt missing.txt
  expect_error_line bytes-prep
  [ -z "$(ls -A | grep -v -e '^a.txt$' -e '^out$' -e '^err$')" ] || fail "failed run left files: $(ls -A)"
  # Interrupted while reading a slow pipe: exit 130, and neither output nor temporary file.
  (for i in $(seq 1 50); do echo "line $i"; sleep 0.1; done) | bytes-prep --docs line -o d.bds - 2>err &
  pid=$!
  sleep 1
  kill -INT $pid  # $! is the last command of the pipeline: bytes-prep
  code=0
  wait $pid || code=$?
  [ "$code" = 130 ] || fail "interrupted prep exited $code"
  [ -z "$(ls -A | grep -v -e '^a.txt$' -e '^out$' -e '^err$')" ] || fail "interrupted run left files: $(ls -A)"
}

# The word splitter through the program: lines put back together give the text; prefix-stable.
case_words() {
  printf '  To be, or not\tto be:\nthat is the question. Ærøskøbing-straße-is-a-very-long-word\xff end' >t.txt
  bytes-prep words t.txt >w || fail "exit $?"
  head -3 w | cut -f3 | tr '\n' '|' | grep -qx '  |To |be, |' || fail "words: $(head -3 w)"
  grep -qxF $'12\t4\tnot\\t' w || fail "a tab inside a word is escaped"
  grep -qxF $'19\t4\tbe:\\n' w || fail "a newline inside a word is escaped"
  python3 - <<'PY' || fail "offsets and lengths do not tile the text"
rows = [l.rstrip("\n").split("\t") for l in open("w")]
data = open("t.txt", "rb").read()
at = 0
for off, n, _ in rows:
    assert int(off) == at, (off, at)
    assert 0 < int(n) <= 32
    at += int(n)
assert at == len(data)
PY
  # Prefix-stable: the words of a prefix are the words of the whole, the last one cut.
  for n in 7 30 61; do
    head -c $n t.txt | bytes-prep words --rule spacelike | cut -f1 >p
    bytes-prep words --rule spacelike <t.txt | awk -F'\t' -v n=$n '$1 < n { print $1 }' >q
    same p q
  done
  # The hat rule: HAT's examples; prefix-stable at character boundaries (prefixes that end
  # inside a character decide its bytes as bytes of none).
  printf 'Hello, world!\nhowAreYou\tGr\xc3\xbc\xc3\x9fe \xe4\xb8\xad\xe6\x96\x87 a   b' >h.txt
  bytes-prep words --rule hat h.txt | cut -f3 | tr '\n' '|' >hw
  [ "$(cat hw)" = 'Hello,| world!|\n|how|Are|You|\t|Grüße| 中|文| a|   b|' ] || fail "hat words: $(cat hw)"
  for n in 3 13 20 28 35 41; do  # each between characters
    head -c $n h.txt | bytes-prep words --rule hat | cut -f1 >p
    bytes-prep words --rule hat <h.txt | awk -F'\t' -v n=$n '$1 < n { print $1 }' >q
    same p q
  done
  bytes-prep words --rule hat --cap 4 h.txt | awk -F'\t' '$2 > 4 { exit 1 }' || fail "hat: a word past the cap"
  : | bytes-prep words >out && [ ! -s out ] || fail "empty input"
  for args in "--cap 3" "--cap x" "--rule tabs"; do
    expect_exit 2 bytes-prep words $args t.txt
    expect_error_line bytes-prep
  done
  expect_exit 1 bytes-prep words missing.txt
  expect_error_line bytes-prep
}

case_completion_bash() {
  src="$BYTES_SOURCE/completions/bash/bytes-prep"
  bash -c "
    . /usr/share/bash-completion/bash_completion 2>/dev/null
    . '$src'
    complete -p bytes-prep >/dev/null || exit 1
    t() { COMP_WORDS=(\"\$@\"); COMP_CWORD=\$((\${#COMP_WORDS[@]} - 1)); COMP_LINE=\"\$*\"; COMP_POINT=\${#COMP_LINE}
          _bytes_prep; printf '%s\n' \"\${COMPREPLY[@]}\"; }
    t bytes-prep --do | grep -qx -- --docs || exit 2
    [ \"\$(t bytes-prep --docs '' | sort | tr '\n' ' ')\" = 'file line nul paragraph ' ] || exit 3
    t bytes-prep l | grep -qx list || exit 4
    t bytes-prep cat --split '' | grep -qx val || exit 5
    for p in bytes-train bytes-eval bytes-gen; do
      . '$BYTES_SOURCE/completions/bash/'\$p
      complete -p \$p >/dev/null || exit 6
    done
    tc() { local f=\$1; shift; COMP_WORDS=(\"\$@\"); COMP_CWORD=\$((\${#COMP_WORDS[@]} - 1)); COMP_LINE=\"\$*\"
           COMP_POINT=\${#COMP_LINE}; \$f; printf '%s\\n' \"\${COMPREPLY[@]}\"; }
    t bytes-prep words --r | grep -qx -- --rule || exit 12
    tc _bytes_train bytes-train --prec | grep -qx -- --precision || exit 7
    tc _bytes_eval bytes-eval --split '' | grep -qx val || exit 8
    tc _bytes_gen bytes-gen --top | grep -qx -- --top-p || exit 9
    . '$BYTES_SOURCE/completions/bash/bytes-perturb'
    tc _bytes_perturb bytes-perturb --noise hom | grep -qx homoglyph || exit 10
    tc _bytes_perturb bytes-perturb --unit '' | grep -qx byte || exit 11
    . '$BYTES_SOURCE/completions/bash/bytes-bench'
    tc _bytes_bench bytes-bench -t matmul,tr | grep -qx matmul,train || exit 13
    tc _bytes_bench bytes-bench -o '' | grep -qx csv || exit 14
    tc _bytes_bench bytes-bench --format '' | grep -qx csv || exit 15
    tc _bytes_bench bytes-bench --f | grep -qx -- --format || exit 16
    tc _bytes_bench bytes-bench - | grep -qx -- -o && exit 17
    t bytes-prep -d '' | grep -qx line || exit 18
    # The size flags come from the architectures' declarations, through --help.
    tc _bytes_train bytes-train --ctx-w | grep -qx -- --ctx-words || exit 19
    tc _bytes_bench bytes-bench --stage | grep -qx -- --stage-embed || exit 20
    [ -z \"\$(tc _bytes_train bytes-train --inner-layers '')\" ] || exit 21
  " || fail "bash completion check $?"
}

case_man_pages() {
  mandir="$(dirname "$BYTES_BIN")/man"
  for page in bytes.7 bytes-prep.1 bytes-train.1 bytes-eval.1 bytes-gen.1 bytes-perturb.1 bytes-bench.1 bytes-dataset.5 bytes-model.5; do
    [ -f "$mandir/$page" ] || fail "$page was not built"
    MANWIDTH=80 man -l "$mandir/$page" 2>err >text || fail "man cannot render $page"
    grep -q NAME text || fail "$page has no NAME section"
    [ "$(wc -l <text)" -gt 30 ] || fail "$page is too short"
  done
}


# A file size limit (a full disk, for one file) while the dataset is written: one error line,
# exit 1, and neither the dataset nor its temporary.
case_full_disk() {
  head -c 3000000 /dev/urandom | base64 -w 76 >big.txt
  if (ulimit -f 200; exec bytes-prep -q --docs line -o d.bds big.txt) >out 2>err; then
    fail "a dataset larger than the file size limit was written"
  fi
  expect_error_line bytes-prep
  grep -q 'File too large' err || fail "the error does not say why: $(cat err)"
  [ -z "$(ls -A | grep -v -e '^big.txt$' -e '^out$' -e '^err$')" ] || fail "left files: $(ls -A)"
}

run_case "${1//-/_}"
