#include "bytes/runs/sampler.hpp"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "bytes/base/error.hpp"
#include "bytes/base/progress.hpp"
#include "bytes/blocks/head.hpp"  // BOS

namespace bytes {

Sampler::Sampler(const Dataset& ds, Split split, uint64_t memory_limit) : ds_(ds), split_(split) {
  bytes_ = ds.stats(split).bytes;
  ds.for_each_doc([&](uint64_t, Dataset::Doc d) {
    if (d.split == split) starts_.push_back(d.offset);
  });
  if (starts_.empty() || bytes_ == 0)
    throw Error(std::string("the ") + split_name(split) + " split of " + ds.path() + " has no bytes to train on");
  if (bytes_ <= memory_limit) {
    memory_.reserve(bytes_);
    ds.for_each_frame(split, [&](const uint8_t* p, size_t n) { memory_.insert(memory_.end(), p, p + n); });
  }
}

void Sampler::read(uint64_t offset, uint64_t n, uint8_t* out) {
  if (!memory_.empty()) std::memcpy(out, memory_.data() + offset, n);
  else ds_.read(split_, offset, n, out);
}

void Sampler::batch(uint64_t seed, uint64_t step, int64_t B, int64_t T, int32_t* x, int32_t* y) {
  std::vector<int32_t> tokens(size_t(T + 1));
  std::vector<uint8_t> buf(size_t(T + 1));
  for (int64_t b = 0; b < B; ++b) {
    // Counter-based: window b of step s depends on nothing but (seed, s, b), so resume is exact.
    uint64_t key[3] = {seed, step, uint64_t(b)};
    uint64_t start = XXH3_64bits(key, sizeof key) % bytes_;
    // The window walks the stream from `start`, putting BOS before each document's first byte
    // and wrapping at the end of the split.
    auto next = std::lower_bound(starts_.begin(), starts_.end(), start);
    uint64_t pos = start;
    int64_t filled = 0;
    while (filled < T + 1) {
      uint64_t doc_start = next == starts_.end() ? bytes_ : *next;
      if (pos == doc_start && next != starts_.end()) {
        tokens[size_t(filled++)] = BOS;
        ++next;
        continue;
      }
      if (pos == bytes_) {  // wrap
        pos = 0;
        next = starts_.begin();
        continue;
      }
      uint64_t run = std::min<uint64_t>(doc_start - pos, uint64_t(T + 1 - filled));
      read(pos, run, buf.data());
      for (uint64_t i = 0; i < run; ++i) tokens[size_t(filled++)] = buf[i];
      pos += run;
    }
    std::memcpy(x + b * T, tokens.data(), size_t(T) * sizeof(int32_t));
    std::memcpy(y + b * T, tokens.data() + 1, size_t(T) * sizeof(int32_t));
  }
}

}  // namespace bytes
