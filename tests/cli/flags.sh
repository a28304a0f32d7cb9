#!/usr/bin/env bash
# CLI tests for the flags all six programs share: flags.sh CASE
. "$(dirname "$0")/lib.sh"

PROGRAMS="bytes-prep bytes-train bytes-eval bytes-gen bytes-perturb bytes-bench"

# One letter, one meaning: every short option any --help shows (subcommands too) is in this
# table with the long option it abbreviates, so a letter cannot come to mean two things. Old
# spellings that broke the rule (bytes-prep -d, bytes-perturb -n, bytes-bench -t and -o) still
# parse but are out of --help.
case_one_meaning() {
  declare -A meaning=(
    [h]='--help' [q]='--quiet' [v]='--verbose'
    [o]='--output'               # the path a program writes: dataset, run directory, file
    [d]='--data'                 # the dataset a program reads
    [m]='--model' [p]='--prompt' [f]='--file' [l]='--lines' [t]='--temperature'
    [n]='--bytes --gen-bytes'    # bytes to generate
    [s]='--separator' [L]='--level' [z]='--null' [a]='--arch' [r]='--repetitions'
  )
  for p in $PROGRAMS "bytes-prep list" "bytes-prep cat" "bytes-prep words"; do
    # shellcheck disable=SC2086
    $p --help >help
    grep -oE '^  -[A-Za-z],--[a-z0-9-]+' help | sed 's/^  -//' >pairs || true
    [ -s pairs ] || fail "$p --help shows no short options"
    while IFS=, read -r letter long; do
      [ -n "${meaning[$letter]:-}" ] || fail "$p: -$letter ($long) is not in the table of letters"
      [[ " ${meaning[$letter]} " == *" $long "* ]] || fail "$p: -$letter is $long, elsewhere ${meaning[$letter]}"
    done <pairs
  done
  # The old spellings are not shown. (Each --help into a file first: grep -q stops reading at its
  # first match, and the program's SIGPIPE would fail the pipeline.)
  bytes-prep --help >help && ! grep -qE -- '-d,--docs' help || fail "bytes-prep --help shows -d"
  bytes-perturb --help >help && ! grep -qE -- '-n,--noise' help || fail "bytes-perturb --help shows -n"
  bytes-bench --help >help && ! grep -qE -- '-t,--tests|-o,|--output' help || fail "bytes-bench --help shows -t or -o"
  grep -q -- '--format' help || fail "bytes-bench --help lacks --format"
}

# The old spellings do what they did: the same output as the new ones.
case_old_spellings() {
  head -n 500 "$BYTES_SHARED/data/tinyshakespeare.txt" >t.txt
  bytes-prep -q -d paragraph -o old.bds t.txt
  bytes-prep -q --docs paragraph -o new.bds t.txt
  bytes-prep list --documents old.bds | tail -n +2 >old.list
  bytes-prep list --documents new.bds | tail -n +2 >new.list
  same old.list new.list
  bytes-prep cat old.bds >old.txt
  bytes-prep cat new.bds >new.txt
  same old.txt new.txt
  expect_exit 2 bytes-prep -d line -s x -o x.bds t.txt  # -d is still --docs, which -s excludes
  grep -q -- '--separator and --docs exclude each other' err || fail "-d is not --docs: $(cat err)"

  bytes-perturb --seed 3 -n typo:0.3 -n upper:0.5 <t.txt >old.txt
  bytes-perturb --seed 3 --noise typo:0.3 --noise upper:0.5 <t.txt >new.txt
  bytes-perturb --seed 3 -n typo:0.3 --noise upper:0.5 <t.txt >mixed.txt
  same old.txt new.txt
  same old.txt mixed.txt

  tiny="--d-model 64 --layers 1 --ctx 64 --batch 4 --inner-d-model 64 -r 1 --min-time 0.001"
  for spelling in "-t norm -o csv" "--tests norm --output csv" "--tests norm --format csv"; do
    # shellcheck disable=SC2086
    bytes-bench -q $spelling $tiny >bench.csv
    head -n 1 bench.csv | grep -q '^test,' || fail "$spelling: not CSV: $(head -n 2 bench.csv)"
    [ "$(cut -d' ' -f1 bench.csv | tail -n +2 | sort -u)" = rmsnorm ] || fail "$spelling: not the norm test"
  done
  expect_exit 2 bytes-bench --format xml
  expect_error_line bytes-bench
}

# bytes-eval's -d is --data, as in bytes-train.
case_eval_data() {
  dataset
  bytes-train -q -d d.bds -o run --d-model 64 --layers 1 --ctx 32 --batch 4 --steps 4 --val-every 0
  bytes-eval -m run/model.safetensors -d d.bds --json >short.json
  bytes-eval -m run/model.safetensors --data d.bds --json >long.json
  same short.json long.json
}

run_case "${1//-/_}"
