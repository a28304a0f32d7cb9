// bytes-prep's commands, over prep.hpp and the dataset format: the prep run with its report, and
// the ways back out of a dataset (list, cat) and into the word model's view of a text (words).
// Output goes to out, piece by piece, in the order a reader sees it.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "bytes/text/prep.hpp"
#include "bytes/text/words.hpp"

namespace bytes::prep {

using Out = std::function<void(std::string_view)>;

// prepare() with a progress bar on stderr, then the report: JSON on out, or a summary line and
// the split table in the log; and a warning for a split a fraction asked for that got nothing.
// No inputs: stdin, unless it is a terminal (UsageError).
Stats prepare_and_report(std::vector<Input> inputs, const std::string& output, const Options& options, bool json,
                         const Out& out);

// Checks a dataset and writes its splits (and with per_doc, one line per document): text or JSON.
void list_dataset(const std::string& path, bool per_doc, bool json, const Out& out);

struct CatOptions {
  std::string split = "all";   // train, val, test or all
  std::vector<uint64_t> docs{};  // only these documents, in this order, when not empty
  // What follows each document: NUL with nul; else delimiter (escaped, as typed) when given;
  // else what cut the documents, unless use_delimiter is false.
  bool nul = false, use_delimiter = true;
  std::string delimiter{};
};
// The documents of a dataset, byte for byte.
void cat_dataset(const std::string& path, const CatOptions& options, const Out& out);

// One line per word: its offset, its length in bytes and its bytes, escaped (bytes-gen --escape's
// form, and \n and \t too) so that a word holding a newline is still one line.
void show_words(const std::string& path, WordRule rule, size_t cap, const Out& out);

}  // namespace bytes::prep
