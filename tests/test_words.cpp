#include <doctest/doctest.h>

#include <unictype.h>
#include <uniwbrk.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "bytes/base/error.hpp"
#include "bytes/text/utf8.hpp"
#include "bytes/text/words.hpp"
#include "testing.hpp"

using namespace bytes;

namespace {

std::vector<std::string> words(const std::string& text, WordRule rule, size_t cap = 32) {
  const auto starts = word_starts(text, rule, cap);
  std::vector<std::string> out;
  for (size_t k = 0; k < starts.size(); ++k)
    out.push_back(text.substr(starts[k], (k + 1 < starts.size() ? starts[k + 1] : text.size()) - starts[k]));
  return out;
}

// Text that exercises the rules: words, runs of whitespace, punctuation, multi-byte characters,
// stray and truncated UTF-8, long runs that reach the cap.
std::string random_text(std::mt19937_64& rng, size_t pieces) {
  static const std::vector<std::string> parts = {
      "the", "Hamlet", "x7", " ", "  ", "\n", "\t", "\r\n", ",", ". ", "é", "中文", "😀", "naïve", "\xff", "\x80",
      "\xe2\x82", "\xc3", "\xf0\x9f\x98", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "                                   ",
      "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80",
      "ééééééééééééééééééé", "😀😀😀😀😀😀😀😀😀"};
  std::string s;
  for (size_t i = 0; i < pieces; ++i) s += parts[rng() % parts.size()];
  return s;
}

bool is_space(unsigned char b) { return b == ' ' || (b >= '\t' && b <= '\r'); }

}  // namespace

TEST_CASE("the whitespace rule: a run of non-whitespace and the whitespace after it") {
  using V = std::vector<std::string>;
  CHECK(words("To be, or not", WordRule::whitespace) == V{"To ", "be, ", "or ", "not"});
  CHECK(words("  lead\n\ntrail  ", WordRule::whitespace) == V{"  ", "lead\n\n", "trail  "});
  CHECK(words("a\tb\r\nc", WordRule::whitespace) == V{"a\t", "b\r\n", "c"});
  CHECK(words("", WordRule::whitespace).empty());
  CHECK(words(" ", WordRule::whitespace) == V{" "});
  CHECK(words("naïve café", WordRule::whitespace) == V{"naïve ", "café"});
  CHECK(words("ab \x80", WordRule::whitespace) == V{"ab ", "\x80"});  // a stray byte is not whitespace
}

TEST_CASE("the spacelike rule (SpaceByte): a word starts before each run of spacelike bytes") {
  using V = std::vector<std::string>;
  CHECK(words("To be, or not", WordRule::spacelike) == V{"To", " be", ", or", " not"});
  CHECK(words("x=1;y", WordRule::spacelike) == V{"x", "=1", ";y"});
  CHECK(words("a café", WordRule::spacelike) == V{"a", " caf", "é"});  // lead bytes are spacelike
  CHECK(words("((a))", WordRule::spacelike) == V{"((a", "))"});
}

TEST_CASE("the cap cuts long words at character boundaries") {
  using V = std::vector<std::string>;
  CHECK(words("abcdefghij", WordRule::whitespace, 4) == V{"abcd", "efgh", "ij"});
  CHECK(words("abcé", WordRule::whitespace, 4) == V{"abc", "é"});  // é would end at byte 5
  CHECK(words("a😀b", WordRule::whitespace, 4) == V{"a", "😀", "b"});
  CHECK(words("ab      cd", WordRule::whitespace, 4) == V{"ab  ", "    ", "cd"});  // cut whitespace stays whitespace
  CHECK_THROWS_AS(WordSplitter(WordRule::whitespace, 3), UsageError);
  CHECK(parse_word_rule("spacelike") == WordRule::spacelike);
  CHECK(std::string(word_rule_name(WordRule::whitespace)) == "whitespace");
  CHECK_THROWS_AS(parse_word_rule("space"), UsageError);
}

TEST_CASE("property: prefix-stable, complete, capped, never inside a valid character") {
  std::mt19937_64 rng(1);
  for (int trial = 0; trial < 300; ++trial) {
    std::string text = random_text(rng, 1 + rng() % 60);
    if (trial % 3 == 0) text += testing::random_bytes(rng, rng() % 64);
    for (WordRule rule : {WordRule::whitespace, WordRule::spacelike}) {
      for (size_t cap : {size_t(4), size_t(7), size_t(32)}) {
        CAPTURE(trial);
        CAPTURE(cap);
        const auto whole = word_starts(text, rule, cap);
        REQUIRE(!text.empty());
        CHECK(whole.front() == 0);
        // The split of every prefix is the split of the whole, cut there.
        for (size_t n = 0; n <= text.size(); n += 1 + rng() % 5) {
          std::vector<size_t> cut;
          for (size_t s : whole)
            if (s < n) cut.push_back(s);
          CHECK(word_starts(std::string_view(text).substr(0, n), rule, cap) == cut);
        }
        for (size_t k = 0; k < whole.size(); ++k) {
          const size_t end = k + 1 < whole.size() ? whole[k + 1] : text.size();
          CHECK(end - whole[k] <= cap);
          CHECK(end > whole[k]);
        }
      }
    }
  }
  // Valid UTF-8 is never cut inside a character, by either rule, at any cap.
  const std::string utf8 = "naïve 中文 😀😀😀😀😀 ééééééééééé, Ærøskøbing straße " + std::string(50, 'x');
  for (WordRule rule : {WordRule::whitespace, WordRule::spacelike})
    for (size_t cap = 4; cap < 40; ++cap)
      for (size_t s : word_starts(utf8, rule, cap)) CHECK((uint8_t(utf8[s]) & 0xC0) != 0x80);
}

TEST_CASE("property: without the cap, the whitespace rule's words are non-whitespace then whitespace") {
  std::mt19937_64 rng(2);
  for (int trial = 0; trial < 200; ++trial) {
    std::string text = random_text(rng, 1 + rng() % 40);
    const auto w = words(text, WordRule::whitespace, 1 << 20);
    for (size_t k = 0; k < w.size(); ++k) {
      const std::string& word = w[k];
      size_t i = 0;
      while (i < word.size() && !is_space(uint8_t(word[i]))) ++i;
      CHECK((i > 0 || k == 0));  // only the first word may start with whitespace
      while (i < word.size() && is_space(uint8_t(word[i]))) ++i;
      CHECK(i == word.size());
      if (k + 1 < w.size() && i > 0) CHECK(!is_space(uint8_t(w[k + 1][0])));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The hat rule

namespace {

using V = std::vector<std::string>;
V hat_words(const std::string& text, size_t cap = 32) { return words(text, WordRule::hat, cap); }

std::string utf8_of(uint32_t c) {
  char buf[4];
  return std::string(buf, utf8::encode(c, buf));
}

// Valid UTF-8 from many scripts and categories: letters of both cases, digits, marks, emoji
// sequences, flags, whitespace of every kind, punctuation and symbols; and random code points.
std::string random_unicode(std::mt19937_64& rng, size_t pieces) {
  static const std::vector<std::string> parts = {
      "the", "Hamlet", "howAreYou", "x7", "123", " ", "   ", "\n", "\t", "\r\n", "\r", ",", ". ", "can't", "a+b",
      "x_y", "3.14", "1\u20442", "\u00a0", "\u3000", "\u2028", "\u0085", "Gr\u00fc\u00dfe", "\u03a9\u03bc\u03ad\u03b3\u03b1",
      "\u041f\u0440\u0438\u0432\u0435\u0442", "\u05e9\u05dc\u05d5\u05dd", "\u05d3\u05f4\u05e8", "\u0661\u0662\u066b\u0663",
      "\u0939\u093f\u0928\u094d\u0926\u0940", "\u0e20\u0e32\u0e29\u0e32", "\u4e2d\u6587\u5b57", "\u3072\u3089\u304c\u306a",
      "\u30ab\u30bf\u30ab\u30ca\u30fc", "\ud55c\uad6d\uc5b4", "e\u0301", "A\u0308", "\U0001F44D\U0001F3FD",
      "\U0001F468\u200d\U0001F469\u200d\U0001F467", "\u2764\ufe0f", "\U0001F1E9\U0001F1EA", "\U0001F1EB", "\u200d",
      "\u200b", "\u00ad", "\ufeff", "\u201e\u201c", "\u00ab\u00bb", "\u2026", "\u2139", "\u24c2", "\u203c", "$",
      "a\u0301B", "\u1f08", "\u01c5", "\U0001D400\U0001D41A"};
  std::string s;
  for (size_t i = 0; i < pieces; ++i) {
    if (rng() % 8 == 0) {
      uint32_t c = uint32_t(rng() % 0x110000);
      if (c >= 0xD800 && c < 0xE000) c = 'q';
      s += utf8_of(c);
    } else {
      s += parts[rng() % parts.size()];
    }
  }
  return s;
}

// Where characters start as the splitter reads them: a well-formed character is one, each other
// byte (a stray continuation, a lead cut short or broken, C0, C1, F5–FF) one of its own.
std::vector<size_t> char_starts(std::string_view text) {
  std::vector<size_t> at;
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  for (size_t i = 0; i < text.size();) {
    at.push_back(i);
    const utf8::Decoded d = utf8::decode(p + i, text.size() - i);
    i += d.status == utf8::Decoded::ok ? size_t(d.length) : 1;
  }
  return at;
}

// The rule read a character at a time (hat::State over decoded characters), to hold the
// splitter's bytes, pending characters and ill-formed bytes against.
std::vector<size_t> hat_by_characters(std::string_view text, size_t cap) {
  std::vector<size_t> starts;
  hat::State state;
  size_t length = 0;
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  for (size_t i = 0; i < text.size();) {
    const utf8::Decoded d = utf8::decode(p + i, text.size() - i);
    const bool ok = d.status == utf8::Decoded::ok;
    const size_t n = ok ? size_t(d.length) : 1;
    const hat::Class c = ok ? hat::class_of(d.code_point) : hat::Class::other;
    const bool broke = state.breaks(c), start = length == 0 || broke || length + n > cap;
    state.advance(c, broke);
    length = start ? n : length + n;
    if (start) starts.push_back(i);
    i += n;
  }
  return starts;
}

std::string shakespeare() {
  // The shared data folder sits beside the source tree (as tests/meson.build's BYTES_SHARED).
  namespace fs = std::filesystem;
  const char* env = std::getenv("BYTES_SHARED");
  const fs::path path = env ? fs::path(env) : fs::path(__FILE__).parent_path() / ".." / ".." / "shared";
  return testing::read_file((path / "data" / "tinyshakespeare.txt").string());
}

// Every check of the hat rule's split of `text`: it tiles the text, cuts only between characters,
// keeps words within the cap, is the character-level rule's, and the split of every prefix that
// ends between characters (every prefix, with `every_byte`) is the whole's, cut there.
void check_hat_split(const std::string& text, size_t cap, bool every_byte, size_t prefix_step = 1) {
  const auto whole = word_starts(text, WordRule::hat, cap);
  const auto chars = char_starts(text);
  if (text.empty()) {
    CHECK(whole.empty());
    return;
  }
  CHECK(whole.front() == 0);
  for (size_t k = 0; k < whole.size(); ++k) {
    const size_t end = k + 1 < whole.size() ? whole[k + 1] : text.size();
    CHECK(end > whole[k]);
    CHECK(end - whole[k] <= cap);
    CHECK(std::binary_search(chars.begin(), chars.end(), whole[k]));  // never inside a character
  }
  CHECK(whole == hat_by_characters(text, cap));
  std::vector<size_t> cuts = every_byte ? std::vector<size_t>{} : chars;
  if (every_byte)
    for (size_t n = 0; n <= text.size(); ++n) cuts.push_back(n);
  for (size_t i = 0; i < cuts.size(); i += prefix_step) {
    const size_t n = cuts[i];
    const std::vector<size_t> cut(whole.begin(), std::lower_bound(whole.begin(), whole.end(), n));
    REQUIRE(word_starts(std::string_view(text).substr(0, n), WordRule::hat, cap) == cut);
  }
}

}  // namespace

TEST_CASE("the hat rule: HAT's examples and UAX #29's cases") {
  CHECK(hat_words("Hello, world!") == V{"Hello,", " world!"});
  CHECK(hat_words("howAreYou") == V{"how", "Are", "You"});
  CHECK(hat_words("a\nb\tc") == V{"a", "\n", "b", "\t", "c"});     // newlines, tabs: words of their own
  CHECK(hat_words("a\r\n\nb") == V{"a", "\r\n", "\n", "b"});       // CR LF stays one (WB3)
  CHECK(hat_words("a   b  ") == V{"a", "   b", "  "});             // spaces with the word after them
  CHECK(hat_words("  lead") == V{"  lead"});
  CHECK(hat_words("a\u00a0b\u3000c") == V{"a", "\u00a0", "b", "\u3000", "c"});  // other whitespace alone
  CHECK(hat_words("abc123 x7y") == V{"abc123", " x7y"});           // WB9, WB10
  CHECK(hat_words("\u4e2d\u6587\u5b57") == V{"\u4e2d", "\u6587", "\u5b57"});  // ideographs: one each
  CHECK(hat_words("\u30ab\u30bf\u30ab\u30ca") == V{"\u30ab\u30bf\u30ab\u30ca"});  // WB13
  CHECK(hat_words("\U0001F468\u200d\U0001F469\u200d\U0001F467 ok") ==
        V{"\U0001F468\u200d\U0001F469\u200d\U0001F467", " ok"});    // WB3c, WB4
  CHECK(hat_words("\U0001F44D\U0001F3FD!") == V{"\U0001F44D\U0001F3FD!"});  // a modifier is Extend
  CHECK(hat_words("e\u0301A na\u00efve") == V{"e\u0301", "A", " na\u00efve"});  // marks stay, camelCase past them
  CHECK(hat_words("\U0001F1E9\U0001F1EA\U0001F1EB\U0001F1F7\U0001F1EE") ==
        V{"\U0001F1E9\U0001F1EA", "\U0001F1EB\U0001F1F7", "\U0001F1EE"});  // WB15/16
  CHECK(hat_words("can't") == V{"can'", "t"});                     // a split after punctuation
  CHECK(hat_words("a+b") == V{"a", "+", "b"});                     // symbols: WB999
  CHECK(hat_words("x_y 3.14") == V{"x_", "y", " 3.", "14"});
  CHECK(hat_words("1\u20442") == V{"1", "\u2044", "2"});           // a MidNum that is no punctuation
  CHECK(hat_words("Wait... (what?!)") == V{"Wait...", " (", "what?!)"});
  CHECK(hat_words("\n.a") == V{"\n", ".", "a"});                   // punctuation after a newline starts a word
  CHECK(hat_words("\u05d3\u05f4\u05e8") == V{"\u05d3\u05f4", "\u05e8"});  // gershayim is punctuation
  CHECK(hat_words("").empty());
  CHECK(parse_word_rule("hat") == WordRule::hat);
  CHECK(std::string(word_rule_name(WordRule::hat)) == "hat");
}

TEST_CASE("the hat rule: bytes of no character, and the cap") {
  CHECK(hat_words("ab\xff" "cd") == V{"ab", "\xff", "cd"});
  CHECK(hat_words("a\xe4\xb8x") == V{"a", "\xe4", "\xb8", "x"});   // a broken character: each byte alone
  CHECK(hat_words(" \xff\xfe") == V{" \xff", "\xfe"});             // (spaces go with what follows)
  CHECK(hat_words("x\xe4\xb8") == V{"x", "\xe4", "\xb8"});         // cut short by the end
  CHECK(hat_words("\xed\xa0\x80") == V{"\xed", "\xa0", "\x80"});   // a surrogate is no character
  CHECK(hat_words("a\xe4\xb8\xad") == V{"a", "\xe4\xb8\xad"});
  CHECK(hat_words("abcdefghij", 4) == V{"abcd", "efgh", "ij"});
  CHECK(hat_words("abc\u00e9", 4) == V{"abc", "\u00e9"});
  CHECK(hat_words("\U0001F468\u200d\U0001F469\u200d\U0001F467", 8) ==
        V{"\U0001F468\u200d", "\U0001F469\u200d", "\U0001F467"});
  CHECK(hat_words("ab       c", 4) == V{"ab", "    ", "   c"});     // the cap cuts; the rule's state stays
  // The splitter's interface: late decisions, and finish() for bytes left pending.
  WordSplitter s(WordRule::hat, 32);
  CHECK(s.feed('a').count == 1);
  CHECK(s.feed(0xC3).count == 0);
  CHECK(s.pending() == 1);
  const auto d = s.feed(0xA9);
  CHECK((d.first == 1 && d.count == 2 && d.starts == 0));
  CHECK(s.feed(0xE4).count == 0);
  const auto f = s.finish();
  CHECK((f.first == 3 && f.count == 1 && f.starts == 1));
  CHECK_THROWS_AS(s.starts_word('a'), std::logic_error);
  WordSplitter w(WordRule::whitespace, 32);
  CHECK((w.feed(0xC3).count == 1 && w.finish().count == 0));
}

TEST_CASE("the hat rule: libunistring's tables are what bytes-model(5) says") {
  // Every ExtendNumLet is punctuation or whitespace (WB13a/b never decide), the only mid
  // character that is no punctuation is U+2044, and no whitespace is punctuation.
  std::vector<uint32_t> mid_not_p;
  for (uint32_t c = 0; c < 0x110000; ++c) {
    if (c >= 0xD800 && c < 0xE000) continue;
    const int wb = uc_wordbreak_property(c);
    const bool p = uc_is_general_category(c, UC_CATEGORY_P), space = uc_is_property_white_space(c);
    if (wb == WBP_EXTENDNUMLET) CHECK((p || space));
    if ((wb == WBP_MIDLETTER || wb == WBP_MIDNUM || wb == WBP_MIDNUMLET || wb == WBP_SQ || wb == WBP_DQ) && !p)
      mid_not_p.push_back(c);
    if (space) CHECK(!p);
  }
  CHECK(mid_not_p == std::vector<uint32_t>{0x2044});
  CHECK(hat::class_of('A') == hat::Class::upper);
  CHECK(hat::class_of(0x2139) == hat::Class::lower_pict);
  CHECK(hat::class_of(0x203C) == hat::Class::punct);
  // A prefix's completions: what its characters' classes are, and nothing for a bad prefix.
  const uint8_t e4[] = {0xE4}, f0[] = {0xF0, 0x9F}, f09f98[] = {0xF0, 0x9F, 0x98}, c3[] = {0xC3};
  CHECK(hat::completions(e4, 1) == hat::bit(hat::Class::other));  // U+4000–U+4FFF: ideographs
  CHECK((hat::completions(f0, 2) & hat::bit(hat::Class::pict)) != 0);
  CHECK((hat::completions(f09f98, 3) & hat::bit(hat::Class::ri)) == 0);
  CHECK(hat::completions(c3, 1) == (hat::bit(hat::Class::lower) | hat::bit(hat::Class::upper) |
                                    hat::bit(hat::Class::other)));  // U+00C0–U+00FF: letters and × ÷
}

TEST_CASE("property: the hat rule tiles, cuts between characters, is capped and prefix-stable") {
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 150; ++trial) {
    CAPTURE(trial);
    const size_t cap = trial % 3 == 0 ? 4 : trial % 3 == 1 ? 7 : 32;
    check_hat_split(random_unicode(rng, 1 + rng() % 40), cap, false);
    // Bytes with no multi-byte character: every byte prefix is stable.
    check_hat_split(testing::random_bytes(rng, rng() % 80, 128), cap, true);
    std::string bad = testing::random_bytes(rng, rng() % 80);
    for (auto& c : bad)
      if (utf8::length(uint8_t(c)) > 1 && rng() % 2) c = char(0x80 | (rng() % 64));
    check_hat_split(bad, cap, false);
    check_hat_split(random_text(rng, 1 + rng() % 30) + testing::random_bytes(rng, rng() % 40), cap, false);
  }
  const std::string text = shakespeare();
  REQUIRE(text.size() > 100000);
  check_hat_split(text.substr(0, 20000), 32, true, 97);
  CHECK(word_starts(text, WordRule::hat, 32) == hat_by_characters(text, 32));
}

namespace {

// A generator that keeps to allows() and allows_end(): from `prompt` (decided with finish(), as
// bytes-gen does), `steps` symbols drawn among the allowed ones, bytes biased toward those that
// make words (letters, spaces, punctuation, lead bytes of common scripts). Returns the text and
// where its words start, as the generator wrote them.
std::pair<std::string, std::vector<size_t>> generate_words(std::mt19937_64& rng, WordRule rule, size_t cap,
                                                           const std::string& prompt, int steps) {
  static const std::string likely = "aeZQ  \n\t\r.,'!+_7\xc3\xce\xe4\xe3\xf0\xe2\x80\x9f\x98\xa9\xa4";
  WordSplitter split(rule, cap);
  std::string text = prompt;
  std::vector<size_t> starts;
  auto add = [&](uint64_t offset) { starts.push_back(size_t(offset)); };
  for (char c : prompt) split.feed(uint8_t(c)).each_start(add);
  split.finish().each_start(add);
  size_t word_bytes = starts.empty() ? 0 : text.size() - starts.back();
  for (int step = 0; step < steps || split.pending() > 0; ++step) {
    std::vector<int> allowed;
    for (int b = 0; b < 256; ++b)
      if (split.allows(uint8_t(b), word_bytes)) allowed.push_back(b);
    if (split.allows_end(word_bytes)) allowed.push_back(256);
    REQUIRE(!allowed.empty());  // the generator is never stuck
    int pick = allowed[rng() % allowed.size()];
    const int want = rng() % 5 == 0 ? 256 : rng() % 3 ? uint8_t(likely[rng() % likely.size()]) : -1;
    if (std::find(allowed.begin(), allowed.end(), want) != allowed.end()) pick = want;
    if (pick == 256) {
      word_bytes = 0;
      continue;
    }
    if (word_bytes == 0) starts.push_back(text.size());
    text += char(pick);
    ++word_bytes;
    split.feed(uint8_t(pick));
  }
  return {text, starts};
}

}  // namespace

TEST_CASE("property: a generator that keeps to allows() writes the splitter's words, and can write every split") {
  std::mt19937_64 rng(4);
  for (int trial = 0; trial < 120; ++trial) {
    const WordRule rule = trial % 4 == 0 ? WordRule::whitespace : trial % 4 == 1 ? WordRule::spacelike : WordRule::hat;
    const size_t cap = trial % 3 == 0 ? 4 : 9;
    CAPTURE(trial);
    // Prompts that end inside a character (for the hat rule, decided as bytes of none).
    const std::string prompt = trial % 2 ? random_unicode(rng, 3) + "\xe4\xb8" : random_unicode(rng, 2);
    const auto [text, starts] = generate_words(rng, rule, cap, trial % 5 == 0 ? "" : prompt, 150);
    CHECK(word_starts(text, rule, cap) == starts);
    // The other way: the split of any text is allowed, byte by byte and EOW by EOW.
    const std::string any = random_unicode(rng, 20) + testing::random_bytes(rng, 30);
    const auto whole = word_starts(any, rule, cap);
    WordSplitter split(rule, cap);
    size_t word_bytes = 0, k = 0;
    for (size_t i = 0; i < any.size(); ++i) {
      CAPTURE(i);
      if (k < whole.size() && whole[k] == i) {
        if (i > 0) REQUIRE(split.allows_end(word_bytes));
        word_bytes = 0;
        ++k;
      }
      // The hat rule's generator writes whole characters: a walk stops at a lead byte that the
      // text breaks later.
      const utf8::Decoded d = utf8::decode(reinterpret_cast<const uint8_t*>(any.data()) + i, any.size() - i);
      if (rule == WordRule::hat && !split.pending() && utf8::length(uint8_t(any[i])) > 1 && d.status != utf8::Decoded::ok)
        break;
      REQUIRE(split.allows(uint8_t(any[i]), word_bytes));
      // (A newline starts a word after anything: the hat rule may end a word at any character.)
      if (rule == WordRule::hat) CHECK(split.allows_end(word_bytes) == (word_bytes > 0 && split.pending() == 0));
      split.feed(uint8_t(any[i]));
      ++word_bytes;
    }
  }
}
