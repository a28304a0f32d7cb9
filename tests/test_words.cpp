#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "bytes/base/error.hpp"
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
