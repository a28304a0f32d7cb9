#include "bytes/models/window.hpp"

#include <algorithm>
#include <cstring>

#include "bytes/base/interrupt.hpp"
#include "bytes/runs/sampler.hpp"

namespace bytes {

uint8_t argmax_byte(const float* z) { return uint8_t(std::max_element(z, z + 256) - z); }

WindowScorer::WindowScorer(Model& model, int64_t stride, int64_t batch, ScoreSink sink)
    : model_(model),
      ctx_(model.context()),
      step_(window_stride(model, stride)),
      batch_(std::max<int64_t>(1, batch)),
      sink_(std::move(sink)) {}

void WindowScorer::push(const uint8_t* data, size_t n) {
  constexpr size_t slice = 1 << 16;
  for (size_t at = 0; at < n; at += slice) push_slice(data + at, std::min(slice, n - at));
}

void WindowScorer::keep_from(uint64_t offset) {
  if (offset <= base_) return;
  bytes_.erase(bytes_.begin(), bytes_.begin() + ptrdiff_t(offset - base_));
  base_ = offset;
}

void WindowScorer::reset() {
  bytes_.clear();
  pending_.clear();
  base_ = received_ = 0;
  next_pos_ = 0;
}

namespace {

// Training batches: B windows of ctx + 1 tokens of the split's stream (Sampler::batch).
class TokenBatches final : public Batches {
 public:
  TokenBatches(WindowModel& model, Sampler& split) : model_(model), split_(split) {}
  double bytes_per_unit() const override { return 1.0; }
  MicroBatch train(uint64_t seed, uint64_t index, int64_t B, int64_t accum) override {
    const int64_t T = model_.context();
    x_.resize(size_t(B * T));
    y_.resize(size_t(B * T));
    split_.batch(seed, index, B, T, x_.data(), y_.data());
    MicroBatch mb;
    mb.loss = model_.forward(x_.data(), y_.data(), B, T);
    mb.flops = model_.last_flops();
    mb.bytes = uint64_t(B * T);
    model_.backward(1.0f / float(B * T * accum));
    return mb;
  }

 private:
  WindowModel& model_;
  Sampler& split_;
  std::vector<int32_t> x_, y_;
};

// bytes-eval's protocol over tokens: token 0 is BOS, token i byte i − 1; target i is byte i.
// Window [pos, pos + step) reads the ctx tokens before its end; only the document's last window
// ends early (at the end, reading the ctx tokens before it), so any other is whole once its end
// has arrived.
class TokenScorer final : public WindowScorer {
 public:
  TokenScorer(WindowModel& model, int64_t stride, int64_t batch, ScoreSink sink)
      : WindowScorer(model, stride, batch, std::move(sink)), model_(model) {}

  void finish() override {
    // The last window ends at the end and reads the ctx tokens before it; it joins the batch of
    // full windows when it is one.
    const int64_t n = int64_t(received_);
    if (next_pos_ < n) {
      const Window w{std::max<int64_t>(0, n - ctx_), next_pos_, n};
      next_pos_ = n;
      if (n - w.lo < ctx_) run(&w, 1, n - w.lo);
      else pending_.push_back(w);
    }
    if (!pending_.empty()) run(pending_.data(), int64_t(pending_.size()), ctx_);
    reset();
  }

 private:
  void push_slice(const uint8_t* data, size_t n) override {
    bytes_.insert(bytes_.end(), data, data + n);
    received_ += n;
    while (next_pos_ + step_ <= int64_t(received_)) {
      const int64_t end = next_pos_ + step_;
      const Window w{std::max<int64_t>(0, end - ctx_), next_pos_, end};
      next_pos_ = end;
      // Windows shorter than ctx (a document's first ones) run alone; full ones batch_ at a time.
      if (end - w.lo < ctx_) {
        run(&w, 1, end - w.lo);
      } else {
        pending_.push_back(w);
        if (int64_t(pending_.size()) == batch_) run(pending_.data(), batch_, ctx_);
      }
    }
  }

  void run(const Window* w, int64_t count, int64_t T) {
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

  WindowModel& model_;
};

// Generation: a KV cache over a window that slides by `stride` tokens (0: ctx/2) exactly as
// bytes-eval's window protocol does, so every byte is predicted from the same context as
// bytes-eval would use: between ctx − stride and ctx tokens once the document is long enough.
class TokenStream final : public SymbolStream {
 public:
  TokenStream(WindowModel& model, int64_t stride)
      : model_(model), ctx_(model.context()), stride_(window_stride(model, stride)) {}

  const float* start(const uint8_t* prompt, size_t n) override {
    window_.assign(1, BOS);
    window_.insert(window_.end(), prompt, prompt + n);
    total_ = int64_t(window_.size());
    lo_ = 0;
    cache_.len = 0;
    return advance(int64_t(window_.size()));
  }

  const float* push(int32_t symbol) override {
    window_.push_back(symbol);
    ++total_;
    return advance(1);
  }

  bool emits(int32_t symbol) const override { return symbol < 256 || symbol == BOS; }

 private:
  // The next token is token number total_; bytes-eval predicts it from the window that starts
  // at max(0, ceil(total_/stride)·stride − ctx). When that start moves, the window is run
  // again from there; otherwise the new tokens extend the cache.
  const float* advance(int64_t fresh) {
    const int64_t lo = std::max<int64_t>(0, (total_ + stride_ - 1) / stride_ * stride_ - ctx_);
    if (lo != lo_ || cache_.len == 0) {
      window_.erase(window_.begin(), window_.begin() + (lo - lo_));
      lo_ = lo;
      cache_.len = 0;
      return model_.extend(cache_, window_.data(), int64_t(window_.size()));
    }
    return model_.extend(cache_, window_.data() + window_.size() - fresh, fresh);
  }

  WindowModel& model_;
  const int64_t ctx_, stride_;
  KVCache cache_;
  std::vector<int32_t> window_;  // tokens lo_ … total_ − 1
  int64_t total_ = 0, lo_ = 0;
};

}  // namespace

std::unique_ptr<Batches> WindowModel::batches(Sampler& split) { return std::make_unique<TokenBatches>(*this, split); }

std::unique_ptr<DocumentScorer> WindowModel::scorer(int64_t stride, int64_t batch, ScoreSink sink) {
  return std::make_unique<TokenScorer>(*this, stride, batch, std::move(sink));
}

std::unique_ptr<SymbolStream> WindowModel::stream(int64_t stride) { return std::make_unique<TokenStream>(*this, stride); }

}  // namespace bytes
