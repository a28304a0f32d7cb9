#include "bytes/runs/conditional.hpp"

#include <nlohmann/json.hpp>
#include <optional>

#include "bytes/base/error.hpp"
#include "bytes/base/io.hpp"

namespace bytes {

ConditionalScore score_conditional(Scorer& scorer, const ConditionalPair& pair) {
  const std::string doc = pair.context + pair.target;
  const auto bits = scorer.bits(reinterpret_cast<const uint8_t*>(doc.data()), doc.size());
  ConditionalScore score{pair.context.size(), pair.target.size(), 0};
  for (size_t i = pair.context.size(); i < doc.size(); ++i) score.bits += bits[i];
  return score;
}

ConditionalTotals score_conditional_lines(Model& model, int64_t stride, const std::string& path,
                                          const std::function<void(std::string_view)>& out) {
  Scorer scorer{model, stride, 16};
  LineReader lines(path);
  ConditionalTotals totals;
  for (std::string line; lines.next(line);) {
    const uint64_t line_no = lines.line_number();
    std::optional<ConditionalPair> pair;
    try {
      pair = parse_conditional(line);
    } catch (const Error& e) {
      throw Error("line " + std::to_string(line_no) + " of " + lines.name() + " " + e.what());
    }
    if (!pair) continue;  // a blank line
    const ConditionalScore s = score_conditional(scorer, *pair);
    totals.bits += s.bits;
    totals.bytes += s.target_bytes;
    ++totals.targets;
    const double bpb = s.target_bytes ? s.bits / double(s.target_bytes) : 0;
    const nlohmann::ordered_json j = {{"line", line_no}, {"context_bytes", s.context_bytes},
                                      {"target_bytes", s.target_bytes}, {"bits", round6(s.bits)}, {"bpb", round6(bpb)}};
    out(j.dump() + "\n");
  }
  return totals;
}

}  // namespace bytes
