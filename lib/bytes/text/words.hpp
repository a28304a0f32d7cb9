// The word splitter of the word (HAT) model, as SPEC.md "Models" defines it: deterministic and
// prefix-stable (whether a word starts at byte t depends on bytes ≤ t only, so the split of a
// prefix is the split of the whole, cut there), on any bytes, valid UTF-8 or not.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bytes {

enum class WordRule {
  // A word is a run of non-whitespace bytes and the whitespace after it; whitespace at the start
  // of a document is a word of its own. Whitespace: ASCII space, \t, \n, \v, \f, \r.
  whitespace,
  // SpaceByte's rule: a word starts before each run of spacelike bytes (neither an ASCII letter
  // or digit nor a UTF-8 continuation byte), so a word is such a run and what follows it.
  spacelike,
};
WordRule parse_word_rule(const std::string& name);  // "whitespace" or "spacelike"; UsageError otherwise
const char* word_rule_name(WordRule rule);

// The longest word allowed is `cap` bytes (≥ 4, so that any UTF-8 character fits). A longer word
// is cut before the character that would not fit, its length read from its first byte; so valid
// UTF-8 is never cut inside a character (stray continuation bytes are cut like any byte).
class WordSplitter {
 public:
  WordSplitter(WordRule rule, size_t cap);
  // Feed every byte of a document in order: true when a word starts at this byte (always for the
  // first byte).
  bool starts_word(uint8_t byte);
  void reset();  // a new document

 private:
  WordRule rule_;
  size_t cap_;
  size_t length_ = 0;       // bytes in the current word; 0 before the first byte
  bool in_space_ = false;   // whitespace rule: the current word has reached its whitespace
  bool prev_spacelike_ = false;
};

// The offsets where words start (the first is 0 for a non-empty text).
std::vector<size_t> word_starts(std::string_view text, WordRule rule, size_t cap);

}  // namespace bytes
