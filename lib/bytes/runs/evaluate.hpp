// bytes-eval's run: the documents of a dataset split, or one file or stdin as one document,
// scored as they are read (memory is bounded by the model and its windows, not the input), with
// zstd's floor beside them; and the report it prints.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "bytes/formats/dataset.hpp"
#include "bytes/runs/eval.hpp"

namespace bytes {

struct EvalOptions {
  std::string input = "-";  // a file scored as one document (- for stdin), when dataset is empty
  std::string dataset;      // else the documents of this dataset's split
  Split split = Split::val;
  int64_t stride = 0;  // 0: ctx/2
  uint64_t max_bytes = UINT64_MAX;
  enum class PerByte { none, tsv, json } per_byte = PerByte::none;
};

struct EvalResult {
  double bits = 0, zstd_bpb = 0;
  uint64_t bytes = 0, docs = 0;
  int zstd_level = 0;
  int64_t stride = 0, ctx = 0;  // the window stride used, and the model's context
  double bpb() const { return bits / double(bytes); }
};

// Scores the input. With per-byte lines on, out gets the lines of each piece of input as soon as
// their bits are final (a reader at the other end sees them as the input arrives). Throws Error
// when nothing is scored.
EvalResult evaluate(Model& model, const EvalOptions& options, const std::function<void(std::string_view)>& out = {});

// One position with --per-byte: offset, byte, bits, most likely byte (TSV or a JSON object).
std::string per_byte_line(uint64_t offset, const ScoredByte& s, bool json);

// The result: one line of text, or one JSON object; with per-byte lines, what goes to the log.
std::string eval_report(const EvalResult& result, bool json);
std::string eval_summary(const EvalResult& result);

}  // namespace bytes
