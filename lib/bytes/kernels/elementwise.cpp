// SwiGLU's activation (forward and backward), RMSNorm's sums and the cross-entropy of the logits,
// one row at a time. Compiled once per ISA (vec.hpp), so that their exps run as vectors: libm's is a call per
// value, and took a tenth of a training step in SwiGLU alone.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "bytes/kernels/isa.hpp"
#include "bytes/kernels/vec.hpp"

namespace bytes::kernels::KERNEL_ISA {

namespace {

inline v8 sigmoid(v8 g) { return splat(1.0f) / (splat(1.0f) + exp8(-g)); }

inline v8 swiglu(v8 g, v8 u) { return g * sigmoid(g) * u; }

// d/dg and d/du of silu(g)·u, times ds.
inline void swiglu_grad(v8 ds, v8 g, v8 u, v8& dg, v8& du) {
  const v8 sig = sigmoid(g);
  du = ds * g * sig;
  dg = ds * u * sig * (splat(1.0f) + g * (splat(1.0f) - sig));
}

// Lanes below n.
inline v8 first(int64_t n) { return lane_index() < splat(float(n)) ? splat(1.0f) : splat(0.0f); }

}  // namespace

void swiglu_forward_row(const float* g, const float* u, int64_t hid, float* s) {
  int64_t j = 0;
  for (; j + W <= hid; j += W) store8(s + j, swiglu(load8(g + j), load8(u + j)));
  if (j < hid) store_part(s + j, swiglu(load_part(g + j, hid - j), load_part(u + j, hid - j)), hid - j);
}

void swiglu_backward_row(const float* ds, const float* g, const float* u, int64_t hid, float* dg, float* du) {
  v8 a, b;
  int64_t j = 0;
  for (; j + W <= hid; j += W) {
    swiglu_grad(load8(ds + j), load8(g + j), load8(u + j), a, b);
    store8(dg + j, a), store8(du + j, b);
  }
  if (const int64_t n = hid - j; n > 0) {
    swiglu_grad(load_part(ds + j, n), load_part(g + j, n), load_part(u + j, n), a, b);
    store_part(dg + j, a, n), store_part(du + j, b, n);
  }
}

float dot_row(const float* a, const float* b, const float* c, int64_t n) {
  // Lane by index and a fixed fold: the same sum wherever the rows lie.
  v8 s0{}, s1{};
  int64_t j = 0;
  if (c) {
    for (; j + 2 * W <= n; j += 2 * W) {
      s0 += load8(a + j) * load8(b + j) * load8(c + j);
      s1 += load8(a + j + W) * load8(b + j + W) * load8(c + j + W);
    }
    for (; j < n; j += W) {
      const int64_t m = std::min<int64_t>(W, n - j);
      s0 += load_part(a + j, m) * load_part(b + j, m) * load_part(c + j, m);
    }
  } else {
    for (; j + 2 * W <= n; j += 2 * W) {
      s0 += load8(a + j) * load8(b + j);
      s1 += load8(a + j + W) * load8(b + j + W);
    }
    for (; j < n; j += W) {
      const int64_t m = std::min<int64_t>(W, n - j);
      s0 += load_part(a + j, m) * load_part(b + j, m);
    }
  }
  return hsum(s0 + s1);
}

float cross_entropy_row(float* z, int64_t V, int32_t target, float grad_scale) {
  const int64_t full = V / W * W, rest = V - full;
  float mx = z[0];
  for (int64_t j = 0; j < V; ++j) mx = z[j] > mx ? z[j] : mx;
  const float zt = z[target];
  // Σ exp(z − max), the lanes summed in double at the end; with a gradient to make, the exps
  // replace the logits (softmax is them over the sum).
  const bool grad = grad_scale != 0;
  v8 sum{};
  for (int64_t j = 0; j < full; j += W) {
    const v8 e = exp8(load8(z + j) - splat(mx));
    sum += e;
    if (grad) store8(z + j, e);
  }
  if (rest) {
    const v8 e = exp8(load_part(z + full, rest) - splat(mx)) * first(rest);
    sum += e;
    if (grad) store_part(z + full, e, rest);
  }
  double total = 0;
  for (int64_t i = 0; i < W; ++i) total += double(sum[i]);
  if (grad) {
    const v8 scale = splat(float(double(grad_scale) / total));
    for (int64_t j = 0; j < full; j += W) store8(z + j, load8(z + j) * scale);
    if (rest) store_part(z + full, load_part(z + full, rest) * scale, rest);
    z[target] -= grad_scale;
  }
  return float(std::log(total) + double(mx) - double(zt));
}

}  // namespace bytes::kernels::KERNEL_ISA
