#!/usr/bin/env bash
# CLI tests for the word (HAT) model across bytes-train, bytes-eval and bytes-gen: word.sh CASE
. "$(dirname "$0")/lib.sh"

tiny="--arch word --d-model 64 --layers 1 --enc-d-model 64 --dec-d-model 64 --dec-layers 1 --ctx 16 --batch 4
      --val-bytes 2K --val-every 10 --log-every 5"
case_train-eval() {
  dataset
  # shellcheck disable=SC2086
  bytes-train $tiny -d d.bds -o run --steps 40 --json >report 2>log || { cat log; fail "training failed"; }
  python3 - <<'PY' || fail "metrics or config"
import json, struct
rows = [json.loads(l) for l in open("run/metrics.jsonl")]
assert rows[-1]["step"] == 40 and rows[-1]["train_bpb"] < rows[0]["train_bpb"] < 9.6, rows  # uniform: 8.01 bits a symbol, ~1.2 symbols a byte
assert 2.5 < rows[-1]["val_bpb"] < 8.5, rows[-1]
d = open("run/model.safetensors", "rb").read()
header = json.loads(d[8:8 + struct.unpack_from("<Q", d)[0]])
config = json.loads(header["__metadata__"]["config"])
assert config["arch"] == "word" and config["word_rule"] == "whitespace" and config["word_cap"] == 32, config
for name in ("encoder.embed.weight", "encoder.word.weight", "encoder.proj.weight", "backbone.layers.0.attn.wq.weight",
             "decoder.cond.weight", "decoder.embed.weight", "decoder.head.weight"):
    assert name in header, name
PY
  # bytes-eval's bpb on the val split is the validation the run made.
  bytes-eval --json -m run/model.safetensors --data d.bds --max-bytes 2K >ev
  python3 -c '
import json
e = json.load(open("ev")); last = [json.loads(l) for l in open("run/metrics.jsonl")][-1]
assert abs(e["bpb"] - last["val_bpb"]) < 1e-3, (e, last)' || fail "bytes-eval disagrees with the run's validation"
  # Per-byte bits (EOW markers included) sum to the total, for several strides, through a pipe.
  for s in 3 8 16; do
    bytes-eval --json -m run/model.safetensors --stride $s <val.txt >total
    cat val.txt | bytes-eval -q -m run/model.safetensors --stride $s --per-byte - >bytes.tsv
    [ "$(wc -l <bytes.tsv)" = "$(stat -c %s val.txt)" ] || fail "per-byte lines != bytes"
    python3 - <<'PY' || fail "stride $s: per-byte sum"
import json
t = json.load(open("total"))
rows = [l.split("\t") for l in open("bytes.tsv")]
s = sum(float(r[2]) for r in rows)  # offset, byte, bits, top
assert abs(s - t["bits"]) <= 5e-5 * len(rows) + 1e-5, (s, t)
PY
  done
  # Conditional scoring: pairs through a pipe.
  python3 -c '
import json
for i in range(3): print(json.dumps({"context": "KING HENRY: ", "target": "My lord" + "d" * i}))' >pairs
  bytes-eval -m run/model.safetensors --conditional - <pairs >cond || fail "conditional scoring"
  [ "$(wc -l <cond)" -ge 3 ] || fail "conditional output"
}

case_gen() {
  dataset
  # shellcheck disable=SC2086
  bytes-train -q $tiny -d d.bds -o run --steps 20
  # Greedy output is the argmax under teacher forcing: the same text twice, and a prefix for less.
  bytes-gen -m run/model.safetensors -t 0 -n 120 --ignore-end -p "KING " >a
  bytes-gen -m run/model.safetensors -t 0 -n 60 --ignore-end -p "KING " >b
  [ "$(stat -c %s a)" = 120 ] || fail "-n 120 wrote $(stat -c %s a) bytes"
  [ "$(head -c 60 a)" = "$(cat b)" ] || fail "-n 60 is not a prefix of -n 120"
  bytes-gen -m run/model.safetensors --seed 3 -n 80 -p "KING " >s1
  bytes-gen -m run/model.safetensors --seed 3 -n 80 -p "KING " >s2
  same s1 s2
  # Ends quietly when the reader goes away; fails loudly on a full disk.
  bytes-gen -m run/model.safetensors -n 100000 --ignore-end 2>err | head -c 10 >/dev/null || reader_stopped "${PIPESTATUS[@]}"
  [ ! -s err ] || fail "head -c 10 left stderr: $(cat err)"
  expect_exit 1 sh -c 'bytes-gen -m run/model.safetensors -n 100 -p x --ignore-end >/dev/full'
  expect_error_line bytes-gen
  hat_rule
}

# The hat rule (HAT's own splitter) through the three programs, on German, Greek, CJK and emoji:
# characters of 1 to 4 bytes, decided when their last byte has arrived.
hat_rule() {
  python3 - <<'PY'
import random
random.seed(1)
words = ["Grüße", "Straße", "Ärger", "καλημέρα", "Αθήνα", "中文", "字符", "😀", "👍🏽", "howAreYou", "can't", "ok,",
         "x+y", "the", "and", "🇩🇪", "e\u0301"]
for name, n in (("htrain.txt", 2500), ("hval.txt", 400)):
    with open(name, "w") as f:
        for _ in range(n):
            f.write(" ".join(random.choice(words) for _ in range(random.randint(1, 6))) + random.choice([".\n", "\n", "!\n"]))
PY
  bytes-prep -q --train-input htrain.txt --val-input hval.txt -o h.bds
  # shellcheck disable=SC2086
  bytes-train -q $tiny --word-rule hat --word-cap 16 -d h.bds -o hrun --steps 20
  python3 - <<'PY' || fail "hat: config"
import json, struct
d = open("hrun/model.safetensors", "rb").read()
config = json.loads(json.loads(d[8:8 + struct.unpack_from("<Q", d)[0]])["__metadata__"]["config"])
assert config["word_rule"] == "hat" and config["word_cap"] == 16, config
PY
  hm=hrun/model.safetensors
  bytes-eval --json -m $hm --data h.bds --max-bytes 2K >ev
  python3 -c '
import json
e = json.load(open("ev")); last = [json.loads(l) for l in open("hrun/metrics.jsonl")][-1]
assert abs(e["bpb"] - last["val_bpb"]) < 1e-3, (e, last)' || fail "hat: bytes-eval disagrees with the run's validation"
  bytes-eval --json -m $hm --stride 5 <hval.txt >total
  bytes-eval -q -m $hm --stride 5 --per-byte - <hval.txt >bytes.tsv
  [ "$(wc -l <bytes.tsv)" = "$(stat -c %s hval.txt)" ] || fail "hat: per-byte lines != bytes"
  python3 -c '
import json
t = json.load(open("total")); rows = [l.split("\t") for l in open("bytes.tsv")]
s = sum(float(r[2]) for r in rows)
assert abs(s - t["bits"]) <= 5e-5 * len(rows) + 1e-5, (s, t)' || fail "hat: per-byte sum"
  # Greedy is deterministic and -n 60 a prefix of -n 150; a prompt may end inside a character.
  for p in "Grüße " $'\xce'; do
    bytes-gen -m $hm -t 0 -n 150 --ignore-end -p "$p" >a
    bytes-gen -m $hm -t 0 -n 60 --ignore-end -p "$p" >b
    [ "$(stat -c %s a)" = 150 ] || fail "hat: -n 150 wrote $(stat -c %s a) bytes"
    cmp -s <(head -c 60 a) b || fail "hat: -n 60 is not a prefix of -n 150"
    # bytes-eval reads prompt and output back, a byte a line.
    { printf '%s' "$p"; cat a; } | bytes-eval -q -m $hm --per-byte - >gen.tsv
    [ "$(wc -l <gen.tsv)" = $((150 + ${#p})) ] || fail "hat: bytes-eval of the generated text"
  done
}

case_resume-exact() {
  dataset
  resume_exact "$tiny -d d.bds --steps 200 --val-every 100 --log-every 1"
}

case_usage-errors() {
  dataset
  for args in "--enc-d-model 100" "--dec-d-model 96" "--word-cap 2" "--word-rule words" "--dec-layers 0" \
              "--enc-layers -1" "--arch patchwork"; do
    # shellcheck disable=SC2086
    expect_exit 2 bytes-train -d d.bds -o r --steps 5 --arch word $args
    expect_error_line bytes-train
  done
  [ ! -e r ] || fail "a usage error created the run directory"
}

# A word model continued with --init: 0 steps are the parent; its sizes and word rule come from the
# file (flags that agree are taken, --ctx among them, read as --ctx-words); it trains, and resumes
# exactly without the file.
case_init() {
  dataset
  # shellcheck disable=SC2086
  bytes-train -q $tiny -d d.bds -o parent --steps 20 --lr 3e-3 --warmup 5
  local p=parent/model.safetensors common="--batch 4 --val-bytes 2K --val-every 5 --log-every 1 -d d.bds"
  # shellcheck disable=SC2086
  bytes-train -q --init $p $common -o zero --steps 0
  same $p zero/model.safetensors
  for args in "--ctx 32" "--enc-layers 2" "--word-rule spacelike" "--word-cap 16" "--arch flat" "--patch 8"; do
    # shellcheck disable=SC2086
    expect_exit 2 bytes-train --init $p -d d.bds -o r --steps 2 $args
    expect_error_line bytes-train
  done
  [ ! -e r ] || fail "a refused --init left a run directory"
  # shellcheck disable=SC2086
  bytes-train -q --init $p --ctx 16 --word-rule whitespace $common -o whole --steps 10
  python3 - <<'PY' || fail "continued word run"
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
