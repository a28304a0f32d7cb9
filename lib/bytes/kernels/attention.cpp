// Tiled causal attention, compiled for AVX-512, for AVX2+FMA and for the baseline ISA (vec.hpp;
// ATTENTION_ROWS is the query rows of a register block); kernels.cpp picks one at run time. The
// products accumulate each element in the same order at every width.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include <omp.h>

#include "bytes/kernels/isa.hpp"
#include "bytes/kernels/vec.hpp"

namespace bytes::kernels::KERNEL_ISA {

namespace {

constexpr int64_t tile = 64;  // query and key rows per tile
constexpr int64_t MR = ATTENTION_ROWS;   // rows of a register block: 2·MR accumulators + 3 fit the registers
constexpr int64_t NR = 2 * W;            // columns of a register block

// On a tile where query row i sees key j ≤ i only (the causal diagonal), the parts of a product
// that are masked need not be computed: they are zeros or never read.
enum class Diagonal {
  none,
  cols_to_row,   // C's columns past a register block's last row are not read (scores)
  inner_to_row,  // A's columns past a block's last row are zero (P·V, dS·K)
  inner_from_row // A's columns before a block's first row are zero (Pᵀ·dO, dSᵀ·Q)
};

// C (M × N, ldc) = or += A (M × K, lda) · B (K × N, ldb), N a multiple of NR: the small products
// of one attention tile, in MR × NR register blocks.
// With TransA, op(A) is the transpose of A (K × M, lda): a product over a tile's query rows (Pᵀ·dO,
// dSᵀ·Q) reads P or dS in place, its broadcasts walking along their rows.
template <bool TransA = false>
void tile_gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
               int64_t ldc, bool accumulate, Diagonal diag = Diagonal::none) {
  for (int64_t i = 0; i < M; i += MR) {
    const int64_t mr = std::min<int64_t>(MR, M - i);
    const float* a[MR];
    for (int64_t r = 0; r < MR; ++r) a[r] = A + (i + std::min(r, mr - 1)) * (TransA ? 1 : lda);
    const int64_t n_end = diag == Diagonal::cols_to_row ? std::min(N, (i + mr + NR - 1) / NR * NR) : N;
    const int64_t k_end = diag == Diagonal::inner_to_row ? std::min(K, i + mr) : K;
    const int64_t k_begin = diag == Diagonal::inner_from_row ? std::min(K, i) : 0;
    for (int64_t j = 0; j < n_end; j += NR) {
      v8 c[MR][2] = {};
      for (int64_t k = k_begin; k < k_end; ++k) {
        const v8 b0 = load8(B + k * ldb + j), b1 = load8(B + k * ldb + j + W);
        for (int64_t r = 0; r < MR; ++r) {
          const v8 av = splat(a[r][TransA ? k * lda : k]);
          c[r][0] += av * b0;
          c[r][1] += av * b1;
        }
      }
      for (int64_t r = 0; r < mr; ++r) {
        float* out = C + (i + r) * ldc + j;
        if (accumulate) {
          store8(out, load8(out) + c[r][0]);
          store8(out + W, load8(out + W) + c[r][1]);
        } else {
          store8(out, c[r][0]);
          store8(out + W, c[r][1]);
        }
      }
    }
  }
}

// Scratch of one thread: 64-row tiles, zero-padded past a segment's end; the keys and values of
// the segment and head in hand, tile by tile (k, v: rows; kt, vt: their hd × 64 transposes), so
// each is loaded once rather than once per query tile. Each thread of the pool keeps its own
// between calls (grown to the longest segment seen), so a step allocates nothing.
struct Scratch {
  std::vector<float> q, k, kt, v, vt, s, dp, acc, dout, dq, dk, dv, m, l, dsum;
};
Scratch& scratch(int64_t T, int64_t hd) {
  thread_local Scratch w;
  auto fit = [](std::vector<float>& v, int64_t n) {
    if (v.size() != size_t(n)) v.assign(size_t(n), 0.0f);
  };
  auto grow = [](std::vector<float>& v, int64_t n) {
    if (v.size() < size_t(n)) v.resize(size_t(n));
  };
  for (auto* v : {&w.q, &w.acc, &w.dout, &w.dq}) fit(*v, tile * hd);
  fit(w.s, tile * tile);
  fit(w.dp, tile * tile);
  for (auto* v : {&w.m, &w.l, &w.dsum}) fit(*v, tile);
  for (auto* v : {&w.k, &w.kt, &w.v, &w.vt, &w.dk, &w.dv}) grow(*v, (T + tile) * hd);
  return w;
}

// Rows [t0, t0 + n) of one head (row stride `stride`) into a tile of `rows` rows (n ≤ rows),
// scaled, zero-padded.
inline void load_rows(const float* base, int64_t stride, int64_t t0, int64_t n, int64_t rows, int64_t hd, float scale,
                      float* out) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t x = 0; x < hd; ++x) out[r * hd + x] = r < n ? base[(t0 + r) * stride + x] * scale : 0.0f;
}
inline void transpose(const float* in, int64_t rows, int64_t cols, int64_t ld_in, int64_t ld_out, float* out) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[c * ld_out + r] = in[r * ld_in + c];
}
inline int64_t round_nr(int64_t n) { return (n + NR - 1) / NR * NR; }

// The keys and values of one segment and head, key tile by key tile: rows zero-padded to a
// multiple of NR (k, v) and the transposes the products read (kt, and vt when with_vt).
void load_keys(const float* kb, const float* vb, int64_t stride, int64_t T, int64_t hd, bool with_vt, Scratch& w) {
  for (int64_t j0 = 0; j0 < T; j0 += tile) {
    const int64_t cols = std::min(tile, T - j0), c16 = round_nr(cols), at = j0 * hd;
    load_rows(kb, stride, j0, cols, c16, hd, 1.0f, w.k.data() + at);
    transpose(w.k.data() + at, c16, hd, hd, tile, w.kt.data() + at);
    load_rows(vb, stride, j0, cols, c16, hd, 1.0f, w.v.data() + at);
    if (with_vt) transpose(w.v.data() + at, c16, hd, hd, tile, w.vt.data() + at);
  }
}

// The largest of s[0 … n) and init.
inline float row_max(const float* s, int64_t n, float init) {
  v8 m = splat(init);
  int64_t c = 0;
  for (; c + W <= n; c += W) {
    const v8 x = load8(s + c);
    m = x > m ? x : m;
  }
  float mx = hmax(m);
  for (; c < n; ++c) mx = std::max(mx, s[c]);
  return mx;
}

// p[c] = exp(s[c] − shift) for c < visible, else 0, over the first `width` (a multiple of NR)
// entries of a row; returns the sum.
inline float exp_row(float* s, float shift, int64_t visible, int64_t width) {
  v8 sum = splat(0.0f);
  for (int64_t c = 0; c < width; c += W) {
    v8 e = exp8(load8(s + c) - splat(shift));
    if (c + W > visible) e = lane_index() + splat(float(c)) < splat(float(visible)) ? e : splat(0.0f);
    store8(s + c, e);
    sum += e;
  }
  return hsum(sum);
}

int64_t longest(const int64_t* offsets, int64_t S) {
  int64_t T = 0;
  for (int64_t s = 0; s < S; ++s) T = std::max(T, offsets[s + 1] - offsets[s]);
  return T;
}

// Keys visible to query row i (within its segment) among the keys of a tile starting at j0.
inline int64_t visible_keys(bool causal, int64_t cols, int64_t i, int64_t j0) {
  return causal ? std::max<int64_t>(0, std::min(cols, i - j0 + 1)) : cols;
}

}  // namespace

void attention_forward(const float* qkv, const int64_t* offsets, int64_t S, int64_t H, int64_t hd, bool causal,
                       float* out, float* lse) {
  const int64_t D = H * hd, stride = 3 * D, T_max = longest(offsets, S);
  const float scale = 1.0f / std::sqrt(float(hd));
#pragma omp parallel if (offsets[S] * D >= (1 << 14))
  {
    Scratch& w = scratch(T_max, hd);
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int64_t sg = 0; sg < S; ++sg)
      for (int64_t h = 0; h < H; ++h) {
        const int64_t row0 = offsets[sg], T = offsets[sg + 1] - row0;
        const float* qb = qkv + row0 * stride + h * hd;
        const float *kb = qb + D, *vb = qb + 2 * D;
        load_keys(kb, vb, stride, T, hd, false, w);
        for (int64_t i0 = 0; i0 < T; i0 += tile) {
          const int64_t rows = std::min(tile, T - i0);
          load_rows(qb, stride, i0, rows, rows, hd, scale, w.q.data());
          std::fill(w.m.begin(), w.m.end(), -1e30f);
          std::fill(w.l.begin(), w.l.end(), 0.0f);
          for (int64_t j0 = 0; j0 < (causal ? i0 + rows : T); j0 += tile) {
            const int64_t cols = std::min(tile, T - j0), c16 = round_nr(cols);
            const bool diagonal = causal && j0 == i0;
            tile_gemm(rows, c16, hd, w.q.data(), hd, w.kt.data() + j0 * hd, tile, w.s.data(), tile, false,
                      diagonal ? Diagonal::cols_to_row : Diagonal::none);
            for (int64_t r = 0; r < rows; ++r) {
              float* s = w.s.data() + r * tile;
              const int64_t visible = visible_keys(causal, cols, i0 + r, j0);
              const float old = w.m[size_t(r)], mx = row_max(s, visible, old);
              if (mx > old && j0 > 0) {  // a new largest score: rescale what the earlier key tiles summed
                const float corr = std::exp(old - mx);
                w.l[size_t(r)] *= corr;
                float* acc = w.acc.data() + r * hd;
                for (int64_t x = 0; x < hd; ++x) acc[x] *= corr;
              }
              w.m[size_t(r)] = mx;
              w.l[size_t(r)] += exp_row(s, mx, visible, c16);
            }
            tile_gemm(rows, hd, cols, w.s.data(), tile, w.v.data() + j0 * hd, hd, w.acc.data(), hd, j0 > 0,
                      diagonal ? Diagonal::inner_to_row : Diagonal::none);
          }
          for (int64_t r = 0; r < rows; ++r) {
            const float inv = 1.0f / w.l[size_t(r)];
            float* o = out + (row0 + i0 + r) * D + h * hd;
            for (int64_t x = 0; x < hd; ++x) o[x] = w.acc[size_t(r * hd + x)] * inv;
            lse[(row0 + i0 + r) * H + h] = w.m[size_t(r)] + std::log(w.l[size_t(r)]);
          }
        }
      }
  }
}

void attention_backward(const float* qkv, const float* out, const float* dout, const float* lse,
                        const int64_t* offsets, int64_t S, int64_t H, int64_t hd, bool causal, float* dqkv) {
  const int64_t D = H * hd, stride = 3 * D, T_max = longest(offsets, S);
  const float scale = 1.0f / std::sqrt(float(hd));
#pragma omp parallel if (offsets[S] * D >= (1 << 14))
  {
    Scratch& w = scratch(T_max, hd);
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int64_t sg = 0; sg < S; ++sg)
      for (int64_t h = 0; h < H; ++h) {
        const int64_t row0 = offsets[sg], T = offsets[sg + 1] - row0;
        const float* qb = qkv + row0 * stride + h * hd;
        const float *kb = qb + D, *vb = qb + 2 * D;
        const float* dob = dout + row0 * D + h * hd;
        const float* ob = out + row0 * D + h * hd;
        std::fill(w.dk.begin(), w.dk.begin() + (T + tile) * hd, 0.0f);
        std::fill(w.dv.begin(), w.dv.begin() + (T + tile) * hd, 0.0f);
        load_keys(kb, vb, stride, T, hd, true, w);
        for (int64_t i0 = 0; i0 < T; i0 += tile) {
          const int64_t rows = std::min(tile, T - i0);
          load_rows(qb, stride, i0, rows, rows, hd, scale, w.q.data());
          load_rows(dob, D, i0, rows, rows, hd, 1.0f, w.dout.data());
          for (int64_t r = 0; r < rows; ++r) {
            const float *dor = dob + (i0 + r) * D, *orow = ob + (i0 + r) * D;
            float dsum = 0;
            for (int64_t x = 0; x < hd; ++x) dsum += dor[x] * orow[x];
            w.dsum[size_t(r)] = dsum;
          }
          std::fill(w.dq.begin(), w.dq.end(), 0.0f);
          for (int64_t j0 = 0; j0 < (causal ? i0 + rows : T); j0 += tile) {
            const int64_t cols = std::min(tile, T - j0), c16 = round_nr(cols);
            const bool diagonal = causal && j0 == i0;
            const Diagonal masked_cols = diagonal ? Diagonal::cols_to_row : Diagonal::none;
            tile_gemm(rows, c16, hd, w.q.data(), hd, w.kt.data() + j0 * hd, tile, w.s.data(), tile, false, masked_cols);
            tile_gemm(rows, c16, hd, w.dout.data(), hd, w.vt.data() + j0 * hd, tile, w.dp.data(), tile, false, masked_cols);
            for (int64_t r = 0; r < rows; ++r) {
              float *p = w.s.data() + r * tile, *dp = w.dp.data() + r * tile;
              exp_row(p, lse[(row0 + i0 + r) * H + h], visible_keys(causal, cols, i0 + r, j0), c16);
              const float dsum = w.dsum[size_t(r)];
              for (int64_t c = 0; c < c16; ++c) dp[c] = p[c] * (dp[c] - dsum);  // dS
            }
            // dV += Pᵀ·dO and dK += dSᵀ·Q: reductions over the tile's query rows, P and dS read in place.
            const Diagonal from = diagonal ? Diagonal::inner_from_row : Diagonal::none;
            tile_gemm<true>(c16, hd, rows, w.s.data(), tile, w.dout.data(), hd, w.dv.data() + j0 * hd, hd, true, from);
            tile_gemm<true>(c16, hd, rows, w.dp.data(), tile, w.q.data(), hd, w.dk.data() + j0 * hd, hd, true, from);
            tile_gemm(rows, hd, c16, w.dp.data(), tile, w.k.data() + j0 * hd, hd, w.dq.data(), hd, true,
                      diagonal ? Diagonal::inner_to_row : Diagonal::none);
          }
          for (int64_t r = 0; r < rows; ++r) {
            float* dq = dqkv + (row0 + i0 + r) * stride + h * hd;
            for (int64_t x = 0; x < hd; ++x) dq[x] = w.dq[size_t(r * hd + x)] * scale;
          }
        }
        for (int64_t t = 0; t < T; ++t) {
          float* dk = dqkv + (row0 + t) * stride + D + h * hd;
          float* dv = dk + D;
          std::memcpy(dk, w.dk.data() + t * hd, size_t(hd) * sizeof(float));
          std::memcpy(dv, w.dv.data() + t * hd, size_t(hd) * sizeof(float));
        }
      }
  }
}

}  // namespace bytes::kernels::KERNEL_ISA
