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

namespace bytes {

// Scores one document as its bytes arrive, by the model's own window protocol (Model::scorer):
// push() the bytes in pieces of any size, then finish(); the next push() starts a new document.
class StreamScorer {
 public:
  using Sink = ScoreSink;
  StreamScorer(Model& model, int64_t stride, int64_t batch, Sink sink)
      : scorer_(model.scorer(stride, batch, std::move(sink))) {}
  void push(const uint8_t* data, size_t n) { scorer_->push(data, n); }
  void finish() { scorer_->finish(); }
  // Bytes of the document held now: what later windows still read, and what is not yet sent.
  size_t held() const { return scorer_->held(); }

 private:
  std::unique_ptr<DocumentScorer> scorer_;
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
