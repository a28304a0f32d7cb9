// UTF-8 as the whole library reads it: well-formed is what RFC 3629 and Unicode's Table 3-7
// allow (no overlong forms, no surrogates, nothing past U+10FFFF). bytes-perturb decodes with
// it, the word splitter measures characters with it, bytes-gen --utf8 masks with it and the
// terminal escaper keeps characters with it. The per-byte rules are inline: they run once a byte.
#pragma once
#include <cstddef>
#include <cstdint>

namespace bytes::utf8 {

// Bytes in the character that byte b begins: 1 for ASCII, 2–4 for a lead byte, 0 for a byte
// that begins no well-formed character (a continuation byte, C0, C1, F5–FF).
constexpr int length(uint8_t b) {
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xF0 && b <= 0xF4) return 4;
  return 0;
}

constexpr bool is_continuation(uint8_t b) { return (b & 0xC0) == 0x80; }

// The bytes a continuation byte may be. The byte after a lead byte is narrower for four leads:
// that is where Table 3-7 rules out overlongs (E0, F0), surrogates (ED) and values past
// U+10FFFF (F4); every later continuation byte is 80–BF.
struct Range {
  uint8_t lo = 0x80, hi = 0xBF;
  constexpr bool holds(uint8_t b) const { return b >= lo && b <= hi; }
};
constexpr Range after_lead(uint8_t lead) {
  if (lead == 0xE0) return {0xA0, 0xBF};
  if (lead == 0xED) return {0x80, 0x9F};
  if (lead == 0xF0) return {0x90, 0xBF};
  if (lead == 0xF4) return {0x80, 0x8F};
  return {};
}

// What begins at p[0, n) (n ≥ 1): a well-formed character (its code point and length), the
// start of one cut by the end of the bytes (`got` of them are a valid prefix: more input may
// complete it), or a byte that begins none (ill-formed: the caller takes it alone).
struct Decoded {
  enum Status { ok, cut, ill_formed } status;
  uint32_t code_point;  // ok: the character; otherwise p[0]
  int length;           // ok: 1–4; cut: the bytes seen; ill_formed: 1
};
inline Decoded decode(const uint8_t* p, size_t n) {
  const uint8_t b = p[0];
  const int len = length(b);
  if (len == 1) return {Decoded::ok, b, 1};
  if (len == 0) return {Decoded::ill_formed, b, 1};
  const Range second = after_lead(b);
  int got = 1;
  for (; got < len && size_t(got) < n; ++got)
    if (!(got == 1 ? second : Range{}).holds(p[got])) return {Decoded::ill_formed, b, 1};
  if (got < len) return {Decoded::cut, b, got};
  uint32_t c = b & (0xFF >> (len + 1));
  for (int k = 1; k < len; ++k) c = (c << 6) | (p[k] & 63);
  return {Decoded::ok, c, len};
}

// Writes code point c (< 0x110000) as 1–4 bytes at p; returns the end.
inline char* encode(uint32_t c, char* p) {
  if (c < 0x80) {
    *p++ = char(c);
  } else if (c < 0x800) {
    *p++ = char(0xC0 | (c >> 6));
    *p++ = char(0x80 | (c & 63));
  } else if (c < 0x10000) {
    *p++ = char(0xE0 | (c >> 12));
    *p++ = char(0x80 | ((c >> 6) & 63));
    *p++ = char(0x80 | (c & 63));
  } else {
    *p++ = char(0xF0 | (c >> 18));
    *p++ = char(0x80 | ((c >> 12) & 63));
    *p++ = char(0x80 | ((c >> 6) & 63));
    *p++ = char(0x80 | (c & 63));
  }
  return p;
}

// Well-formedness one byte at a time, for streams that must decide at each byte (bytes-gen
// --utf8 masks the bytes that would break it; the escaper holds a character until it completes).
struct Validator {
  int need = 0;  // continuation bytes still expected
  Range next;    // the range the next continuation byte must fall in
  // Whether b continues the character in progress or, between characters, starts a valid one.
  bool accepts(uint8_t b) const { return need > 0 ? next.holds(b) : length(b) > 0; }
  // Takes b. Returns false if b broke the character in progress or begins none (the state then
  // restarts at b, as a decoder would).
  bool feed(uint8_t b) {
    const bool ok = accepts(b);
    if (need > 0 && ok) {
      --need;
      next = {};
      return true;
    }
    const int len = length(b);
    need = len > 1 ? len - 1 : 0;
    next = after_lead(b);
    return ok;
  }
};

}  // namespace bytes::utf8
