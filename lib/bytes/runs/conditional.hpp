// bytes-eval --conditional: the bits of a target text given its context, the robustness study's
// measurement (how much harder a perturbed text is to predict than the clean one, after the same
// context). A pair is scored as one document, context + target, under the window protocol of
// eval.hpp; only the target's bytes count.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "bytes/runs/eval.hpp"

namespace bytes {

struct ConditionalScore {
  uint64_t context_bytes = 0, target_bytes = 0;
  double bits = 0;  // of the target's bytes
};
ConditionalScore score_conditional(Scorer& scorer, const ConditionalPair& pair);

struct ConditionalTotals {
  uint64_t targets = 0, bytes = 0;  // bytes: of the targets
  double bits = 0;
  double bpb() const { return bytes ? bits / double(bytes) : 0; }
};

// Scores the pairs of a JSON-lines file (- for stdin) as they arrive, so that a pipe of pairs
// need not end first; blank lines are skipped. Each pair gives out one line,
// {"line", "context_bytes", "target_bytes", "bits", "bpb"}. A bad line throws Error
// "line N of FILE …", after the lines before it are out.
ConditionalTotals score_conditional_lines(Model& model, int64_t stride, const std::string& path,
                                          const std::function<void(std::string_view)>& out);

}  // namespace bytes
