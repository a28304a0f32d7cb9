#include "bytes/eval.hpp"

#include <zstd.h>

#include <algorithm>
#include <cmath>

#include "bytes/cli.hpp"
#include "bytes/error.hpp"
#include "bytes/io.hpp"
#include "bytes/words.hpp"

namespace bytes {

namespace {

// The window protocol over n targets: windows read inputs [lo, end) and score targets [pos, end),
// advancing by step; at most ctx inputs each. With anchor_end the last window starts ctx before
// the end (the flat model's protocol, as torch_flat.py); without, every window starts where its
// full stride would put it, so no window depends on how many targets follow (the word model: a
// later byte can change the number of words).
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

}  // namespace

int64_t window_stride(const Config& config, int64_t stride) {
  return stride > 0 ? std::min(stride, config.ctx) : std::max<int64_t>(1, config.ctx / 2);
}

int64_t Scorer::step() const { return window_stride(model.config(), stride); }

std::vector<double> Scorer::bits(const uint8_t* doc, size_t n, std::vector<uint8_t>* top) {
  if (model.config().is_word()) return word_bits(doc, n, top);
  const int64_t ctx = model.config().ctx;
  std::vector<double> out(n, 0.0);
  if (top) top->assign(n, 0);
  if (n == 0) return out;
  auto token = [&](int64_t i) { return i == 0 ? BOS : int32_t(doc[i - 1]); };  // tokens: BOS + bytes

  // A window reads tokens [lo, end) and scores targets [pos, end); target i is byte i (token i+1).
  std::vector<Window> full, partial;
  for (const auto& w : windows(int64_t(n), ctx, step(), true)) (w.end - w.lo == ctx ? full : partial).push_back(w);
  const double inv_ln2 = 1.0 / std::log(2.0);
  auto run = [&](const Window* w, int64_t count, int64_t T) {
    std::vector<int32_t> tokens(size_t(count * T)), targets(size_t(count * T), -1);
    for (int64_t b = 0; b < count; ++b)
      for (int64_t t = 0; t < T; ++t) {
        int64_t i = w[b].lo + t;  // token index; its target is byte i
        tokens[size_t(b * T + t)] = token(i);
        if (i >= w[b].pos && i < w[b].end) targets[size_t(b * T + t)] = doc[i];
      }
    model.forward(tokens.data(), targets.data(), count, T);
    const float *losses = model.losses(), *logits = model.logits();
    for (int64_t b = 0; b < count; ++b)
      for (int64_t i = w[b].pos; i < w[b].end; ++i) {
        const int64_t row = b * T + (i - w[b].lo);
        out[size_t(i)] = double(losses[row]) * inv_ln2;
        if (top) {
          const float* z = logits + row * VOCAB;
          (*top)[size_t(i)] = uint8_t(std::max_element(z, z + 256) - z);
        }
      }
    cli::check_interrupt();
  };
  for (size_t i = 0; i < full.size(); i += size_t(batch))
    run(full.data() + i, std::min<int64_t>(batch, int64_t(full.size() - i)), ctx);
  for (const auto& w : partial) run(&w, 1, w.end - w.lo);
  return out;
}

// The word model: the same protocol over words. Token 0 is the BOS word, token k the document's
// word k; target k is word k + 1, whose symbols are its bytes and, for all but the document's last
// word, EOW. EOW's bits go to the byte whose arrival ends the word: the next word's first byte
// (the splitter decides a word start from the bytes up to it), so a byte's bits depend on
// earlier bytes only.
std::vector<double> Scorer::word_bits(const uint8_t* doc, size_t n, std::vector<uint8_t>* top) {
  const Config& c = model.config();
  std::vector<double> out(n, 0.0);
  if (top) top->assign(n, 0);
  if (n == 0) return out;
  std::vector<size_t> starts = word_starts({reinterpret_cast<const char*>(doc), n}, parse_word_rule(c.word_rule),
                                           size_t(c.word_cap));
  const int64_t m = int64_t(starts.size());
  starts.push_back(n);
  std::vector<int32_t> symbols(n);
  for (size_t i = 0; i < n; ++i) symbols[i] = doc[i];
  const int32_t bos = BOS;
  const double inv_ln2 = 1.0 / std::log(2.0);
  const auto all = windows(m, c.ctx, step(), false);
  WordBatch batch;
  for (size_t first = 0; first < all.size(); first += size_t(this->batch)) {
    const size_t last = std::min(all.size(), first + size_t(this->batch));
    batch.clear();
    // Row of a window: words lo … end (word k is document word k − 1, word 0 the BOS word).
    std::vector<std::pair<int64_t, int64_t>> scored;  // (batch word, document word)
    for (size_t i = first; i < last; ++i) {
      const Window& w = all[i];
      for (int64_t k = w.lo; k <= w.end; ++k) {
        const bool is_scored = k > w.pos;
        if (is_scored) scored.push_back({batch.words(), k - 1});
        if (k == 0) batch.add_word(&bos, 1, false, false);
        else
          batch.add_word(symbols.data() + starts[size_t(k - 1)], int64_t(starts[size_t(k)] - starts[size_t(k - 1)]),
                         k < m, is_scored);
      }
      batch.end_row();
    }
    model.forward(batch);
    const float *losses = model.losses(), *logits = model.logits();
    for (auto [bw, dw] : scored) {
      const int64_t at = batch.dec_start[size_t(bw)], len = batch.length(bw);
      const size_t byte0 = starts[size_t(dw)];
      for (int64_t p = 0; p <= len; ++p) {
        if (p == len && !batch.complete[size_t(bw)]) break;
        const size_t byte = byte0 + size_t(p);  // EOW (p = len): the next word's first byte
        out[byte] += double(losses[at + p]) * inv_ln2;
        if (top && p < len) {
          const float* z = logits + (at + p) * VOCAB;
          (*top)[byte] = uint8_t(std::max_element(z, z + 256) - z);
        }
      }
    }
    cli::check_interrupt();
  }
  return out;
}

std::optional<ConditionalPair> parse_conditional(std::string_view line) {
  if (blank_line(line)) return std::nullopt;
  const auto j = parse_json_line(line);
  auto string_field = [&](const char* name) -> const std::string* {
    const auto it = j.find(name);  // end() for a value that is not an object
    return it != j.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
  };
  const std::string *context = string_field("context"), *target = string_field("target");
  if (!context || !target) throw Error("needs string fields \"context\" and \"target\"");
  return ConditionalPair{*context, *target};
}

double zstd_bpb(const uint8_t* data, size_t n, int level) {
  if (n == 0) return 0;
  std::vector<uint8_t> buf(ZSTD_compressBound(n));
  size_t got = ZSTD_compress(buf.data(), buf.size(), data, n, level);
  if (ZSTD_isError(got)) throw Error(std::string("zstd failed: ") + ZSTD_getErrorName(got));
  return 8.0 * double(got) / double(n);
}

}  // namespace bytes
