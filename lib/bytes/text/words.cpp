#include "bytes/text/words.hpp"

#include <algorithm>
#include <stdexcept>

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

// The code point of a well-formed character's bytes.
uint32_t code_point(const uint8_t* p, int n) { return utf8::decode(p, size_t(n)).code_point; }

}  // namespace

WordRule parse_word_rule(const std::string& name) {
  if (name == "whitespace") return WordRule::whitespace;
  if (name == "spacelike") return WordRule::spacelike;
  if (name == "hat") return WordRule::hat;
  throw UsageError("unknown word rule '" + name + "' (whitespace, spacelike or hat)");
}

const char* word_rule_name(WordRule rule) {
  return rule == WordRule::whitespace ? "whitespace" : rule == WordRule::spacelike ? "spacelike" : "hat";
}

WordSplitter::WordSplitter(WordRule rule, size_t cap) : rule_(rule), cap_(cap) {
  if (cap < 4) throw UsageError("the word cap must be at least 4 bytes (a UTF-8 character's longest)");
  if (rule == WordRule::hat) hat::class_of(0);  // builds the tables now, not in the middle of a document
}

void WordSplitter::reset() {
  length_ = 0;
  decided_ = 0;
  in_space_ = false;
  prev_spacelike_ = false;
  hat_ = {};
  pend_n_ = 0;
  cut_short_ = false;
}

bool WordSplitter::per_byte_starts(uint8_t b) {
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

bool WordSplitter::starts_word(uint8_t b) {
  if (rule_ == WordRule::hat) throw std::logic_error("starts_word: the hat rule decides characters late (use feed)");
  return feed(b).starts != 0;
}

// The cap cuts where the rule does not; the rule's state never sees the cap's cuts.
bool WordSplitter::would_start(hat::Class c, int len) const {
  return length_ == 0 || hat_.breaks(c) || length_ + size_t(len) > cap_;
}

bool WordSplitter::take(hat::Class c, int len) {
  const bool broke = hat_.breaks(c);
  const bool start = length_ == 0 || broke || length_ + size_t(len) > cap_;
  hat_.advance(c, broke);
  length_ = start ? size_t(len) : length_ + size_t(len);
  return start;
}

WordSplitter::Decided WordSplitter::feed(uint8_t b) {
  Decided d{decided_, 0, 0};
  auto add = [&](bool start, int n) {
    if (start) d.starts |= 1u << d.count;
    d.count += n;
  };
  if (rule_ != WordRule::hat) {
    add(per_byte_starts(b), 1);
  } else {
    cut_short_ = false;
    if (pend_n_ > 0) {
      if ((pend_n_ == 1 ? utf8::after_lead(pend_[0]) : utf8::Range{}).holds(b)) {
        pend_[pend_n_++] = b;
        if (pend_n_ == need_) {
          add(take(hat::class_of(code_point(pend_, need_)), need_), need_);
          pend_n_ = 0;
        }
        decided_ += uint64_t(d.count);
        return d;
      }
      // b broke the character: each of its bytes is a character of its own.
      for (int k = 0; k < pend_n_; ++k) add(take(hat::Class::other, 1), 1);
      pend_n_ = 0;
    }
    const int len = utf8::length(b);
    if (len > 1) {
      pend_[0] = b;
      pend_n_ = 1;
      need_ = len;
    } else {
      add(take(len == 1 ? hat::class_of(b) : hat::Class::other, 1), 1);
    }
  }
  decided_ += uint64_t(d.count);
  return d;
}

WordSplitter::Decided WordSplitter::finish() {
  Decided d{decided_, 0, 0};
  for (int k = 0; k < pend_n_; ++k) {
    if (take(hat::Class::other, 1)) d.starts |= 1u << k;
    ++d.count;
  }
  cut_short_ = pend_n_ > 0;
  pend_n_ = 0;
  decided_ += uint64_t(d.count);
  return d;
}

bool WordSplitter::any_start(hat::ClassMask mask, int len, bool want) const {
  for (unsigned c = 0; c < unsigned(hat::Class::count); ++c)
    if ((mask >> c) & 1 && would_start(hat::Class(c), len) == want) return true;
  return false;
}

bool WordSplitter::allows(uint8_t b, size_t word_bytes) const {
  if (rule_ != WordRule::hat) return WordSplitter(*this).per_byte_starts(b) == (word_bytes == 0);
  if (pend_n_ == 0) {
    if (cut_short_ && utf8::is_continuation(b)) return false;
    const int len = utf8::length(b);
    if (len <= 1) return would_start(len == 1 ? hat::class_of(b) : hat::Class::other, 1) == (word_bytes == 0);
    return any_start(hat::completions(&b, 1), len, word_bytes == 0);
  }
  if (!(pend_n_ == 1 ? utf8::after_lead(pend_[0]) : utf8::Range{}).holds(b)) return false;
  uint8_t p[4];
  std::copy(pend_, pend_ + pend_n_, p);
  p[pend_n_] = b;
  const int n = pend_n_ + 1;
  const hat::ClassMask mask = n == need_ ? hat::bit(hat::class_of(code_point(p, n))) : hat::completions(p, n);
  // The character began the word exactly when the word holds nothing else.
  return any_start(mask, need_, word_bytes == size_t(pend_n_));
}

bool WordSplitter::allows_end(size_t word_bytes) const {
  if (word_bytes == 0 || pend_n_ > 0) return false;
  for (int b = 0; b < 256; ++b)
    if (allows(uint8_t(b), 0)) return true;
  return false;
}

std::vector<size_t> word_starts(std::string_view text, WordRule rule, size_t cap) {
  WordSplitter splitter(rule, cap);
  std::vector<size_t> starts;
  auto add = [&](uint64_t offset) { starts.push_back(size_t(offset)); };
  for (char c : text) splitter.feed(uint8_t(c)).each_start(add);
  splitter.finish().each_start(add);
  return starts;
}

}  // namespace bytes
