// The word splitter of the word (HAT) model, as SPEC.md "Models" defines it: deterministic and
// prefix-stable (each word of a prefix's split is a prefix of the matching word of the whole's),
// on any bytes, valid UTF-8 or not.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bytes/text/hat_rule.hpp"

namespace bytes {

enum class WordRule {
  // A word is a run of non-whitespace bytes and the whitespace after it; whitespace at the start
  // of a document is a word of its own. Whitespace: ASCII space, \t, \n, \v, \f, \r.
  whitespace,
  // SpaceByte's rule: a word starts before each run of spacelike bytes (neither an ASCII letter
  // or digit nor a UTF-8 continuation byte), so a word is such a run and what follows it.
  spacelike,
  // HAT's rule: Unicode word boundaries, a split after punctuation and in camelCase, spaces with
  // the word after them (hat_rule.hpp). Decided per character, once its last byte has arrived.
  hat,
};
WordRule parse_word_rule(const std::string& name);  // "whitespace", "spacelike" or "hat"; UsageError otherwise
const char* word_rule_name(WordRule rule);

// The longest word allowed is `cap` bytes (≥ 4, so that any UTF-8 character fits). A longer word
// is cut before the character that would not fit; so valid UTF-8 is never cut inside a character
// (the per-byte rules read a character's length from its first byte; stray continuation bytes
// are cut like any byte).
class WordSplitter {
 public:
  // What one call decided: the `count` oldest undecided bytes of the document, from offset
  // `first` on; bit k of `starts` is set when the k-th of them starts a word.
  struct Decided {
    uint64_t first = 0;
    int count = 0;
    unsigned starts = 0;
    template <class F>
    void each_start(F&& f) const {
      for (int k = 0; k < count; ++k)
        if ((starts >> k) & 1) f(first + uint64_t(k));
    }
  };

  WordSplitter(WordRule rule, size_t cap);
  // Feed every byte of a document in order. The per-byte rules decide each byte at once (the
  // first byte always starts a word); the hat rule decides a character when its last byte has
  // arrived, or when a byte shows it ill-formed (then each of its bytes is a character of its
  // own), so up to 3 bytes stay pending.
  Decided feed(uint8_t byte);
  // At a document's end (or a prompt's): the pending bytes decided as bytes of no character.
  Decided finish();
  void reset();  // a new document
  size_t pending() const { return size_t(pend_n_); }
  // feed for the per-byte rules, whose every byte is decided at once: whether it starts a word.
  bool starts_word(uint8_t byte);

  // For a generator that writes words and their ends (EOW) and must keep them the splitter's:
  // whether `byte` may come next when the word in progress holds `word_bytes` bytes (0: right
  // after an end, or at the start). A byte is allowed when some completion of its character
  // keeps the split: starting a word exactly when word_bytes is 0 (a continuation byte: when its
  // character began the word). The hat rule writes whole characters: while one is pending only
  // its continuation bytes may follow, and none right after finish() cut one short.
  bool allows(uint8_t byte, size_t word_bytes) const;
  // Whether the word in progress may end here: it is not empty, no character is pending, and
  // some next byte could start a word.
  bool allows_end(size_t word_bytes) const;

 private:
  bool per_byte_starts(uint8_t byte);
  bool would_start(hat::Class c, int len) const;
  bool take(hat::Class c, int len);  // decides a character: whether it starts a word
  bool any_start(hat::ClassMask mask, int len, bool want) const;

  WordRule rule_;
  size_t cap_;
  size_t length_ = 0;       // bytes in the current word; 0 before the first byte
  uint64_t decided_ = 0;    // bytes of the document decided
  bool in_space_ = false;   // whitespace rule: the current word has reached its whitespace
  bool prev_spacelike_ = false;
  // The hat rule: its state, the bytes of a character in progress, and whether finish() just
  // decided such bytes (a continuation byte now would have completed them).
  hat::State hat_;
  uint8_t pend_[4] = {};
  int pend_n_ = 0, need_ = 0;
  bool cut_short_ = false;
};

// The offsets where words start (the first is 0 for a non-empty text), the text one document.
std::vector<size_t> word_starts(std::string_view text, WordRule rule, size_t cap);

}  // namespace bytes
