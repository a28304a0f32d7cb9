#include "bytes/kernels/kernels.hpp"

#include <omp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "bytes/kernels/isa.hpp"

namespace bytes::kernels {

namespace {
// Σ a[j]·b[j]·c[j] (c optional) with lanes by index (each ISA build's dot_row): the same sum
// wherever the rows lie. (An `omp simd` reduction may start its vectors at an aligned address, so
// its order followed the buffers' addresses, and a resumed run, whose buffers lie elsewhere,
// drifted from a straight one in the last bits.)
inline float ordered_dot(const float* a, const float* b, int64_t n, const float* c = nullptr) {
  static const auto dot = for_this_cpu(avx512::dot_row, avx2::dot_row, generic::dot_row);
  return dot(a, b, c, n);
}

// Below this many elements a kernel runs on the calling thread: forking costs more than it saves,
// and one-token generation steps are made of such calls.
constexpr int64_t min_parallel = 1 << 15;
}  // namespace

void embedding_forward(const int32_t* tokens, int64_t n, const float* table, int64_t d, float* out) {
#pragma omp parallel for schedule(static) if (n * d >= min_parallel)
  for (int64_t i = 0; i < n; ++i) std::memcpy(out + i * d, table + int64_t(tokens[i]) * d, size_t(d) * sizeof(float));
}

void embedding_backward(const int32_t* tokens, int64_t n, const float* dout, int64_t d, float* dtable) {
  // Each thread owns a slice of columns, so rows sharing a token never race and the sum's order
  // is fixed.
#pragma omp parallel
  {
    int nt = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t lo = d * t / nt, hi = d * (t + 1) / nt;
    for (int64_t i = 0; i < n; ++i) {
      float* dst = dtable + int64_t(tokens[i]) * d;
      const float* src = dout + i * d;
      for (int64_t j = lo; j < hi; ++j) dst[j] += src[j];
    }
  }
}

namespace {
// A row of results kept as f32, or rounded to bf16 from a row of scratch.
inline float* row_out(float* y, int64_t, std::vector<float>&) { return y; }
inline float* row_out(bf16_t*, int64_t d, std::vector<float>& scratch) {
  scratch.resize(size_t(d));
  return scratch.data();
}
inline void row_done(float*, const float*, int64_t) {}
inline void row_done(bf16_t* y, const float* row, int64_t d) { to_bf16_row(row, y, size_t(d)); }

template <class Y>
void rmsnorm_rows(const float* x, const float* w, int64_t n, int64_t d, float eps, Y* y, float* rstd) {
#pragma omp parallel for schedule(static) if (n * d >= min_parallel)
  for (int64_t i = 0; i < n; ++i) {
    thread_local std::vector<float> scratch;
    const float* xi = x + i * d;
    const float ss = ordered_dot(xi, xi, d);
    float r = 1.0f / std::sqrt(ss / float(d) + eps);
    rstd[i] = r;
    float* yi = row_out(y + i * d, d, scratch);
#pragma omp simd
    for (int64_t j = 0; j < d; ++j) yi[j] = xi[j] * r * w[j];
    row_done(y + i * d, yi, d);
  }
}
}  // namespace

void rmsnorm_forward(const float* x, const float* w, int64_t n, int64_t d, float eps, float* y, float* rstd) {
  rmsnorm_rows(x, w, n, d, eps, y, rstd);
}
void rmsnorm_forward(const float* x, const float* w, int64_t n, int64_t d, float eps, bf16_t* y, float* rstd) {
  rmsnorm_rows(x, w, n, d, eps, y, rstd);
}

void rmsnorm_backward(const float* dy, const float* x, const float* w, const float* rstd, int64_t n, int64_t d,
                      float* dx, float* dw, bf16_t* dx16) {
  int nt = omp_get_max_threads();
  std::vector<float> partial(size_t(nt * d), 0.0f);
#pragma omp parallel
  {
    float* my = partial.data() + omp_get_thread_num() * d;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const float *dyi = dy + i * d, *xi = x + i * d;
      const float r = rstd[i], dot = ordered_dot(dyi, w, d, xi);
      float c = dot * r * r * r / float(d);
      float* dxi = dx + i * d;
#pragma omp simd
      for (int64_t j = 0; j < d; ++j) {
        dxi[j] += r * dyi[j] * w[j] - c * xi[j];
        my[j] += dyi[j] * xi[j] * r;
      }
      if (dx16) to_bf16_row(dxi, dx16 + i * d, size_t(d));
    }
  }
  for (int t = 0; t < nt; ++t)
    for (int64_t j = 0; j < d; ++j) dw[j] += partial[size_t(t * d + j)];
}

namespace {
// cos and sin of every (position, pair) angle up to the longest position seen, kept between calls
// (a training step would otherwise recompute them in each layer, forward and backward).
struct RopeTable {
  float base = 0;
  int64_t hd = 0, positions = 0;
  std::vector<float> cs, sn;
  void fit(float b, int64_t d, int64_t need) {
    if (b != base || d != hd) base = b, hd = d, positions = 0, cs.clear(), sn.clear();
    if (need <= positions) return;
    const int64_t half = d / 2, grown = std::max(need, 2 * positions);
    cs.resize(size_t(grown * half)), sn.resize(size_t(grown * half));
    for (int64_t p = positions; p < grown; ++p)
      for (int64_t j = 0; j < half; ++j) {
        double angle = double(p) * std::pow(double(b), -2.0 * double(j) / double(d));
        cs[size_t(p * half + j)] = float(std::cos(angle));
        sn[size_t(p * half + j)] = float(std::sin(angle));
      }
    positions = grown;
  }
};
}  // namespace

void rope(float* x, const int64_t* offsets, int64_t S, int64_t stride, int64_t n_heads, int64_t hd, float base,
          bool inverse, int64_t pos0, bf16_t* rounded) {
  const int64_t half = hd / 2;
  int64_t T = 0;
  for (int64_t s = 0; s < S; ++s) T = std::max(T, offsets[s + 1] - offsets[s]);
  thread_local RopeTable table;
  table.fit(base, hd, pos0 + T);
  const float sign = inverse ? -1.0f : 1.0f;
  // The worker threads read this thread's table.
  const float *cos_table = table.cs.data(), *sin_table = table.sn.data();
#pragma omp parallel for schedule(static) if ((offsets[S] - offsets[0]) * stride >= min_parallel)
  for (int64_t s = 0; s < S; ++s)
    for (int64_t r = offsets[s]; r < offsets[s + 1]; ++r) {
      const int64_t p = pos0 + r - offsets[s];
      const float *c = cos_table + p * half, *sv = sin_table + p * half;
      for (int64_t h = 0; h < n_heads; ++h) {
        float* v = x + r * stride + h * hd;
#pragma omp simd
        for (int64_t j = 0; j < half; ++j) {
          float a = v[j], b = v[j + half], sj = sign * sv[j];
          v[j] = a * c[j] - b * sj;
          v[j + half] = b * c[j] + a * sj;
        }
      }
      if (rounded) to_bf16_row(x + r * stride, rounded + r * stride, size_t(stride));  // the row still in L1
    }
}

namespace {
// Which attention build runs a bf16 product, if any: AMX's tiles where oneDNN runs its bf16 products
// on them (Sapphire Rapids; there AVX512_BF16's dot product, one a cycle, does no more than two f32
// FMAs, and the packing made it slower than f32: 75 against 98 GFLOP/s forward at ctx 1024, one
// thread), else AVX512_BF16's dot products; none without either, or where bf16 does not run.
enum class Bf16Build { none, dot, tiles };
Bf16Build bf16_build(Precision p) {
  if (p != Precision::bf16 || !has_avx512_bf16() || !bf16_native()) return Bf16Build::none;
  if (!bf16_tiles()) return Bf16Build::dot;
  static const bool permitted = [] {
    // Linux lends a thread the tile registers only after the process asks (oneDNN has, for its own
    // AMX kernels; asking again is harmless).
    constexpr long arch_req_xcomp_perm = 0x1023, xfeature_xtiledata = 18;
    return syscall(SYS_arch_prctl, arch_req_xcomp_perm, xfeature_xtiledata) == 0;
  }();
  return permitted ? Bf16Build::tiles : Bf16Build::none;
}
}  // namespace

const char* attention_impl(Precision p) {
  switch (bf16_build(p)) {
    case Bf16Build::tiles: return "amx_bf16";
    case Bf16Build::dot: return "avx512_bf16";
    case Bf16Build::none: break;
  }
  return for_this_cpu("avx512", "avx2", "generic");
}

void attention_forward(const float* qkv, const int64_t* offsets, int64_t S, int64_t H, int64_t hd, bool causal,
                       float* out, float* lse, Precision p, bf16_t* out16) {
  const Bf16Build b = bf16_build(p);
  const auto run = b == Bf16Build::tiles ? amx::attention_forward
                   : b == Bf16Build::dot ? avx512bf16::attention_forward
                                         : for_this_cpu(avx512::attention_forward, avx2::attention_forward,
                                                        generic::attention_forward);
  run(qkv, offsets, S, H, hd, causal, out, lse, out16);
}

void attention_backward(const float* qkv, const float* out, const float* dout, const float* lse,
                        const int64_t* offsets, int64_t S, int64_t H, int64_t hd, bool causal, float* dqkv,
                        Precision p) {
  const Bf16Build b = bf16_build(p);
  const auto run = b == Bf16Build::tiles ? amx::attention_backward
                   : b == Bf16Build::dot ? avx512bf16::attention_backward
                                         : for_this_cpu(avx512::attention_backward, avx2::attention_backward,
                                                        generic::attention_backward);
  run(qkv, out, dout, lse, offsets, S, H, hd, causal, dqkv);
}

void attention_decode(const float* q, const float* k, const float* v, int64_t n, int64_t H, int64_t hd, float* out) {
  const int64_t D = H * hd;
  const float scale = 1.0f / std::sqrt(float(hd));
  thread_local std::vector<float> p;  // scores of one head; kept so a step allocates nothing
  p.resize(static_cast<size_t>(n));
  for (int64_t h = 0; h < H; ++h) {
    const float* qh = q + h * hd;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t t = 0; t < n; ++t) {
      const float* kt = k + t * D + h * hd;
      float dot = 0;
#pragma omp simd reduction(+ : dot)
      for (int64_t x = 0; x < hd; ++x) dot += qh[x] * kt[x];
      p[size_t(t)] = dot * scale;
      mx = std::max(mx, p[size_t(t)]);
    }
    float sum = 0;
    for (int64_t t = 0; t < n; ++t) sum += p[size_t(t)] = std::exp(p[size_t(t)] - mx);
    float* oh = out + h * hd;
    std::fill(oh, oh + hd, 0.0f);
    for (int64_t t = 0; t < n; ++t) {
      const float* vt = v + t * D + h * hd;
      const float w = p[size_t(t)] / sum;
#pragma omp simd
      for (int64_t x = 0; x < hd; ++x) oh[x] += w * vt[x];
    }
  }
}

namespace {
template <class S>
void swiglu_rows(const float* gu, int64_t n, int64_t hid, S* s) {
  const auto row = for_this_cpu(avx512::swiglu_forward_row, avx2::swiglu_forward_row, generic::swiglu_forward_row);
#pragma omp parallel for schedule(static) if (n * hid >= min_parallel)
  for (int64_t i = 0; i < n; ++i) {
    thread_local std::vector<float> scratch;
    float* si = row_out(s + i * hid, hid, scratch);
    row(gu + i * 2 * hid, gu + i * 2 * hid + hid, hid, si);
    row_done(s + i * hid, si, hid);
  }
}
}  // namespace

void swiglu_forward(const float* gu, int64_t n, int64_t hid, float* s) { swiglu_rows(gu, n, hid, s); }
void swiglu_forward(const float* gu, int64_t n, int64_t hid, bf16_t* s) { swiglu_rows(gu, n, hid, s); }

namespace {
template <class G>
void swiglu_grad_rows(const float* ds, const float* gu, int64_t n, int64_t hid, G* dgu) {
  const auto row = for_this_cpu(avx512::swiglu_backward_row, avx2::swiglu_backward_row, generic::swiglu_backward_row);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    thread_local std::vector<float> scratch;
    float* gi = row_out(dgu + i * 2 * hid, 2 * hid, scratch);
    row(ds + i * hid, gu + i * 2 * hid, gu + i * 2 * hid + hid, hid, gi, gi + hid);
    row_done(dgu + i * 2 * hid, gi, 2 * hid);
  }
}
}  // namespace

void swiglu_backward(const float* ds, const float* gu, int64_t n, int64_t hid, float* dgu) {
  swiglu_grad_rows(ds, gu, n, hid, dgu);
}
void swiglu_backward(const float* ds, const float* gu, int64_t n, int64_t hid, bf16_t* dgu) {
  swiglu_grad_rows(ds, gu, n, hid, dgu);
}

void cross_entropy(float* logits, const int32_t* targets, int64_t n, int64_t V, float grad_scale, float* losses) {
  const auto row = for_this_cpu(avx512::cross_entropy_row, avx2::cross_entropy_row, generic::cross_entropy_row);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    float* z = logits + i * V;
    if (targets[i] < 0) {
      if (losses) losses[i] = 0;
      if (grad_scale != 0) std::fill(z, z + V, 0.0f);
      continue;
    }
    const float loss = row(z, V, targets[i], grad_scale);
    if (losses) losses[i] = loss;
  }
}

void log_softmax(const float* logits, int64_t V, float* out) {
  float mx = logits[0];
  for (int64_t j = 1; j < V; ++j) mx = std::max(mx, logits[j]);
  double sum = 0;
  for (int64_t j = 0; j < V; ++j) sum += std::exp(double(logits[j] - mx));
  const float log_sum = float(std::log(sum)) + mx;
  for (int64_t j = 0; j < V; ++j) out[j] = logits[j] - log_sum;
}

}  // namespace bytes::kernels
