#include "bytes/text/words.hpp"

#include <algorithm>

#include "bytes/base/error.hpp"
#include "bytes/text/chars.hpp"
#include "bytes/text/utf8.hpp"

namespace bytes {

namespace {

// SpaceByte's spacelike bytes: neither an ASCII letter or digit nor a UTF-8 continuation byte.
bool is_spacelike(uint8_t b) { return !chars::is_ascii_alnum(b) && !utf8::is_continuation(b); }
// Bytes of the UTF-8 character this byte begins, as its first byte says (1 for ASCII and for
// bytes that begin none).
size_t char_length(uint8_t b) { return size_t(std::max(1, utf8::length(b))); }

}  // namespace

WordRule parse_word_rule(const std::string& name) {
  if (name == "whitespace") return WordRule::whitespace;
  if (name == "spacelike") return WordRule::spacelike;
  throw UsageError("unknown word rule '" + name + "' (whitespace or spacelike)");
}

const char* word_rule_name(WordRule rule) { return rule == WordRule::whitespace ? "whitespace" : "spacelike"; }

WordSplitter::WordSplitter(WordRule rule, size_t cap) : rule_(rule), cap_(cap) {
  if (cap < 4) throw UsageError("the word cap must be at least 4 bytes (a UTF-8 character's longest)");
}

void WordSplitter::reset() {
  length_ = 0;
  in_space_ = false;
  prev_spacelike_ = false;
}

bool WordSplitter::starts_word(uint8_t b) {
  bool start;
  if (length_ == 0) {
    start = true;
  } else if (length_ + (utf8::is_continuation(b) ? 1 : char_length(b)) > cap_) {
    start = true;  // (a character's first byte made room for its continuation bytes)
  } else if (rule_ == WordRule::whitespace) {
    start = in_space_ && !chars::is_ascii_space(b);
  } else {
    start = is_spacelike(b) && !prev_spacelike_;
  }
  if (rule_ == WordRule::whitespace) {
    // A word reaches its whitespace at the first whitespace byte; a leading whitespace word is
    // all whitespace, so it is "in space" from its first byte. A cut by the cap keeps the state.
    if (start && !chars::is_ascii_space(b)) in_space_ = false;
    if (chars::is_ascii_space(b)) in_space_ = true;
  }
  prev_spacelike_ = is_spacelike(b);
  length_ = start ? 1 : length_ + 1;
  return start;
}

std::vector<size_t> word_starts(std::string_view text, WordRule rule, size_t cap) {
  WordSplitter splitter(rule, cap);
  std::vector<size_t> starts;
  for (size_t i = 0; i < text.size(); ++i)
    if (splitter.starts_word(uint8_t(text[i]))) starts.push_back(i);
  return starts;
}

}  // namespace bytes
