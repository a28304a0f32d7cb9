// Character classes, written once for the text tools: the ASCII ones that byte-level rules use
// (the word splitter, bytes-perturb --unit byte, the terminal escaper) and their Unicode
// extensions for code points (bytes-perturb's default unit), from GNU libunistring's tables.
// Each Unicode class agrees with its ASCII one on ASCII.
#pragma once
#include <cstdint>
#include <string>

namespace bytes::chars {

// ASCII (the C locale's classes). Other values, bytes ≥ 0x80 included, are in none of them.
constexpr bool is_ascii_space(uint32_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
constexpr bool is_ascii_letter(uint32_t c) { return c < 128 && (c | 32) >= 'a' && (c | 32) <= 'z'; }
constexpr bool is_ascii_digit(uint32_t c) { return c >= '0' && c <= '9'; }
constexpr bool is_ascii_alnum(uint32_t c) { return is_ascii_letter(c) || is_ascii_digit(c); }
constexpr bool is_ascii_upper(uint32_t c) { return c >= 'A' && c <= 'Z'; }
constexpr bool is_ascii_lower(uint32_t c) { return c >= 'a' && c <= 'z'; }
// Controls a terminal may act on: C0 and DEL, and C1 (U+0080–U+009F, which some terminals
// take as ESC sequences).
constexpr bool is_ascii_control(uint32_t c) { return c < 0x20 || c == 0x7F; }
constexpr bool is_c1_control(uint32_t c) { return c >= 0x80 && c < 0xA0; }
// The case of an ASCII letter changed; everything else as it is.
constexpr uint32_t ascii_upper(uint32_t c) { return is_ascii_lower(c) ? c - 32 : c; }
constexpr uint32_t ascii_lower(uint32_t c) { return is_ascii_upper(c) ? c + 32 : c; }

// Unicode's White_Space property.
constexpr bool is_space(uint32_t c) {
  if (is_ascii_space(c)) return true;
  if (c < 0x85) return false;
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}
// The characters that end a line (Unicode's mandatory breaks, without the CR LF pairing).
constexpr bool is_line_break(uint32_t c) { return (c >= '\n' && c <= '\r') || c == 0x85 || c == 0x2028 || c == 0x2029; }

// Unicode's simple case mappings, and its Alphabetic property.
uint32_t unicode_upper(uint32_t c);
uint32_t unicode_lower(uint32_t c);
bool unicode_letter(uint32_t c);
inline uint32_t to_upper(uint32_t c) { return c < 128 ? ascii_upper(c) : unicode_upper(c); }
inline uint32_t to_lower(uint32_t c) { return c < 128 ? ascii_lower(c) : unicode_lower(c); }
inline bool is_letter(uint32_t c) { return c < 128 ? is_ascii_letter(c) : unicode_letter(c); }

// A character without its diacritics: canonical decomposition (NFD), nonspacing marks (Mn)
// removed, recomposed (NFC). Empty when c is itself a nonspacing mark; c when it has none.
std::u32string strip_diacritics(uint32_t c);

}  // namespace bytes::chars
