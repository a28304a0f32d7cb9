// The text rules the library shares (UTF-8, character classes, the terminal escaper), checked
// against Unicode's own tables: Table 3-7 of the standard by hand, GNU libunistring's decoder and
// property tables exhaustively.
#include <doctest/doctest.h>
#include <unicase.h>
#include <unictype.h>
#include <unistr.h>

#include <cctype>
#include <random>
#include <string>

#include "bytes/text/chars.hpp"
#include "bytes/text/escape.hpp"
#include "bytes/text/utf8.hpp"

using namespace bytes;
using namespace std::string_literals;

namespace {

const uint8_t* u8(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

utf8::Decoded decode(const std::string& s) { return utf8::decode(u8(s), s.size()); }

bool validator_accepts(const std::string& s) {
  utf8::Validator v;
  for (unsigned char c : s)
    if (!v.feed(c)) return false;
  return v.need == 0;
}

bool libunistring_accepts(const std::string& s) { return u8_check(u8(s), s.size()) == nullptr; }

}  // namespace

TEST_CASE("UTF-8: Table 3-7's well-formed sequences decode, at both ends of every row") {
  struct Case {
    std::string bytes;
    uint32_t code_point;
  };
  const Case cases[] = {
      {std::string(1, '\0'), 0x00},  {"\x7F", 0x7F},        {"\xC2\x80", 0x80},          {"\xDF\xBF", 0x7FF},
      {"\xE0\xA0\x80", 0x800},                 {"\xE0\xBF\xBF", 0xFFF},     {"\xE1\x80\x80", 0x1000},
      {"\xEC\xBF\xBF", 0xCFFF},                {"\xED\x80\x80", 0xD000},    {"\xED\x9F\xBF", 0xD7FF},
      {"\xEE\x80\x80", 0xE000},                {"\xEF\xBF\xBF", 0xFFFF},    {"\xF0\x90\x80\x80", 0x10000},
      {"\xF0\xBF\xBF\xBF", 0x3FFFF},           {"\xF1\x80\x80\x80", 0x40000}, {"\xF3\xBF\xBF\xBF", 0xFFFFF},
      {"\xF4\x80\x80\x80", 0x100000},          {"\xF4\x8F\xBF\xBF", 0x10FFFF},
  };
  for (const auto& c : cases) {
    CAPTURE(c.code_point);
    const auto d = decode(c.bytes);
    CHECK(d.status == utf8::Decoded::ok);
    CHECK(d.code_point == c.code_point);
    CHECK(d.length == int(c.bytes.size()));
    CHECK(utf8::length(uint8_t(c.bytes[0])) == int(c.bytes.size()));
    CHECK(validator_accepts(c.bytes));
    char out[4];
    CHECK(std::string(out, utf8::encode(c.code_point, out)) == c.bytes);
  }
}

TEST_CASE("UTF-8: overlongs, surrogates, values past U+10FFFF and stray bytes are ill-formed; a cut prefix is cut") {
  const std::string ill_formed[] = {
      "\x80", "\xBF",                              // a continuation byte alone
      "\xC0\x80", "\xC0\xAF", "\xC1\xBF",          // overlong 2-byte forms
      "\xE0\x80\x80", "\xE0\x9F\xBF",              // overlong 3-byte forms
      "\xF0\x80\x80\x80", "\xF0\x8F\xBF\xBF",      // overlong 4-byte forms
      "\xED\xA0\x80", "\xED\xBF\xBF",              // surrogates U+D800, U+DFFF
      "\xF4\x90\x80\x80", "\xF7\xBF\xBF\xBF",      // past U+10FFFF
      "\xF5\x80\x80\x80", "\xF8\x88\x80\x80\x80",  // leads that begin nothing
      "\xFE", "\xFF",
      "\xC3\x41", "\xE2\x82\x41", "\xF0\x9F\x98\x41",  // a character broken by ASCII
      "\xE2\xC3\xA9",                                  // … or by another lead
  };
  for (const auto& s : ill_formed) {
    CAPTURE(s);
    const auto d = decode(s);
    CHECK(d.status == utf8::Decoded::ill_formed);
    CHECK(d.length == 1);
    CHECK(d.code_point == uint8_t(s[0]));
    CHECK_FALSE(validator_accepts(s));
    CHECK_FALSE(libunistring_accepts(s));
  }
  const std::string cut[] = {"\xC3", "\xE2", "\xE2\x82", "\xF0\x9F", "\xF0\x9F\x98", "\xF4\x8F\xBF", "\xE0\xA0"};
  for (const auto& s : cut) {
    CAPTURE(s);
    const auto d = decode(s);
    CHECK(d.status == utf8::Decoded::cut);
    CHECK(d.length == int(s.size()));
    CHECK_FALSE(validator_accepts(s));  // not at the end of a character
  }
  for (const std::string& s : {"\xE0\x9F"s, "\xED\xA0"s, "\xF0\x8F"s, "\xF4\x90"s})  // wrong second byte: not a prefix
    CHECK(decode(s).status == utf8::Decoded::ill_formed);
}

TEST_CASE("UTF-8: decode agrees with libunistring on every string of up to 3 bytes and random 4-byte ones") {
  auto check = [](const std::string& s) {
    ucs4_t uc = 0;
    const int want = u8_mbtoucr(&uc, u8(s), s.size());  // length, −1 ill-formed, −2 a cut prefix
    const auto d = decode(s);
    if (want > 0) return d.status == utf8::Decoded::ok && d.length == want && d.code_point == uc;
    // libunistring calls F5–F7 and what follows them a cut prefix until it has all four bytes;
    // Table 3-7 begins no character with them.
    if (want == -2 && uint8_t(s[0]) >= 0xF5) return d.status == utf8::Decoded::ill_formed && d.length == 1;
    if (want == -2) return d.status == utf8::Decoded::cut && d.length == int(s.size());
    return d.status == utf8::Decoded::ill_formed && d.length == 1;
  };
  std::string s(3, '\0');
  for (int a = 0; a < 256; ++a) {
    s.assign(1, char(a));
    REQUIRE(check(s));
    for (int b = 0; b < 256; ++b) {
      s.assign({char(a), char(b)});
      REQUIRE(check(s));
      for (int c = 0; c < 256; ++c) {
        s.assign({char(a), char(b), char(c)});
        REQUIRE(check(s));
      }
    }
  }
  std::mt19937_64 rng(3);
  for (int i = 0; i < 2000000; ++i) {
    const uint32_t r = uint32_t(rng());
    s.assign({char(0xF0 + (r & 7)), char(0x80 + ((r >> 3) & 0x3F)), char(0x80 + ((r >> 9) & 0x3F)), char(r >> 15)});
    REQUIRE(check(s));
  }
}

TEST_CASE("UTF-8: encode writes what libunistring writes, and decode reads it back, for every scalar value") {
  for (uint32_t c = 0; c < 0x110000; ++c) {
    if (c >= 0xD800 && c < 0xE000) continue;
    char out[4];
    const std::string s(out, utf8::encode(c, out));
    uint8_t want[6];
    const int n = u8_uctomb(want, c, sizeof want);
    REQUIRE(s == std::string(reinterpret_cast<char*>(want), size_t(n)));
    const auto d = decode(s);
    REQUIRE(d.status == utf8::Decoded::ok);
    REQUIRE(d.code_point == c);
  }
}

TEST_CASE("UTF-8: the byte-at-a-time validator agrees with libunistring on every 1- and 2-byte string and random longer ones") {
  for (int a = 0; a < 256; ++a) {
    std::string s(1, char(a));
    CHECK(validator_accepts(s) == libunistring_accepts(s));
    for (int b = 0; b < 256; ++b) {
      std::string t = s + char(b);
      REQUIRE(validator_accepts(t) == libunistring_accepts(t));
    }
  }
  std::mt19937_64 rng(5);
  const std::string alphabet = "a \x7f\x80\x8f\x90\x9f\xa0\xbf\xc0\xc1\xc2\xdf\xe0\xe1\xec\xed\xee\xef\xf0\xf1\xf3\xf4\xf5\xff";
  for (int i = 0; i < 200000; ++i) {
    std::string s;
    for (size_t n = 3 + rng() % 4; s.size() < n;) s += alphabet[rng() % alphabet.size()];
    REQUIRE(validator_accepts(s) == libunistring_accepts(s));
    // accepts() says what feed() will return.
    utf8::Validator v;
    for (unsigned char c : s) {
      const bool ok = v.accepts(c);
      REQUIRE(v.feed(c) == ok);
    }
  }
}

TEST_CASE("character classes: ASCII ones are the C locale's, Unicode ones libunistring's, and they agree on ASCII") {
  for (uint32_t c = 0; c < 256; ++c) {
    CAPTURE(c);
    const int b = c < 128 ? int(c) : 0;  // <cctype> on bytes ≥ 0x80 depends on the locale
    CHECK(chars::is_ascii_space(c) == (c < 128 && std::isspace(b) != 0));
    CHECK(chars::is_ascii_letter(c) == (c < 128 && std::isalpha(b) != 0));
    CHECK(chars::is_ascii_digit(c) == (c < 128 && std::isdigit(b) != 0));
    CHECK(chars::is_ascii_alnum(c) == (c < 128 && std::isalnum(b) != 0));
    CHECK(chars::is_ascii_control(c) == (c < 128 && std::iscntrl(b) != 0));
    CHECK(chars::ascii_upper(c) == (c < 128 ? uint32_t(std::toupper(b)) : c));
    CHECK(chars::ascii_lower(c) == (c < 128 ? uint32_t(std::tolower(b)) : c));
  }
  for (uint32_t c = 0; c < 0x110000; ++c) {
    REQUIRE(chars::is_space(c) == uc_is_property_white_space(c));
    REQUIRE(chars::is_letter(c) == uc_is_alpha(c));
    REQUIRE(chars::to_upper(c) == uc_toupper(c));
    REQUIRE(chars::to_lower(c) == uc_tolower(c));
    REQUIRE(chars::is_c1_control(c) == (c >= 0x80 && uc_is_general_category(c, UC_CATEGORY_Cc)));
    const bool breaks = (c >= '\n' && c <= '\r') || c == 0x85 || c == 0x2028 || c == 0x2029;  // UAX #14's BK, CR, LF, NL
    REQUIRE(chars::is_line_break(c) == breaks);
    if (c < 128) {
      REQUIRE(chars::is_space(c) == chars::is_ascii_space(c));
      REQUIRE(chars::is_letter(c) == chars::is_ascii_letter(c));
    }
  }
  CHECK(chars::strip_diacritics(U'é') == U"e");
  CHECK(chars::strip_diacritics(U'Ǿ') == U"Ø");  // Ø itself has no decomposition
  CHECK(chars::strip_diacritics(0x0301) == U"");  // a combining mark alone
  CHECK(chars::strip_diacritics('a') == U"a");
}

TEST_CASE("escaped output keeps text and names every other byte, however it is split") {
  const std::string in = "a\x01\xc3\xa9\xff\\\n\t\xe2\x82z\x7f\xf0\x9f\x98\x80\xc2\x9b\xc2\xa0";
  const std::string want = "a\\x01\xc3\xa9\\xff\\\\\n\t\\xe2\\x82z\\x7f\xf0\x9f\x98\x80\\xc2\\x9b\xc2\xa0";
  Escaper whole;
  CHECK(whole.put(in) + whole.finish() == want);
  Escaper bytewise;
  std::string got;
  for (char c : in) got += bytewise.put(std::string_view(&c, 1));
  CHECK(got + bytewise.finish() == want);
  Escaper cut;
  CHECK(cut.put("\xe2\x82") == "");
  CHECK(cut.finish() == "\\xe2\\x82");
  // The C1 controls are escaped at both ends of their range, the character after them is not.
  Escaper c1;
  CHECK(c1.put("\xc2\x80\xc2\x9f\xc2\xa0") + c1.finish() == "\\xc2\\x80\\xc2\\x9f\xc2\xa0");
}
