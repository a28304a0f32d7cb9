// Bits per byte as SPEC.md defines it, with bytes-eval's window protocol: a document is BOS +
// its bytes; windows of at most ctx tokens advance by a stride; each window scores only the
// targets not scored before. The document-ending boundary is not scored.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bytes/models/model.hpp"
#include "bytes/text/words.hpp"

namespace bytes {

// The window stride a requested stride gives (0: ctx/2; at most ctx): in tokens, or words for a
// word model. bytes-eval and generation slide their windows by it.
int64_t window_stride(const Config& config, int64_t stride);

// One byte of a document, scored: −log2 p of the byte given BOS and the bytes before it under the
// protocol, and the byte the model found most likely there (ties: the lowest). For a word model a
// complete word's EOW bits are added to the next word's first byte (SPEC.md's rule: every symbol
// the model must emit counts; the byte whose arrival ends the word carries them).
struct ScoredByte {
  uint64_t offset;
  uint8_t byte, top;
  double bits;
};

// Scores one document as its bytes arrive: push() them in pieces of any size, then finish().
// Only a document's last window depends on its length, so every other window is scored as soon
// as its bytes are in (batch windows at a time): memory is bounded by the model and its windows,
// not the document. Each byte goes to the sink once, in order, when its bits are final; the bits
// do not depend on how the bytes were cut into pieces.
class StreamScorer {
 public:
  using Sink = std::function<void(const ScoredByte&)>;
  StreamScorer(Model& model, int64_t stride, int64_t batch, Sink sink);

  void push(const uint8_t* data, size_t n);
  // The document ends: scores what is left. The next push() starts a new document.
  void finish();
  // Bytes of the document held now: what later windows still read, and what is not yet sent.
  size_t held() const { return bytes_.size(); }

 private:
  // A window reads inputs [lo, end) and scores targets [pos, end): tokens and bytes for the flat
  // and patch models, words for the word model.
  struct Window {
    int64_t lo, pos, end;
  };
  void push_tokens(const uint8_t* data, size_t n);
  void push_words(const uint8_t* data, size_t n);
  void run_tokens(const Window* w, int64_t count, int64_t T);
  void run_words();
  void emit(uint64_t end);
  void keep_from(uint64_t offset);
  uint8_t byte_at(uint64_t offset) const { return bytes_[size_t(offset - base_)]; }

  Model& model_;
  int64_t ctx_, step_, batch_;
  Sink sink_;
  // The document's bytes [base_, received_); those before base_ no window reads any more.
  std::vector<uint8_t> bytes_;
  uint64_t base_ = 0, received_ = 0;
  int64_t next_pos_ = 0;         // the first target no window holds yet
  std::vector<Window> pending_;  // windows waiting to be run as one batch
  // Bits and top bytes of [emitted_, emitted_ + bits_.size()), not yet final or not yet sent.
  std::vector<double> bits_;
  std::vector<uint8_t> top_;
  uint64_t emitted_ = 0;
  // Word model: the splitter, and the start of each word from word first_word_ on.
  WordSplitter splitter_;
  std::vector<uint64_t> starts_;
  int64_t first_word_ = 0;
};

struct Scorer {
  Model& model;
  int64_t stride = 0;  // 0: ctx/2
  int64_t batch = 16;  // full-length windows run this many at a time

  // Bits of each byte of a whole document (StreamScorer's, in one piece); with top, also each
  // position's most likely byte.
  std::vector<double> bits(const uint8_t* doc, size_t n, std::vector<uint8_t>* top = nullptr);
};

// zstd's compressed size of a stream of bytes, counted as they pass: the floor a model must beat,
// in bounded memory. zstd sizes its tables to an input of known length below the level's window,
// so input is held until it passes the window (then streamed, with the parameters of any longer
// input) or ends (then compressed whole, as zstd FILE does): the result depends on the bytes
// only, not on how they arrive.
class ZstdCounter {
 public:
  explicit ZstdCounter(int level = 19);
  ~ZstdCounter();
  ZstdCounter(const ZstdCounter&) = delete;
  ZstdCounter& operator=(const ZstdCounter&) = delete;

  void push(const uint8_t* data, size_t n);
  // Ends the frame (once): bits per byte of everything pushed (0 for nothing). Push nothing after.
  double bpb();
  int level() const { return level_; }

 private:
  void compress(const uint8_t* data, size_t n, bool end);
  void* cctx_;
  int level_;
  size_t window_;
  uint64_t in_ = 0, out_ = 0;
  bool streaming_ = false, ended_ = false;
  std::vector<uint8_t> held_, buf_;
};

// A line of bytes-eval --conditional: {"context": …, "target": …}, the strings as their UTF-8 bytes.
// Empty for a blank line. Throws Error ("is not JSON", "needs string fields …") for the caller to
// prefix with where the line is.
struct ConditionalPair {
  std::string context, target;
};
std::optional<ConditionalPair> parse_conditional(std::string_view line);

// How bytes-eval prints its figures: JSON rounded to 6 decimals, text with 4.
double round6(double v);
std::string fixed4(double v);

// zstd's bits per byte on these bytes (ZstdCounter's).
double zstd_bpb(const uint8_t* data, size_t n, int level = 19);

}  // namespace bytes
