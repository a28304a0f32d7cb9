// bytes-prep's work: inputs (files, folders, stdin) cut into documents, each document assigned
// to a split by a hash of its content (or by the input it came from), exact duplicates dropped on
// request, and everything written to one dataset file.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bytes/formats/dataset.hpp"

namespace bytes::prep {

enum class DocMode { file, line, paragraph, nul, separator };
DocMode parse_doc_mode(const std::string& name);  // throws UsageError
const char* doc_mode_name(DocMode mode);
// The bytes that end a document in this mode ("" for file): what `bytes-prep cat` puts back.
std::string doc_delimiter(DocMode mode, const std::string& separator);

struct Options {
  DocMode mode = DocMode::file;
  std::string separator;  // DocMode::separator only
  double val = 0.1, test = 0.0;
  bool dedup = false;
  bool skip_binary = true;
  int level = 3;
  uint32_t block_size = 4 << 20;
  int threads = 1;
  uint64_t memory_per_doc = 64ull << 20;  // a longer document is spilled or read twice
};

struct Input {
  std::string path;            // "-" is stdin
  std::optional<Split> split;  // assigned whole to this split, or by content hash when empty
};

struct Stats {
  SplitStats split[n_splits];
  uint64_t files = 0, input_bytes = 0, skipped_binary = 0, duplicates = 0, duplicate_bytes = 0;
  uint64_t file_size = 0;
  double seconds = 0;
};

// Files named and found in folders (recursively, in byte order of their paths, symlinks inside
// folders not followed), each with the split of the input that named it.
std::vector<Input> expand_inputs(const std::vector<Input>& inputs);

// Whether a file starting with these bytes is binary: it holds a NUL byte (grep's rule).
bool looks_binary(const uint8_t* data, size_t n);

// The split of a document by its content hash: stable however many documents come with it.
Split split_for_hash(uint64_t hash, double val, double test);

// Cuts a byte stream into documents at a separator, across any chunking of the input.
// Empty separator: the whole stream is one document (possibly empty).
class Cutter {
 public:
  using Content = std::function<void(const uint8_t*, size_t)>;
  using End = std::function<void()>;
  Cutter(DocMode mode, std::string separator, Content content, End end);
  void feed(const uint8_t* data, size_t n);
  void finish();

 private:
  void emit(const uint8_t* p, size_t n);
  void end_doc();
  DocMode mode_;
  std::string sep_;
  Content content_;
  End end_;
  std::vector<uint8_t> buf_;
  size_t carry_ = 0;
  bool doc_open_ = false;     // bytes seen since the last document end
  bool doc_nonempty_ = false;
  uint64_t held_newlines_ = 0;  // paragraph mode: trailing newlines not yet known to be content
};

using ProgressFn = std::function<void(uint64_t bytes_read, uint64_t bytes_total)>;
Stats prepare(const std::vector<Input>& inputs, const std::string& output, const Options& options,
              const ProgressFn& progress = {});

// Reports: one JSON object per split, the whole run as JSON, and a plain-text table.
nlohmann::json split_json(const SplitStats& stats);
nlohmann::json stats_json(const Stats& stats, const std::string& output);
std::string split_table(const SplitStats (&splits)[n_splits]);

}  // namespace bytes::prep
