#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>

#include "bytes/runs/eval.hpp"
#include "bytes/runs/generate.hpp"
#include "bytes/kernels/kernels.hpp"
#include "bytes/models/model.hpp"
#include "bytes/text/utf8.hpp"
#include "bytes/text/words.hpp"
#include "bytes/models/flat.hpp"
#include "bytes/models/patch.hpp"
#include "bytes/models/word.hpp"
#include "testing.hpp"

using namespace bytes;
using namespace std::string_literals;

namespace {

// A small model with weights large enough that its distributions are sharp (no near-ties for
// argmax comparisons).
std::unique_ptr<FlatModel> sharp_model(int64_t ctx, uint64_t seed = 7) {
  auto m = std::make_unique<FlatModel>(testing::flat_config(64, 2, ctx));
  m->init(seed);
  for (auto& p : m->params) p *= 6.0f;
  return m;
}

double max_diff(const float* a, const float* b, int64_t n) {
  double d = 0;
  for (int64_t i = 0; i < n; ++i) d = std::max(d, double(std::fabs(a[i] - b[i])));
  return d;
}

std::string gen(SymbolStream& stream, const std::string& prompt, const GenerateOptions& o,
                GenerateStats* stats = nullptr) {
  std::string out;
  auto st = generate(stream, prompt, o, [&](std::string_view s) { out += s; });
  if (stats) *stats = st;
  return out;
}

// RFC 3629 by its table, written independently of the library's utf8::Validator.
bool valid_utf8(const std::string& s) {
  size_t i = 0;
  auto in = [&](size_t j, int lo, int hi) { return j < s.size() && (unsigned char)s[j] >= lo && (unsigned char)s[j] <= hi; };
  while (i < s.size()) {
    unsigned c = (unsigned char)s[i];
    if (c <= 0x7F) i += 1;
    else if (c >= 0xC2 && c <= 0xDF && in(i + 1, 0x80, 0xBF)) i += 2;
    else if (c == 0xE0 && in(i + 1, 0xA0, 0xBF) && in(i + 2, 0x80, 0xBF)) i += 3;
    else if (((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) && in(i + 1, 0x80, 0xBF) && in(i + 2, 0x80, 0xBF)) i += 3;
    else if (c == 0xED && in(i + 1, 0x80, 0x9F) && in(i + 2, 0x80, 0xBF)) i += 3;
    else if (c == 0xF0 && in(i + 1, 0x90, 0xBF) && in(i + 2, 0x80, 0xBF) && in(i + 3, 0x80, 0xBF)) i += 4;
    else if (c >= 0xF1 && c <= 0xF3 && in(i + 1, 0x80, 0xBF) && in(i + 2, 0x80, 0xBF) && in(i + 3, 0x80, 0xBF)) i += 4;
    else if (c == 0xF4 && in(i + 1, 0x80, 0x8F) && in(i + 2, 0x80, 0xBF) && in(i + 3, 0x80, 0xBF)) i += 4;
    else return false;
  }
  return true;
}

// Emits a fixed script (then BOS) as its overwhelmingly likely continuation.
class ScriptStream final : public SymbolStream {
 public:
  explicit ScriptStream(std::string script) : script_(std::move(script)) {}
  const float* start(const uint8_t*, size_t) override {
    pos_ = 0;
    return logits();
  }
  const float* push(int32_t) override {
    ++pos_;
    return logits();
  }
  bool emits(int32_t s) const override { return s < 256 || s == BOS; }

 private:
  const float* logits() {
    z_.assign(VOCAB, -10.0f);
    z_[pos_ < script_.size() ? (unsigned char)script_[pos_] : size_t(BOS)] = 10.0f;
    return z_.data();
  }
  std::string script_;
  size_t pos_ = 0;
  std::vector<float> z_;
};

}  // namespace

TEST_CASE("cached one-token steps give the logits of the full forward") {
  const auto owned_m = sharp_model(24);
  auto& m = *owned_m;
  std::mt19937_64 rng(3);
  std::vector<int32_t> tokens{BOS};
  for (int i = 1; i < 24; ++i) tokens.push_back(int32_t(rng() % 256));
  m.forward(tokens.data(), nullptr, 1, 24);
  std::vector<float> full(m.logits(), m.logits() + 24 * VOCAB);
  // The two paths sum in different orders (tiled attention against one row's dot products), and
  // the sharp model magnifies it: agreement to 1e-4 of the largest logit (about 19 here; a wrong or
  // stale cache entry moves logits by whole units).
  double largest = 0;
  for (float v : full) largest = std::max(largest, double(std::fabs(v)));
  const double tolerance = 1e-4 * largest;
  KVCache cache;
  const float* z = m.extend(cache, tokens.data(), 5);  // a batched prefix, then single steps
  CHECK(max_diff(z, full.data() + 4 * VOCAB, VOCAB) < tolerance);
  for (int t = 5; t < 24; ++t) {
    z = m.extend(cache, &tokens[size_t(t)], 1);
    INFO("position " << t);
    CHECK(max_diff(z, full.data() + t * VOCAB, VOCAB) < tolerance);
  }
  CHECK(cache.len == 24);
  CHECK_THROWS(m.extend(cache, tokens.data(), 1));  // the window is full
}

TEST_CASE("a model file is mapped, not copied, and computes the same") {
  testing::TempDir dir;
  const auto owned_m = sharp_model(16);
  auto& m = *owned_m;
  save_model(m, dir / "m.safetensors");
  const auto loaded = load_model(dir / "m.safetensors", true);
  auto& mapped = dynamic_cast<FlatModel&>(*loaded);
  CHECK(mapped.params.empty());
  CHECK(mapped.n_params() == m.n_params());
  std::vector<int32_t> tokens{BOS, 'a', 'b', 'c'};
  KVCache c1, c2;
  const float* x = m.extend(c1, tokens.data(), 4);
  std::vector<float> want(x, x + VOCAB);
  CHECK(max_diff(mapped.extend(c2, tokens.data(), 4), want.data(), VOCAB) == 0);
}

// bytes-eval anchors a document's last window at its end (as the PyTorch reference does), which a
// generator cannot know in advance; every byte before that last, partial stride is predicted
// from the same window.
size_t before_last_partial_window(size_t n, int64_t ctx, int64_t stride) {
  const size_t step = size_t(stride > 0 ? std::min(stride, ctx) : ctx / 2);
  return n - n % step;
}

std::unique_ptr<PatchModel> sharp_patch_model(const char* spec, int64_t ctx) {
  auto m = std::make_unique<PatchModel>(testing::patch_config(spec, 64, 2, ctx, 64, 1));
  m->init(15);
  for (auto& p : m->params) p *= 3.0f;
  return m;
}

// A prompt on an empty cache runs as one block per stage; the steps after it must continue from
// exactly the state that one step a position would have left (every stage, every cache).
TEST_CASE("patch model: a prompt in one block leaves the state of one step a position") {
  for (const char* spec : {"4", "4x2", "2x2x2"}) {
    const auto owned_m = sharp_patch_model(spec, 32);
    auto& m = *owned_m;
    std::mt19937_64 rng(5);
    std::vector<int32_t> tokens{BOS};
    for (int i = 1; i < 32; ++i) tokens.push_back(int32_t(rng() % 256));
    KVCache steps;
    std::vector<std::vector<float>> stepped;
    for (int t = 0; t < 32; ++t) {
      const float* z = m.extend(steps, &tokens[size_t(t)], 1);
      stepped.emplace_back(z, z + VOCAB);
    }
    for (int n : {2, 3, 4, 5, 8, 9, 15, 16, 17, 31}) {
      INFO(spec << ", a prompt of " << n);
      KVCache block;
      const float* z = m.extend(block, tokens.data(), n);
      CHECK(max_diff(z, stepped[size_t(n - 1)].data(), VOCAB) < 1e-4);
      for (int t = n; t < 32; ++t) {
        z = m.extend(block, &tokens[size_t(t)], 1);
        CHECK(max_diff(z, stepped[size_t(t)].data(), VOCAB) < 1e-4);
      }
    }
  }
}

TEST_CASE("the stream predicts every byte from bytes-eval's window, flat or patch") {
  for (const char* arch : {"flat", "4", "4x2"})
  for (int64_t stride : {0, 5, 16}) {
    CAPTURE(arch);
    const std::unique_ptr<WindowModel> owned =
        std::string(arch) == "flat" ? std::unique_ptr<WindowModel>(sharp_model(16)) : sharp_patch_model(arch, 16);
    WindowModel& m = *owned;
    std::mt19937_64 rng(11);
    const std::string doc = testing::random_bytes(rng, 70);
    Scorer scorer{m, stride, 4};
    auto bits = scorer.bits(reinterpret_cast<const uint8_t*>(doc.data()), doc.size());
    auto stream = open_stream(m, stride);
    const size_t prompt = 9;  // a prompt, then one byte at a time across many slides
    const float* z = stream->start(reinterpret_cast<const uint8_t*>(doc.data()), prompt);
    std::vector<float> lp(VOCAB);
    for (size_t i = prompt; i < before_last_partial_window(doc.size(), 16, stride); ++i) {
      kernels::log_softmax(z, VOCAB, lp.data());
      INFO("stride " << stride << " byte " << i);
      CHECK(-lp[(unsigned char)doc[i]] / std::log(2.0) == doctest::Approx(bits[i]).epsilon(1e-4));
      z = stream->push((unsigned char)doc[i]);
    }
  }
}

TEST_CASE("greedy generation writes the teacher-forced argmax") {
  for (int64_t ctx : {128, 16}) {  // within one window, and sliding many times
    const auto owned_m = sharp_model(ctx);
    auto& m = *owned_m;
    auto stream = open_stream(m);
    GenerateOptions o;
    o.sampling.temperature = 0;
    o.max_bytes = 100;
    o.ignore_end = true;
    const std::string prompt = "Once upon\xff\x00 a"s;
    const std::string out = gen(*stream, prompt, o);
    REQUIRE(out.size() == 100);
    const std::string doc = prompt + out;
    std::vector<uint8_t> top;
    Scorer{m, 0, 8}.bits(reinterpret_cast<const uint8_t*>(doc.data()), doc.size(), &top);
    const size_t checked = ctx >= int64_t(doc.size()) ? doc.size() : before_last_partial_window(doc.size(), ctx, 0);
    for (size_t i = prompt.size(); i < checked; ++i) {
      INFO("ctx " << ctx << " byte " << i);
      CHECK(int(top[i]) == int((unsigned char)doc[i]));
    }
  }
}

TEST_CASE("the same seed gives the same bytes, another seed others") {
  const auto owned_m = sharp_model(32);
  auto& m = *owned_m;
  auto stream = open_stream(m);
  GenerateOptions o;
  o.max_bytes = 200;
  o.ignore_end = true;
  o.seed = 1;
  const std::string a = gen(*stream, "x", o), b = gen(*stream, "x", o);
  o.seed = 2;
  const std::string c = gen(*stream, "x", o);
  CHECK(a.size() == 200);
  CHECK(a == b);
  CHECK(a != c);
}

TEST_CASE("Rng is splitmix64: its published first outputs for seed 0") {
  Rng rng(0);
  CHECK(rng.next() == 0xE220A8397B1DCDAFull);
  CHECK(rng.next() == 0x6E789E6AA1B965F4ull);
  CHECK(rng.next() == 0x06C45D188009454Full);
}

TEST_CASE("--utf8 output is valid UTF-8, also from a broken prompt and within the byte budget") {
  const auto owned_m = sharp_model(32);
  auto& m = *owned_m;
  auto stream = open_stream(m);
  GenerateOptions o;
  o.utf8 = true;
  o.ignore_end = true;
  for (uint64_t seed = 0; seed < 6; ++seed) {
    o.seed = seed;
    o.max_bytes = 300;
    CHECK(valid_utf8(gen(*stream, "plain", o)));
    CHECK(valid_utf8(std::string("\xe2\x82") + gen(*stream, "\xe2\x82", o)));  // completes the euro sign
    CHECK(valid_utf8(gen(*stream, "bad \xff\xc0", o)));
    for (int64_t n = 1; n <= 5; ++n) {
      o.max_bytes = n;
      std::string out = gen(*stream, "t", o);
      CHECK(int64_t(out.size()) <= n);
      CHECK(valid_utf8(out));
    }
  }
  // Without the mask a sharp random model does write invalid UTF-8: the mask is doing the work.
  o.utf8 = false;
  o.max_bytes = 300;
  CHECK_FALSE(valid_utf8(gen(*stream, "plain", o)));
}

TEST_CASE("stop strings, line ends and the document boundary end generation") {
  ScriptStream s("hello world\nsecond");
  GenerateOptions o;
  o.sampling.temperature = 0;
  o.max_bytes = -1;
  GenerateStats st;
  CHECK(gen(s, "", o, &st) == "hello world\nsecond");
  CHECK(st.end == GenerateStats::End::document);
  CHECK(st.bytes == 18);
  o.stops = {"wor"};
  CHECK(gen(s, "", o, &st) == "hello ");
  CHECK(st.end == GenerateStats::End::stop);
  o.stops = {"lo w", "ll"};
  CHECK(gen(s, "", o) == "he");
  o.stops = {"worx", "d\ns"};  // a partial match is written once it fails
  CHECK(gen(s, "", o) == "hello worl");
  o.stops = {};
  o.end_at_newline = true;
  CHECK(gen(s, "", o) == "hello world");
  o.end_at_newline = false;
  o.max_bytes = 4;
  CHECK(gen(s, "", o, &st) == "hell");
  CHECK(st.end == GenerateStats::End::budget);
  o.max_bytes = 0;
  CHECK(gen(s, "", o) == "");
  o.max_bytes = 25;
  o.ignore_end = true;  // the boundary is masked: the next most likely byte follows
  CHECK(gen(s, "", o).size() == 25);
}

TEST_CASE("sampling: truncations at their limits are greedy, and draws follow the distribution") {
  std::vector<float> z(VOCAB, -1e9f);
  z[10] = std::log(0.5f);
  z[20] = std::log(0.3f);
  z[30] = std::log(0.2f);
  std::vector<bool> allowed(VOCAB, true);
  Rng rng(9);
  SamplingOptions o;
  for (auto set : {+[](SamplingOptions& x) { x.top_k = 1; }, +[](SamplingOptions& x) { x.top_p = 1e-9; },
                   +[](SamplingOptions& x) { x.min_p = 1.0; }, +[](SamplingOptions& x) { x.temperature = 0; }}) {
    SamplingOptions t;
    set(t);
    for (int i = 0; i < 50; ++i) CHECK(sample(z.data(), allowed, t, "", rng) == 10);
  }
  auto freq = [&](const SamplingOptions& t) {
    std::vector<double> f(VOCAB);
    const int n = 40000;
    for (int i = 0; i < n; ++i) f[size_t(sample(z.data(), allowed, t, "", rng))] += 1.0 / n;
    return f;
  };
  auto f = freq(o);
  CHECK(f[10] == doctest::Approx(0.5).epsilon(0.03));
  CHECK(f[20] == doctest::Approx(0.3).epsilon(0.05));
  CHECK(f[30] == doctest::Approx(0.2).epsilon(0.05));
  o.temperature = 0.5;  // p² renormalised: .25/.38, .09/.38, .04/.38
  f = freq(o);
  CHECK(f[10] == doctest::Approx(0.25 / 0.38).epsilon(0.03));
  CHECK(f[30] == doctest::Approx(0.04 / 0.38).epsilon(0.1));
  o = {};
  o.top_k = 2;
  f = freq(o);
  CHECK(f[30] == 0);
  CHECK(f[10] == doctest::Approx(0.625).epsilon(0.03));
  o = {};
  o.top_p = 0.75;  // .5 then .8 ≥ .75: the top two
  CHECK(freq(o)[30] == 0);
  o = {};
  o.min_p = 0.5;  // .2 < .5 · .5
  CHECK(freq(o)[30] == 0);
  allowed[10] = false;
  o = {};
  f = freq(o);
  CHECK(f[10] == 0);
  CHECK(f[20] == doctest::Approx(0.6).epsilon(0.04));
  std::fill(allowed.begin(), allowed.end(), false);
  CHECK(sample(z.data(), allowed, o, "", rng) == -1);
}

TEST_CASE("the repeat penalty steers greedy choice away from recent bytes") {
  std::vector<float> z(VOCAB, 0.0f);
  z['a'] = 2.0f;
  z['b'] = 1.5f;
  std::vector<bool> allowed(VOCAB, true);
  Rng rng(1);
  SamplingOptions o;
  o.temperature = 0;
  CHECK(sample(z.data(), allowed, o, "xa", rng) == 'a');
  o.repeat_penalty = 1.5;
  CHECK(sample(z.data(), allowed, o, "xa", rng) == 'b');
  CHECK(sample(z.data(), allowed, o, "xy", rng) == 'a');
}

// ---------------------------------------------------------------------------------------------
// The word model

namespace {

std::unique_ptr<WordModel> sharp_word_model(int64_t ctx, int64_t cap, const char* rule = "whitespace") {
  auto m = std::make_unique<WordModel>(Config::make(
      "word", {{"d_model", "64"}, {"n_layers", "2"}, {"ctx_words", std::to_string(ctx)}, {"enc_d_model", "64"},
               {"enc_layers", "1"}, {"dec_d_model", "64"}, {"dec_layers", "1"}, {"word_cap", std::to_string(cap)},
               {"word_rule", rule}}));
  m->init(11);
  for (auto& p : m->params) p *= 3.0f;
  return m;
}

double bits_of(const float* logits, int32_t symbol) {
  std::vector<float> lp(VOCAB);
  kernels::log_softmax(logits, VOCAB, lp.data());
  return -double(lp[size_t(symbol)]) / std::log(2.0);
}

}  // namespace

TEST_CASE("word model: changing byte t leaves every earlier byte's bits unchanged") {
  std::mt19937_64 rng(21);
  const auto owned_m = sharp_word_model(6, 8);
  auto& m = *owned_m;
  for (int trial = 0; trial < 12; ++trial) {
    std::string doc = testing::wordy_text(rng, 90);
    Scorer scorer{m, 3, 4};
    auto before = scorer.bits(reinterpret_cast<const uint8_t*>(doc.data()), doc.size());
    const size_t t = rng() % doc.size();
    std::string changed = doc;
    // A space where there was none (or a letter for a space) moves word boundaries after t.
    changed[t] = doc[t] == ' ' ? 'q' : trial % 2 ? ' ' : char(doc[t] ^ (1 + rng() % 255));
    auto after = scorer.bits(reinterpret_cast<const uint8_t*>(changed.data()), changed.size());
    CAPTURE(t);
    bool differs = false;
    for (size_t i = 0; i < doc.size(); ++i) {
      if (i < t) REQUIRE(after[i] == doctest::Approx(before[i]).epsilon(1e-5));
      else differs = differs || std::fabs(after[i] - before[i]) > 1e-3;
    }
    CHECK(differs);  // and byte t itself, or a later one, does change
  }
}

TEST_CASE("patch model: changing byte t leaves every earlier byte's bits unchanged") {
  std::mt19937_64 rng(23);
  for (const char* spec : {"4", "4x2"}) {
    PatchModel m(testing::patch_config(spec, 64, 1, 16, 64, 1));
    m.init(14);
    for (auto& p : m.params) p *= 3.0f;
    for (int trial = 0; trial < 12; ++trial) {
      const std::string doc = testing::random_bytes(rng, 70);
      for (int64_t stride : {4, 8, 16}) {
        Scorer scorer{m, stride, 4};
        auto before = scorer.bits(reinterpret_cast<const uint8_t*>(doc.data()), doc.size());
        const size_t t = rng() % doc.size();
        std::string changed = doc;
        changed[t] = char(doc[t] ^ (1 + rng() % 255));
        auto after = scorer.bits(reinterpret_cast<const uint8_t*>(changed.data()), changed.size());
        CAPTURE(spec);
        CAPTURE(t);
        bool differs = false;
        for (size_t i = 0; i < doc.size(); ++i) {
          if (i < t) REQUIRE(after[i] == doctest::Approx(before[i]).epsilon(1e-5));
          else differs = differs || std::fabs(after[i] - before[i]) > 1e-3;
        }
        CHECK(differs);  // and byte t itself, or a later one, does change
      }
    }
  }
}

TEST_CASE("word model: the cached stream predicts every symbol as bytes-eval does, and allows it") {
  std::mt19937_64 rng(22);
  for (int64_t ctx : {5, 64}) {
    const auto owned_m = sharp_word_model(ctx, 8);
    auto& m = *owned_m;
    for (size_t prompt : {size_t(0), size_t(13)}) {
      const std::string doc = testing::wordy_text(rng, 160);
      CAPTURE(ctx);
      CAPTURE(prompt);
      const auto want = Scorer{m, 2, 4}.bits(reinterpret_cast<const uint8_t*>(doc.data()), doc.size());
      auto stream = open_stream(m, 2);
      const float* logits = stream->start(reinterpret_cast<const uint8_t*>(doc.data()), prompt);
      WordSplitter split(WordRule::whitespace, 8);
      for (size_t i = 0; i < prompt; ++i) split.starts_word(uint8_t(doc[i]));
      for (size_t i = prompt; i < doc.size(); ++i) {
        const uint8_t b = uint8_t(doc[i]);
        double got = 0;
        if (split.starts_word(b) && i > 0) {
          REQUIRE(stream->emits(EOW));
          got += bits_of(logits, EOW);
          logits = stream->push(EOW);
        }
        REQUIRE(stream->emits(b));
        got += bits_of(logits, b);
        logits = stream->push(b);
        CAPTURE(i);
        REQUIRE(got == doctest::Approx(want[i]).epsilon(1e-4));
      }
    }
  }
}

TEST_CASE("word model: greedy generation writes the teacher-forced argmax, in the splitter's words") {
  const auto owned_m = sharp_word_model(6, 8);
  auto& m = *owned_m;
  auto stream = open_stream(m, 3);
  GenerateOptions o;
  o.sampling.temperature = 0;
  o.max_bytes = 200;
  o.ignore_end = true;
  const std::string prompt = "the a ";
  const std::string text = prompt + gen(*stream, prompt, o);
  REQUIRE(text.size() == prompt.size() + 200);
  // Walk the text again: every symbol (EOW where the splitter starts a word) is the most likely
  // of those allowed.
  auto check = open_stream(m, 3);
  const float* logits = check->start(reinterpret_cast<const uint8_t*>(text.data()), prompt.size());
  WordSplitter split(WordRule::whitespace, 8);
  for (size_t i = 0; i < prompt.size(); ++i) split.starts_word(uint8_t(text[i]));
  auto argmax = [&] {
    int32_t best = -1;
    for (int32_t s = 0; s < VOCAB; ++s)
      if (s != BOS && check->emits(s) && (best < 0 || logits[s] > logits[best])) best = s;
    return best;
  };
  for (size_t i = prompt.size(); i < text.size(); ++i) {
    const uint8_t b = uint8_t(text[i]);
    CAPTURE(i);
    if (split.starts_word(b)) {
      REQUIRE(argmax() == EOW);
      logits = check->push(EOW);
    }
    REQUIRE(argmax() == int32_t(b));
    logits = check->push(b);
  }
}

// The hat rule decides a character when its last byte is here, and a generator must then keep to
// what it decided: on text of many scripts, the stream scores every symbol as bytes-eval does and
// allows each, and greedy generation is the argmax of the allowed symbols, in the splitter's words.
namespace {

// Greek, German, CJK, emoji, punctuation and spaces: characters of 1 to 4 bytes.
std::string mixed_text(std::mt19937_64& rng, size_t pieces) {
  static const std::string words[] = {"Gr\u00fc\u00dfe", " ", "\u03ba\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1",
                                      ", ", "\u4e2d\u6587", "\n", "Stra\u00dfe", "!", "\U0001F600", "ab", "\t",
                                      "\u00c4rger", "camelCase", "\u0391\u03b8\u03ae\u03bd\u03b1", "'s"};
  std::string s;
  for (size_t i = 0; i < pieces; ++i) s += words[rng() % std::size(words)];
  return s;
}

// Where the words of `text` start, as far as the splitter has decided without its end.
std::vector<size_t> decided_starts(const std::string& text, size_t cap, size_t* decided) {
  WordSplitter split(WordRule::hat, cap);
  std::vector<size_t> starts;
  for (char c : text) split.feed(uint8_t(c)).each_start([&](uint64_t o) { starts.push_back(size_t(o)); });
  *decided = text.size() - split.pending();
  return starts;
}

}  // namespace

TEST_CASE("word model, hat rule: the stream scores every symbol as bytes-eval does, and allows it") {
  std::mt19937_64 rng(24);
  const auto owned_m = sharp_word_model(5, 8, "hat");
  auto& m = *owned_m;
  for (int trial = 0; trial < 3; ++trial) {
    const std::string doc = mixed_text(rng, 40);
    const auto starts = word_starts(doc, WordRule::hat, 8);
    // No prompt, a prompt of whole words, and one that ends inside a word (between characters).
    const size_t at = starts[size_t(trial) * 3];
    const size_t prompt = trial == 0 ? 0 : at + (trial == 2 ? size_t(utf8::length(uint8_t(doc[at]))) : 0);
    CAPTURE(trial);
    const auto want = Scorer{m, 2, 4}.bits(reinterpret_cast<const uint8_t*>(doc.data()), doc.size());
    auto stream = open_stream(m, 2);
    const float* logits = stream->start(reinterpret_cast<const uint8_t*>(doc.data()), prompt);
    for (size_t i = prompt; i < doc.size(); ++i) {
      CAPTURE(i);
      const uint8_t b = uint8_t(doc[i]);
      double got = 0;
      if (i > 0 && std::binary_search(starts.begin(), starts.end(), i)) {
        REQUIRE(stream->emits(EOW));
        got += bits_of(logits, EOW);
        logits = stream->push(EOW);
      } else if (utf8::is_continuation(b)) {
        REQUIRE(!stream->emits(EOW));  // never inside a character
      }
      REQUIRE(stream->emits(b));
      got += bits_of(logits, b);
      logits = stream->push(b);
      REQUIRE(got == doctest::Approx(want[i]).epsilon(1e-4));
    }
  }
}

TEST_CASE("word model, hat rule: greedy generation writes the argmax of the allowed symbols, in the splitter's words") {
  const auto owned_m = sharp_word_model(6, 8, "hat");
  auto& m = *owned_m;
  GenerateOptions o;
  o.sampling.temperature = 0;
  o.max_bytes = 300;
  o.ignore_end = true;
  // A prompt that ends between characters, and one that ends inside one (its bytes then count
  // as bytes of no character, and no continuation byte may follow them).
  for (const std::string& prompt : {"Gr\u00fc\u00dfe, \u03ba\u03b1\u03bb\u03b7 \u4e2d"s, "Gr\u00fc\u00dfe \xce"s}) {
    auto stream = open_stream(m, 3);
    const std::string text = prompt + gen(*stream, prompt, o);
    REQUIRE(text.size() == prompt.size() + 300);
    size_t decided = 0;
    const auto starts = decided_starts(text, 8, &decided);
    auto check = open_stream(m, 3);
    const float* logits = check->start(reinterpret_cast<const uint8_t*>(text.data()), prompt.size());
    auto argmax = [&] {
      int32_t best = -1;
      for (int32_t s = 0; s < VOCAB; ++s)
        if (s != BOS && check->emits(s) && (best < 0 || logits[s] > logits[best])) best = s;
      return best;
    };
    if (prompt.back() == '\xce') CHECK(!check->emits(0xA9));
    for (size_t i = prompt.size(); i < decided; ++i) {
      const uint8_t b = uint8_t(text[i]);
      CAPTURE(i);
      if (std::binary_search(starts.begin(), starts.end(), i)) {
        REQUIRE(argmax() == EOW);
        logits = check->push(EOW);
      }
      REQUIRE(argmax() == int32_t(b));
      logits = check->push(b);
    }
    CHECK(decided + 3 >= text.size());
  }
}
