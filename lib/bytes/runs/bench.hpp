// bytes-bench: this machine's ceilings (matrix-multiply peak at the models' shapes, memory copy
// bandwidth) and our kernels and programs measured against them, llama-bench's way: a few
// standard tests, a warm-up, repetitions, mean ± standard deviation, rows as markdown, CSV or
// JSON lines. The programs' own code runs (train(), generate(), prep::prepare, Perturber), so a
// figure here is the figure the program reports.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bytes/models/model.hpp"

namespace bytes::bench {

// The tests, in the order they run (a test that needs a ceiling runs after it), and what each
// measures (bytes-bench --list).
struct TestInfo {
  std::string name, what;
};
inline const std::vector<TestInfo>& tests() {
  static const std::vector<TestInfo> all = {
      {"matmul", "matrix multiply at a training step's shapes, and the peak (fp32, bf16)"},
      {"bandwidth", "memory copy bandwidth, buffers far larger than the last cache"},
      {"attention", "attention forward and backward at each --attention-ctx"},
      {"norm", "RMSNorm forward and backward over a training step's rows"},
      {"train", "bytes-train's steps: bytes/s and model FLOP/s against the peak"},
      {"pp", "prompt processing: --prompt-bytes bytes in one block (bytes-gen)"},
      {"tg", "generation at batch 1 against the bandwidth limit (bytes-gen)"},
      {"prep", "bytes-prep MB/s beside zstd -3 and cat"},
      {"perturb", "bytes-perturb MB/s beside cat"},
  };
  return all;
}
inline std::vector<std::string> test_names() {
  std::vector<std::string> names;
  for (const auto& t : tests()) names.push_back(t.name);
  return names;
}

struct Options {
  std::vector<std::string> tests = test_names();
  std::vector<std::string> archs = architecture_names();
  std::vector<Precision> precisions = {Precision::f32, Precision::bf16};  // bf16 only where native
  int repetitions = 5, warmup = 1;
  double min_seconds = 0.05;  // a kernel's repetition runs it this long at least (repeating it)
  // The models of train, pp and tg: each architecture's defaults, overridden by these size flags
  // (by field name, as bytes-train takes them) where it declares them. The kernel tests take the
  // flat model's width and context, with batch · ctx rows.
  std::map<std::string, std::string> model_flags;
  int64_t batch = 16;
  std::vector<int64_t> attention_ctx = {256, 1024, 4096};
  int64_t prompt_bytes = 256, gen_bytes = 128;  // pp and tg sizes
  uint64_t text_bytes = 4 << 20;                // synthetic text for train, prep and perturb
  std::string text;                             // a text file instead of synthetic text
  std::string noise = "typo:0.05";              // perturb's noise chain (comma separated)
  uint64_t seed = 1;
};

struct Machine {
  std::string cpu, isa, f32_impl, bf16_impl, attention_impl, attention_bf16_impl, version, dnnl_version;
  bool bf16_native = false;
  int threads = 1;
  uint64_t llc_bytes = 0;  // the last cache level, 0 if unknown
  nlohmann::ordered_json json() const;
};
Machine machine();

// One row: a measurement's samples (one per repetition) and, where there is one, the ceiling
// it is set against.
struct Row {
  std::string test, size, precision, unit;
  std::vector<double> samples;
  double mean = 0, sd = 0;
  std::string ceiling;  // e.g. "peak f32", "bandwidth limit"
  double fraction = -1;  // mean / ceiling value; −1: none
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();  // params, flops per byte, …
  void set(std::vector<double> values);  // samples, mean and sample standard deviation
};

// Refuses unknown tests, model sizes an architecture cannot take, a bad noise chain (UsageError)
// and an unreadable text file (Error), before anything is measured.
void validate(const Options& options);

// Runs the selected tests, handing each row to out as it is measured.
void run(const Options& options, const std::function<void(const Row&)>& out);

// Output: markdown (a header of the machine, then a table that grows a row at a time), CSV
// (a header line, then rows) and JSON lines (one object per row, the machine in each).
enum class Format { md, csv, json };
Format parse_format(const std::string& name);  // throws UsageError
std::string header(Format f, const Machine& m);
std::string format_row(Format f, const Machine& m, const Row& r);

// Text that looks like English prose to a word splitter (Zipf-distributed words of 1–12
// letters, punctuation, line breaks), the same for the same seed.
std::string synthetic_text(uint64_t bytes, uint64_t seed);

// FLOPs of attention over segments of these lengths (Q·Kᵀ and P·V, causal: the pairs a row
// sees), forward; the backward is 2.5 times that (FlashAttention's count).
double attention_flops(const std::vector<int64_t>& lengths, int64_t heads, int64_t head_dim, bool causal);

}  // namespace bytes::bench
