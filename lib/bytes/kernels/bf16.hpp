// bf16 (the top half of an f32: 8 exponent bits, 7 mantissa bits) for the matrix products:
// conversions, and bf16 copies of weight blocks that products read instead of rounding the same
// weights on every call.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "bytes/base/memory.hpp"

namespace bytes {

using bf16_t = uint16_t;

// f32 → bf16, rounding to nearest even (NaN stays NaN); in parallel for large blocks.
void to_bf16(const float* x, bf16_t* y, size_t n);
// The same on the calling thread (a row inside a parallel loop).
void to_bf16_row(const float* x, bf16_t* y, size_t n);
inline float bf16_to_float(bf16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  __builtin_memcpy(&f, &bits, 4);
  return f;
}

// A bf16 copy of a block of f32 weights (a model's parameters). While it lives, a product with
// Precision::bf16 whose weight operand lies in the block reads the copy; refresh() after the f32
// weights change (an optimizer step), or the products read the old weights.
class Bf16Weights {
 public:
  Bf16Weights(const float* base, size_t n);
  ~Bf16Weights();
  Bf16Weights(const Bf16Weights&) = delete;
  Bf16Weights& operator=(const Bf16Weights&) = delete;
  void refresh();
  const bf16_t* data() const { return copy_.data(); }

 private:
  const float* base_;
  Buffer<bf16_t> copy_;
};

// The bf16 copy of the weights at w, if a live Bf16Weights holds them (nullptr otherwise).
const bf16_t* bf16_copy_of(const float* w);

}  // namespace bytes
