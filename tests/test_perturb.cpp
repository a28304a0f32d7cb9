#include <doctest/doctest.h>
#include <unicase.h>
#include <unistr.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "bytes/base/error.hpp"
#include "bytes/text/perturb.hpp"
#include "testing.hpp"

using namespace bytes;

namespace {

// Random text: words of ASCII, accented Latin, Greek, Cyrillic, CJK, emoji and combining marks,
// between spaces, tabs and newlines; with `invalid`, also bytes that are not well-formed UTF-8.
std::string random_text(std::mt19937_64& rng, size_t words, bool invalid = false) {
  static const std::vector<std::string> pieces = {
      "the", "and", "Of", "TO", "wind", "Hamlet", "x7", "é", "ñ", "Ä", "ß", "ǆ", "ǅ", "İ", "σ", "Ω", "ж", "Я",
      "中文", "😀", "e\u0301", "à", "Ǿ", "ﬁ", "ö", "naïve", "q", "'", ",", "."};
  static const std::vector<std::string> spaces = {" ", " ", " ", "  ", "\t", "\n", "\u00A0", "\u3000", "\r\n"};
  static const std::vector<std::string> broken = {"\xFF", "\x80", "\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                                                  "\xE2\x82", "\xC3", "\xF0\x9F\x98"};
  std::string s;
  for (size_t w = 0; w < words; ++w) {
    for (int k = 0, n = 1 + int(rng() % 4); k < n; ++k) s += pieces[rng() % pieces.size()];
    if (invalid && rng() % 5 == 0) s += broken[rng() % broken.size()];
    s += spaces[rng() % spaces.size()];
  }
  return s;
}

// English-like text for rate statistics: lower-case words of 1–9 letters, some capitalised.
std::string words_text(std::mt19937_64& rng, size_t words) {
  std::string s;
  for (size_t w = 0; w < words; ++w) {
    const int n = 1 + int(rng() % 9);
    for (int k = 0; k < n; ++k) s += char((k == 0 && rng() % 4 == 0 ? 'A' : 'a') + int(rng() % 26));
    s += rng() % 12 == 0 ? "\n" : " ";
  }
  return s;
}

std::string perturb(const std::string& text, const std::vector<NoiseSpec>& chain, uint64_t seed = 1,
                    NoiseUnit unit = NoiseUnit::codepoint, size_t max_piece = 0, uint64_t cut_seed = 0) {
  std::vector<size_t> cuts;
  std::mt19937_64 rng(cut_seed);
  for (size_t at = 0; max_piece && at < text.size(); cuts.push_back(at)) at += 1 + rng() % max_piece;
  return perturb_pieces(text, cuts, chain, seed, unit);
}

Perturber::Count count_of(const std::string& text, NoiseSpec spec, std::string* out = nullptr, uint64_t seed = 3) {
  Perturber p({spec}, seed, NoiseUnit::codepoint);
  std::string o;
  p.feed(text, o);
  p.finish(o);
  if (out) *out = o;
  return p.counts()[0];
}

// Code points, with every byte that is not part of well-formed UTF-8 as -1 - byte (libunistring
// decodes; the perturber's own decoder is not used to check itself).
std::vector<int64_t> decode(const std::string& s) {
  std::vector<int64_t> units;
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  for (size_t i = 0; i < s.size();) {
    ucs4_t c;
    const int n = u8_mbtoucr(&c, p + i, s.size() - i);
    if (n > 0) {
      units.push_back(c);
      i += size_t(n);
    } else {
      units.push_back(-1 - int64_t(p[i]));
      ++i;
    }
  }
  return units;
}

std::vector<int64_t> stray_bytes(const std::string& s) {
  std::vector<int64_t> raw;
  for (int64_t u : decode(s))
    if (u < 0) raw.push_back(u);
  return raw;
}

bool is_ws(int64_t c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::vector<int64_t> whitespace_of(const std::string& s) {
  std::vector<int64_t> ws;
  for (int64_t u : decode(s))
    if (is_ws(u)) ws.push_back(u);
  return ws;
}

bool valid_utf8(const std::string& s) { return u8_check(reinterpret_cast<const uint8_t*>(s.data()), s.size()) == nullptr; }

std::vector<NoiseKind> all_kinds() {
  std::vector<NoiseKind> kinds;
  for (const auto& t : noise_types()) kinds.push_back(t.kind);
  return kinds;
}

}  // namespace

TEST_CASE("noise specs parse names, default rates and rates in [0, 1], and refuse the rest") {
  CHECK(parse_noise("drop").kind == NoiseKind::drop);
  CHECK(parse_noise("drop").rate == 0.1);
  CHECK(parse_noise("repeat").rate == 0.2);  // ByT5's rate
  CHECK(parse_noise("upper").rate == 1.0);
  CHECK(parse_noise("ws-drop:0.25").rate == 0.25);
  CHECK(parse_noise("word-delete:0").rate == 0.0);
  CHECK(parse_noise("typo:1").rate == 1.0);
  for (const char* bad : {"dorp", "", ":0.1", "drop:", "drop:1.5", "drop:-0.1", "drop:abc", "drop:0.1x", "drop:nan",
                          "drop:inf", "Drop", "drop:0.1:0.2"})
    CHECK_THROWS_AS(parse_noise(bad), UsageError);
  for (const auto& t : noise_types()) {
    CHECK(parse_noise(t.name).kind == t.kind);
    CHECK(noise_name(t.kind) == t.name);
  }
}

TEST_CASE("the output depends on the seed and the input only, not on how the input is cut") {
  std::mt19937_64 rng(5);
  const std::string text = random_text(rng, 3000, true);
  std::vector<NoiseSpec> every;
  for (NoiseKind k : all_kinds()) every.push_back({k, 0.3});
  std::vector<std::vector<NoiseSpec>> chains = {every};
  for (NoiseKind k : all_kinds()) chains.push_back({{k, 0.3}});
  auto characters_only = [](const std::vector<NoiseSpec>& chain) {
    return std::any_of(chain.begin(), chain.end(), [](const NoiseSpec& s) {
      return s.kind == NoiseKind::diacritics || s.kind == NoiseKind::homoglyph;
    });
  };
  for (const auto& chain : chains) {
    CAPTURE(noise_name(chain[0].kind));
    CAPTURE(chain.size());
    for (NoiseUnit unit : {NoiseUnit::codepoint, NoiseUnit::byte}) {
      if (unit == NoiseUnit::byte && characters_only(chain)) {
        CHECK_THROWS_AS(Perturber(chain, 9, unit), UsageError);
        continue;
      }
      const std::string whole = perturb(text, chain, 9, unit);
      CHECK(whole == perturb(text, chain, 9, unit));                  // again
      CHECK(whole == perturb(text, chain, 9, unit, 1));               // byte by byte
      CHECK(whole == perturb(text, chain, 9, unit, 7, 1));            // pieces of 1–7 bytes
      CHECK(whole == perturb(text, chain, 9, unit, 4096, 2));         // larger pieces
      CHECK(whole != perturb(text, chain, 10, unit));                 // another seed, other noise
      CHECK(whole != text);
    }
  }
}

// Random chains of 1–4 stages, rates 0 and 1 and rare ones among them (long runs between hits
// are copied in blocks, a path that short pieces never take), cut at random, byte by byte, and
// inside every multibyte character.
TEST_CASE("random chains give the same output however the input is cut") {
  const std::vector<NoiseKind> kinds = all_kinds();
  for (uint64_t trial = 0; trial < 2000; ++trial) {
    std::mt19937_64 rng(trial);
    const NoiseUnit unit = rng() % 3 ? NoiseUnit::codepoint : NoiseUnit::byte;
    std::vector<NoiseSpec> chain;
    for (size_t n = 1 + rng() % 4; chain.size() < n;) {
      const NoiseKind kind = kinds[rng() % kinds.size()];
      if (unit == NoiseUnit::byte && (kind == NoiseKind::diacritics || kind == NoiseKind::homoglyph)) continue;
      const double rates[] = {0, 1, 0.001, 0.01, 0.1, std::uniform_real_distribution<double>(0, 1)(rng)};
      chain.push_back({kind, rates[rng() % 6]});
    }
    const std::string text = trial % 8 == 7 ? testing::random_bytes(rng, 1500) : random_text(rng, 100 + rng() % 300, rng() % 2);
    const uint64_t seed = rng();
    std::string names;
    for (const auto& s : chain) names += noise_name(s.kind) + ":" + std::to_string(s.rate) + " ";
    CAPTURE(trial);
    CAPTURE(names);
    CAPTURE(unit == NoiseUnit::byte);
    const std::string whole = perturb_pieces(text, {}, chain, seed, unit);
    std::vector<size_t> bytewise(text.size()), inside, few;
    for (size_t i = 0; i < text.size(); ++i) bytewise[i] = i;
    for (size_t i = 0; i < text.size(); ++i)
      if ((uint8_t(text[i]) & 0xC0) == 0x80) inside.push_back(i);  // before every continuation byte
    for (size_t k = 0, n = rng() % 6; k < n; ++k) few.push_back(rng() % (text.size() + 1));
    std::sort(few.begin(), few.end());
    // Where the output first differs from the whole one's, -1 where it does not (shorter than the
    // texts a failed string comparison prints).
    auto differs_at = [&](const std::string& o) {
      return o == whole ? -1L : long(std::mismatch(o.begin(), o.end(), whole.begin(), whole.end()).first - o.begin());
    };
    CHECK(differs_at(perturb_pieces(text, bytewise, chain, seed, unit)) == -1);
    CHECK(differs_at(perturb_pieces(text, inside, chain, seed, unit)) == -1);
    CHECK(differs_at(perturb_pieces(text, few, chain, seed, unit)) == -1);
    CHECK(differs_at(perturb(text, chain, seed, unit, 1 + rng() % 64, rng())) == -1);
  }
}

TEST_CASE("rate 0 is the identity, on any input and in both units") {
  std::mt19937_64 rng(6);
  const std::string text = random_text(rng, 2000, true) + testing::random_bytes(rng, 5000);
  for (NoiseKind k : all_kinds()) {
    CAPTURE(noise_name(k));
    CHECK(perturb(text, {{k, 0.0}}, 1) == text);
    if (k != NoiseKind::diacritics && k != NoiseKind::homoglyph)
      CHECK(perturb(text, {{k, 0.0}}, 1, NoiseUnit::byte) == text);
    CHECK(count_of(text, {k, 0.0}).edits == 0);
  }
  CHECK(perturb(text, {}, 1) == text);
  CHECK(perturb("", {{NoiseKind::drop, 0.5}}, 1).empty());
}

TEST_CASE("measured edit rates match the requested rates within 5 standard deviations") {
  std::mt19937_64 rng(7);
  const std::string text = words_text(rng, 60000);
  std::mt19937_64 rng2(8);
  const std::string mixed = random_text(rng2, 40000);
  for (NoiseKind k : all_kinds()) {
    for (double rate : {0.02, 0.3, 0.9}) {
      CAPTURE(noise_name(k));
      CAPTURE(rate);
      const bool accented = k == NoiseKind::diacritics;
      const auto c = count_of(accented ? mixed : text, {k, rate});
      REQUIRE(c.units > 2000);
      // randcase draws upper or lower case for a letter it hits: half of those draws change nothing.
      const double expected = k == NoiseKind::randcase ? rate / 2 : rate;
      const double sd = std::sqrt(expected * (1 - expected) / double(c.units));
      CHECK(std::fabs(double(c.edits) / double(c.units) - expected) < 5 * sd);
    }
  }
}

TEST_CASE("the counts describe the output: drops, inserts, substitutions and repeats seen in the text") {
  std::mt19937_64 rng(9);
  const std::string text = words_text(rng, 20000);
  const auto in = decode(text);
  std::string out;
  auto c = count_of(text, {NoiseKind::drop, 0.1}, &out);
  CHECK(decode(out).size() == in.size() - c.edits);
  c = count_of(text, {NoiseKind::insert, 0.1}, &out);
  CHECK(decode(out).size() == in.size() + c.edits);
  c = count_of(text, {NoiseKind::substitute, 0.1}, &out);
  const auto sub = decode(out);
  REQUIRE(sub.size() == in.size());
  size_t differ = 0;
  for (size_t i = 0; i < in.size(); ++i) differ += sub[i] != in[i];
  CHECK(differ == c.edits);
  c = count_of(text, {NoiseKind::repeat, 0.2}, &out);  // 1–3 extra copies, 2 on average
  const double extra = double(decode(out).size() - in.size()) / double(c.edits);
  CHECK(extra > 1.95);
  CHECK(extra < 2.05);
  c = count_of(text, {NoiseKind::upper, 0.5}, &out);
  size_t raised = 0;
  const auto up = decode(out);
  for (size_t i = 0; i < in.size(); ++i) raised += up[i] != in[i];
  CHECK(raised == c.edits);
}

TEST_CASE("valid UTF-8 stays valid under every code-point noise, and stray bytes are never touched") {
  std::mt19937_64 rng(10);
  const std::string clean = random_text(rng, 4000);
  const std::string dirty = random_text(rng, 4000, true);
  REQUIRE(valid_utf8(clean));
  REQUIRE(!valid_utf8(dirty));
  for (NoiseKind k : all_kinds()) {
    for (double rate : {0.5, 1.0}) {
      CAPTURE(noise_name(k));
      CAPTURE(rate);
      CHECK(valid_utf8(perturb(clean, {{k, rate}}, 2)));
      const std::string noisy = perturb(dirty, {{k, rate}}, 2);
      CHECK(stray_bytes(noisy) == stray_bytes(dirty));  // the same stray bytes, in order: none joined, none lost
    }
  }
  std::vector<NoiseSpec> every;
  for (NoiseKind k : all_kinds()) every.push_back({k, 0.5});
  CHECK(valid_utf8(perturb(clean, every, 3)));
  CHECK(stray_bytes(perturb(dirty, every, 3)) == stray_bytes(dirty));
}

TEST_CASE("whitespace is kept unless the noise is about whitespace") {
  std::mt19937_64 rng(11);
  const std::string text = random_text(rng, 3000, true);
  const auto ws = whitespace_of(text);
  for (NoiseKind k : all_kinds()) {
    if (k == NoiseKind::ws_drop || k == NoiseKind::ws_insert || k == NoiseKind::antspeak) continue;
    CAPTURE(noise_name(k));
    CHECK(whitespace_of(perturb(text, {{k, 0.7}}, 4)) == ws);
  }
  auto lines = [](const std::string& s) { return std::count(s.begin(), s.end(), '\n'); };
  for (NoiseKind k : {NoiseKind::ws_drop, NoiseKind::ws_insert, NoiseKind::antspeak}) {
    const std::string out = perturb(text, {{k, 1.0}}, 4);
    CHECK(lines(out) == lines(text));  // line breaks are never whitespace noise
  }
  CHECK(perturb("a b\tc\u00A0d\ne", {{NoiseKind::ws_drop, 1.0}}) == "abcd\ne");
}

TEST_CASE("case noise follows Unicode's simple case mappings, on non-ASCII letters too") {
  const std::string text = "é ß ǆ ǅ İ σ ς Ω ж Я ﬁ Ä a1 中";
  CHECK(perturb(text, {{NoiseKind::upper, 1.0}}) == "É ß Ǆ Ǆ İ Σ Σ Ω Ж Я ﬁ Ä A1 中");
  CHECK(perturb(text, {{NoiseKind::lower, 1.0}}) == "é ß ǆ ǆ i σ ς ω ж я ﬁ ä a1 中");
  CHECK(perturb("Zoë ß", {{NoiseKind::antspeak, 1.0}}) == "Z O Ë  ß ");
  // Every code point of the Basic Multilingual Plane that `upper` changes is one libunistring's
  // uc_toupper changes, and to the same letter.
  std::string all;
  for (ucs4_t c = 0x20; c < 0x10000; ++c) {
    if (c >= 0xD800 && c < 0xE000) continue;
    uint8_t buf[4];
    all.append(reinterpret_cast<char*>(buf), size_t(u8_uctomb(buf, c, 4)));
  }
  const auto in = decode(all), up = decode(perturb(all, {{NoiseKind::upper, 1.0}}));
  const auto low = decode(perturb(all, {{NoiseKind::lower, 1.0}}));
  REQUIRE(up.size() == in.size());
  REQUIRE(low.size() == in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    CHECK(up[i] == int64_t(uc_toupper(ucs4_t(in[i]))));
    CHECK(low[i] == int64_t(uc_tolower(ucs4_t(in[i]))));
  }
  // --unit byte: bytes, so only ASCII letters have a case.
  CHECK(perturb("éa", {{NoiseKind::upper, 1.0}}, 1, NoiseUnit::byte) == "éA");
}

TEST_CASE("each noise does what its definition says") {
  auto one = [](const std::string& text, NoiseKind k, double rate = 1.0, uint64_t seed = 1) {
    return perturb(text, {{k, rate}}, seed);
  };
  CHECK(one("abc def", NoiseKind::drop) == " ");
  CHECK(one("ab", NoiseKind::repeat).size() >= 4);
  CHECK(one("aa bb", NoiseKind::swap) == "aa bb");  // equal neighbours: nothing to swap
  CHECK(one("abcd", NoiseKind::swap) == "badc");    // a swapped pair is done; the next pair starts after it
  CHECK(one("hello there", NoiseKind::ws_insert) == "h e l l o  t h e r e ");
  CHECK(one("Crème brûlée, Ångström; Ǿ", NoiseKind::diacritics) == "Creme brulee, Angstrom; Ø"  /* Ø has no decomposition */);
  CHECK(one("e\u0301", NoiseKind::diacritics) == "e");  // a combining mark alone goes
  CHECK(one("Cooper", NoiseKind::homoglyph) == "\u0421\u043E\u043E\u0440\u0435r");  // Cyrillic; r has none
  // Typos: a QWERTY neighbour, keeping case; digits too.
  for (uint64_t seed = 0; seed < 50; ++seed) {
    const std::string t = one("gG5", NoiseKind::typo, 1.0, seed);
    CHECK(std::string("ftyhvb").find(t[0]) != std::string::npos);
    CHECK(std::string("FTYHVB").find(t[1]) != std::string::npos);
    CHECK(std::string("46rt").find(t[2]) != std::string::npos);
  }
  // Inner permutation keeps the first and last letters and the letters; short words stay.
  for (uint64_t seed = 0; seed < 50; ++seed) {
    const std::string t = one("according to research, Cambridge", NoiseKind::inner_permute, 1.0, seed);
    REQUIRE(t.size() == 32);
    CHECK(t.substr(0, 1) == "a");
    CHECK(t.substr(8, 5) == "g to ");
    CHECK(t[21] == ',');
    std::string a = t.substr(1, 7), b = "ccordin";
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    CHECK(a == b);
    CHECK(t.substr(1, 7) != "ccordin");
    CHECK(t[23] == 'C');
    CHECK(t.back() == 'e');
  }
  // HAT's word noises: one character of a hit word replaced or deleted; a word permuted.
  for (uint64_t seed = 0; seed < 50; ++seed) {
    const auto rep = decode(one("alpha beta gamma", NoiseKind::word_replace, 1.0, seed));
    const auto in = decode("alpha beta gamma");
    REQUIRE(rep.size() == in.size());
    int differ = 0;
    for (size_t i = 0; i < in.size(); ++i) differ += rep[i] != in[i];
    CHECK(differ == 3);
    CHECK(one("alpha beta gamma", NoiseKind::word_delete, 1.0, seed).size() == 13);
    std::string perm = one("alpha", NoiseKind::word_permute, 1.0, seed), sorted = perm;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == "aahlp");
    CHECK(perm != "alpha");
  }
}

TEST_CASE("a restarted stream is independent of what came before it") {
  Perturber p({{NoiseKind::drop, 0.5}, {NoiseKind::word_permute, 0.5}}, 7, NoiseUnit::codepoint);
  auto record = [&](uint64_t key, const std::string& text) {
    p.restart(key);
    std::string out;
    p.feed(text, out);
    p.finish(out);
    return out;
  };
  const std::string first = record(2, "some words of a context to perturb");
  record(1, "another record, longer than the first and with other words");
  CHECK(record(2, "some words of a context to perturb") == first);
  CHECK(record(3, "some words of a context to perturb") != first);
  // Counts keep adding up across records.
  CHECK(p.counts()[0].units > 60);
}

TEST_CASE("--field records: only the field changes, each record is its own stream, bad lines are named errors") {
  Perturber p({{NoiseKind::upper, 1.0}}, 3, NoiseUnit::codepoint);
  uint64_t records = 0;
  std::string out;
  perturb_record(p, R"({"id":1, "text":"abc", "x":[1, {"text":"keep"}]})", "text", records, out);
  perturb_record(p, " \t", "text", records, out);
  perturb_record(p, R"({"text":"é"})", "text", records, out);
  CHECK(out == "{\"id\":1,\"text\":\"ABC\",\"x\":[1,{\"text\":\"keep\"}]}\n \t\n{\"text\":\"É\"}\n");
  CHECK(records == 2);  // the blank line is no record

  // Record n is stream n: the same as a fresh perturber restarted there.
  Perturber noisy({{NoiseKind::drop, 0.5}}, 5, NoiseUnit::codepoint), fresh({{NoiseKind::drop, 0.5}}, 5, NoiseUnit::codepoint);
  const std::string line = R"({"text":"a record long enough that half of its characters go missing"})";
  std::string a, b, expect;
  records = 6;
  perturb_record(noisy, line, "text", records, a);
  fresh.restart(7);
  fresh.feed("a record long enough that half of its characters go missing", expect);
  fresh.finish(expect);
  CHECK(a == "{\"text\":\"" + expect + "\"}\n");

  for (const char* bad : {"not json", "{\"text\":\"cut", "[\"text\"]", "{\"text\":42}", "{\"other\":\"x\"}"}) {
    CAPTURE(bad);
    b.clear();
    CHECK_THROWS_AS(perturb_record(p, bad, "text", records, b), Error);
    CHECK(b.empty());
  }
  // Nesting deep enough to overflow the stack when written back out is refused, not crashed on.
  const std::string deep = "{\"text\":\"a\",\"x\":" + std::string(200000, '[') + std::string(200000, ']') + "}";
  CHECK_THROWS_WITH_AS(perturb_record(p, deep, "text", records, b), doctest::Contains("nested deeper"), Error);
  const std::string fine = "{\"text\":\"a\",\"x\":" + std::string(500, '[') + std::string(500, ']') + "}";
  perturb_record(p, fine, "text", records, b);
  CHECK(b == "{\"text\":\"A\",\"x\":" + std::string(500, '[') + std::string(500, ']') + "}\n");
}
