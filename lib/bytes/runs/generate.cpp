#include "bytes/runs/generate.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "bytes/base/interrupt.hpp"
#include "bytes/base/error.hpp"
#include "bytes/runs/eval.hpp"
#include "bytes/text/utf8.hpp"
#include "bytes/text/words.hpp"

namespace bytes {

namespace {

class FlatStream final : public SymbolStream {
 public:
  FlatStream(Model& model, int64_t stride)
      : model_(model),
        ctx_(model.config().ctx),
        stride_(window_stride(model.config(), stride)) {}

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

  Model& model_;
  const int64_t ctx_, stride_;
  KVCache cache_;
  std::vector<int32_t> window_;  // tokens lo_ … total_ − 1
  int64_t total_ = 0, lo_ = 0;
};

class WordStream final : public SymbolStream {
 public:
  WordStream(Model& model, int64_t stride)
      : model_(model),
        split_(parse_word_rule(model.config().word_rule), size_t(model.config().word_cap)),
        ctx_(model.config().ctx),
        stride_(window_stride(model.config(), stride)),
        D_(model.config().d_model) {
    cond_.resize(size_t(model.config().dec_d_model));
  }

  const float* start(const uint8_t* prompt, size_t n) override {
    split_.reset();
    words_.clear();
    word_.clear();
    lo_ = -1;
    first_ = 0;
    const int32_t bos = BOS;
    add_word(&bos, 1);
    for (size_t i = 0; i < n; ++i) {
      if (split_.starts_word(prompt[i]) && !word_.empty()) {
        add_word(word_.data(), int64_t(word_.size()));
        word_.clear();
      }
      word_.push_back(prompt[i]);
    }
    predict_word();
    std::vector<int32_t> in{EOW};
    in.insert(in.end(), word_.begin(), word_.end());
    return model_.decoder_extend(dec_, cond_.data(), in.data(), int64_t(in.size()));
  }

  const float* push(int32_t symbol) override {
    if (symbol == BOS) return start(nullptr, 0);
    if (symbol == EOW) {
      add_word(word_.data(), int64_t(word_.size()));
      word_.clear();
      predict_word();
      const int32_t eow = EOW;
      return model_.decoder_extend(dec_, cond_.data(), &eow, 1);
    }
    split_.starts_word(uint8_t(symbol));
    word_.push_back(symbol);
    return model_.decoder_extend(dec_, cond_.data(), &symbol, 1);
  }

  bool emits(int32_t symbol) const override {
    if (symbol == BOS) return word_.empty();  // a document ends after a whole word
    if (symbol == EOW) {
      if (word_.empty()) return false;
      for (int b = 0; b < 256; ++b)
        if (WordSplitter(split_).starts_word(uint8_t(b))) return true;
      return false;
    }
    // A byte starts a word exactly when the splitter says so.
    return WordSplitter(split_).starts_word(uint8_t(symbol)) == word_.empty();
  }

 private:
  void add_word(const int32_t* symbols, int64_t n) {
    words_.resize(words_.size() + size_t(D_));
    model_.encode_word(symbols, n, words_.data() + words_.size() - size_t(D_));
  }

  // The conditioning vector for the next word: input word k (the last) predicts it, from the
  // window bytes-eval would use for target k.
  void predict_word() {
    const int64_t k = first_ + int64_t(words_.size()) / D_ - 1;
    const int64_t lo = std::max<int64_t>(0, k / stride_ * stride_ + stride_ - ctx_);
    if (lo != lo_) {
      // The window moved: words before it are never read again.
      words_.erase(words_.begin(), words_.begin() + (lo - first_) * D_);
      first_ = lo;
      model_.reset_backbone(backbone_);
      model_.backbone_extend(backbone_, words_.data(), k - lo + 1, cond_.data());
      lo_ = lo;
    } else {
      model_.backbone_extend(backbone_, words_.data() + (k - first_) * D_, 1, cond_.data());
    }
    model_.reset_decoder(dec_);
  }

  Model& model_;
  WordSplitter split_;
  const int64_t ctx_, stride_, D_;
  KVCache backbone_, dec_;
  std::vector<float> words_;   // the backbone input of each whole word from word first_ on
  int64_t first_ = 0;
  std::vector<int32_t> word_;  // the word in progress
  std::vector<float> cond_;
  int64_t lo_ = -1;            // the backbone window's first word
};

}  // namespace

std::unique_ptr<SymbolStream> open_stream(Model& model, int64_t stride) {
  if (model.config().is_word()) return std::make_unique<WordStream>(model, stride);
  return std::make_unique<FlatStream>(model, stride);
}

int32_t sample(const float* logits, const std::vector<bool>& allowed, const SamplingOptions& o, std::string_view recent,
               Rng& rng) {
  const int32_t V = int32_t(allowed.size());
  thread_local std::vector<float> z;
  z.assign(logits, logits + V);
  if (o.repeat_penalty != 1.0) {
    bool seen[256] = {};
    for (unsigned char c : recent) seen[c] = true;
    const float p = float(o.repeat_penalty);
    for (int32_t s = 0; s < 256 && s < V; ++s)
      if (seen[s]) z[size_t(s)] = z[size_t(s)] > 0 ? z[size_t(s)] / p : z[size_t(s)] * p;
  }
  if (o.temperature <= 0) {
    int32_t best = -1;
    for (int32_t s = 0; s < V; ++s)
      if (allowed[size_t(s)] && (best < 0 || z[size_t(s)] > z[size_t(best)])) best = s;
    return best;
  }
  struct Candidate {
    int32_t symbol;
    double logit, p;
  };
  thread_local std::vector<Candidate> c;
  c.clear();
  for (int32_t s = 0; s < V; ++s)
    if (allowed[size_t(s)]) c.push_back({s, double(z[size_t(s)]) / o.temperature, 0});
  if (c.empty()) return -1;
  std::stable_sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) { return a.logit > b.logit; });
  if (o.top_k > 0 && size_t(o.top_k) < c.size()) c.resize(size_t(o.top_k));
  double sum = 0;
  for (auto& x : c) sum += x.p = std::exp(x.logit - c[0].logit);
  for (auto& x : c) x.p /= sum;
  if (o.top_p < 1.0) {
    double cumulative = 0;
    size_t keep = 0;
    while (keep < c.size() && cumulative < o.top_p) cumulative += c[keep++].p;
    c.resize(std::max<size_t>(1, keep));
  }
  if (o.min_p > 0) {
    const double floor = o.min_p * c[0].p;
    size_t keep = 1;
    while (keep < c.size() && c[keep].p >= floor) ++keep;
    c.resize(keep);
  }
  double total = 0;
  for (const auto& x : c) total += x.p;
  double u = rng.uniform() * total;
  for (const auto& x : c) {
    if (u < x.p) return x.symbol;
    u -= x.p;
  }
  return c.back().symbol;  // rounding left u just past the last one
}

GenerateStats generate(SymbolStream& stream, std::string_view prompt, const GenerateOptions& o,
                       const std::function<void(std::string_view)>& out) {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  auto since = [&] { return std::chrono::duration<double>(clock::now() - t0).count(); };
  GenerateStats st;
  st.prompt_bytes = prompt.size();
  Rng rng(o.seed);
  utf8::Validator so_far;  // the output until now, prompt included
  for (unsigned char b : prompt) so_far.feed(b);
  const size_t window = size_t(std::max(0, o.sampling.repeat_window));
  std::string recent(prompt.substr(prompt.size() - std::min(prompt.size(), window)));

  const float* logits = stream.start(reinterpret_cast<const uint8_t*>(prompt.data()), prompt.size());
  st.prompt_seconds = since();

  auto emit = [&](std::string_view s) {
    if (s.empty()) return;
    out(s);
    if (st.first_byte_seconds < 0) st.first_byte_seconds = since();
  };
  std::string held;  // generated bytes that may still turn out to begin a stop string
  std::vector<bool> allowed(VOCAB);
  while (o.max_bytes < 0 || int64_t(st.bytes) < o.max_bytes) {
    check_interrupt();
    const int64_t left = o.max_bytes < 0 ? std::numeric_limits<int64_t>::max() : o.max_bytes - int64_t(st.bytes);
    for (int32_t s = 0; s < VOCAB; ++s) {
      bool ok = stream.emits(s);
      if (s < 256 && o.utf8) ok = ok && so_far.accepts(uint8_t(s)) && (so_far.need > 0 ? so_far.need : utf8::length(uint8_t(s))) <= left;
      if (s == BOS) ok = ok && !o.ignore_end && !(o.utf8 && so_far.need > 0);
      allowed[size_t(s)] = ok;
    }
    const int32_t symbol = sample(logits, allowed, o.sampling, recent, rng);
    if (symbol < 0) {
      st.end = GenerateStats::End::masked;
      break;
    }
    if (symbol == BOS) {
      st.end = GenerateStats::End::document;
      break;
    }
    if (symbol > 255) {  // a marker of a hierarchical model: not a byte of the output
      logits = stream.push(symbol);
      continue;
    }
    const char byte = char(symbol);
    ++st.bytes;
    so_far.feed(uint8_t(symbol));
    if (window > 0) {
      if (recent.size() == window) recent.erase(0, 1);
      recent.push_back(byte);
    }
    if (o.end_at_newline && byte == '\n') {
      st.end = GenerateStats::End::stop;
      break;
    }
    held.push_back(byte);
    bool stopped = false;
    for (const auto& stop : o.stops)
      if (held.ends_with(stop)) {
        held.resize(held.size() - stop.size());
        stopped = true;
        break;
      }
    if (stopped) {
      st.end = GenerateStats::End::stop;
      break;
    }
    size_t keep = 0;  // the longest tail of held that a stop string begins with
    for (const auto& stop : o.stops)
      for (size_t k = std::min(held.size(), stop.size() - 1); k > keep; --k)
        if (stop.compare(0, k, held, held.size() - k, k) == 0) {
          keep = k;
          break;
        }
    emit(std::string_view(held).substr(0, held.size() - keep));
    held.erase(0, held.size() - keep);
    if (o.max_bytes >= 0 && int64_t(st.bytes) >= o.max_bytes) break;  // no step for a byte nobody reads
    logits = stream.push(symbol);
  }
  emit(held);
  st.seconds = since();
  return st;
}

}  // namespace bytes
