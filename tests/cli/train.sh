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
              "-d d.bds -o r --steps 5 --precision f8" "-o r --steps 5" "-d d.bds -o r --steps 5 --lr -1" \
              "-d d.bds -o r --steps -3" "-d d.bds -o r --steps 5x" "-d d.bds -o r --steps 1e3"; do
    # shellcheck disable=SC2086
    expect_exit 2 bytes-train $args
    expect_error_line bytes-train
  done
  # Empty names (as a config file can give them) name nothing.
  expect_exit 2 bytes-train -d "" -o r --steps 5
  expect_error_line bytes-train
  expect_exit 2 bytes-train -d d.bds -o "" --steps 5
  expect_error_line bytes-train
  # A config key without a value (an empty TOML array) is a usage error, not undefined behaviour.
  printf 'data = "d.bds"\noutput = "r"\nsteps = 5\nlr = []\n' >empty.toml
  expect_exit 2 bytes-train --config empty.toml
  expect_error_line bytes-train
  grep -q 'gives lr no value' err || fail "the error does not name the key: $(cat err)"
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
  # The signal's checkpoint holds the last logged step (tests/test_checkpoint.cpp), so nothing
  # done before the signal is lost: the resumed run keeps every logged line as it was (a line
  # dropped and logged again would carry other timings).
  cp cut/metrics.jsonl logged.jsonl
  bytes-train -q --resume -o cut
  cmp -s -n "$(stat -c %s logged.jsonl)" logged.jsonl cut/metrics.jsonl || fail "the resumed run logged again what was logged"
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

# kill -9 at random moments of a run that checkpoints every step (so most kills land inside a
# checkpoint write), the resumed run killed again: every run resumes from its last complete
# checkpoint, ends as the uninterrupted run ends, and leaves no temporaries.
case_kill_anywhere() {
  dataset
  local args="$tiny -d d.bds --steps 40 --checkpoint-every 1 --val-every 0 --log-every 1"
  # Kill times are spread over a straight run's own duration (startup included), so the trials
  # land in its checkpoint writes on a fast machine and a slow one alike.
  local start; start=$(date +%s%N)
  bytes-train -q $args -o straight
  local span_ms=$(( ($(date +%s%N) - start) / 1000000 + 1 ))
  RANDOM=14
  local trial=0 kill pid mid_write=0
  # At least 12 trials; more (up to 60) until some kill has landed inside a checkpoint write.
  while [ "$trial" -lt 12 ] || { [ "$mid_write" -eq 0 ] && [ "$trial" -lt 60 ]; }; do
    trial=$((trial + 1))
    rm -rf run
    for kill in 1 2; do
      if [ -f run/config.toml ]; then bytes-train -q --resume -o run 2>/dev/null & else bytes-train -q $args -o run 2>/dev/null & fi
      pid=$!
      sleep "$(awk -v ms=$(( (RANDOM * 32768 + RANDOM) % span_ms )) 'BEGIN { printf "%.3f", ms / 1000 }')"
      kill -9 $pid 2>/dev/null || true
      wait $pid 2>/dev/null || true
      if compgen -G 'run/.*.tmp.*' >/dev/null; then mid_write=$((mid_write + 1)); fi
    done
    if [ -f run/config.toml ]; then bytes-train -q --resume -o run; else bytes-train -q $args -o run; fi
    same straight/model.safetensors run/model.safetensors
    if compgen -G 'run/.*.tmp.*' >/dev/null; then fail "trial $trial left temporaries: $(ls -A run)"; fi
    python3 - <<'PY' || fail "trial $trial: metrics.jsonl does not count every step once"
import json
steps = [json.loads(l)["step"] for l in open("run/metrics.jsonl")]
assert steps == list(range(1, 41)), steps
PY
  done
  echo "kill-anywhere: $trial trials over ${span_ms} ms runs, $mid_write kills left a checkpoint half-written" >&2
  [ "$mid_write" -gt 0 ] || fail "no kill landed inside a checkpoint write; nothing tested"
}

# --precision bf16 computes in bf16 where the CPU has bf16 matrix kernels (AVX512_BF16 or AMX),
# and says f32 everywhere it ran f32: the metrics and the config name the precision that ran.
case_precision() {
  dataset
  local args="$tiny -d d.bds --steps 4 --val-every 0"
  bytes-train -q $args -o f32
  bytes-train $args -o bf16 --precision bf16 2>log
  local want=f32
  if grep -qw 'avx512_bf16\|amx_bf16' /proc/cpuinfo; then want=bf16; fi
  python3 - "$want" <<'PY' || fail "metrics do not name the precision that ran ($want)"
import json, sys
for run, want in (("f32", "f32"), ("bf16", sys.argv[1])):
    rows = [json.loads(l) for l in open(run + "/metrics.jsonl")]
    assert all(r["precision"] == want for r in rows), (run, rows)
PY
  grep -Eq "^precision ?= ?\"$want\"" bf16/config.toml || fail "config.toml: $(grep precision bf16/config.toml)"
  if [ $want = bf16 ]; then
    cmp -s f32/model.safetensors bf16/model.safetensors && fail "a bf16 run gave the f32 model"
    # Where bf16 products are the slower (AVX512_BF16 at half the f32 rate), one warning line names
    # the measured ratio, below 0.9, and the run above stayed bf16; elsewhere no warning.
    local slower
    slower=$(grep -c 'warning' log || true)
    [ "$slower" -le 1 ] || fail "more than one warning: $(cat log)"
    if [ "$slower" = 1 ]; then
      grep -Eq 'warning: .*bf16 products \(.*\) run at 0\.[0-8][0-9]x the rate of its f32 ones' log ||
        fail "a warning that is not the bf16-speed one: $(cat log)"
    fi
    bytes-train -q $args -o again --precision bf16
    same bf16/model.safetensors again/model.safetensors
  else
    grep -q 'no bf16 matrix kernels' log || fail "no warning that bf16 ran as f32: $(cat log)"
    same f32/model.safetensors bf16/model.safetensors
  fi
}

# A file size limit (a full disk, for one file) during a checkpoint: one error line, exit 1, no
# temporary and no model; the run resumes once there is room.
case_full_disk() {
  dataset
  bytes-train -q $tiny -d d.bds -o straight --steps 6
  if (ulimit -f 200; exec bytes-train -q $tiny -d d.bds -o run --steps 6) >out 2>err; then
    fail "a checkpoint larger than the file size limit succeeded"
  fi
  expect_error_line bytes-train
  grep -q 'File too large' err || fail "the error does not say why: $(cat err)"
  if compgen -G 'run/.*.tmp.*' >/dev/null; then fail "temporaries left: $(ls -A run)"; fi
  [ ! -e run/model.safetensors ] && [ ! -e run/state.bin ] || fail "a checkpoint appeared: $(ls -A run)"
  bytes-train -q --resume -o run
  same straight/model.safetensors run/model.safetensors
}

# The model is written after state.bin: a run that lost it (killed or out of disk between the two
# files, or deleted) gets the state's model back from --resume, never a claim of a missing model.
case_model_repair() {
  dataset
  bytes-train -q $tiny -d d.bds -o run --steps 10
  bytes-train -q $tiny -d d.bds -o older --steps 5
  cp run/model.safetensors want
  rm run/model.safetensors
  bytes-train --resume -o run 2>err || { cat err; fail "resume of a finished run without its model failed"; }
  same want run/model.safetensors
  cp older/model.safetensors run/model.safetensors
  bytes-train -q --resume -o run
  same want run/model.safetensors
}

# Stale temporaries of the run's own files are removed when the run continues; nothing else is.
case_stale_temporaries() {
  dataset
  bytes-train -q $tiny -d d.bds -o run --steps 4
  head -c 1000 /dev/urandom >run/.state.bin.tmp.a1B2c3
  head -c 1000 /dev/urandom >run/.model.safetensors.tmp.XyZ789
  echo keep >run/.notes.tmp.123456
  bytes-train -q --resume -o run --steps 6
  [ ! -e run/.state.bin.tmp.a1B2c3 ] && [ ! -e run/.model.safetensors.tmp.XyZ789 ] || fail "stale temporaries kept: $(ls -A run)"
  [ -e run/.notes.tmp.123456 ] || fail "a file that is not the run's was removed"
}

# Two bytes-train on one run directory: the second is refused while the first runs.
case_one_writer() {
  dataset
  bytes-train -q $tiny -d d.bds -o run --steps 100000 2>/dev/null &
  writer=$!  # global: the EXIT trap runs after the function's locals are gone
  trap 'kill $writer 2>/dev/null || true; rm -rf "$T"' EXIT  # a failed check must not leave it running
  for _ in $(seq 1 200); do [ -s run/state.bin ] && break; sleep 0.05; done
  expect_exit 1 bytes-train --resume -o run
  expect_error_line bytes-train
  grep -q 'another bytes-train' err || fail "the refusal does not say why: $(cat err)"
  kill -INT $writer
  wait $writer || true
}

# --init: a new run from a model's weights. Continued for 0 steps it is the parent (the same file,
# the same bpb); continued on the same data it starts where the parent got to, far below a fresh
# run; its config and every metrics row name the parent and its checksum; the config repeats it.
case_init() {
  dataset
  bytes-train -q $tiny -d d.bds -o parent --steps 60 --lr 3e-3 --warmup 10
  bytes-train -q --init parent/model.safetensors -d d.bds -o zero --steps 0 --batch 4
  same parent/model.safetensors zero/model.safetensors
  bytes-eval --json -m parent/model.safetensors --data d.bds --max-bytes 2K >a
  bytes-eval --json -m zero/model.safetensors --data d.bds --max-bytes 2K >b
  python3 -c 'import json; a, b = (json.load(open(f))["bpb"] for f in "ab"); assert a == b and a < 6, (a, b)' \
    || fail "the 0-step run evaluates otherwise than its parent"
  local args="--batch 4 --val-bytes 2K --val-every 0 --log-every 1 -d d.bds --steps 3"
  bytes-train -q $args --init parent/model.safetensors -o cont
  bytes-train -q $args --d-model 64 --layers 1 --ctx 32 -o fresh
  python3 - <<'PY' || fail "continued run"
import json, re
rows = [json.loads(l) for l in open("cont/metrics.jsonl")]
fresh = [json.loads(l) for l in open("fresh/metrics.jsonl")]
parent = [json.loads(l) for l in open("parent/metrics.jsonl")]
# Its first steps train on what the parent learnt: about the parent's last bpb (a batch of 128
# bytes is noisy: the mean of three), where a fresh run starts at ~8 bits a byte.
mean = lambda rs: sum(r["train_bpb"] for r in rs) / len(rs)
assert len(rows) == len(fresh) == 3 and mean(rows) < mean(fresh) - 2, (rows, fresh)
assert mean(rows) < parent[-1]["val_bpb"] + 0.5, (rows, parent[-1])
# A fresh schedule: warmup from step 0 (the parent's own ended at lr 3e-4).
assert rows[0]["lr"] == 1e-5, rows[0]
conf = open("cont/config.toml").read()
checksum = re.search(r'^init-checksum="([0-9a-f]{16})"$', conf, re.M).group(1)
assert re.search(r'^init="parent/model.safetensors"$', conf, re.M), conf
assert all(r["init"] == "parent/model.safetensors" and r["init_checksum"] == checksum for r in rows), rows
assert "init" not in fresh[0] and 'init=""' in open("fresh/config.toml").read()
PY
  bytes-train -q --config cont/config.toml -o again
  same cont/model.safetensors again/model.safetensors
  # The config names the parent by its checksum: another file under that name is refused.
  sed 's/^init-checksum=.*/init-checksum="0123456789abcdef"/' cont/config.toml >other.toml
  expect_exit 1 bytes-train --config other.toml -o other
  expect_error_line bytes-train
  grep -q 'checksum' err || fail "the refusal does not say why: $(cat err)"
  [ ! -e other ] || fail "a refused --init left a run directory"
}

# Size flags must agree with the --init model (the same value, however spelled) and training
# flags apply; --init with --resume, and a file that is not a model, are refused.
case_init_flags() {
  dataset
  bytes-train -q $tiny -d d.bds -o parent --steps 2
  local p=parent/model.safetensors
  for args in "--d-model 128" "--layers 2" "--ctx 64" "--arch word" "--rope-base 500000" "--enc-d-model 64" \
              "--ffn-hidden 128" "--d-model x"; do
    # shellcheck disable=SC2086
    expect_exit 2 bytes-train --init $p -d d.bds -o r --steps 2 $args
    expect_error_line bytes-train
    grep -q -- "${args%% *}" err || fail "the refusal of $args does not name the flag: $(cat err)"
  done
  expect_exit 2 bytes-train --init $p -d d.bds -o r --steps 2 --ctx 64
  grep -q -- "--ctx 64 contradicts the --init model's 32" err || fail "the refusal does not give both values: $(cat err)"
  bytes-train -q --init $p -d d.bds -o ok --steps 2 --arch flat --d-model 64 --ctx 32 --ffn-hidden 192 --norm-eps 0.00001 \
    --batch 2 --lr 5e-4 --warmup 1 --seed 7 --val-bytes 1K
  grep -q '^batch=2$' ok/config.toml && grep -q '^seed=7$' ok/config.toml || fail "training flags were not taken"
  [ "$(python3 -c 'import json; print(json.loads(open("ok/metrics.jsonl").readline())["lr"])')" = 0.0005 ] \
    || fail "--lr was not taken"
  expect_exit 2 bytes-train --resume --init $p -o ok
  expect_error_line bytes-train
  expect_exit 2 bytes-train --init - -d d.bds -o r --steps 2 <$p
  expect_error_line bytes-train
  head -c 900 $p >short.safetensors
  head -c "$(($(stat -c %s $p) - 64))" $p >cut.safetensors
  cp $p corrupt.safetensors
  printf '\377' | dd of=corrupt.safetensors bs=1 seek=12 conv=notrunc status=none  # in the JSON header
  cp $p nan.safetensors
  printf '\377\377\377\377' | dd of=nan.safetensors bs=1 seek="$(($(stat -c %s $p) - 4))" conv=notrunc status=none
  for bad in missing.safetensors short.safetensors cut.safetensors corrupt.safetensors nan.safetensors d.bds; do
    expect_exit 1 bytes-train --init $bad -d d.bds -o r --steps 2
    expect_error_line bytes-train
    grep -q "$bad" err || fail "the error does not name $bad: $(cat err)"
  done
  [ ! -e r ] || fail "a refused --init left a run directory"
}

# A run from --init resumes exactly, and never needs its parent again: a run made at step 0 and
# resumed with the parent gone trains what a straight run with that budget trains.
case_init_resume() {
  dataset
  bytes-train -q $tiny -d d.bds -o parent --steps 20
  resume_exact "--init parent/model.safetensors --batch 4 --val-bytes 2K -d d.bds --steps 200 --val-every 100 --log-every 1"
  bytes-train -q --init parent/model.safetensors --batch 4 -d d.bds -o whole --steps 30
  bytes-train -q --init parent/model.safetensors --batch 4 -d d.bds -o made --steps 0
  mv parent gone
  bytes-train -q --resume -o made --steps 30
  same whole/model.safetensors made/model.safetensors
}

# --resume with a larger budget trains further: the schedule grows, and says so.
case_resume_longer() {
  dataset
  bytes-train $tiny -d d.bds -o run --steps 10 --warmup 2 --log-every 1 2>log  # (not -q: the resumed run takes it too)
  bytes-train --resume -o run --steps 20 2>log || { cat log; fail "resume with a larger budget"; }
  grep -q '^bytes-train: warning: the schedule grows from 10 to 20 steps' log || { cat log; fail "no warning"; }
  python3 - <<'PY' || fail "the run did not go on"
import json
rows = {r["step"]: r for r in map(json.loads, open("run/metrics.jsonl"))}
assert max(rows) == 20, sorted(rows)
assert rows[11]["lr"] > rows[10]["lr"], (rows[10]["lr"], rows[11]["lr"])  # the longer cosine
PY
  # The same budget again: nothing more to do.
  bytes-train -q --resume -o run --steps 20
  [ "$(tail -n 1 run/metrics.jsonl | python3 -c 'import json,sys; print(json.load(sys.stdin)["step"])')" = 20 ] || fail "trained past 20"
}

# A time budget alone chooses the size, lr and warmup by measuring (bytes-train(1), CHOOSING A SIZE).
case_sizes() {
  dataset
  small="--ctx 32 --batch 4 --val-bytes 2K"
  # The plan for a long budget: rows small to large, measured as a prefix, one pick that follows
  # the rule (the largest measured row with 20 bytes a parameter; the first row past it short).
  bytes-train --plan --json $small -d d.bds -o plan --time 1h >plan.json
  [ ! -e plan ] || fail "--plan wrote a run directory"
  python3 - <<'PY' || fail "the plan"
import json
rows = [json.loads(l) for l in open("plan.json")]
assert len(rows) >= 5, rows
assert [r["params"] for r in rows] == sorted(r["params"] for r in rows), "rungs not small to large"
measured = ["steps" in r for r in rows]
n = measured.count(True)
assert n >= 2 and measured == [True] * n + [False] * (len(rows) - n), measured
picks = [i for i, r in enumerate(rows) if r["pick"]]
assert len(picks) == 1, picks
p = picks[0]
assert p >= 1, "an hour of small steps should afford more than the smallest size"
assert rows[p]["bytes_per_param"] >= 20 and all(rows[i]["bytes_per_param"] >= 20 for i in range(p)), rows
assert p == len(rows) - 1 or rows[p + 1]["bytes_per_param"] < 20, rows
r = rows[p]
assert r["warmup"] == min(100, max(5, r["steps"] // 20)), r
assert r["flags"][:4] == ["--d-model", r["flags"][1], "--layers", r["flags"][3]], r
PY
  # A second looks the same in the table form, the pick marked.
  bytes-train --plan $small -d d.bds -o plan --time 1s >plan.txt
  [ "$(grep -c '^\* ' plan.txt)" = 1 ] || { cat plan.txt; fail "no single pick in the table"; }
  grep -q '^\* .*flat d_model 64 ' plan.txt || { cat plan.txt; fail "1 s should pick the smallest size"; }

  # Training with the budget alone: the log says what was chosen, config.toml records it (so the
  # run can resume), the time spent measuring counts against the budget.
  bytes-train $small -d d.bds -o run --time 4s --json >report 2>log
  grep -q '^bytes-train: info: size for 4s: flat d_model 64 n_layers 2 ctx 32 ([0-9]* parameters): .*; lr 0.004, warmup [0-9]*$' log \
    || { cat log; fail "no line naming the chosen size"; }
  grep -qx 'd-model=64' run/config.toml && grep -qx 'layers=2' run/config.toml && grep -qx 'lr=0.004' run/config.toml \
    || { cat run/config.toml; fail "config.toml does not record the choice"; }
  python3 -c '
import json
r = json.load(open("report"))
assert 3.5 < r["seconds"] < 6, r' || fail "the run did not keep to its budget"
  bytes-train -q --resume -o run
  # A size flag, or another budget, and nothing is chosen: the defaults are used as before.
  bytes-train $small --d-model 64 --layers 1 -d d.bds -o given --time 2s 2>log
  if grep -q 'size for' log; then fail "a size was chosen although --d-model was given"; fi
  grep -qx 'lr=1e-3' given/config.toml || fail "--lr changed without a size choice"
  # A given --lr or --warmup stays while the size is chosen.
  bytes-train $small --lr 5e-3 --warmup 3 -d d.bds -o kept --time 2s 2>log
  grep -q 'size for .*; lr 0.005, warmup 3$' log && grep -qx 'lr=5e-3' kept/config.toml && grep -qx 'warmup=3' kept/config.toml \
    || { cat log kept/config.toml; fail "a given --lr or --warmup was not kept"; }
  for bad in "--steps 5" "--time 1m --d-model 64" "--time 1m --steps 5" "--time 1m --bytes 1M" "--time 1m --resume"; do
    # shellcheck disable=SC2086
    expect_exit 2 bytes-train --plan -d d.bds -o p2 $bad
    expect_error_line bytes-train
  done
}

run_case "${1//-/_}"
