// Tiled causal attention, compiled for AVX-512, for AVX2+FMA and for the baseline ISA (vec.hpp;
// ATTENTION_ROWS is the query rows of a register block); kernels.cpp picks one at run time. The
// products accumulate each element in the same order at every width.
//
// The fourth build, with KERNEL_PAIRS (AVX-512 with AVX512_BF16), runs the five tile products in
// bf16 with f32 sums: its dot-product instruction adds a0·b0 + a1·b1 into each f32 lane, so both
// operands of a product are held as 32-bit words of two bf16 values, paired along the inner
// dimension. A dot product does not depend on the order of its terms, so each word pairs element
// k with element k + half (half: half the inner length) rather than with k + 1: a row of words is
// then two rows or two half-rows of floats, rounded and packed lane by lane, with no shuffles.
// The softmax and its gradient stay in f32.
//
// The fifth, with KERNEL_AMX as well, hands those products to AMX's tile multiplier (16 × 32 bf16
// by 32 × 16 into 16 × 16 f32 a step), whose operands are the same words: rows of A paired along
// the inner dimension, rows of B one word per column.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <vector>

#include <omp.h>

#include "bytes/kernels/bf16.hpp"
#include "bytes/kernels/isa.hpp"
#include "bytes/kernels/vec.hpp"

#ifndef KERNEL_PAIRS
#define KERNEL_PAIRS 0
#endif
#ifndef KERNEL_AMX
#define KERNEL_AMX 0
#endif
#if KERNEL_PAIRS
#include <immintrin.h>
#endif

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
// In the pairs build: kp, vtp (keys' and values' words paired along hd, transposed: hd/2 × 64 a
// tile), vp, kq (values' and keys' words paired along the keys of a tile), qp, dop (a query tile's
// q and dO paired along hd), qr, dor (q and dO paired across rows), pp (P or dS paired along keys),
// pt (P or dS paired across rows).
struct Scratch {
  std::vector<float> q, k, kt, v, vt, s, dp, acc, dout, dq, dk, dv, m, l, dsum;
  std::vector<uint32_t> kp, vtp, vp, kq, qp, dop, qr, dor, pp, pt;
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
  if (KERNEL_PAIRS) {
    auto grow_words = [](std::vector<uint32_t>& v, int64_t n) {
      if (v.size() < size_t(n)) v.resize(size_t(n));
    };
    for (auto* v : {&w.kp, &w.vtp, &w.vp, &w.kq}) grow_words(*v, (T + tile) * hd / 2);
    for (auto* v : {&w.qp, &w.dop, &w.qr, &w.dor}) grow_words(*v, tile * hd / 2);
    for (auto* v : {&w.pp, &w.pt}) grow_words(*v, tile * tile / 2);
  }
  return w;
}

// A head's rows lie a whole row of qkv apart (4.6 KB at d 384): more than the hardware prefetcher
// follows, so each row read or written would wait on memory. Loops over a head's rows ask for the
// row `ahead` rows on while they handle this one (past the segment or the array is harmless: a
// prefetch never faults). write: the row is about to be written.
constexpr int64_t ahead = 16;
inline void prefetch_row(const float* base, int64_t stride, int64_t t, int64_t hd, bool write = false) {
  constexpr int64_t line = 16;  // floats
  for (int64_t x = 0; x < hd; x += line)
    write ? __builtin_prefetch(base + t * stride + x, 1) : __builtin_prefetch(base + t * stride + x);
}
// n floats to zero as vectors: a short segment's padding, where a call to memset per row cost more
// than the rows' products.
inline void zero(float* p, int64_t n) {
  int64_t i = 0;
  for (; i + W <= n; i += W) store8(p + i, v8{});
  for (; i < n; ++i) p[i] = 0.0f;
}
// Rows [t0, t0 + n) of one head (row stride `stride`) into a tile of `rows` rows (n ≤ rows),
// scaled, zero-padded.
inline void load_rows(const float* base, int64_t stride, int64_t t0, int64_t n, int64_t rows, int64_t hd, float scale,
                      float* out) {
  for (int64_t r = 0; r < n; ++r) {
    prefetch_row(base, stride, t0 + r + ahead, hd);
    for (int64_t x = 0; x < hd; ++x) out[r * hd + x] = base[(t0 + r) * stride + x] * scale;
  }
  zero(out + n * hd, (rows - n) * hd);
}
// The first `rows` rows of `in` transposed, and zeros in the columns of `out` from rows to
// `padded`: the padding rows of a short segment's tile (most of it, for a word's bytes) are not
// transposed one float at a time.
inline void transpose(const float* in, int64_t rows, int64_t padded, int64_t cols, int64_t ld_in, int64_t ld_out,
                      float* out) {
  if (rows < padded)  // whole vectors from the one holding row `rows`, before the rows go in
    for (int64_t c = 0; c < cols; ++c) zero(out + c * ld_out + rows / W * W, padded - rows / W * W);
  const int64_t blocks = cols % W == 0 ? rows / W * W : 0;  // rows in whole W × W blocks
  for (int64_t r = 0; r < blocks; r += W)
    for (int64_t c = 0; c < cols; c += W) transpose_block(in + r * ld_in + c, ld_in, out + c * ld_out + r, ld_out);
  for (int64_t r = blocks; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[c * ld_out + r] = in[r * ld_in + c];
}
// a (hd floats) · row t of a head (row stride `stride`), in lanes.
inline float row_dot(const float* a, const float* base, int64_t stride, int64_t t, int64_t hd) {
  prefetch_row(base, stride, t + ahead, hd);
  const float* b = base + t * stride;
  v8 acc = splat(0.0f);
  int64_t x = 0;
  for (; x + W <= hd; x += W) acc += load8(a + x) * load8(b + x);
  float sum = hsum(acc);
  for (; x < hd; ++x) sum += a[x] * b[x];
  return sum;
}
inline int64_t round_nr(int64_t n) { return (n + NR - 1) / NR * NR; }

#if KERNEL_PAIRS
// C (M × N, ldc) = or += A (M × K words, lda) · B (K × N words, ldb), each word two bf16 values and
// each product of words two products added (AVX512_BF16's dot product); tile_gemm's register
// blocks and diagonals, where A's words pair inner index k with k + half: a word is zero only if
// both of its values are (inner_from_row starts `half` words earlier).
template <bool TransA = false>
__attribute__((always_inline)) inline void pair_gemm(int64_t M, int64_t N, int64_t K, const uint32_t* A, int64_t lda,
                                                     const uint32_t* B, int64_t ldb, float* C, int64_t ldc,
                                                     bool accumulate, Diagonal diag, int64_t half) {
  for (int64_t i = 0; i < M; i += MR) {
    const int64_t mr = std::min<int64_t>(MR, M - i);
    const uint32_t* a[MR];
    for (int64_t r = 0; r < MR; ++r) a[r] = A + (i + std::min(r, mr - 1)) * (TransA ? 1 : lda);
    const int64_t n_end = diag == Diagonal::cols_to_row ? std::min(N, (i + mr + NR - 1) / NR * NR) : N;
    const int64_t k_end = diag == Diagonal::inner_to_row ? std::min(K, i + mr) : K;
    const int64_t k_begin = diag == Diagonal::inner_from_row ? std::clamp<int64_t>(i - half, 0, K) : 0;
    for (int64_t j = 0; j < n_end; j += NR) {
      __m512 c[MR][2];
      for (int64_t r = 0; r < MR; ++r) c[r][0] = c[r][1] = _mm512_setzero_ps();
      for (int64_t k = k_begin; k < k_end; ++k) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(B + k * ldb + j);
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512(B + k * ldb + j + W);
        for (int64_t r = 0; r < MR; ++r) {
          const __m512bh av = (__m512bh)_mm512_set1_epi32(int(a[r][TransA ? k * lda : k]));
          c[r][0] = _mm512_dpbf16_ps(c[r][0], av, b0);
          c[r][1] = _mm512_dpbf16_ps(c[r][1], av, b1);
        }
      }
      for (int64_t r = 0; r < mr; ++r) {
        float* out = C + (i + r) * ldc + j;
        if (accumulate) {
          c[r][0] = _mm512_add_ps(c[r][0], _mm512_loadu_ps(out));
          c[r][1] = _mm512_add_ps(c[r][1], _mm512_loadu_ps(out + W));
        }
        _mm512_storeu_ps(out, c[r][0]);
        _mm512_storeu_ps(out + W, c[r][1]);
      }
    }
  }
}

// x rounded to bf16 (to nearest, ties to even), in the top half of each lane.
inline u8 rounded(v8 x) {
  u8 b;
  __builtin_memcpy(&b, &x, sizeof b);
  return (b + 0x7fffu + ((b >> 16) & 1u)) & 0xffff0000u;
}
// n words (n a multiple of W) pairing lo[x] with hi[x]; hi == nullptr pairs with zeros.
inline void pack_pairs(const float* lo, const float* hi, int64_t n, uint32_t* out) {
  for (int64_t x = 0; x < n; x += W) {
    const u8 word = (rounded(load8(lo + x)) >> 16) | (hi ? rounded(load8(hi + x)) : u8{});
    __builtin_memcpy(out + x, &word, sizeof word);
  }
}
// A row of n floats as n/2 words pairing x with x + n/2.
inline void pack_halves(const float* row, int64_t n, uint32_t* out) { pack_pairs(row, row + n / 2, n / 2, out); }
// c16 rows of hd floats (ld hd) as a tile of words paired along hd, transposed: hd/2 rows of `tile`.
inline void pack_halves_transposed(const float* rows, int64_t c16, int64_t hd, uint32_t* out) {
  uint32_t words[256];
  for (int64_t j = 0; j < c16; ++j) {
    pack_halves(rows + j * hd, hd, words);
    for (int64_t p = 0; p < hd / 2; ++p) out[p * tile + j] = words[p];
  }
}
// The first `half` rows of a block paired with the rows `half` further on (zeros past `rows`).
inline void pack_row_pairs(const float* block, int64_t ld, int64_t rows, int64_t half, int64_t n, uint32_t* out,
                           int64_t ld_out) {
  for (int64_t q = 0; q < half; ++q)
    if (q < rows)
      pack_pairs(block + q * ld, q + half < rows ? block + (q + half) * ld : nullptr, n, out + q * ld_out);
    else
      std::fill(out + q * ld_out, out + q * ld_out + n, 0u);
}
#endif

#if KERNEL_AMX
// Tiles 0–4 as 16 rows of 64 bytes. The configuration is each thread's register state: set at the
// start of each call's parallel region, released at its end.
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};
inline void configure_tiles() {
  TileConfig c;
  for (int t = 0; t < 5; ++t) c.colsb[t] = 64, c.rows[t] = 16;
  _tile_loadconfig(&c);
}

// C (M × N, ldc floats) = or += A (M × K words, lda) · B (K × N words, ldb) in 16 × 32 blocks (two
// C tiles share each A tile). M is read and written in whole 16-row blocks: the rows past M are
// scratch whose results no one reads. N a multiple of 32, K of 16.
void amx_gemm(int64_t M, int64_t N, int64_t K, const uint32_t* A, int64_t lda, const uint32_t* B, int64_t ldb, float* C,
              int64_t ldc, bool accumulate) {
  for (int64_t i = 0; i < M; i += 16)
    for (int64_t j = 0; j < N; j += 32) {
      float* c = C + i * ldc + j;
      if (accumulate) {
        _tile_loadd(0, c, ldc * 4);
        _tile_loadd(1, c + 16, ldc * 4);
      } else {
        _tile_zero(0);
        _tile_zero(1);
      }
      for (int64_t k = 0; k < K; k += 16) {
        _tile_loadd(2, A + i * lda + k, lda * 4);
        _tile_loadd(3, B + k * ldb + j, ldb * 4);
        _tile_loadd(4, B + k * ldb + j + 16, ldb * 4);
        _tile_dpbf16ps(0, 2, 3);
        _tile_dpbf16ps(1, 2, 4);
      }
      _tile_stored(0, c, ldc * 4);
      _tile_stored(1, c + 16, ldc * 4);
    }
}
#endif

#if KERNEL_PAIRS
// A product of words (A's rows paired along the inner dimension, `half` apart): AMX's where it
// runs, whole tiles, the diagonal's zeros multiplied too; else the vector dot products.
inline void pair_product(int64_t M, int64_t N, int64_t K, const uint32_t* A, int64_t lda, const uint32_t* B,
                         int64_t ldb, float* C, int64_t ldc, bool accumulate, Diagonal diag, int64_t half) {
#if KERNEL_AMX
  (void)diag, (void)half;
  amx_gemm(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
#else
  pair_gemm(M, N, K, A, lda, B, ldb, C, ldc, accumulate, diag, half);
#endif
}
// Query rows pair r with r + half: AMX's inner dimension comes in 16 words, so there half is 32
// whatever the tile's rows (the words past them hold zeros).
inline int64_t row_pair_half(int64_t rows) { return KERNEL_AMX ? tile / 2 : (rows + 1) / 2; }
#endif

// The keys and values of one segment and head, key tile by key tile, in the layouts the products
// read. f32: rows zero-padded to a multiple of NR (k, v) and the transposes (kt, and vt for the
// backward). Pairs: kp (and vtp) paired along hd; vp (forward) or kq (backward) paired along keys.
void prepare_keys(const float* kb, const float* vb, int64_t stride, int64_t T, int64_t hd, bool backward, Scratch& w) {
  for (int64_t j0 = 0; j0 < T; j0 += tile) {
    const int64_t cols = std::min(tile, T - j0), c16 = round_nr(cols), at = j0 * hd;
    load_rows(kb, stride, j0, cols, c16, hd, 1.0f, w.k.data() + at);
    load_rows(vb, stride, j0, cols, c16, hd, 1.0f, w.v.data() + at);
#if KERNEL_PAIRS
    pack_halves_transposed(w.k.data() + at, c16, hd, w.kp.data() + at / 2);
    if (backward) {
      pack_halves_transposed(w.v.data() + at, c16, hd, w.vtp.data() + at / 2);
      pack_row_pairs(w.k.data() + at, hd, c16, c16 / 2, hd, w.kq.data() + at / 2, hd);
    } else {
      pack_row_pairs(w.v.data() + at, hd, c16, c16 / 2, hd, w.vp.data() + at / 2, hd);
    }
#else
    transpose(w.k.data() + at, cols, c16, hd, hd, tile, w.kt.data() + at);
    if (backward) transpose(w.v.data() + at, cols, c16, hd, hd, tile, w.vt.data() + at);
#endif
  }
}

// A query tile's q (and for the backward dO) rows, loaded in w.q (and w.dout), in the layouts the
// pairs build's products read: paired along hd (qp, dop) and across rows (qr, dor).
inline void pack_queries([[maybe_unused]] int64_t rows, [[maybe_unused]] int64_t hd, [[maybe_unused]] bool backward,
                         [[maybe_unused]] Scratch& w) {
#if KERNEL_PAIRS
  for (int64_t r = 0; r < rows; ++r) pack_halves(w.q.data() + r * hd, hd, w.qp.data() + r * hd / 2);
  if (!backward) return;
  for (int64_t r = 0; r < rows; ++r) pack_halves(w.dout.data() + r * hd, hd, w.dop.data() + r * hd / 2);
  const int64_t half = row_pair_half(rows);
  pack_row_pairs(w.q.data(), hd, rows, half, hd, w.qr.data(), hd);
  pack_row_pairs(w.dout.data(), hd, rows, half, hd, w.dor.data(), hd);
#endif
}

// S (rows × c16, in w.s) = Q·Kᵀ of the key tile at j0.
inline void scores(int64_t rows, int64_t c16, int64_t hd, int64_t j0, Diagonal diag, Scratch& w) {
#if KERNEL_PAIRS
  pair_product(rows, c16, hd / 2, w.qp.data(), hd / 2, w.kp.data() + j0 * hd / 2, tile, w.s.data(), tile, false, diag,
               0);
#else
  tile_gemm(rows, c16, hd, w.q.data(), hd, w.kt.data() + j0 * hd, tile, w.s.data(), tile, false, diag);
#endif
}

// dP (rows × c16, in w.dp) = dO·Vᵀ of the key tile at j0.
inline void score_grads(int64_t rows, int64_t c16, int64_t hd, int64_t j0, Diagonal diag, Scratch& w) {
#if KERNEL_PAIRS
  pair_product(rows, c16, hd / 2, w.dop.data(), hd / 2, w.vtp.data() + j0 * hd / 2, tile, w.dp.data(), tile, false,
               diag, 0);
#else
  tile_gemm(rows, c16, hd, w.dout.data(), hd, w.vt.data() + j0 * hd, tile, w.dp.data(), tile, false, diag);
#endif
}

// w.acc (rows × hd) = or += P·V, P (in w.s) zero past the visible keys.
inline void add_values(int64_t rows, int64_t cols, int64_t c16, int64_t hd, int64_t j0, bool accumulate,
                       Diagonal diag, Scratch& w) {
#if KERNEL_PAIRS
  (void)cols;
  for (int64_t r = 0; r < rows; ++r) pack_halves(w.s.data() + r * tile, c16, w.pp.data() + r * tile / 2);
  pair_product(rows, hd, c16 / 2, w.pp.data(), tile / 2, w.vp.data() + j0 * hd / 2, hd, w.acc.data(), hd, accumulate,
               diag, c16 / 2);
#else
  (void)c16;
  tile_gemm(rows, hd, cols, w.s.data(), tile, w.v.data() + j0 * hd, hd, w.acc.data(), hd, accumulate, diag);
#endif
}

// dV += Pᵀ·dO and dK += dSᵀ·Q for the key tile at j0: reductions over the tile's query rows.
inline void add_key_value_grads(int64_t rows, int64_t c16, int64_t hd, int64_t j0, Diagonal from, Scratch& w) {
  float *dv = w.dv.data() + j0 * hd, *dk = w.dk.data() + j0 * hd;
#if KERNEL_AMX
  // AMX reads A by rows: Pᵀ and dSᵀ packed as c16 rows of 32 words.
  (void)from;
  uint32_t* transposed = w.pp.data();
  for (const auto& [a, b, out] : {std::tuple{w.s.data(), w.dor.data(), dv}, std::tuple{w.dp.data(), w.qr.data(), dk}}) {
    pack_row_pairs(a, tile, rows, tile / 2, c16, w.pt.data(), tile);
    for (int64_t q = 0; q < tile / 2; ++q)
      for (int64_t c = 0; c < c16; ++c) transposed[c * (tile / 2) + q] = w.pt[size_t(q * tile + c)];
    amx_gemm(c16, hd, tile / 2, transposed, tile / 2, b, hd, out, hd, true);
  }
#elif KERNEL_PAIRS
  const int64_t half = row_pair_half(rows);
  pack_row_pairs(w.s.data(), tile, rows, half, c16, w.pt.data(), tile);
  pair_gemm<true>(c16, hd, half, w.pt.data(), tile, w.dor.data(), hd, dv, hd, true, from, half);
  pack_row_pairs(w.dp.data(), tile, rows, half, c16, w.pt.data(), tile);
  pair_gemm<true>(c16, hd, half, w.pt.data(), tile, w.qr.data(), hd, dk, hd, true, from, half);
#else
  // P and dS read in place, transposed.
  tile_gemm<true>(c16, hd, rows, w.s.data(), tile, w.dout.data(), hd, dv, hd, true, from);
  tile_gemm<true>(c16, hd, rows, w.dp.data(), tile, w.q.data(), hd, dk, hd, true, from);
#endif
}

// dQ (w.dq, rows × hd) += dS·K for the key tile at j0.
inline void add_query_grads(int64_t rows, int64_t c16, int64_t hd, int64_t j0, Diagonal diag, Scratch& w) {
#if KERNEL_PAIRS
  for (int64_t r = 0; r < rows; ++r) pack_halves(w.dp.data() + r * tile, c16, w.pp.data() + r * tile / 2);
  pair_product(rows, hd, c16 / 2, w.pp.data(), tile / 2, w.kq.data() + j0 * hd / 2, hd, w.dq.data(), hd, true, diag,
               c16 / 2);
#else
  tile_gemm(rows, hd, c16, w.dp.data(), tile, w.k.data() + j0 * hd, hd, w.dq.data(), hd, true, diag);
#endif
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

// p[c] = exp(s[c] − shift) for c < visible, else 0, over the first `width` (a multiple of W)
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

// (segment, head) pairs a thread takes at a time: about a tile of rows, so that short segments
// (a word's bytes) do not pay the shared counter of dynamic scheduling once each.
int64_t pairs_per_chunk(const int64_t* offsets, int64_t S) {
  return std::max<int64_t>(1, tile * S / std::max<int64_t>(1, offsets[S] - offsets[0]));
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

// Segments of at most short_rows rows (a word's bytes: 6 on average in English) skip the tiles:
// padded to NR keys and copied into scratch, a segment of 6 cost 0.6 µs a head in the tiled
// forward for 0.02 µs of products. Here each query row's scores are dot products with the key
// rows, its softmax one or two vectors, and its output the value rows weighted in registers.
// The segment's rows are first copied into compact rows, and the products' operands are rounded
// as the tiles' are (bf16 in the pairs builds: q·scale, k, v, P, dO and dS), so that a bf16
// model's attention does not depend on which path a segment takes.
// Where the tiles start to win (AVX-512, f32; 6600 rows, 4 heads): at 6 rows a segment the
// forward took 2.60 ms tiled and 1.08 here, the backward 7.13 and 2.13; at 16 rows 2.27 / 1.23
// and 5.48 / 2.68; at 24 the tiled backward won (4.39 against 4.64).
constexpr int64_t short_rows = 16;

// A product's operand as the tiles' products take it: bf16 in the pairs builds.
inline v8 operand(v8 x) {
#if KERNEL_PAIRS
  const u8 b = rounded(x);
  __builtin_memcpy(&x, &b, sizeof x);
#endif
  return x;
}
inline float operand(float x) { return operand(splat(x))[0]; }

// Rows [0, T) of one head (row stride `stride`) times `scale`, as operands, into T × hd.
inline void compact_rows(const float* base, int64_t stride, int64_t T, int64_t hd, float scale, float* out) {
  for (int64_t t = 0; t < T; ++t)
    for (int64_t x = 0; x < hd; x += W) store8(out + t * hd + x, operand(load8(base + t * stride + x) * splat(scale)));
}

inline float dot(const float* a, const float* b, int64_t hd) {
  v8 acc = load8(a) * load8(b);
  for (int64_t x = W; x < hd; x += W) acc += load8(a + x) * load8(b + x);
  return hsum(acc);
}

// exp_row over a short row: p[0 … n) = exp(p − shift), zeros up to a multiple of W (p holds
// short_rows rounded up); returns the sum.
inline float exp_short(float* p, int64_t n, float shift) { return exp_row(p, shift, n, (n + W - 1) / W * W); }

// The keys query row i sees in a short segment of T rows.
inline int64_t seen(bool causal, int64_t i, int64_t T) { return causal ? i + 1 : T; }

// One short segment and head: q, k, v rows at qb, qb + D, qb + 2·D (row stride `stride`); output
// rows at o (row stride D), their bf16 copies at o16 where given; lse at lse (stride H).
void short_forward(const float* qb, int64_t stride, int64_t D, int64_t T, int64_t hd, bool causal, float scale,
                   float* o, uint16_t* o16, float* lse, int64_t H, Scratch& w) {
  float *q = w.q.data(), *k = w.k.data(), *v = w.v.data();
  compact_rows(qb, stride, T, hd, scale, q);
  compact_rows(qb + D, stride, T, hd, 1.0f, k);
  compact_rows(qb + 2 * D, stride, T, hd, 1.0f, v);
  alignas(64) float p[short_rows + W];
  for (int64_t i = 0; i < T; ++i) {
    const int64_t n = seen(causal, i, T);
    float mx = -1e30f;
    for (int64_t j = 0; j < n; ++j) mx = std::max(mx, p[j] = dot(q + i * hd, k + j * hd, hd));
    const float l = exp_short(p, n, mx), inv = 1.0f / l;
    for (int64_t j = 0; j < n; ++j) p[j] = operand(p[j]);
    float* out = o + i * D;
    for (int64_t x = 0; x < hd; x += W) {
      v8 acc{};
      for (int64_t j = 0; j < n; ++j) acc += splat(p[j]) * load8(v + j * hd + x);
      store8(out + x, acc * splat(inv));
    }
    if (o16) to_bf16_row(out, o16 + i * D, size_t(hd));
    lse[i * H] = mx + std::log(l);
  }
}

// Its backward: dq, dk, dv rows from dq (dqkv's q part of the segment's first row, row stride
// `stride`), the keys' and values' gradients gathered in scratch first.
void short_backward(const float* qb, const float* ob, const float* dob, const float* lse, int64_t stride, int64_t D,
                    int64_t T, int64_t hd, bool causal, float scale, int64_t H, float* dq, Scratch& w) {
  float *q = w.q.data(), *k = w.k.data(), *v = w.v.data(), *dout = w.dout.data(), *dk = w.dk.data(), *dv = w.dv.data();
  compact_rows(qb, stride, T, hd, scale, q);
  compact_rows(qb + D, stride, T, hd, 1.0f, k);
  compact_rows(qb + 2 * D, stride, T, hd, 1.0f, v);
  compact_rows(dob, D, T, hd, 1.0f, dout);
  std::fill(dk, dk + T * hd, 0.0f);
  std::fill(dv, dv + T * hd, 0.0f);
  alignas(64) float p[short_rows + W], ds[short_rows + W];
  for (int64_t i = 0; i < T; ++i) {
    const int64_t n = seen(causal, i, T);
    const float* qi = q + i * hd;
    const float* di = dout + i * hd;
    const float dsum = dot(dob + i * D, ob + i * D, hd);  // dO·O in f32, as the tiles take it
    for (int64_t j = 0; j < n; ++j) p[j] = dot(qi, k + j * hd, hd);
    exp_short(p, n, lse[i * H]);
    for (int64_t j = 0; j < n; ++j) ds[j] = operand(p[j] * (dot(di, v + j * hd, hd) - dsum)), p[j] = operand(p[j]);
    float* dqi = dq + i * stride;
    for (int64_t x = 0; x < hd; x += W) {
      v8 acc{};
      const v8 qx = load8(qi + x), dx = load8(di + x);
      for (int64_t j = 0; j < n; ++j) {
        acc += splat(ds[j]) * load8(k + j * hd + x);
        store8(dk + j * hd + x, load8(dk + j * hd + x) + splat(ds[j]) * qx);
        store8(dv + j * hd + x, load8(dv + j * hd + x) + splat(p[j]) * dx);
      }
      store8(dqi + x, acc * splat(scale));
    }
  }
  for (int64_t t = 0; t < T; ++t) {
    std::memcpy(dq + t * stride + D, dk + t * hd, size_t(hd) * sizeof(float));
    std::memcpy(dq + t * stride + 2 * D, dv + t * hd, size_t(hd) * sizeof(float));
  }
}

inline bool is_short(int64_t T, int64_t hd) { return T <= short_rows && hd % W == 0; }

}  // namespace

void attention_forward(const float* qkv, const int64_t* offsets, int64_t S, int64_t H, int64_t hd, bool causal,
                       float* out, float* lse, uint16_t* out16) {
  const int64_t D = H * hd, stride = 3 * D, T_max = longest(offsets, S), chunk = pairs_per_chunk(offsets, S);
  const float scale = 1.0f / std::sqrt(float(hd));
#pragma omp parallel if (offsets[S] * D >= (1 << 14))
  {
    Scratch& w = scratch(T_max, hd);
#if KERNEL_AMX
    configure_tiles();
#endif
#pragma omp for collapse(2) schedule(dynamic, chunk)
    for (int64_t sg = 0; sg < S; ++sg)
      for (int64_t h = 0; h < H; ++h) {
        const int64_t row0 = offsets[sg], T = offsets[sg + 1] - row0;
        const float* qb = qkv + row0 * stride + h * hd;
        if (is_short(T, hd)) {
          const int64_t at = row0 * D + h * hd;
          short_forward(qb, stride, D, T, hd, causal, scale, out + at, out16 ? out16 + at : nullptr, lse + row0 * H + h, H,
                        w);
          continue;
        }
        const float *kb = qb + D, *vb = qb + 2 * D;
        prepare_keys(kb, vb, stride, T, hd, false, w);
        for (int64_t i0 = 0; i0 < T; i0 += tile) {
          const int64_t rows = std::min(tile, T - i0);
          load_rows(qb, stride, i0, rows, rows, hd, scale, w.q.data());
          pack_queries(rows, hd, false, w);
          std::fill(w.m.begin(), w.m.end(), -1e30f);
          std::fill(w.l.begin(), w.l.end(), 0.0f);
          for (int64_t j0 = 0; j0 < (causal ? i0 + rows : T); j0 += tile) {
            const int64_t cols = std::min(tile, T - j0), c16 = round_nr(cols);
            const bool diagonal = causal && j0 == i0;
            scores(rows, c16, hd, j0, diagonal ? Diagonal::cols_to_row : Diagonal::none, w);
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
            add_values(rows, cols, c16, hd, j0, j0 > 0, diagonal ? Diagonal::inner_to_row : Diagonal::none, w);
          }
          for (int64_t r = 0; r < rows; ++r) {
            const float inv = 1.0f / w.l[size_t(r)];
            float* o = out + (row0 + i0 + r) * D + h * hd;
            prefetch_row(o, D, ahead, hd, true);
            for (int64_t x = 0; x < hd; ++x) o[x] = w.acc[size_t(r * hd + x)] * inv;
            if (out16) to_bf16_row(o, out16 + (o - out), size_t(hd));
            lse[(row0 + i0 + r) * H + h] = w.m[size_t(r)] + std::log(w.l[size_t(r)]);
          }
        }
      }
#if KERNEL_AMX
    _tile_release();
#endif
  }
}

void attention_backward(const float* qkv, const float* out, const float* dout, const float* lse,
                        const int64_t* offsets, int64_t S, int64_t H, int64_t hd, bool causal, float* dqkv) {
  const int64_t D = H * hd, stride = 3 * D, T_max = longest(offsets, S), chunk = pairs_per_chunk(offsets, S);
  const float scale = 1.0f / std::sqrt(float(hd));
#pragma omp parallel if (offsets[S] * D >= (1 << 14))
  {
    Scratch& w = scratch(T_max, hd);
#if KERNEL_AMX
    configure_tiles();
#endif
#pragma omp for collapse(2) schedule(dynamic, chunk)
    for (int64_t sg = 0; sg < S; ++sg)
      for (int64_t h = 0; h < H; ++h) {
        const int64_t row0 = offsets[sg], T = offsets[sg + 1] - row0;
        const float* qb = qkv + row0 * stride + h * hd;
        const float *kb = qb + D, *vb = qb + 2 * D;
        const float* dob = dout + row0 * D + h * hd;
        const float* ob = out + row0 * D + h * hd;
        if (is_short(T, hd)) {
          short_backward(qb, ob, dob, lse + row0 * H + h, stride, D, T, hd, causal, scale, H,
                         dqkv + row0 * stride + h * hd, w);
          continue;
        }
        // The key rows the products add into: every tile's rows, the last one's rounded up to NR
        // (tiles are a multiple of NR). Zeroing no more matters where segments are short (a
        // word's bytes): a whole tile's zeros would cost more than the segment's products.
        std::fill(w.dk.begin(), w.dk.begin() + round_nr(T) * hd, 0.0f);
        std::fill(w.dv.begin(), w.dv.begin() + round_nr(T) * hd, 0.0f);
        prepare_keys(kb, vb, stride, T, hd, true, w);
        for (int64_t i0 = 0; i0 < T; i0 += tile) {
          const int64_t rows = std::min(tile, T - i0);
          load_rows(qb, stride, i0, rows, rows, hd, scale, w.q.data());
          load_rows(dob, D, i0, rows, rows, hd, 1.0f, w.dout.data());
          pack_queries(rows, hd, true, w);
          for (int64_t r = 0; r < rows; ++r) w.dsum[size_t(r)] = row_dot(w.dout.data() + r * hd, ob, D, i0 + r, hd);
          std::fill(w.dq.begin(), w.dq.begin() + rows * hd, 0.0f);  // the rows read back
          for (int64_t j0 = 0; j0 < (causal ? i0 + rows : T); j0 += tile) {
            const int64_t cols = std::min(tile, T - j0), c16 = round_nr(cols);
            const bool diagonal = causal && j0 == i0;
            const Diagonal masked_cols = diagonal ? Diagonal::cols_to_row : Diagonal::none;
            scores(rows, c16, hd, j0, masked_cols, w);
            score_grads(rows, c16, hd, j0, masked_cols, w);
            for (int64_t r = 0; r < rows; ++r) {
              float *p = w.s.data() + r * tile, *dp = w.dp.data() + r * tile;
              exp_row(p, lse[(row0 + i0 + r) * H + h], visible_keys(causal, cols, i0 + r, j0), c16);
              const float dsum = w.dsum[size_t(r)];
              for (int64_t c = 0; c < c16; ++c) dp[c] = p[c] * (dp[c] - dsum);  // dS
            }
            add_key_value_grads(rows, c16, hd, j0, diagonal ? Diagonal::inner_from_row : Diagonal::none, w);
            add_query_grads(rows, c16, hd, j0, diagonal ? Diagonal::inner_to_row : Diagonal::none, w);
          }
          for (int64_t r = 0; r < rows; ++r) {
            float* dq = dqkv + (row0 + i0 + r) * stride + h * hd;
            prefetch_row(dq, stride, ahead, hd, true);
            for (int64_t x = 0; x < hd; ++x) dq[x] = w.dq[size_t(r * hd + x)] * scale;
          }
        }
        for (int64_t t = 0; t < T; ++t) {
          float* dk = dqkv + (row0 + t) * stride + D + h * hd;
          float* dv = dk + D;
          prefetch_row(dk, stride, ahead, hd, true);
          prefetch_row(dv, stride, ahead, hd, true);
          std::memcpy(dk, w.dk.data() + t * hd, size_t(hd) * sizeof(float));
          std::memcpy(dv, w.dv.data() + t * hd, size_t(hd) * sizeof(float));
        }
      }
#if KERNEL_AMX
    _tile_release();
#endif
  }
}

}  // namespace bytes::kernels::KERNEL_ISA
