#!/usr/bin/env bash
# CLI tests for scripts/study-robustness, study-adaptation and study-sizes at a tiny size: studies.sh CASE
. "$(dirname "$0")/lib.sh"
S=$BYTES_SOURCE/scripts
export BYTES_BIN=$B

TINY_FLAT='--d-model 64 --layers 1 --ctx 64 --batch 2'
TINY_WORD='--arch word --d-model 64 --layers 1 --enc-d-model 64 --enc-layers 1 --dec-d-model 64 --dec-layers 1 --ctx-words 16 --batch 2'

# fortunes LANG FILE: 300 short "fortunes" cut at % lines; LANG rot13 turns the English into a
# second "language" with the same structure and other words.
fortunes() {
  local rot=cat
  [ "$1" = rot13 ] && rot="tr a-zA-Z n-za-mN-ZA-M"
  head -n 1500 "$BYTES_SHARED/data/tinyshakespeare.txt" | $rot | awk 'NF { print; if (++n % 5 == 0) print "%" }' >"$2"
}

# The outputs of a study: JSON that parses and names every model, a markdown table with a row per
# model, an SVG that is XML with a path per model.
check_outputs() {  # DIR STEM MODEL...
  local dir=$1 stem=$2
  shift 2
  python3 - "$dir/$stem" "$@" <<'PY' || fail "the outputs of $stem are not well formed"
import json, re, sys, xml.dom.minidom
stem, models = sys.argv[1], sys.argv[2:]
result = json.load(open(stem + ".json"))
assert [m["name"] for m in result["models"]] == models, result["models"]
md = open(stem + ".md").read()
for m in models:
    assert re.search(r"^\| " + m + r" \|", md, re.M), f"no table row for {m}"
svg = xml.dom.minidom.parse(stem + ".svg")
paths = [p.getAttribute("data-model") for p in svg.getElementsByTagName("path")]
for m in models:
    assert m in paths, f"no path for {m} in the SVG"
PY
}

case_robustness() {
  fortunes en f.txt
  args=(--text f.txt --steps 2 --pairs 6 --context 96 --target 32 --archs flat,word --noise drop:1 --noise upper:1
        --flags "flat=$TINY_FLAT" --flags "word=$TINY_WORD")
  "$S/study-robustness" "${args[@]}" -o out >table 2>err || { cat err >&2; fail "exit"; }
  check_outputs out robustness flat word
  grep -q '^flat: mean relative increase' table && grep -q '^word: mean relative increase' table || fail "summary: $(cat table)"
  python3 - <<'PY' || fail "the rows"
import json
r = json.load(open("out/robustness.json"))
for m in r["models"]:
    assert [(x["noise"], x["rate"]) for x in m["rows"]] == [("drop", 1.0), ("upper", 1.0)], m["rows"]
    assert m["steps"] == 2 and m["params"] > 0 and m["clean_bpb"] > 0, m
    # Dropping every character of the context leaves only the whitespace: it must cost bits.
    assert m["rows"][0]["increase"] > 0, m["rows"]
PY
  # Existing models instead of training: the same model scores the same.
  bytes-prep -q -s '\n%\n' -o d.bds f.txt
  bytes-train -q -d d.bds -o m $TINY_FLAT --steps 2
  "$S/study-robustness" --text f.txt --models a=m/model.safetensors b=m/model.safetensors --pairs 6 \
    --context 96 --target 32 --noise typo:0.5 -o out2 >table2 2>err || { cat err >&2; fail "exit"; }
  check_outputs out2 robustness a b
  python3 -c '
import json
a, b = json.load(open("out2/robustness.json"))["models"]
assert a["rows"] == b["rows"] and a["clean_bpb"] == b["clean_bpb"], (a, b)' || fail "one model, two scores"
}

case_adaptation() {
  fortunes en en.txt
  fortunes rot13 xx.txt
  "$S/study-adaptation" --source en.txt --target xx.txt --steps 4 --points 2 --val-bytes 2K --eval-bytes 8K \
    --flags "flat=$TINY_FLAT" --flags "word=$TINY_WORD" -o out >table 2>err || { cat err >&2; fail "exit"; }
  check_outputs out adaptation flat word
  grep -q '^flat ' table && grep -q '^word ' table || fail "table: $(cat table)"
  python3 - <<'PY' || fail "the curves"
import json
r = json.load(open("out/adaptation.json"))
for m in r["models"]:
    steps = [p["step"] for p in m["curve"]]
    assert steps == [0, 2, 4], steps
    assert m["continue"]["steps"] == 4 and m["pretrain"]["steps"] == 4, m
    for k in ("source_bpb_before", "source_bpb_after", "target_bpb_before", "target_bpb_after"):
        assert 0 < m[k] < 12, (k, m[k])
    # The default threshold is the worse final value: every model reaches it.
    assert m["reach"] is not None and m["reach"]["bytes"] <= m["continue"]["train_bytes"], m["reach"]
assert r["threshold"] == max(m["curve"][-1]["val_bpb"] for m in r["models"])
PY
}

# Two budgets of a few seconds: bytes-train's own choice (the smallest size, at such budgets)
# trained and scored for each; the outputs well formed.
case_sizes() {
  fortunes en f.txt
  "$S/study-sizes" --text f.txt --minutes 0.04,0.06 -o out >table 2>err || { cat err >&2; fail "exit"; }
  grep -q '^== 0.04 min (best: chosen)' table && grep -q '^== 0.06 min' table || fail "table: $(cat table)"
  python3 - <<'PY' || fail "the outputs"
import json, re, xml.dom.minidom
r = json.load(open("out/sizes.json"))
assert [b["minutes"] for b in r["budgets"]] == [0.04, 0.06], r["budgets"]
for b in r["budgets"]:
    chosen = [e for e in b["runs"] if e["name"] == "chosen"]
    assert len(chosen) == 1 and chosen[0]["rung"] == 1 == b["plan_pick"], b
    e = chosen[0]
    assert e["d_model"] == 64 and e["lr"] == 0.004 and e["steps"] > 0 and 0 < e["heldout_bpb"] < 9, e
    # Measuring counts against the budget: the run ends within it (and a step or a check past it).
    assert e["seconds"] <= b["minutes"] * 60 + 1.5, e
    assert sum(p["pick"] for p in b["plan"]) == 1, b["plan"]
md = open("out/sizes.md").read()
assert len(re.findall(r"^\| 0\.0[46] min \| chosen \| 1 \|", md, re.M)) == 2, md
svg = xml.dom.minidom.parse("out/sizes.svg")
assert [p.getAttribute("data-model") for p in svg.getElementsByTagName("path")] == ["0.04 min", "0.06 min"]
PY
}

# A bad argument: one line on stderr, nonzero exit, nothing written.
case_usage_errors() {
  fortunes en f.txt
  for s in study-robustness study-adaptation; do
    for bad in "--bogus" "--steps 0" "--minutes -1" "--archs flat,nope" "--flags flat" "--steps 2 --minutes 3" \
               "--threads -1"; do
      # shellcheck disable=SC2086
      code=0; "$S/$s" $bad -o out >stdout 2>err || code=$?
      [ "$code" != 0 ] || fail "$s $bad: exit 0"
      [ "$(wc -l <err)" = 1 ] || { cat err >&2; fail "$s $bad: expected one line on stderr"; }
      grep -q "^$s: error: " err || fail "$s $bad: $(cat err)"
      [ ! -e out ] || fail "$s $bad: wrote out"
    done
  done
  for bad in "--pairs 0" "--noise dorp" "--noise drop:2" "--models a=nothing" "--text nothing"; do
    # shellcheck disable=SC2086
    code=0; "$S/study-robustness" $bad -o out >stdout 2>err || code=$?
    [ "$code" != 0 ] && [ "$(wc -l <err)" = 1 ] && grep -q '^study-robustness: error: ' err || fail "$bad: $code $(cat err)"
  done
  for bad in "--minutes x" "--minutes 2,-1" "--around -1" "--threads -1" "--text nothing" "--bogus"; do
    # shellcheck disable=SC2086
    code=0; "$S/study-sizes" $bad -o out >stdout 2>err || code=$?
    [ "$code" != 0 ] && [ "$(wc -l <err)" = 1 ] && grep -q '^study-sizes: error: ' err || fail "$bad: $code $(cat err)"
    [ ! -e out ] || fail "study-sizes $bad: wrote out"
  done
  for bad in "--points 0" "--source nothing" "--target-bpb x"; do
    # shellcheck disable=SC2086
    code=0; "$S/study-adaptation" $bad -o out >stdout 2>err || code=$?
    [ "$code" != 0 ] && [ "$(wc -l <err)" = 1 ] && grep -q '^study-adaptation: error: ' err || fail "$bad: $code $(cat err)"
  done
}

run_case "${1//-/_}"
