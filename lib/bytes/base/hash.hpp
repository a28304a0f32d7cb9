// XXH3-64 over data that arrives in pieces: the checksum of the bytes file formats. The state
// lives in the object (no allocation), so an error between the first piece and the digest (a
// full disk in the middle of a checkpoint) leaks nothing.
#pragma once
#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

#include <cstddef>
#include <cstdint>

namespace bytes {

class Xxh3 {
 public:
  Xxh3() {
    XXH3_INITSTATE(&state_);
    XXH3_64bits_reset(&state_);
  }
  void update(const void* data, size_t n) { XXH3_64bits_update(&state_, data, n); }
  uint64_t digest() const { return XXH3_64bits_digest(&state_); }

 private:
  XXH3_state_t state_;
};

}  // namespace bytes
