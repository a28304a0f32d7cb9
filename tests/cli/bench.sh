#!/usr/bin/env bash
# CLI tests for bytes-bench: bench.sh CASE
. "$(dirname "$0")/lib.sh"

TINY="--d-model 64 --layers 1 --ctx 64 --batch 4 --inner-d-model 64"

case_help() {
  expect_exit 0 bytes-bench --help
  grep -q -- '--attention-ctx' out && grep -q 'bytes-bench(1)' out || fail "help"
  expect_exit 0 bytes-bench --version
  grep -q '^bytes-bench ' out || fail "version"
  expect_exit 0 bytes-bench --list
  [ "$(cut -d' ' -f1 out | tr '\n' ' ')" = "matmul bandwidth attention norm train pp tg prep perturb " ] || fail "--list"
}

case_usage_errors() {
  for args in "-t nonsense" "-t train,nonsense" "-a tree" "-o xml" "-r 0" "-r 1e9" "--batch 0" "--batch 99999999" \
    "--d-model 100" "--ctx 0" "--patch 3x" "--precision f16" "--text-bytes 1" "--text-bytes 5T" "--noise nope" \
    "--attention-ctx 0" "-n -1" "--min-time -1"; do
    # shellcheck disable=SC2086
    expect_exit 2 bytes-bench $args
    [ "$(wc -l <err)" -le 2 ] || fail "$args: more than a line and a hint"
    [ ! -s out ] || fail "$args: wrote to stdout before refusing"
  done
  expect_exit 1 bytes-bench -t prep --text missing.txt
  expect_error_line bytes-bench
  : >empty.txt
  expect_exit 1 bytes-bench -t perturb --text empty.txt
  expect_error_line bytes-bench
}

# Every format holds the same rows; CSV has the header's columns on every line, JSON parses.
case_formats() {
  for f in md csv json; do
    # shellcheck disable=SC2086
    bytes-bench -q -t norm,attention,perturb --attention-ctx 16,64 $TINY -r 2 --min-time 0.001 --text-bytes 64K -o $f >$f.out ||
      fail "-o $f"
  done
  python3 - <<'PY' || fail "formats disagree"
import csv, json
rows = [json.loads(l) for l in open("json.out")]
tests = [r["test"] for r in rows]
m = rows[0]["machine"]
# bf16 attention rows only where a bf16 build runs for it (not on this machine if it has AMX)
precisions = 2 if m["attention_bf16_impl"] not in ("", m["attention_impl"]) else 1
assert tests == ["attention fwd", "attention bwd"] * 2 * precisions + ["rmsnorm fwd", "rmsnorm bwd", "zstd -3", "cat",
                                                                      "perturb"], tests
assert all(len(r["samples"]) == 2 and r["mean"] > 0 and r["machine"]["threads"] >= 1 for r in rows)
table = list(csv.reader(open("csv.out")))
assert len(table) == len(rows) + 1 and all(len(t) == len(table[0]) for t in table), table
assert [t[0] for t in table[1:]] == tests
md = [l for l in open("md.out") if l.startswith("| ")]
assert len(md) == len(rows) + 1 and md[0].startswith("| test |"), md
assert open("md.out").readline().startswith("bytes-bench ")
PY
}

# DNNL_MAX_CPU_ISA caps oneDNN and our kernels alike: capped at AVX2, the header names AVX2's
# attention build and no bf16 (where the CPU has AVX2 at all).
case_isa_cap() {
  grep -qw avx2 /proc/cpuinfo || return 0
  # shellcheck disable=SC2086
  DNNL_MAX_CPU_ISA=AVX2 bytes-bench -q -t norm -r 1 --warmup 0 --min-time 0.001 $TINY >out || fail "capped run"
  head -1 out | grep -Eq 'attention avx2( |$)' || fail "capped at AVX2, the header reads: $(head -1 out)"
  head -1 out | grep -q 'bf16 not native' || fail "capped at AVX2, bf16 still runs: $(head -1 out)"
}

# The figures are the programs' own: bytes-bench's training row against bytes-train's log on the
# same model and text, its tg row against bytes-gen -v, on one thread each (a tiny model on two
# threads measures mostly the fork). Rates are noisy on a shared machine: they must agree within
# a factor of 2, the FLOPs per byte exactly.
case_agrees() {
  dataset
  # shellcheck disable=SC2086
  bytes-bench -q -t train,tg -a flat,patch $TINY --text train.txt -r 5 -n 200 --threads 1 --json >bench.json ||
    fail "bytes-bench"
  bytes-train -q -d d.bds -o flat --d-model 64 --layers 1 --ctx 64 --batch 4 --steps 6 --val-every 0 \
    --log-every 1 --threads 1 || fail "bytes-train flat"
  bytes-train -q -d d.bds -o patch --arch patch --patch 8 --d-model 64 --layers 1 --ctx 256 --batch 4 \
    --inner-d-model 64 --inner-layers 2 --steps 6 --val-every 0 --log-every 1 --threads 1 || fail "bytes-train patch"
  head -c 256 train.txt >prompt.txt
  bytes-gen -v -m flat/model.safetensors -f prompt.txt -n 200 -t 0 --ignore-end --threads 1 >/dev/null 2>gen.err ||
    fail "bytes-gen"
  python3 - <<'PY' || fail "bytes-bench disagrees with the programs"
import json, re
rows = [json.loads(l) for l in open("bench.json")]
def row(test, arch):
    return next(r for r in rows if r["test"] == test and r["size"].startswith(arch))
for arch in ("flat", "patch"):
    log = [json.loads(l) for l in open(f"{arch}/metrics.jsonl")][1:]  # after the first step, as the bench
    bps = sum(r["bytes_per_s"] for r in log) / len(log)
    fpb = sum(r["model_gflop_s"] / r["bytes_per_s"] for r in log) / len(log) * 1e9
    b = row("train", arch)
    print(arch, "train bytes/s: bench", round(b["mean"]), "bytes-train", round(bps))
    assert 0.5 < b["mean"] / bps < 2, (b["mean"], bps)
    assert abs(b["flops_per_byte"] / fpb - 1) < 0.02, (b["flops_per_byte"], fpb)  # the log rounds GFLOP/s
gen = float(re.search(r"bytes_per_s=([0-9.]+)", open("gen.err").read()).group(1))
t = row("tg200", "flat")
print("tg bytes/s: bench", round(t["mean"]), "bytes-gen", round(gen))
assert 0.5 < t["mean"] / gen < 2, (t["mean"], gen)
assert 0 < t["fraction"] and t["ceiling"] == "bandwidth limit"
PY
}

# SIGINT in the middle: exit 130, whole rows only, temporary files gone.
case_interrupt() {
  export TMPDIR="$T/tmp"
  mkdir -p "$TMPDIR"
  # shellcheck disable=SC2086
  # A row every ~0.2 s (train measures the matmul peak first): the signal lands after a row and inside a later one.
  bytes-bench -t norm,train -a flat $TINY -r 20 --min-time 0.01 -o csv >out 2>err &
  local pid=$! code=0
  for _ in $(seq 1 200); do [ "$(wc -l <out)" -ge 2 ] && break; sleep 0.05; done
  kill -INT $pid
  wait $pid || code=$?
  [ "$code" = 130 ] || fail "SIGINT: exit $code, expected 130"
  python3 -c '
import csv
rows = list(csv.reader(open("out")))
assert len(rows) >= 2 and all(len(r) == len(rows[0]) for r in rows), rows' || fail "no row, or a partial row"
  [ -z "$(ls -A "$TMPDIR")" ] || fail "temporary files left: $(ls "$TMPDIR")"
}

run_case "${1//-/_}"
