#include "bytes/text/hat_rule.hpp"

#include <unictype.h>
#include <uniwbrk.h>

#include <vector>

#include "bytes/text/utf8.hpp"

namespace bytes::hat {

namespace {

constexpr uint32_t code_points = 0x110000;

Class compute_class(uint32_t c) {
  if (c == ' ') return Class::space;
  if (c == '\r') return Class::cr;
  if (c == '\n') return Class::lf;
  if (uc_is_property_white_space(c)) return Class::other_space;
  const int wb = uc_wordbreak_property(c);
  if (wb == WBP_EXTEND || wb == WBP_FORMAT) return Class::extend;
  if (wb == WBP_ZWJ) return Class::zwj;
  if (uc_is_general_category(c, UC_CATEGORY_P)) return Class::punct;
  const bool pict = uc_is_property_extended_pictographic(c);
  if (wb == WBP_ALETTER || wb == WBP_HL) {
    if (uc_is_general_category(c, UC_CATEGORY_Ll)) return pict ? Class::lower_pict : Class::lower;
    if (uc_is_general_category(c, UC_CATEGORY_Lu) && !pict) return Class::upper;
    return pict ? Class::letter_pict : Class::letter;
  }
  if (wb == WBP_NUMERIC) return Class::numeric;
  if (wb == WBP_KATAKANA) return Class::katakana;
  if (wb == WBP_RI) return Class::ri;
  return pict ? Class::pict : Class::other;
}

// The class of every code point, and the classes each aligned block of 64 and of 4096 code points
// holds: a k-byte prefix of an L-byte character fixes all but its last 6·(L − k) bits.
struct Tables {
  std::vector<Class> classes = std::vector<Class>(code_points);
  std::vector<ClassMask> block64 = std::vector<ClassMask>(code_points >> 6);
  std::vector<ClassMask> block4096 = std::vector<ClassMask>(code_points >> 12);
  ClassMask lead[256] = {};

  Tables() {
    for (uint32_t c = 0; c < code_points; ++c) {
      const bool surrogate = c >= 0xD800 && c < 0xE000;
      classes[c] = surrogate ? Class::other : compute_class(c);
      if (!surrogate) block64[c >> 6] |= bit(classes[c]);
    }
    for (uint32_t b = 0; b < block64.size(); ++b) block4096[b >> 6] |= block64[b];
    // A lead byte's characters: the code points its encodings cover, less overlongs, surrogates
    // and those past U+10FFFF (exactly what its second byte's range allows; all 64-aligned).
    for (int b = 0xC2; b <= 0xF4; ++b) {
      const int len = utf8::length(uint8_t(b));
      const uint32_t bits = 6 * uint32_t(len - 1), top = uint32_t(b) & (0xFFu >> (len + 1));
      const utf8::Range second = utf8::after_lead(uint8_t(b));
      const uint32_t step = uint32_t(1) << (bits - 6);
      for (uint32_t s = second.lo; s <= second.hi; ++s) {
        const uint32_t first = (top << bits) | ((s & 63) << (bits - 6));
        if (len == 2) lead[b] |= block64[first >> 6];
        for (uint32_t c = first; len > 2 && c < first + step; c += 64) lead[b] |= block64[c >> 6];
      }
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

bool is_ahletter(Class c) {
  return c == Class::lower || c == Class::upper || c == Class::letter || c == Class::lower_pict ||
         c == Class::letter_pict;
}
bool is_pict(Class c) { return c == Class::pict || c == Class::lower_pict || c == Class::letter_pict; }
bool is_lower(Class c) { return c == Class::lower || c == Class::lower_pict; }
// Whitespace that is a word of its own.
bool is_lone_space(Class c) { return c == Class::cr || c == Class::lf || c == Class::other_space; }

// UAX #29's rules after WB4 that look behind only: WB5, WB8–WB10, WB13, WB15/16. (WB13a/b never
// apply here: in Unicode 14 every ExtendNumLet is punctuation or whitespace, which HAT's rules
// decide first; tests/test_words.cpp checks it over all code points.)
bool uax29_joins(Class base, Class c, bool ri_odd) {
  const bool num_base = base == Class::numeric, num_c = c == Class::numeric;
  if ((is_ahletter(base) || num_base) && (is_ahletter(c) || num_c)) return true;
  if (base == Class::katakana && c == Class::katakana) return true;
  return base == Class::ri && c == Class::ri && ri_odd;
}

}  // namespace

Class class_of(uint32_t code_point) {
  static const Class* const classes = tables().classes.data();
  return classes[code_point];
}

ClassMask completions(const uint8_t* p, int n) {
  const Tables& t = tables();
  if (n == 1) return t.lead[p[0]];
  const int len = utf8::length(p[0]);
  uint32_t c = p[0] & (0xFFu >> (len + 1));
  for (int k = 1; k < n; ++k) c = (c << 6) | (p[k] & 63u);
  return len - n == 1 ? t.block64[c] : t.block4096[c];
}

bool State::breaks(Class c) const {
  if (!started) return true;
  if (prev == Class::cr && c == Class::lf) return false;  // WB3
  // Newlines, tabs and other whitespace are words of their own (WB3a/b and more).
  if (is_lone_space(prev) || is_lone_space(c)) return true;
  // A run of spaces is one word with what follows it (WB3d for U+0020 alone).
  if (c == Class::space) return prev != Class::space;
  if (c == Class::extend || c == Class::zwj) return false;       // WB4
  if (prev == Class::zwj && is_pict(c)) return false;             // WB3c
  if (c == Class::punct || base == Class::space) return false;    // punctuation: with the word before
  if (base == Class::punct) return true;                          // a split after punctuation
  if (is_lower(base) && c == Class::upper) return true;           // camelCase
  return !uax29_joins(base, c, ri_odd);                           // else WB999
}

void State::advance(Class c, bool broke) {
  // Extend, Format and ZWJ attach to the character before them unless a word started at them.
  const bool attached = (c == Class::extend || c == Class::zwj) && !broke;
  if (!attached) {
    ri_odd = c == Class::ri && !(base == Class::ri && ri_odd);
    base = c;
  }
  prev = c;
  started = true;
}

}  // namespace bytes::hat
