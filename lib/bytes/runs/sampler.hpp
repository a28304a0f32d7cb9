// Training batches: random windows of a dataset split, drawn so that a step's batch depends on
// nothing but (seed, step), which makes resume exact.
#pragma once
#include <cstdint>
#include <vector>

#include "bytes/formats/dataset.hpp"

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

  // The split in memory (empty when it did not fit), and where each document starts in it: what
  // a model that reads the split its own way (words) cuts it from.
  const std::vector<uint8_t>& text() const { return memory_; }
  const std::vector<uint64_t>& doc_starts() const { return starts_; }

 private:
  void read(uint64_t offset, uint64_t n, uint8_t* out);
  const Dataset& ds_;
  Split split_;
  uint64_t bytes_ = 0;
  std::vector<uint64_t> starts_;  // where each document starts in the split's stream
  std::vector<uint8_t> memory_;   // the whole split, when it fits
};

}  // namespace bytes
