// Matrix multiplication through oneDNN: C (M×N) = op(A) (M×K) · op(B) (K×N), optionally added
// to C. Row-major with leading dimensions; trans_a / trans_b read A or B transposed. One
// primitive is created per shape and kept (the most recent shapes), so a training step of a fixed
// shape creates none after the first; from 1024 rows on, rows run in 64-row blocks and a padded
// rest (matmul.cpp), so a model whose rows vary per batch meets a few shapes, not new ones.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "bytes/kernels/bf16.hpp"

namespace bytes {

enum class Precision { f32, bf16 };
std::string precision_name(Precision p);  // "f32" or "bf16"

struct Gemm {
  int64_t m, n, k;
  bool trans_a = false, trans_b = false;
  bool accumulate = false;  // C += A·B rather than C = A·B
  // C = A·B + add (an M×N row-major matrix, not C: a residual branch), added as the product's
  // tiles are written rather than by a copy of it into C first. Not with accumulate.
  const float* add = nullptr;
};

// Primitives are kept for the most recently used shapes (making one compiles a kernel): at most
// this many, and the memory they may hold, counted in bytes-train's memory preflight.
// A model whose rows vary by batch meets each whole number of 64-row blocks in its range (matmul.cpp):
// a word model, ~30 products × ~20 counts. About 60 KB a primitive.
inline constexpr size_t matmul_cache_entries = 1024;
inline constexpr uint64_t matmul_cache_bytes = 96ull << 20;
size_t matmul_cache_size();  // shapes held now

// Weights a product may read in the layout oneDNN's kernels want for its shape (blocked, e.g. 16 ×
// 64 tiles) instead of row-major: from 64 rows on, a product whose right operand B lies in a
// registered block of weights reorders it once into a pack and reads the pack, until the block
// changes. A pack serves every product of its shape and orientation (forward products read W
// transposed, input gradients read W as stored: two packs a matrix). Where the kernels want
// the row-major layout (oneDNN's AVX2 GEMM) nothing is packed. Measured d 384, 4096 rows: the
// input-gradient products 8–25% faster (f32, AVX-512), the forwards 0–20%; a pack costs 0.02–0.2 ms.
class PackedWeights {
 public:
  PackedWeights(const void* base, size_t bytes);  // f32 or bf16 weights (a Bf16Weights copy)
  ~PackedWeights();
  PackedWeights(const PackedWeights&) = delete;
  PackedWeights& operator=(const PackedWeights&) = delete;
  void changed();  // the weights changed: every pack is remade when next read
  size_t packs() const;  // packs made so far (one per shape and orientation read)
  struct Block;

 private:
  std::unique_ptr<Block> block_;
};
// Memory the packs of `params` weights may hold (f32 or bf16 products): two layouts of every matrix.
inline uint64_t packed_weight_bytes(uint64_t params, bool bf16) { return 2 * params * (bf16 ? 2 : 4); }

// f32 operands. With Precision::bf16 the product reads bf16 operands with f32 accumulation: the
// live bf16 copy of weights (Bf16Weights), the others rounded to bf16 for the call. A one-row
// product (generation) reads a weight copy on any CPU; larger ones run bf16 only where
// bf16_native(), f32 elsewhere.
void matmul(const Gemm& g, const float* a, const float* b, float* c, Precision p = Precision::f32);

// y (rows×out) = x (rows×in) · wᵀ, with w stored out×in as PyTorch stores Linear weights.
inline void linear(const float* x, const float* w, float* y, int64_t rows, int64_t in, int64_t out,
                   bool accumulate = false, Precision p = Precision::f32) {
  matmul({rows, out, in, false, true, accumulate}, x, w, y, p);
}
// dx (rows×in) (+)= dy (rows×out) · w
inline void linear_backward_input(const float* dy, const float* w, float* dx, int64_t rows, int64_t in,
                                  int64_t out, bool accumulate = false, Precision p = Precision::f32) {
  matmul({rows, in, out, false, false, accumulate}, dy, w, dx, p);
}
// dw (out×in) += dyᵀ · x
inline void linear_backward_weight(const float* dy, const float* x, float* dw, int64_t rows, int64_t in,
                                   int64_t out, Precision p = Precision::f32) {
  matmul({out, in, rows, true, false, true}, dy, x, dw, p);
}

// Both at once, dw += dyᵀ·x and dx = dy·w: in bf16, dy is rounded once for the two.
void linear_backward(const float* dy, const float* x, const float* w, float* dx, float* dw, int64_t rows, int64_t in,
                     int64_t out, Precision p = Precision::f32);

// y = residual + x · wᵀ (a residual branch: y and residual are distinct rows×out matrices).
inline void linear_residual(const float* x, const float* w, const float* residual, float* y, int64_t rows, int64_t in,
                            int64_t out, Precision p = Precision::f32) {
  matmul({rows, out, in, false, true, false, residual}, x, w, y, p);
}

// linear and linear_backward in bf16 with x already rounded (an activation made in bf16, read by
// the forward's product and the backward's weight gradient without rounding it twice). Only where
// bf16_native().
void linear(const bf16_t* x, const float* w, float* y, int64_t rows, int64_t in, int64_t out, bool accumulate = false);
void linear_residual(const bf16_t* x, const float* w, const float* residual, float* y, int64_t rows, int64_t in,
                     int64_t out);
void linear_backward(const float* dy, const bf16_t* x, const float* w, float* dx, float* dw, int64_t rows, int64_t in,
                     int64_t out);
// The same with dy made in bf16 too (a gradient only this product reads).
void linear_backward(const bf16_t* dy, const bf16_t* x, const float* w, float* dx, float* dw, int64_t rows,
                     int64_t in, int64_t out);

// The oneDNN implementation behind f32 and bf16 matmuls on this CPU (e.g. "brg:avx2").
std::string matmul_impl(Precision p);
// Whether oneDNN has bf16 matrix kernels for this CPU; if not, bf16 products run in f32.
bool bf16_native();
// Whether those kernels run on the CPU's matrix tiles (AMX).
bool bf16_tiles();
// How fast this CPU's bf16 products run against its f32 ones: one product of 1024 × 1024 × 384
// timed each way through oneDNN, best of three, alternating; measured once, on first call (48–81
// ms on a 2-core Xeon, making the primitives included). 0 where bf16_native() is false. Not a fixed fact of the instruction set: AVX512_BF16's dot
// product runs at the f32 multiply-add's rate on some CPUs (the AMD EPYC: bf16 ~1.75×) and
// at half of it on others (an Intel Xeon whose AMX tiles its VM hides: 82 against 169 GFLOP/s a
// core, so bf16 ~0.5×); AMX tiles make it several times faster.
double bf16_speedup();

}  // namespace bytes
