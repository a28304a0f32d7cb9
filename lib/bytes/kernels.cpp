#include "bytes/kernels.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace bytes::kernels {

void embedding_forward(const int32_t* tokens, int64_t n, const float* table, int64_t d, float* out) {
#pragma omp parallel for schedule(static)
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

void rmsnorm_forward(const float* x, const float* w, int64_t n, int64_t d, float eps, float* y, float* rstd) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float* xi = x + i * d;
    float ss = 0;
#pragma omp simd reduction(+ : ss)
    for (int64_t j = 0; j < d; ++j) ss += xi[j] * xi[j];
    float r = 1.0f / std::sqrt(ss / float(d) + eps);
    rstd[i] = r;
    float* yi = y + i * d;
#pragma omp simd
    for (int64_t j = 0; j < d; ++j) yi[j] = xi[j] * r * w[j];
  }
}

void rmsnorm_backward(const float* dy, const float* x, const float* w, const float* rstd, int64_t n, int64_t d,
                      float* dx, float* dw) {
  int nt = omp_get_max_threads();
  std::vector<float> partial(size_t(nt * d), 0.0f);
#pragma omp parallel
  {
    float* my = partial.data() + omp_get_thread_num() * d;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const float *dyi = dy + i * d, *xi = x + i * d;
      float r = rstd[i], dot = 0;
#pragma omp simd reduction(+ : dot)
      for (int64_t j = 0; j < d; ++j) dot += dyi[j] * w[j] * xi[j];
      float c = dot * r * r * r / float(d);
      float* dxi = dx + i * d;
#pragma omp simd
      for (int64_t j = 0; j < d; ++j) {
        dxi[j] += r * dyi[j] * w[j] - c * xi[j];
        my[j] += dyi[j] * xi[j] * r;
      }
    }
  }
  for (int t = 0; t < nt; ++t)
    for (int64_t j = 0; j < d; ++j) dw[j] += partial[size_t(t * d + j)];
}

void rope(float* x, int64_t rows, int64_t T, int64_t stride, int64_t n_heads, int64_t hd, float base, bool inverse) {
  const int64_t half = hd / 2;
  std::vector<float> cs(size_t(T * half)), sn(size_t(T * half));
  for (int64_t p = 0; p < T; ++p)
    for (int64_t j = 0; j < half; ++j) {
      double angle = double(p) * std::pow(double(base), -2.0 * double(j) / double(hd));
      cs[size_t(p * half + j)] = float(std::cos(angle));
      sn[size_t(p * half + j)] = float(inverse ? -std::sin(angle) : std::sin(angle));
    }
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float *c = cs.data() + (r % T) * half, *s = sn.data() + (r % T) * half;
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + r * stride + h * hd;
#pragma omp simd
      for (int64_t j = 0; j < half; ++j) {
        float a = v[j], b = v[j + half];
        v[j] = a * c[j] - b * s[j];
        v[j + half] = b * c[j] + a * s[j];
      }
    }
  }
}

namespace {

constexpr int64_t tile = 64;  // query and key rows per tile

// Scratch of one thread for one head: tiles of q, kᵀ, v, scores and accumulators.
struct Scratch {
  std::vector<float> q, kt, vt, s, acc, dp, dq, dk, dv, m, l, dsum;
  Scratch(int64_t T, int64_t hd)
      : q(size_t(tile * hd)), kt(size_t(hd * tile)), vt(size_t(hd * tile)), s(size_t(tile * tile)),
        acc(size_t(tile * hd)), dp(size_t(tile * tile)), dq(size_t(tile * hd)), dk(size_t(T * hd)),
        dv(size_t(T * hd)), m(tile), l(tile), dsum(tile) {}
};

// s (rows × cols, stride tile) = a (rows × hd) · bt (hd × cols, stride tile)
inline void tile_scores(const float* __restrict a, const float* __restrict bt, int64_t rows, int64_t cols, int64_t hd,
                        float* __restrict s) {
  for (int64_t r = 0; r < rows; ++r) {
    float row[tile] = {};
    for (int64_t k = 0; k < hd; ++k) {
      float av = a[r * hd + k];
      const float* b = bt + k * tile;
#pragma omp simd
      for (int64_t c = 0; c < tile; ++c) row[c] += av * b[c];
    }
    std::memcpy(s + r * tile, row, size_t(cols) * sizeof(float));
  }
}

// Loads rows [t0, t0 + n) of one head's k (or v) transposed into out (hd × tile).
inline void load_transposed(const float* base, int64_t row_stride, int64_t t0, int64_t n, int64_t hd, float* out) {
  for (int64_t c = 0; c < n; ++c) {
    const float* src = base + (t0 + c) * row_stride;
    for (int64_t k = 0; k < hd; ++k) out[k * tile + c] = src[k];
  }
}

}  // namespace

void attention_forward(const float* qkv, int64_t B, int64_t T, int64_t H, int64_t hd, float* out, float* lse) {
  const int64_t D = H * hd, stride = 3 * D;
  const float scale = 1.0f / std::sqrt(float(hd));
#pragma omp parallel
  {
    Scratch w(T, hd);
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h) {
        const float* qb = qkv + b * T * stride + h * hd;
        const float *kb = qb + D, *vb = qb + 2 * D;
        for (int64_t i0 = 0; i0 < T; i0 += tile) {
          const int64_t rows = std::min(tile, T - i0);
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t k = 0; k < hd; ++k) w.q[size_t(r * hd + k)] = qb[(i0 + r) * stride + k] * scale;
          std::fill(w.m.begin(), w.m.end(), -std::numeric_limits<float>::infinity());
          std::fill(w.l.begin(), w.l.end(), 0.0f);
          std::fill(w.acc.begin(), w.acc.end(), 0.0f);
          for (int64_t j0 = 0; j0 < i0 + rows; j0 += tile) {
            const int64_t cols = std::min(tile, T - j0);
            load_transposed(kb, stride, j0, cols, hd, w.kt.data());
            tile_scores(w.q.data(), w.kt.data(), rows, cols, hd, w.s.data());
            for (int64_t r = 0; r < rows; ++r) {
              float* s = w.s.data() + r * tile;
              const int64_t visible = std::min(cols, i0 + r - j0 + 1);  // causal: keys <= query
              if (visible <= 0) continue;
              float mx = w.m[size_t(r)];
              for (int64_t c = 0; c < visible; ++c) mx = std::max(mx, s[c]);
              const float corr = std::exp(w.m[size_t(r)] - mx);
              float sum = 0;
              for (int64_t c = 0; c < visible; ++c) {
                s[c] = std::exp(s[c] - mx);
                sum += s[c];
              }
              w.l[size_t(r)] = w.l[size_t(r)] * corr + sum;
              w.m[size_t(r)] = mx;
              float* acc = w.acc.data() + r * hd;
#pragma omp simd
              for (int64_t k = 0; k < hd; ++k) acc[k] *= corr;
              for (int64_t c = 0; c < visible; ++c) {
                const float p = s[c];
                const float* v = vb + (j0 + c) * stride;
#pragma omp simd
                for (int64_t k = 0; k < hd; ++k) acc[k] += p * v[k];
              }
            }
          }
          for (int64_t r = 0; r < rows; ++r) {
            const float inv = 1.0f / w.l[size_t(r)];
            float* o = out + (b * T + i0 + r) * D + h * hd;
            for (int64_t k = 0; k < hd; ++k) o[k] = w.acc[size_t(r * hd + k)] * inv;
            lse[(b * H + h) * T + i0 + r] = w.m[size_t(r)] + std::log(w.l[size_t(r)]);
          }
        }
      }
  }
}

void attention_backward(const float* qkv, const float* out, const float* dout, const float* lse, int64_t B,
                        int64_t T, int64_t H, int64_t hd, float* dqkv) {
  const int64_t D = H * hd, stride = 3 * D;
  const float scale = 1.0f / std::sqrt(float(hd));
#pragma omp parallel
  {
    Scratch w(T, hd);
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h) {
        const float* qb = qkv + b * T * stride + h * hd;
        const float *kb = qb + D, *vb = qb + 2 * D;
        const float* dob = dout + b * T * D + h * hd;
        const float* ob = out + b * T * D + h * hd;
        const float* lb = lse + (b * H + h) * T;
        std::fill(w.dk.begin(), w.dk.end(), 0.0f);
        std::fill(w.dv.begin(), w.dv.end(), 0.0f);
        for (int64_t i0 = 0; i0 < T; i0 += tile) {
          const int64_t rows = std::min(tile, T - i0);
          for (int64_t r = 0; r < rows; ++r) {
            const float *qr = qb + (i0 + r) * stride, *dor = dob + (i0 + r) * D, *orow = ob + (i0 + r) * D;
            float dsum = 0;
            for (int64_t k = 0; k < hd; ++k) {
              w.q[size_t(r * hd + k)] = qr[k] * scale;
              w.acc[size_t(r * hd + k)] = dor[k];  // dO tile
              dsum += dor[k] * orow[k];
            }
            w.dsum[size_t(r)] = dsum;
          }
          std::fill(w.dq.begin(), w.dq.end(), 0.0f);
          for (int64_t j0 = 0; j0 < i0 + rows; j0 += tile) {
            const int64_t cols = std::min(tile, T - j0);
            load_transposed(kb, stride, j0, cols, hd, w.kt.data());
            load_transposed(vb, stride, j0, cols, hd, w.vt.data());
            tile_scores(w.q.data(), w.kt.data(), rows, cols, hd, w.s.data());
            tile_scores(w.acc.data(), w.vt.data(), rows, cols, hd, w.dp.data());
            for (int64_t r = 0; r < rows; ++r) {
              float *p = w.s.data() + r * tile, *dp = w.dp.data() + r * tile;
              const int64_t visible = std::min(cols, i0 + r - j0 + 1);
              const float l = lb[i0 + r];
              for (int64_t c = 0; c < cols; ++c) {
                p[c] = c < visible ? std::exp(p[c] - l) : 0.0f;
                dp[c] = p[c] * (dp[c] - w.dsum[size_t(r)]);  // dS
              }
              const float *dor = w.acc.data() + r * hd, *qr = w.q.data() + r * hd;
              float* dqr = w.dq.data() + r * hd;
              for (int64_t c = 0; c < visible; ++c) {
                float* dv = w.dv.data() + (j0 + c) * hd;
                float* dk = w.dk.data() + (j0 + c) * hd;
                const float* k = kb + (j0 + c) * stride;
                const float pc = p[c], ds = dp[c];
#pragma omp simd
                for (int64_t x = 0; x < hd; ++x) {
                  dv[x] += pc * dor[x];
                  dk[x] += ds * qr[x];
                  dqr[x] += ds * k[x];
                }
              }
            }
          }
          for (int64_t r = 0; r < rows; ++r) {
            float* dq = dqkv + (b * T + i0 + r) * stride + h * hd;
            for (int64_t k = 0; k < hd; ++k) dq[k] = w.dq[size_t(r * hd + k)] * scale;
          }
        }
        for (int64_t t = 0; t < T; ++t) {
          float* dk = dqkv + (b * T + t) * stride + D + h * hd;
          float* dv = dk + D;
          std::memcpy(dk, w.dk.data() + t * hd, size_t(hd) * sizeof(float));
          std::memcpy(dv, w.dv.data() + t * hd, size_t(hd) * sizeof(float));
        }
      }
  }
}

void swiglu_forward(const float* gu, int64_t n, int64_t hid, float* s) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float *g = gu + i * 2 * hid, *u = g + hid;
    float* si = s + i * hid;
#pragma omp simd
    for (int64_t j = 0; j < hid; ++j) si[j] = g[j] / (1.0f + std::exp(-g[j])) * u[j];
  }
}

void swiglu_backward(const float* ds, const float* gu, int64_t n, int64_t hid, float* dgu) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float *g = gu + i * 2 * hid, *u = g + hid, *dsi = ds + i * hid;
    float *dg = dgu + i * 2 * hid, *du = dg + hid;
#pragma omp simd
    for (int64_t j = 0; j < hid; ++j) {
      float sig = 1.0f / (1.0f + std::exp(-g[j]));
      float silu = g[j] * sig;
      du[j] = dsi[j] * silu;
      dg[j] = dsi[j] * u[j] * sig * (1.0f + g[j] * (1.0f - sig));
    }
  }
}

void cross_entropy(float* logits, const int32_t* targets, int64_t n, int64_t V, float grad_scale, float* losses) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    float* z = logits + i * V;
    if (targets[i] < 0) {
      if (losses) losses[i] = 0;
      if (grad_scale != 0) std::fill(z, z + V, 0.0f);
      continue;
    }
    float mx = z[0];
    for (int64_t j = 1; j < V; ++j) mx = std::max(mx, z[j]);
    double sum = 0;
    for (int64_t j = 0; j < V; ++j) sum += std::exp(double(z[j] - mx));
    const double log_sum = std::log(sum) + mx;
    if (losses) losses[i] = float(log_sum - z[targets[i]]);
    if (grad_scale != 0) {
      for (int64_t j = 0; j < V; ++j) z[j] = grad_scale * float(std::exp(double(z[j]) - log_sum));
      z[targets[i]] -= grad_scale;
    }
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
