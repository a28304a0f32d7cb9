// The word model's text protocols: training rows of words, bytes-eval's windows of words, and
// the generation stream that keeps its words the splitter's.
#include <algorithm>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "bytes/base/error.hpp"
#include "bytes/base/interrupt.hpp"
#include "bytes/base/progress.hpp"
#include "bytes/models/window.hpp"
#include "bytes/models/word.hpp"
#include "bytes/runs/sampler.hpp"

namespace bytes {

namespace {

// Training rows: B rows of ctx + 1 consecutive words of the split (a BOS word before each
// document), starting at a word drawn by (seed, index, row); every word but a row's first is
// scored. The split is cut into words once; it must be in memory.
class WordBatches final : public Batches {
 public:
  WordBatches(WordModel& model, Sampler& split) : model_(model), text_(split.text()) {
    if (text_.empty())
      throw Error("the word model needs the train split in memory (it is " + human_bytes(double(split.bytes())) + ")");
    // Each item is a word's offset · 2, or a document's offset · 2 + 1 for its BOS word.
    WordSplitter cut = model.splitter();
    const auto& starts = split.doc_starts();
    size_t doc = 0;
    uint64_t base = 0;  // the document's offset
    auto add = [&](uint64_t offset) { items_.push_back((base + offset) * 2); };
    for (uint64_t i = 0; i < text_.size(); ++i) {
      if (doc < starts.size() && starts[doc] == i) {
        cut.finish().each_start(add);  // the last bytes of the document before
        items_.push_back(i * 2 + 1);
        cut.reset();
        base = i;
        ++doc;
      }
      cut.feed(text_[i]).each_start(add);
    }
    cut.finish().each_start(add);
  }

  double bytes_per_unit() const override {
    size_t words = 0;
    for (uint64_t item : items_) words += (item & 1) == 0;
    return words ? double(text_.size()) / double(words) : 1.0;
  }

  MicroBatch train(uint64_t seed, uint64_t index, int64_t B, int64_t accum) override {
    draw(seed, index, B);
    MicroBatch mb;
    mb.loss = model_.forward(batch_);
    mb.flops = model_.last_flops();
    mb.bytes = batch_.scored_bytes();
    // The mean loss per symbol, as the byte models' per token.
    model_.backward(1.0f / float(std::max<int64_t>(1, batch_.dec_rows) * accum));
    return mb;
  }

 private:
  void draw(uint64_t seed, uint64_t index, int64_t B) {
    batch_.clear();
    const size_t n = items_.size();
    const int32_t bos = BOS;
    std::vector<int32_t> word;
    for (int64_t b = 0; b < B; ++b) {
      // Counter-based: row b of a batch depends on nothing but (seed, index, b), so resume is exact.
      uint64_t key[3] = {seed, index, uint64_t(b)};
      const size_t first = XXH3_64bits(key, sizeof key) % n;
      for (int64_t q = 0; q <= model_.context(); ++q) {
        const size_t j = (first + size_t(q)) % n;
        if (items_[j] & 1) {
          batch_.add_word(&bos, 1, false, q > 0);
          continue;
        }
        // A word runs to the next item (the next word, or the next document's start). EOW follows
        // every word, a document's last too: the BOS word after it ends the document, as
        // generation ends one (bytes-eval leaves that EOW out with the boundary).
        const uint64_t start = items_[j] / 2, end = j + 1 < n ? items_[j + 1] / 2 : text_.size();
        word.assign(text_.begin() + long(start), text_.begin() + long(end));
        batch_.add_word(word.data(), int64_t(word.size()), true, q > 0);
      }
      batch_.end_row();
    }
  }

  WordModel& model_;
  const std::vector<uint8_t>& text_;
  std::vector<uint64_t> items_;
  WordBatch batch_;
};

// bytes-eval's protocol over words. Token 0 is the BOS word, token k the document's word k − 1 (so
// a window reads words lo … end); target k is word k, whose symbols are its bytes and, for all but
// the document's last word, EOW. Windows start where their full stride puts them (not anchored to
// the end: a later byte can change the number of words), and a word is final, EOW included, once
// the next one has started: so every window but the last can run as soon as the word after its
// end has started. EOW's bits go to the byte whose arrival ends the word, the next word's first
// byte, so a byte's bits depend on earlier bytes only.
class WordScorer final : public WindowScorer {
 public:
  WordScorer(WordModel& model, int64_t stride, int64_t batch, ScoreSink sink)
      : WindowScorer(model, stride, batch, std::move(sink)), word_(model), splitter_(model.splitter()) {}

  void finish() override {
    splitter_.finish().each_start([&](uint64_t offset) { word_started(offset); });
    // The last window: the words after next_pos_, the last of them without EOW.
    const int64_t m = first_word_ + int64_t(starts_.size());
    if (next_pos_ < m) pending_.push_back({std::max<int64_t>(0, next_pos_ + step_ - ctx_), next_pos_, m});
    if (!pending_.empty()) run();
    reset();
    bits_.clear();
    top_.clear();
    starts_.clear();
    emitted_ = 0;
    first_word_ = 0;
    splitter_.reset();
  }

 private:
  void push_slice(const uint8_t* data, size_t n) override {
    for (size_t i = 0; i < n; ++i) {
      bytes_.push_back(data[i]);
      bits_.push_back(0.0);
      top_.push_back(0);
      ++received_;
      // (The hat rule decides a character once its last byte is here: a start may be earlier.)
      splitter_.feed(data[i]).each_start([&](uint64_t offset) { word_started(offset); });
    }
  }
  void word_started(uint64_t offset) {
    starts_.push_back(offset);
    const int64_t started = first_word_ + int64_t(starts_.size());
    while (next_pos_ + step_ < started) {
      pending_.push_back({std::max<int64_t>(0, next_pos_ + step_ - ctx_), next_pos_, next_pos_ + step_});
      next_pos_ += step_;
      if (int64_t(pending_.size()) == batch_) run();
    }
  }
  void run() {
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
    word_.forward(batch);
    const float *losses = word_.losses(), *logits = word_.logits();
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

  void emit(uint64_t end) {
    const size_t n = size_t(end - emitted_);
    for (size_t i = 0; i < n; ++i) sink_({emitted_ + i, byte_at(emitted_ + i), top_[i], bits_[i]});
    bits_.erase(bits_.begin(), bits_.begin() + ptrdiff_t(n));
    top_.erase(top_.begin(), top_.begin() + ptrdiff_t(n));
    emitted_ = end;
  }

  WordModel& word_;
  WordSplitter splitter_;
  // Bits and top bytes of [emitted_, emitted_ + bits_.size()), not yet final or not yet sent.
  std::vector<double> bits_;
  std::vector<uint8_t> top_;
  uint64_t emitted_ = 0;
  // The start of each word from word first_word_ on.
  std::vector<uint64_t> starts_;
  int64_t first_word_ = 0;
};

// Generation: the backbone's cache across words (sliding by `stride` words as bytes-eval's word
// windows do), the decoder's within the word in progress; a word is encoded once, when it ends.
// Its words are always the splitter's: a byte that would start a word is only allowed after EOW,
// and EOW only where some byte could start the next word (WordSplitter::allows).
class WordStream final : public SymbolStream {
 public:
  WordStream(WordModel& model, int64_t stride)
      : model_(model),
        split_(model.splitter()),
        ctx_(model.context()),
        stride_(window_stride(model, stride)),
        D_(model.width()) {
    cond_.resize(size_t(model.decoder_width()));
  }

  const float* start(const uint8_t* prompt, size_t n) override {
    split_.reset();
    words_.clear();
    word_.clear();
    lo_ = -1;
    first_ = 0;
    const int32_t bos = BOS;
    add_word(&bos, 1);
    // The prompt's words; a prompt that ends inside a character has its bytes decided as bytes
    // of none (and the splitter then allows no continuation byte: its split stays the same).
    std::vector<size_t> starts;
    auto add = [&](uint64_t offset) { starts.push_back(size_t(offset)); };
    for (size_t i = 0; i < n; ++i) split_.feed(prompt[i]).each_start(add);
    split_.finish().each_start(add);
    starts.push_back(n);
    for (size_t k = 0; k + 1 < starts.size(); ++k) {
      word_.assign(prompt + starts[k], prompt + starts[k + 1]);
      if (k + 2 < starts.size()) add_word(word_.data(), int64_t(word_.size()));
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
    split_.feed(uint8_t(symbol));  // emits() let only bytes through that keep the split the splitter's
    word_.push_back(symbol);
    return model_.decoder_extend(dec_, cond_.data(), &symbol, 1);
  }

  bool emits(int32_t symbol) const override {
    if (symbol == BOS) return word_.empty();  // a document ends after a whole word
    if (symbol == EOW) return split_.allows_end(word_.size());
    // A byte starts a word exactly when the splitter says so (or can still say so).
    return split_.allows(uint8_t(symbol), word_.size());
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

  WordModel& model_;
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

std::unique_ptr<Batches> WordModel::batches(Sampler& split) { return std::make_unique<WordBatches>(*this, split); }

std::unique_ptr<DocumentScorer> WordModel::scorer(int64_t stride, int64_t batch, ScoreSink sink) {
  return std::make_unique<WordScorer>(*this, stride, batch, std::move(sink));
}

std::unique_ptr<SymbolStream> WordModel::stream(int64_t stride) { return std::make_unique<WordStream>(*this, stride); }

}  // namespace bytes
