// The word splitter over arbitrary bytes, with a rule and a cap from the fuzz bytes: the words
// tile the input (the first starts at 0, each next one later), none is longer than the cap, and
// the split is prefix-stable (a prefix's words are the whole's, cut there).
#include <fuzzer/FuzzedDataProvider.h>

#include "bytes/text/words.hpp"
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  const auto rule = fdp.ConsumeBool() ? bytes::WordRule::spacelike : bytes::WordRule::whitespace;
  const size_t cap = fdp.ConsumeIntegralInRange<size_t>(4, 40);
  const size_t cut = fdp.ConsumeIntegral<uint16_t>();
  const std::string text = fdp.ConsumeRemainingBytesAsString();

  const auto starts = bytes::word_starts(text, rule, cap);
  FUZZ_CHECK(text.empty() ? starts.empty() : !starts.empty() && starts[0] == 0);
  for (size_t i = 0; i < starts.size(); ++i) {
    const size_t end = i + 1 < starts.size() ? starts[i + 1] : text.size();
    FUZZ_CHECK(starts[i] < end && end - starts[i] <= cap);
  }
  const size_t n = std::min(cut, text.size());
  const auto prefix = bytes::word_starts(std::string_view(text).substr(0, n), rule, cap);
  FUZZ_CHECK(prefix == std::vector<size_t>(starts.begin(), std::lower_bound(starts.begin(), starts.end(), n)));
  return 0;
}
