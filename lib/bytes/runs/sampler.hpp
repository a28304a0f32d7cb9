// Training batches: random windows of a dataset split, drawn so that a step's batch depends on
// nothing but (seed, step), which makes resume exact.
#pragma once
#include <cstdint>
#include <vector>

#include "bytes/formats/dataset.hpp"
#include "bytes/models/model.hpp"

namespace bytes {

// Random windows of a split's token stream (each document is BOS + its bytes). A split up to
// memory_limit bytes is read into memory once; a larger one is read through the dataset's frames.
class Sampler {
 public:
  Sampler(const Dataset& ds, Split split, uint64_t memory_limit = 2ull << 30);
  // B windows of T + 1 tokens for this step: inputs x and targets y (x shifted by one). The same
  // (seed, step) always gives the same batch.
  void batch(uint64_t seed, uint64_t step, int64_t B, int64_t T, int32_t* x, int32_t* y);
  uint64_t bytes() const { return bytes_; }

  // Word model batches: B rows of ctx + 1 consecutive words of the split (a BOS word before each
  // document), starting at a word drawn by (seed, step, row); every word but a row's first is
  // scored. The split is cut into words once, on the first call; it must fit in memory.
  void word_batch(uint64_t seed, uint64_t step, int64_t B, int64_t ctx, const Config& config, WordBatch& out);
  // Mean bytes per word of the split (after a word_batch call).
  double bytes_per_word() const;

 private:
  void read(uint64_t offset, uint64_t n, uint8_t* out);
  void cut_words(const Config& config);
  const Dataset& ds_;
  Split split_;
  uint64_t bytes_ = 0;
  std::vector<uint64_t> starts_;  // where each document starts in the split's stream
  std::vector<uint8_t> memory_;   // the whole split, when it fits
  // Word model: each item is a word's offset · 2, or a document's offset · 2 + 1 for its BOS word.
  std::vector<uint64_t> items_;
};

}  // namespace bytes
