// The word splitter over arbitrary bytes, with a rule, a cap and a generator's choices from the
// fuzz bytes. The words tile the input (the first starts at 0, each next one later), none is
// longer than the cap, the hat rule cuts only between characters, and the split is prefix-stable
// (a prefix's words are the whole's, cut there; for the hat rule, prefixes that end between
// characters). The generator side: the input's own split is allowed symbol by symbol, and a
// generator that picks among the allowed symbols writes text whose split is the words it wrote.
#include <fuzzer/FuzzedDataProvider.h>

#include <vector>

#include "bytes/text/utf8.hpp"
#include "bytes/text/words.hpp"
#include "fuzz.hpp"

namespace {

using bytes::WordRule;
using bytes::WordSplitter;

// Where characters start as the hat rule reads them (a byte of no character is one of its own).
std::vector<size_t> char_starts(const std::string& text) {
  std::vector<size_t> at;
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  for (size_t i = 0; i < text.size();) {
    at.push_back(i);
    const auto d = bytes::utf8::decode(p + i, text.size() - i);
    i += d.status == bytes::utf8::Decoded::ok ? size_t(d.length) : 1;
  }
  return at;
}

// The text's own split, walked as a generator would write it: every byte and every EOW allowed.
// The hat rule's generator writes whole characters, so the walk stops at a broken one.
void check_walk(const std::string& text, const std::vector<size_t>& starts, WordRule rule, size_t cap) {
  WordSplitter split(rule, cap);
  size_t word = 0, k = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (k < starts.size() && starts[k] == i) {
      FUZZ_CHECK(i == 0 || split.allows_end(word));
      word = 0;
      ++k;
    }
    const auto* p = reinterpret_cast<const uint8_t*>(text.data()) + i;
    if (rule == WordRule::hat && split.pending() == 0 && bytes::utf8::length(*p) > 1 &&
        bytes::utf8::decode(p, text.size() - i).status != bytes::utf8::Decoded::ok)
      return;
    FUZZ_CHECK(split.allows(*p, word));
    split.feed(*p);
    ++word;
  }
}

// A generator that takes the `choices`-th allowed symbol (256: EOW) at each step, then finishes
// its character: the split of what it wrote is the words it wrote.
void check_generator(const std::vector<uint8_t>& choices, WordRule rule, size_t cap) {
  WordSplitter split(rule, cap);
  std::string text;
  std::vector<size_t> starts;
  size_t word = 0;
  for (size_t step = 0; step < choices.size() || split.pending() > 0; ++step) {
    std::vector<int> allowed;
    for (int b = 0; b < 256; ++b)
      if (split.allows(uint8_t(b), word)) allowed.push_back(b);
    if (split.allows_end(word)) allowed.push_back(256);
    FUZZ_CHECK(!allowed.empty());
    const int pick = allowed[(step < choices.size() ? choices[step] : 0) % allowed.size()];
    if (pick == 256) {
      word = 0;
      continue;
    }
    if (word == 0) starts.push_back(text.size());
    text += char(pick);
    ++word;
    split.feed(uint8_t(pick));
  }
  FUZZ_CHECK(bytes::word_starts(text, rule, cap) == starts);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  const WordRule rules[] = {WordRule::whitespace, WordRule::spacelike, WordRule::hat};
  const WordRule rule = rules[fdp.ConsumeIntegralInRange<int>(0, 2)];
  const size_t cap = fdp.ConsumeIntegralInRange<size_t>(4, 40);
  const size_t cut = fdp.ConsumeIntegral<uint16_t>();
  const std::vector<uint8_t> choices = fdp.ConsumeBytes<uint8_t>(fdp.ConsumeIntegralInRange<size_t>(0, 48));
  const std::string text = fdp.ConsumeRemainingBytesAsString();

  const auto starts = bytes::word_starts(text, rule, cap);
  FUZZ_CHECK(text.empty() ? starts.empty() : !starts.empty() && starts[0] == 0);
  const auto chars = char_starts(text);
  for (size_t i = 0; i < starts.size(); ++i) {
    const size_t end = i + 1 < starts.size() ? starts[i + 1] : text.size();
    FUZZ_CHECK(starts[i] < end && end - starts[i] <= cap);
    if (rule == WordRule::hat) FUZZ_CHECK(std::binary_search(chars.begin(), chars.end(), starts[i]));
  }
  size_t n = std::min(cut, text.size());
  if (rule == WordRule::hat && n < text.size()) n = *(std::upper_bound(chars.begin(), chars.end(), n) - 1);
  const auto prefix = bytes::word_starts(std::string_view(text).substr(0, n), rule, cap);
  FUZZ_CHECK(prefix == std::vector<size_t>(starts.begin(), std::lower_bound(starts.begin(), starts.end(), n)));
  check_walk(text, starts, rule, cap);
  check_generator(choices, rule, cap);
  return 0;
}
