// bytes-eval's scorer: the stream gives the bits of the whole-buffer protocol, bit for bit, however
// the bytes arrive, and sends them while the document is still arriving; the run over a file or a
// dataset split, and conditional scoring, add up exactly those bits.
#include <doctest/doctest.h>
#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "bytes/base/error.hpp"
#include "bytes/runs/conditional.hpp"
#include "bytes/runs/eval.hpp"
#include "bytes/models/window.hpp"
#include "bytes/models/word.hpp"
#include "bytes/runs/evaluate.hpp"
#include "bytes/text/prep.hpp"
#include "bytes/text/words.hpp"
#include "testing.hpp"

using namespace bytes;

namespace {

std::unique_ptr<Model> sharp(const Config& c, uint64_t seed) {
  auto m = make_model(c);
  m->init(seed);
  for (auto& p : m->params) p *= 3.0f;
  return m;
}

Config word_config(int64_t ctx, int64_t cap) { return testing::word_model_config(64, 1, ctx, 64, 1, 64, 1, cap); }

// The protocol as bytes-eval computed it over a whole document before it streamed: every window
// listed first (the last one anchored to the end for flat and patch), full windows batched, each
// short one alone; for words, every window batched in order and EOW's bits on the next word's
// first byte. Kept here as the reference the stream must match exactly.
struct Window {
  int64_t lo, pos, end;
};
std::vector<Window> windows(int64_t n, int64_t ctx, int64_t step, bool anchor_end) {
  std::vector<Window> out;
  for (int64_t pos = 0; pos < n;) {
    const int64_t end = std::min(pos + step, n);
    out.push_back({std::max<int64_t>(0, (anchor_end ? end : pos + step) - ctx), pos, end});
    pos = end;
  }
  return out;
}

uint8_t argmax(const float* z) { return uint8_t(std::max_element(z, z + 256) - z); }

void reference(Model& model, int64_t stride, int64_t batch, const std::string& text, std::vector<double>& out,
               std::vector<uint8_t>& top) {
  const auto* doc = reinterpret_cast<const uint8_t*>(text.data());
  const int64_t n = int64_t(text.size()), step = window_stride(model, stride), ctx = model.context();
  auto* word = dynamic_cast<WordModel*>(&model);
  const double inv_ln2 = 1.0 / std::log(2.0);
  out.assign(size_t(n), 0.0);
  top.assign(size_t(n), 0);
  if (n == 0) return;
  if (!word) {
    auto& bytes_model = dynamic_cast<WindowModel&>(model);
    std::vector<Window> full, partial;
    for (const auto& w : windows(n, ctx, step, true)) (w.end - w.lo == ctx ? full : partial).push_back(w);
    auto run = [&](const Window* w, int64_t count, int64_t T) {
      std::vector<int32_t> tokens(size_t(count * T)), targets(size_t(count * T), -1);
      for (int64_t b = 0; b < count; ++b)
        for (int64_t t = 0; t < T; ++t) {
          const int64_t i = w[b].lo + t;
          tokens[size_t(b * T + t)] = i == 0 ? BOS : int32_t(doc[i - 1]);
          if (i >= w[b].pos && i < w[b].end) targets[size_t(b * T + t)] = doc[i];
        }
      bytes_model.forward(tokens.data(), targets.data(), count, T);
      for (int64_t b = 0; b < count; ++b)
        for (int64_t i = w[b].pos; i < w[b].end; ++i) {
          const int64_t row = b * T + (i - w[b].lo);
          out[size_t(i)] = double(model.losses()[row]) * inv_ln2;
          top[size_t(i)] = argmax(model.logits() + row * VOCAB);
        }
    };
    for (size_t i = 0; i < full.size(); i += size_t(batch))
      run(full.data() + i, std::min<int64_t>(batch, int64_t(full.size() - i)), ctx);
    for (const auto& w : partial) run(&w, 1, w.end - w.lo);
    return;
  }
  std::vector<size_t> starts;
  WordSplitter split = word->splitter();
  for (int64_t i = 0; i < n; ++i)
    if (split.starts_word(doc[i])) starts.push_back(size_t(i));
  const int64_t m = int64_t(starts.size());
  starts.push_back(size_t(n));
  std::vector<int32_t> symbols(doc, doc + n);
  const int32_t bos = BOS;
  const auto all = windows(m, ctx, step, false);
  for (size_t first = 0; first < all.size(); first += size_t(batch)) {
    WordBatch wb;
    std::vector<std::pair<int64_t, int64_t>> scored;
    for (size_t i = first; i < std::min(all.size(), first + size_t(batch)); ++i) {
      for (int64_t k = all[i].lo; k <= all[i].end; ++k) {
        const bool is_scored = k > all[i].pos;
        if (is_scored) scored.push_back({wb.words(), k - 1});
        if (k == 0) wb.add_word(&bos, 1, false, false);
        else
          wb.add_word(symbols.data() + starts[size_t(k - 1)], int64_t(starts[size_t(k)] - starts[size_t(k - 1)]), k < m,
                      is_scored);
      }
      wb.end_row();
    }
    word->forward(wb);
    for (auto [bw, dw] : scored) {
      const int64_t at = wb.dec_start[size_t(bw)], len = wb.length(bw);
      for (int64_t p = 0; p <= len; ++p) {
        if (p == len && !wb.complete[size_t(bw)]) break;
        const size_t byte = starts[size_t(dw)] + size_t(p);
        out[byte] += double(model.losses()[at + p]) * inv_ln2;
        if (p < len) top[byte] = argmax(model.logits() + (at + p) * VOCAB);
      }
    }
  }
}

// Scores text with one StreamScorer fed in random pieces (empty ones too); checks that every byte
// arrives once, in order, with its own value.
void streamed(StreamScorer& s, const std::vector<ScoredByte>& got, const std::string& text, std::mt19937_64& rng) {
  const size_t before = got.size();
  for (size_t at = 0; at < text.size();) {
    const size_t k = std::min(text.size() - at, size_t(rng() % 40));
    s.push(reinterpret_cast<const uint8_t*>(text.data()) + at, k);
    at += k;
  }
  s.finish();
  REQUIRE(got.size() - before == text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    REQUIRE(got[before + i].offset == i);
    REQUIRE(got[before + i].byte == uint8_t(text[i]));
  }
}

}  // namespace

TEST_CASE("the stream scores every byte exactly as the whole-buffer protocol, however the bytes arrive") {
  struct Case {
    const char* name;
    Config config;
    std::vector<int64_t> strides;
  };
  const Case cases[] = {{"flat", testing::flat_config(64, 1, 16), {0, 5, 16}},
                        {"patch 4", testing::patch_config("4", 64, 1, 16, 64, 1), {0, 4, 7}},
                        {"patch 4x2", testing::patch_config("4x2", 64, 1, 16, 64, 1), {0, 5, 16}},
                        {"word", word_config(6, 8), {0, 1, 4, 6}}};
  std::mt19937_64 rng(31);
  for (const Case& c : cases) {
    const auto owned = sharp(c.config, 17);
    Model& m = *owned;
    const bool words = c.config.arch() == "word";
    for (int64_t stride : c.strides)
      for (int64_t batch : {1, 3}) {
        // Lengths on and around multiples of the stride and ctx (words have a few bytes each).
        const int64_t step = window_stride(m, stride), scale = words ? 4 : 1;
        std::vector<size_t> lengths = {0, 1, 2, 97};
        for (int64_t k : {1, 2, 3, 5})
          for (int64_t base : {k * step * scale, k * m.context() * scale})
            for (int64_t d : {-1, 0, 1}) lengths.push_back(size_t(std::max<int64_t>(0, base + d)));
        std::vector<ScoredByte> got;
        StreamScorer s(m, stride, batch, [&](const ScoredByte& b) { got.push_back(b); });
        for (size_t n : lengths) {
          const std::string text = words ? testing::wordy_text(rng, n) : testing::random_bytes(rng, n);
          std::vector<double> want;
          std::vector<uint8_t> want_top;
          reference(m, stride, batch, text, want, want_top);
          got.clear();
          streamed(s, got, text, rng);  // one scorer, document after document
          INFO(std::string(c.name) << ", stride " << stride << ", batch " << batch << ", " << n << " bytes");
          for (size_t i = 0; i < n; ++i) {
            CAPTURE(i);
            REQUIRE(got[i].bits == want[i]);
            REQUIRE(got[i].top == want_top[i]);
          }
          // Scorer::bits is the stream over the whole buffer.
          std::vector<uint8_t> top;
          CHECK(Scorer{m, stride, batch}.bits(reinterpret_cast<const uint8_t*>(text.data()), n, &top) == want);
          CHECK(top == want_top);
        }
      }
  }
}

TEST_CASE("the stream sends a byte's bits once its window is whole and holds no more than its windows") {
  std::mt19937_64 rng(32);
  for (const Config& c : {testing::flat_config(64, 1, 16), testing::patch_config("4x2", 64, 1, 16, 64, 1), word_config(6, 8)}) {
    const auto owned = sharp(c, 18);
    Model& m = *owned;
    const auto* word = dynamic_cast<const WordModel*>(&m);
    const int64_t batch = 4, step = window_stride(m, 0);
    // How far the scored bytes may lag the pushed ones: less than a batch of windows, whose run
    // waits for the batch to fill (words: of at most cap bytes, and the one not known to have
    // ended yet).
    const uint64_t lag = uint64_t(word ? (batch * step + 1) * word->word_cap() : batch * step);
    uint64_t sent = 0;
    StreamScorer s(m, 0, batch, [&](const ScoredByte& b) { sent = b.offset + 1; });
    const std::string text = word ? testing::wordy_text(rng, 3000) : testing::random_bytes(rng, 3000);
    for (size_t at = 0; at < text.size(); at += 50) {
      s.push(reinterpret_cast<const uint8_t*>(text.data()) + at, 50);
      CAPTURE(at);
      CHECK(sent + lag >= at + 50);
      CHECK(s.held() <= lag + uint64_t(m.context() * (word ? word->word_cap() : 1)) + 50);
    }
    s.finish();
    CHECK(sent == text.size());
  }
}

TEST_CASE("zstd's floor: the same bytes give the same figure in any pieces, that of zstd on the whole") {
  std::mt19937_64 rng(33);
  auto one_call = [](const std::string& text, int level) {
    std::vector<uint8_t> buf(ZSTD_compressBound(text.size()));
    return 8.0 * double(ZSTD_compress(buf.data(), buf.size(), text.data(), text.size(), level)) / double(text.size());
  };
  auto in_pieces = [&](const std::string& text, int level) {
    ZstdCounter z(level);
    for (size_t at = 0; at < text.size();) {
      const size_t k = std::min<size_t>(text.size() - at, 1 + rng() % 100000);
      z.push(reinterpret_cast<const uint8_t*>(text.data()) + at, k);
      at += k;
    }
    const double bpb = z.bpb();
    CHECK(z.bpb() == bpb);  // asking again ends no second frame
    return bpb;
  };
  // Within the level's window (8 MiB at 19) the input is compressed whole, as zstd -19 FILE.
  const std::string small = testing::wordy_text(rng, 200000);
  CHECK(in_pieces(small, 19) == one_call(small, 19));
  CHECK(zstd_bpb(reinterpret_cast<const uint8_t*>(small.data()), small.size()) == one_call(small, 19));
  // Beyond it (512 KiB at level 1), a stream: the pieces do not matter, the size hardly does.
  const std::string large = testing::wordy_text(rng, 3 << 19);
  const double streamed = in_pieces(large, 1);
  CHECK(in_pieces(large, 1) == streamed);
  CHECK(streamed == doctest::Approx(one_call(large, 1)).epsilon(1e-4));
  CHECK(streamed > in_pieces(large, 19) * 1.05);  // the level is the one asked for
  CHECK(zstd_bpb(nullptr, 0) == 0);
}

namespace {

double sum(const std::vector<double>& v, size_t from = 0) {
  double s = 0;
  for (size_t i = from; i < v.size(); ++i) s += v[i];
  return s;
}

std::vector<double> doc_bits(Model& m, const std::string& text) {
  return Scorer{m, 0, 16}.bits(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

}  // namespace

TEST_CASE("conditional scoring: the target's bits after its context, pair by pair, one line each") {
  const auto owned_m = sharp(testing::flat_config(64, 1, 16), 19);
  Model& m = *owned_m;
  Scorer scorer{m, 0, 16};
  const ConditionalPair pair{"the context ", "the target"};
  const ConditionalScore s = score_conditional(scorer, pair);
  CHECK(s.context_bytes == 12);
  CHECK(s.target_bytes == 10);
  CHECK(s.bits == sum(doc_bits(m, pair.context + pair.target), 12));
  CHECK(s.bits != sum(doc_bits(m, pair.target)));  // the context counts
  CHECK(score_conditional(scorer, {"abc", ""}).bits == 0);

  testing::TempDir dir;
  testing::write_file(dir / "pairs.jsonl", "{\"context\": \"the context \", \"target\": \"the target\"}\n \r\n"
                                           "{\"target\": \"xy\", \"context\": \"\"}\n");
  std::string out;
  const ConditionalTotals t =
      score_conditional_lines(m, 0, dir / "pairs.jsonl", [&](std::string_view line) { out += line; });
  const double xy = sum(doc_bits(m, "xy"));
  CHECK(t.targets == 2);
  CHECK(t.bytes == 12);
  CHECK(t.bits == s.bits + xy);
  CHECK(t.bpb() == t.bits / 12);
  CHECK(out == "{\"line\":1,\"context_bytes\":12,\"target_bytes\":10,\"bits\":" + nlohmann::json(round6(s.bits)).dump() +
                   ",\"bpb\":" + nlohmann::json(round6(s.bits / 10)).dump() + "}\n" +
                   "{\"line\":3,\"context_bytes\":0,\"target_bytes\":2,\"bits\":" + nlohmann::json(round6(xy)).dump() +
                   ",\"bpb\":" + nlohmann::json(round6(xy / 2)).dump() + "}\n");
  CHECK(ConditionalTotals{}.bpb() == 0);

  // A bad line stops the run after the lines before it, and says where it is.
  testing::write_file(dir / "bad.jsonl", "{\"context\": \"a\", \"target\": \"b\"}\n{\"context\": 1}\n");
  out.clear();
  CHECK_THROWS_WITH_AS(score_conditional_lines(m, 0, dir / "bad.jsonl", [&](std::string_view line) { out += line; }),
                       ("line 2 of " + dir / "bad.jsonl" + " needs string fields \"context\" and \"target\"").c_str(),
                       Error);
  CHECK(out.find("\"line\":1,") != std::string::npos);
}

TEST_CASE("the eval run: a file is one document, a split its documents; the bits are the scorer's") {
  const auto owned_m = sharp(testing::flat_config(64, 1, 16), 20);
  Model& m = *owned_m;
  std::mt19937_64 rng(34);
  testing::TempDir dir;
  const std::string text = testing::random_bytes(rng, 300);
  testing::write_file(dir / "in/a.txt", text);
  const std::vector<double> bits = doc_bits(m, text);

  EvalOptions o;
  o.input = dir / "in/a.txt";
  o.per_byte = EvalOptions::PerByte::tsv;
  std::string lines;
  const EvalResult r = evaluate(m, o, [&](std::string_view s) { lines += s; });
  CHECK(r.bytes == 300);
  CHECK(r.docs == 1);
  CHECK(r.bits == sum(bits));
  CHECK(r.stride == 8);
  CHECK(r.ctx == 16);
  CHECK(r.zstd_level == 19);
  CHECK(r.zstd_bpb == zstd_bpb(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  std::vector<uint8_t> top;
  Scorer{m, 0, 16}.bits(reinterpret_cast<const uint8_t*>(text.data()), text.size(), &top);
  std::string want;
  for (size_t i = 0; i < text.size(); ++i) want += per_byte_line(i, {i, uint8_t(text[i]), top[i], bits[i]}, false);
  CHECK(lines == want);
  CHECK(per_byte_line(7, {7, 65, 66, 1.23456789}, false) == "7\t65\t1.2346\t66\n");
  CHECK(per_byte_line(7, {7, 65, 66, 1.23456789}, true) == "{\"offset\":7,\"byte\":65,\"bits\":1.234568,\"top\":66}\n");

  o.per_byte = EvalOptions::PerByte::none;
  o.max_bytes = 100;
  const EvalResult head = evaluate(m, o);
  CHECK(head.bytes == 100);
  CHECK(head.bits == sum(doc_bits(m, text.substr(0, 100))));

  // A dataset's val split: its documents one after another, each scored on its own.
  testing::write_file(dir / "in/b.txt", testing::random_bytes(rng, 200));
  prep::Options po;
  po.val = 1;
  prep::prepare({{dir / "in", std::nullopt}}, dir / "d.bds", po);
  o = EvalOptions{};
  o.dataset = dir / "d.bds";
  const EvalResult split = evaluate(m, o);
  CHECK(split.docs == 2);
  CHECK(split.bytes == 500);
  std::vector<double> both = bits;
  for (double b : doc_bits(m, testing::read_file(dir / "in/b.txt"))) both.push_back(b);
  CHECK(split.bits == sum(both));  // one running sum, in order
  o.split = Split::train;
  CHECK_THROWS_WITH_AS(evaluate(m, o), ("the train split of " + dir / "d.bds" + " has no documents").c_str(), Error);

  testing::write_file(dir / "empty.txt", "");
  o = EvalOptions{};
  o.input = dir / "empty.txt";
  CHECK_THROWS_WITH_AS(evaluate(m, o), "nothing to score: the input is empty", Error);

  EvalResult fixed;
  fixed.bits = 10, fixed.bytes = 4, fixed.docs = 1, fixed.zstd_bpb = 3.14159265, fixed.zstd_level = 19;
  fixed.stride = 8, fixed.ctx = 16;
  CHECK(eval_report(fixed, false) == "bpb 2.5000  zstd-19 3.1416  bytes 4  docs 1  stride 8\n");
  CHECK(eval_report(fixed, true) ==
        "{\"bpb\":2.5,\"bits\":10.0,\"bytes\":4,\"docs\":1,\"zstd_bpb\":3.141593,\"stride\":8,\"ctx\":16}\n");
  CHECK(eval_summary(fixed) == "bpb 2.5000  zstd-19 3.1416  bytes 4");
}
