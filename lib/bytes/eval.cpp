#include "bytes/eval.hpp"

#include <zstd.h>

#include <algorithm>
#include <cmath>

#include "bytes/cli.hpp"
#include "bytes/error.hpp"

namespace bytes {

std::vector<double> Scorer::bits(const uint8_t* doc, size_t n, std::vector<uint8_t>* top) {
  const int64_t ctx = model.config().ctx;
  const int64_t step = stride > 0 ? std::min(stride, ctx) : std::max<int64_t>(1, ctx / 2);
  std::vector<double> out(n, 0.0);
  if (top) top->assign(n, 0);
  if (n == 0) return out;
  auto token = [&](int64_t i) { return i == 0 ? BOS : int32_t(doc[i - 1]); };  // tokens: BOS + bytes

  // A window reads tokens [lo, end) and scores targets [pos, end); target i is byte i (token i+1).
  struct Window {
    int64_t lo, pos, end;
  };
  std::vector<Window> full, partial;
  for (int64_t pos = 0; pos < int64_t(n);) {
    int64_t end = std::min(pos + step, int64_t(n)), lo = std::max<int64_t>(0, end - ctx);
    (end - lo == ctx ? full : partial).push_back({lo, pos, end});
    pos = end;
  }
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

double zstd_bpb(const uint8_t* data, size_t n, int level) {
  if (n == 0) return 0;
  std::vector<uint8_t> buf(ZSTD_compressBound(n));
  size_t got = ZSTD_compress(buf.data(), buf.size(), data, n, level);
  if (ZSTD_isError(got)) throw Error(std::string("zstd failed: ") + ZSTD_getErrorName(got));
  return 8.0 * double(got) / double(n);
}

}  // namespace bytes
