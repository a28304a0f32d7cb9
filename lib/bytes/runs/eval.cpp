#include "bytes/runs/eval.hpp"

#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_getCParams: the level's window
#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "bytes/base/interrupt.hpp"
#include "bytes/base/error.hpp"
#include "bytes/base/io.hpp"
#include "bytes/text/words.hpp"

namespace bytes {

namespace {

const double inv_ln2 = 1.0 / std::log(2.0);

uint8_t argmax_byte(const float* z) { return uint8_t(std::max_element(z, z + 256) - z); }

}  // namespace

int64_t window_stride(const Config& config, int64_t stride) {
  return stride > 0 ? std::min(stride, config.ctx) : std::max<int64_t>(1, config.ctx / 2);
}

StreamScorer::StreamScorer(Model& model, int64_t stride, int64_t batch, Sink sink)
    : model_(model),
      ctx_(model.config().ctx),
      step_(window_stride(model.config(), stride)),
      batch_(std::max<int64_t>(1, batch)),
      sink_(std::move(sink)),
      splitter_(parse_word_rule(model.config().word_rule), size_t(model.config().word_cap)) {}

void StreamScorer::push(const uint8_t* data, size_t n) {
  // In slices, so that a whole document pushed at once is held no more than a slice at a time.
  constexpr size_t slice = 1 << 16;
  for (size_t at = 0; at < n; at += slice) {
    const size_t k = std::min(slice, n - at);
    if (model_.config().is_word()) push_words(data + at, k);
    else push_tokens(data + at, k);
  }
}

// The flat and patch models: token 0 is BOS, token i byte i − 1; target i is byte i. Window
// [pos, pos + step) reads the ctx tokens before its end; only the document's last window ends
// early (at the end, reading the ctx tokens before it), so any other is whole once its end has
// arrived.
void StreamScorer::push_tokens(const uint8_t* data, size_t n) {
  bytes_.insert(bytes_.end(), data, data + n);
  received_ += n;
  while (next_pos_ + step_ <= int64_t(received_)) {
    const int64_t end = next_pos_ + step_;
    const Window w{std::max<int64_t>(0, end - ctx_), next_pos_, end};
    next_pos_ = end;
    // Windows shorter than ctx (a document's first ones) run alone; full ones batch_ at a time.
    if (end - w.lo < ctx_) {
      run_tokens(&w, 1, end - w.lo);
    } else {
      pending_.push_back(w);
      if (int64_t(pending_.size()) == batch_) run_tokens(pending_.data(), batch_, ctx_);
    }
  }
}

void StreamScorer::run_tokens(const Window* w, int64_t count, int64_t T) {
  auto token = [&](int64_t i) { return i == 0 ? BOS : int32_t(byte_at(uint64_t(i - 1))); };
  std::vector<int32_t> tokens(size_t(count * T)), targets(size_t(count * T), -1);
  for (int64_t b = 0; b < count; ++b)
    for (int64_t t = 0; t < T; ++t) {
      const int64_t i = w[b].lo + t;
      tokens[size_t(b * T + t)] = token(i);
      if (i >= w[b].pos && i < w[b].end) targets[size_t(b * T + t)] = byte_at(uint64_t(i));
    }
  model_.forward(tokens.data(), targets.data(), count, T);
  const float *losses = model_.losses(), *logits = model_.logits();
  for (int64_t b = 0; b < count; ++b)
    for (int64_t i = w[b].pos; i < w[b].end; ++i) {
      const int64_t row = b * T + (i - w[b].lo);
      sink_({uint64_t(i), byte_at(uint64_t(i)), argmax_byte(logits + row * VOCAB), double(losses[row]) * inv_ln2});
    }
  pending_.clear();
  // Later windows read tokens from next_pos_ + 1 − ctx on (the last one too), so bytes from
  // next_pos_ − ctx on.
  keep_from(uint64_t(std::max<int64_t>(0, next_pos_ - ctx_)));
  check_interrupt();
}

// The word model: the same protocol over words. Token 0 is the BOS word, token k the document's
// word k − 1 (so a window reads words lo … end); target k is word k, whose symbols are its bytes
// and, for all but the document's last word, EOW. Windows start where their full stride puts
// them (not anchored to the end: a later byte can change the number of words), and a word is
// final, EOW included, once the next one has started: so every window but the last can run as
// soon as the word after its end has started. EOW's bits go to the byte whose arrival ends the
// word, the next word's first byte, so a byte's bits depend on earlier bytes only.
void StreamScorer::push_words(const uint8_t* data, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    bytes_.push_back(data[i]);
    bits_.push_back(0.0);
    top_.push_back(0);
    if (splitter_.starts_word(data[i])) {
      starts_.push_back(received_);
      const int64_t started = first_word_ + int64_t(starts_.size());
      while (next_pos_ + step_ < started) {
        pending_.push_back({std::max<int64_t>(0, next_pos_ + step_ - ctx_), next_pos_, next_pos_ + step_});
        next_pos_ += step_;
        if (int64_t(pending_.size()) == batch_) run_words();
      }
    }
    ++received_;
  }
}

void StreamScorer::run_words() {
  const int64_t started = first_word_ + int64_t(starts_.size());
  auto begin = [&](int64_t j) { return starts_[size_t(j - first_word_)]; };
  auto end = [&](int64_t j) { return j + 1 < started ? begin(j + 1) : received_; };
  const int32_t bos = BOS;
  WordBatch batch;
  std::vector<int32_t> symbols;
  std::vector<std::pair<int64_t, int64_t>> scored;  // (batch word, document word)
  for (const Window& w : pending_) {
    for (int64_t k = w.lo; k <= w.end; ++k) {
      const bool is_scored = k > w.pos;
      if (is_scored) scored.push_back({batch.words(), k - 1});
      if (k == 0) {
        batch.add_word(&bos, 1, false, false);
        continue;
      }
      symbols.clear();
      for (uint64_t o = begin(k - 1); o < end(k - 1); ++o) symbols.push_back(byte_at(o));
      // Complete (EOW follows): the next word has started.
      batch.add_word(symbols.data(), int64_t(symbols.size()), k < started, is_scored);
    }
    batch.end_row();
  }
  model_.forward(batch);
  const float *losses = model_.losses(), *logits = model_.logits();
  for (auto [bw, dw] : scored) {
    const int64_t at = batch.dec_start[size_t(bw)], len = batch.length(bw);
    for (int64_t p = 0; p <= len; ++p) {
      if (p == len && !batch.complete[size_t(bw)]) break;
      const size_t i = size_t(begin(dw) + uint64_t(p) - emitted_);  // EOW (p = len): the next word's first byte
      bits_[i] += double(losses[at + p]) * inv_ln2;
      if (p < len) top_[i] = argmax_byte(logits + (at + p) * VOCAB);
    }
  }
  // Every byte before the word after the last window is final; that word's first byte holds
  // the EOW bits and waits for its own.
  const int64_t last = pending_.back().end;
  pending_.clear();
  emit(last < started ? begin(last) : received_);
  // The next window reads words from next_pos_ + step − ctx on, the document's word before it
  // first.
  const int64_t keep = std::max<int64_t>(0, next_pos_ + step_ - ctx_ - 1);
  if (keep < started) {
    starts_.erase(starts_.begin(), starts_.begin() + (keep - first_word_));
    first_word_ = keep;
    keep_from(starts_.front());
  }
  check_interrupt();
}

void StreamScorer::emit(uint64_t end) {
  const size_t n = size_t(end - emitted_);
  for (size_t i = 0; i < n; ++i) sink_({emitted_ + i, byte_at(emitted_ + i), top_[i], bits_[i]});
  bits_.erase(bits_.begin(), bits_.begin() + ptrdiff_t(n));
  top_.erase(top_.begin(), top_.begin() + ptrdiff_t(n));
  emitted_ = end;
}

void StreamScorer::keep_from(uint64_t offset) {
  if (offset <= base_) return;
  bytes_.erase(bytes_.begin(), bytes_.begin() + ptrdiff_t(offset - base_));
  base_ = offset;
}

void StreamScorer::finish() {
  const Config& c = model_.config();
  if (c.is_word()) {
    // The last window: the words after next_pos_, the last of them without EOW.
    const int64_t m = first_word_ + int64_t(starts_.size());
    if (next_pos_ < m) pending_.push_back({std::max<int64_t>(0, next_pos_ + step_ - ctx_), next_pos_, m});
    if (!pending_.empty()) run_words();
  } else {
    // The last window ends at the end and reads the ctx tokens before it; it joins the batch of
    // full windows when it is one.
    const int64_t n = int64_t(received_);
    if (next_pos_ < n) {
      const Window w{std::max<int64_t>(0, n - ctx_), next_pos_, n};
      next_pos_ = n;
      if (n - w.lo < ctx_) run_tokens(&w, 1, n - w.lo);
      else pending_.push_back(w);
    }
    if (!pending_.empty()) run_tokens(pending_.data(), int64_t(pending_.size()), ctx_);
  }
  bytes_.clear();
  bits_.clear();
  top_.clear();
  starts_.clear();
  base_ = received_ = emitted_ = 0;
  next_pos_ = first_word_ = 0;
  splitter_.reset();
}

std::vector<double> Scorer::bits(const uint8_t* doc, size_t n, std::vector<uint8_t>* top) {
  std::vector<double> out(n, 0.0);
  if (top) top->assign(n, 0);
  StreamScorer stream(model, stride, batch, [&](const ScoredByte& s) {
    out[size_t(s.offset)] = s.bits;
    if (top) (*top)[size_t(s.offset)] = s.top;
  });
  stream.push(doc, n);
  stream.finish();
  return out;
}

namespace {

size_t zstd_check(size_t r) {
  if (ZSTD_isError(r)) throw Error(std::string("zstd failed: ") + ZSTD_getErrorName(r));
  return r;
}

}  // namespace

ZstdCounter::ZstdCounter(int level)
    : cctx_(ZSTD_createCCtx()),
      level_(level),
      window_(size_t(1) << ZSTD_getCParams(level, ZSTD_CONTENTSIZE_UNKNOWN, 0).windowLog) {
  if (!cctx_) throw Error("zstd failed: out of memory");
  zstd_check(ZSTD_CCtx_setParameter(static_cast<ZSTD_CCtx*>(cctx_), ZSTD_c_compressionLevel, level));
}

ZstdCounter::~ZstdCounter() { ZSTD_freeCCtx(static_cast<ZSTD_CCtx*>(cctx_)); }

void ZstdCounter::compress(const uint8_t* data, size_t n, bool end) {
  ZSTD_inBuffer in{data, n, 0};
  for (;;) {
    ZSTD_outBuffer out{buf_.data(), buf_.size(), 0};
    const size_t left =
        zstd_check(ZSTD_compressStream2(static_cast<ZSTD_CCtx*>(cctx_), &out, &in, end ? ZSTD_e_end : ZSTD_e_continue));
    out_ += out.pos;
    if (end ? left == 0 : in.pos == in.size) break;
  }
}

void ZstdCounter::push(const uint8_t* data, size_t n) {
  in_ += n;
  if (!streaming_) {
    if (held_.size() + n <= window_) {
      held_.insert(held_.end(), data, data + n);
      return;
    }
    // Longer than the window: the length no longer changes zstd's parameters, so stream it.
    streaming_ = true;
    buf_.resize(ZSTD_CStreamOutSize());
    compress(held_.data(), held_.size(), false);
    std::vector<uint8_t>().swap(held_);
  }
  compress(data, n, false);
}

double ZstdCounter::bpb() {
  if (in_ == 0) return 0;
  if (!ended_ && streaming_) {
    compress(nullptr, 0, true);
  } else if (!ended_) {
    buf_.resize(ZSTD_compressBound(held_.size()));
    out_ = zstd_check(ZSTD_compressCCtx(static_cast<ZSTD_CCtx*>(cctx_), buf_.data(), buf_.size(), held_.data(),
                                        held_.size(), level_));
  }
  ended_ = true;
  return 8.0 * double(out_) / double(in_);
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

double round6(double v) { return std::round(v * 1e6) / 1e6; }

std::string fixed4(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

double zstd_bpb(const uint8_t* data, size_t n, int level) {
  ZstdCounter z(level);
  z.push(data, n);
  return z.bpb();
}

}  // namespace bytes
