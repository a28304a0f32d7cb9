#!/usr/bin/env bash
# CLI tests for the patch (MEGABYTE/MBLM) model across bytes-train, bytes-eval and bytes-gen: patch.sh CASE
. "$(dirname "$0")/lib.sh"

tiny="--arch patch --patch 4x2 --d-model 64 --layers 1 --inner-d-model 64 --inner-layers 1 --ctx 64 --batch 4
      --val-bytes 2K --val-every 10 --log-every 5"
case_train-eval-gen() {
  dataset
  # shellcheck disable=SC2086
  bytes-train $tiny -d d.bds -o run --steps 40 2>log || { cat log; fail "training failed"; }
  python3 - <<'PY' || fail "metrics or config"
import json, struct
rows = [json.loads(l) for l in open("run/metrics.jsonl")]
assert rows[-1]["step"] == 40 and rows[-1]["bytes"] == 40 * 4 * 64, rows[-1]
assert rows[-1]["train_bpb"] < rows[0]["train_bpb"] < 8.1, rows
d = open("run/model.safetensors", "rb").read()
header = json.loads(d[8:8 + struct.unpack_from("<Q", d)[0]])
config = json.loads(header["__metadata__"]["config"])
assert config["arch"] == "patch" and config["patch"] == "4x2", config
for name in ("stages.0.embed.weight", "stages.0.start.weight", "stages.0.proj.weight", "stages.0.cond.weight",
             "stages.1.cond.weight", "stages.2.embed.weight", "stages.2.layers.0.attn.wq.weight", "head.weight"):
    assert name in header, name
PY
  bytes-eval --json -m run/model.safetensors --data d.bds --max-bytes 2K >ev
  python3 -c '
import json
e = json.load(open("ev")); last = [json.loads(l) for l in open("run/metrics.jsonl")][-1]
assert abs(e["bpb"] - last["val_bpb"]) < 1e-3, (e, last)' || fail "bytes-eval disagrees with the run's validation"
  # Greedy generation is the argmax bytes-eval names, within one window (60 of 64 tokens).
  bytes-gen -m run/model.safetensors -t 0 -n 50 --ignore-end -p "KING " >g
  [ "$(stat -c %s g)" = 50 ] || fail "-n 50 wrote $(stat -c %s g) bytes"
  { printf 'KING '; cat g; } >all
  bytes-eval -q -m run/model.safetensors --per-byte all >pb
  python3 - <<'PY' || fail "greedy output differs from the teacher-forced argmax"
rows = [l.split("\t") for l in open("pb")]
got = open("g", "rb").read()
top = bytes(int(r[3]) for r in rows[5:])
assert got == top, (got, top)
PY
  bytes-gen -m run/model.safetensors -n 100000 --ignore-end 2>err | head -c 10 >/dev/null || reader_stopped "${PIPESTATUS[@]}"
  [ ! -s err ] || fail "head -c 10 left stderr: $(cat err)"
}

case_resume-exact() {
  dataset
  resume_exact "$tiny -d d.bds --steps 200 --val-every 100 --log-every 1"
}

case_usage-errors() {
  dataset
  for args in "--patch 4x" "--patch 1" "--patch x8" "--patch 8 --ctx 100" "--inner-d-model 96" "--inner-layers 0" \
              "--patch 2x2x2x2x2"; do
    # shellcheck disable=SC2086
    expect_exit 2 bytes-train -d d.bds -o r --steps 5 --arch patch $args
    expect_error_line bytes-train
  done
  [ ! -e r ] || fail "a usage error created the run directory"
}

# A patch model continued with --init: 0 steps are the parent; its sizes come from the file (flags
# that agree are taken, one --inner-d-model for every stage among them); it trains, and resumes
# exactly without the file.
case_init() {
  dataset
  # shellcheck disable=SC2086
  bytes-train -q $tiny -d d.bds -o parent --steps 20 --lr 3e-3 --warmup 5
  local p=parent/model.safetensors common="--batch 4 --val-bytes 2K --val-every 5 --log-every 1 -d d.bds"
  # shellcheck disable=SC2086
  bytes-train -q --init $p $common -o zero --steps 0
  same $p zero/model.safetensors
  for args in "--ctx 128" "--patch 8" "--inner-d-model 128" "--inner-layers 1,2" "--arch word" "--word-cap 16"; do
    # shellcheck disable=SC2086
    expect_exit 2 bytes-train --init $p -d d.bds -o r --steps 2 $args
    expect_error_line bytes-train
  done
  [ ! -e r ] || fail "a refused --init left a run directory"
  # shellcheck disable=SC2086
  bytes-train -q --init $p --ctx 64 --patch 4x2 --inner-d-model 64 $common -o whole --steps 10
  python3 - <<'PY' || fail "continued patch run"
import json
rows = [json.loads(l) for l in open("whole/metrics.jsonl")]
parent = [json.loads(l) for l in open("parent/metrics.jsonl")]
assert rows[0]["init"] == "parent/model.safetensors" and rows[0]["train_bpb"] < parent[0]["train_bpb"] - 1, (rows[0], parent[0])
PY
  # The run made at step 0 trains, with its parent gone, what the straight run trained.
  mv parent gone
  bytes-train -q --resume -o zero --steps 10
  same whole/model.safetensors zero/model.safetensors
}

run_case "$@"
