// The hat word rule at the level of characters (SPEC.md "Word rules"; bytes-model(5) states it in
// full): a causal form of Unicode's word boundaries (UAX #29), with HAT's changes on top. Whether a
// word starts before a character depends only on that character's class and on the classes before
// it, so a splitter can decide each character as soon as its last byte arrives, and a generator can
// reason over the few classes a UTF-8 prefix can still complete to instead of over bytes.
// The classes come from GNU libunistring's tables (Unicode 14.0.0 in libunistring 1.0).
#pragma once
#include <cstdint>

namespace bytes::hat {

// What the rule needs to know of a character, one class each, the first that fits in this order:
// whitespace (space U+0020, CR, LF, any other White_Space), WB4's Extend/Format and ZWJ,
// punctuation (General Category P*), then by word-break property and case. Bytes that begin no
// well-formed character are `other`, as are symbols, ideographs and unassigned code points.
enum class Class : uint8_t {
  other,
  space,        // U+0020
  cr,           // U+000D
  lf,           // U+000A
  other_space,  // any other White_Space: tab, VT, FF, NEL, NBSP, U+2028, U+3000, ...
  extend,       // Word_Break Extend or Format: stays with the character before it (WB4)
  zwj,          // U+200D ZERO WIDTH JOINER (WB4, WB3c)
  punct,        // General Category P*
  lower,        // Ll (every Ll is an ALetter)
  upper,        // Lu (every Lu is an ALetter)
  letter,       // other ALetter or Hebrew_Letter
  lower_pict,   // Ll and Extended_Pictographic (U+2139)
  letter_pict,  // other ALetter and Extended_Pictographic (U+24C2, U+1F130–U+1F189 …)
  numeric,      // Word_Break Numeric
  katakana,     // Word_Break Katakana
  ri,           // Regional_Indicator
  pict,         // Extended_Pictographic, none of the above
  count,
};
using ClassMask = uint32_t;
constexpr ClassMask bit(Class c) { return ClassMask(1) << unsigned(c); }

// The class of a code point (< 0x110000, not a surrogate). The first call builds the table (a
// pass over every code point, ~20 ms); later calls read it. Thread-safe.
Class class_of(uint32_t code_point);
// The classes of the well-formed characters whose UTF-8 form starts with p[0, n): a lead byte
// (n = 1) or a valid 2- or 3-byte prefix of a longer character; 0 when none can.
ClassMask completions(const uint8_t* p, int n);

// What the rule has seen of a document: enough to decide the boundary before the next character.
struct State {
  bool started = false;      // a character has been seen
  Class prev = Class::other;  // the previous character
  // The previous character that Extend, Format and ZWJ did not attach to (WB4 skips them).
  Class base = Class::other;
  bool ri_odd = false;  // base ends a run of an odd number of regional indicators

  // Whether a word starts before a character of class c (the byte cap aside).
  bool breaks(Class c) const;
  // Takes a character of class c; `broke` is what breaks(c) said.
  void advance(Class c, bool broke);
};

}  // namespace bytes::hat
