// Vectors of KERNEL_WIDTH floats for the kernels compiled once per ISA (lib/meson.build builds
// attention.cpp and elementwise.cpp for AVX-512, AVX2+FMA and the baseline, each in the namespace
// KERNEL_ISA; kernels.cpp picks one at run time). GCC's vector extensions, so that one source
// becomes each ISA's instructions.
#pragma once
#include <cstdint>
#include <utility>

namespace bytes::kernels::KERNEL_ISA {
namespace {  // each ISA's own copy, not exported

constexpr int64_t W = KERNEL_WIDTH;  // floats per vector

typedef float v8 __attribute__((vector_size(W * 4)));
typedef uint32_t u8 __attribute__((vector_size(W * 4)));

inline v8 load8(const float* p) {
  v8 v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(float* p, v8 v) { __builtin_memcpy(p, &v, sizeof v); }
inline v8 splat(float x) { return x - v8{}; }

// exp of W floats to about 1 ulp: range reduction by ln 2, a degree-6 polynomial, and the exponent
// added directly. Inputs are clamped to [−87, 88]: below, about 1.6e-38 (masked scores take it as
// nothing); above, about 1.7e38 (never infinity). n = round(x / ln 2) comes from adding and taking
// away 1.5·2²³, which leaves n in the low bits of the sum: no conversions, no compare.
inline v8 exp8(v8 x) {
  x = x < splat(-87.0f) ? splat(-87.0f) : x;
  x = x > splat(88.0f) ? splat(88.0f) : x;
  const v8 shifted = x * splat(1.44269504088896341f) + splat(12582912.0f);
  const v8 n = shifted - splat(12582912.0f);
  v8 r = x - n * splat(0.693359375f) + n * splat(2.12194440e-4f);
  v8 p = splat(1.9875691500e-4f);
  p = p * r + splat(1.3981999507e-3f);
  p = p * r + splat(8.3334519073e-3f);
  p = p * r + splat(4.1665795894e-2f);
  p = p * r + splat(1.6666665459e-1f);
  p = p * r + splat(5.0000001201e-1f);
  p = p * r * r + r + splat(1.0f);
  u8 e;
  __builtin_memcpy(&e, &shifted, sizeof e);
  e = (e + 127) << 23;  // the sum's high bits shift out
  v8 scale;
  __builtin_memcpy(&scale, &e, sizeof scale);
  return p * scale;
}

// 0, 1, …, W − 1.
inline v8 lane_index() {
  v8 lane;
  for (int64_t i = 0; i < W; ++i) lane[i] = float(i);
  return lane;
}

// The sum and the largest of a vector's lanes, folding halves (log₂ W steps).
#if KERNEL_WIDTH == 16
#define FOLD(op) \
  v = op(v, __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7)); \
  v = op(v, __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11)); \
  v = op(v, __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13)); \
  v = op(v, __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14));
#else
#define FOLD(op) \
  v = op(v, __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3)); \
  v = op(v, __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5)); \
  v = op(v, __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6));
#endif
inline v8 add_lanes(v8 a, v8 b) { return a + b; }
inline v8 max_lanes(v8 a, v8 b) { return a > b ? a : b; }
inline float hsum(v8 v) {
  FOLD(add_lanes)
  return v[0];
}
inline float hmax(v8 v) {
  FOLD(max_lanes)
  return v[0];
}
#undef FOLD

// A W × W block of floats (rows ld_in apart) transposed into out (rows ld_out apart), in
// registers: log₂ W rounds, each swapping the off-diagonal blocks of half the previous size
// between pairs of rows. On AVX-512 a quarter of the time of a float at a time.
template <int S, size_t... L>
inline v8 swap_lo(v8 a, v8 b, std::index_sequence<L...>) {
  return __builtin_shufflevector(a, b, ((L & S) ? int(W + L - S) : int(L))...);
}
template <int S, size_t... L>
inline v8 swap_hi(v8 a, v8 b, std::index_sequence<L...>) {
  return __builtin_shufflevector(a, b, ((L & S) ? int(W + L) : int(L + S))...);
}
template <int S>
inline void swap_blocks(v8* r) {
  for (int64_t i = 0; i < W; ++i)
    if (!(i & S)) {
      const v8 a = r[i], b = r[i + S];
      r[i] = swap_lo<S>(a, b, std::make_index_sequence<W>{});
      r[i + S] = swap_hi<S>(a, b, std::make_index_sequence<W>{});
    }
}
inline void transpose_block(const float* in, int64_t ld_in, float* out, int64_t ld_out) {
  v8 r[W];
  for (int64_t i = 0; i < W; ++i) r[i] = load8(in + i * ld_in);
  if constexpr (W == 16) swap_blocks<8>(r);
  swap_blocks<4>(r), swap_blocks<2>(r), swap_blocks<1>(r);
  for (int64_t i = 0; i < W; ++i) store8(out + i * ld_out, r[i]);
}

// The first n < W floats of p, the rest zero; and the first n lanes of v stored to p.
inline v8 load_part(const float* p, int64_t n) {
  v8 v{};
  __builtin_memcpy(&v, p, size_t(n) * sizeof(float));
  return v;
}
inline void store_part(float* p, v8 v, int64_t n) { __builtin_memcpy(p, &v, size_t(n) * sizeof(float)); }

}  // namespace
}  // namespace bytes::kernels::KERNEL_ISA
