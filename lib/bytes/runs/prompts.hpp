// bytes-gen's run: one prompt, or one per line of a file or stdin, each generated into out as
// the bytes come; the prompt echoed and the output escaped on request; and the totals its timing
// line reports.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "bytes/runs/generate.hpp"

namespace bytes {

struct PromptOptions {
  GenerateOptions generate;
  bool echo = false;    // write each prompt before its completion
  bool escape = false;  // write what is not printable text as \xNN (Escaper)
};

struct PromptStats {
  GenerateStats total;  // summed over the prompts (first_byte_seconds unused)
  uint64_t prompts = 0;
  double first_byte_seconds = -1;  // the first prompt that wrote a byte: from its call (−1: none)
};

using PromptOut = std::function<void(std::string_view)>;

// One prompt, one completion.
PromptStats generate_prompt(SymbolStream& stream, const std::string& prompt, const PromptOptions& options,
                            const PromptOut& out);
// A prompt per line of path (- for stdin), read as they arrive; each completion ends with a
// newline. options.generate.end_at_newline should be set, so that a completion is one line.
PromptStats generate_lines(SymbolStream& stream, const std::string& path, const PromptOptions& options, const PromptOut& out);

// The debug log's timing line; load_seconds: from the program's start to the model ready.
std::string timing_line(const PromptStats& stats, double load_seconds);

}  // namespace bytes
