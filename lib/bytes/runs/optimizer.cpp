#include "bytes/runs/optimizer.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace bytes {

double grad_norm(std::span<const float> grads) {
  // Fixed chunks, each summed in eight lanes by index, then the chunks in order: the same bits
  // whatever the thread count, and no chain of dependent additions through ten million floats
  // on one thread (15 ms of a 1 s step, with the other cores idle).
  constexpr int64_t chunk = int64_t(1) << 15, lanes = 8;
  const int64_t n = int64_t(grads.size()), chunks = (n + chunk - 1) / chunk;
  const float* g = grads.data();
  std::vector<double> partial(static_cast<size_t>(chunks));
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * chunk, end = std::min(n, begin + chunk);
    double lane[lanes] = {};
    int64_t i = begin;
    for (; i + lanes <= end; i += lanes)
      for (int64_t j = 0; j < lanes; ++j) lane[j] += double(g[i + j]) * g[i + j];
    for (; i < end; ++i) lane[0] += double(g[i]) * g[i];
    partial[size_t(c)] = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
  }
  double sq = 0;
  for (double p : partial) sq += p;
  return std::sqrt(sq);
}

void zero_grads(std::span<float> grads) {
  constexpr int64_t chunk = int64_t(1) << 16;
  const int64_t n = int64_t(grads.size()), chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c)
    std::fill(grads.data() + c * chunk, grads.data() + std::min(n, (c + 1) * chunk), 0.0f);
}

float clip_scale(double norm, double max_norm) { return max_norm > 0 && norm > max_norm ? float(max_norm / norm) : 1.0f; }

void adamw_update(const AdamW& opt, bool decay, float grad_scale, std::span<float> params,
                  std::span<const float> grads, std::span<float> m, std::span<float> v) {
  // The factors in float as the moments are; the order of operations is the checkpoints' contract:
  // a change here changes every trained model's bits.
  const float bc1 = float(1 - std::pow(opt.beta1, double(opt.t))), bc2 = float(1 - std::pow(opt.beta2, double(opt.t)));
  const float b1 = float(opt.beta1), b2 = float(opt.beta2), lr = float(opt.lr);
  const float keep = decay ? float(1 - opt.lr * opt.weight_decay) : 1.0f;
  float* p = params.data();
  const float* g = grads.data();
  float *mi = m.data(), *vi = v.data();
  const int64_t n = int64_t(params.size()), quads = n / 4;
  // Four at a time in SSE, each operation the scalar tail's own in the same order (the baseline
  // ISA has no fused multiply-add to contract them into): the same bits on every CPU, and about
  // twice the scalar loop's speed, whose divisions and square roots (with errno's check) made it
  // compute-bound where it could be bound by memory.
#pragma omp parallel for schedule(static)
  for (int64_t q = 0; q < quads; ++q) {
    const int64_t i = 4 * q;
    const __m128 gi = _mm_mul_ps(_mm_loadu_ps(g + i), _mm_set1_ps(grad_scale));
    const __m128 mq = _mm_add_ps(_mm_mul_ps(_mm_set1_ps(b1), _mm_loadu_ps(mi + i)), _mm_mul_ps(_mm_set1_ps(1 - b1), gi));
    const __m128 vq = _mm_add_ps(_mm_mul_ps(_mm_set1_ps(b2), _mm_loadu_ps(vi + i)),
                                 _mm_mul_ps(_mm_mul_ps(_mm_set1_ps(1 - b2), gi), gi));
    _mm_storeu_ps(mi + i, mq);
    _mm_storeu_ps(vi + i, vq);
    const __m128 step = _mm_div_ps(_mm_mul_ps(_mm_set1_ps(lr), _mm_div_ps(mq, _mm_set1_ps(bc1))),
                                   _mm_add_ps(_mm_sqrt_ps(_mm_div_ps(vq, _mm_set1_ps(bc2))), _mm_set1_ps(1e-8f)));
    _mm_storeu_ps(p + i, _mm_sub_ps(_mm_mul_ps(_mm_loadu_ps(p + i), _mm_set1_ps(keep)), step));
  }
  for (int64_t i = 4 * quads; i < n; ++i) {
    const float gi = g[i] * grad_scale;
    mi[i] = b1 * mi[i] + (1 - b1) * gi;
    vi[i] = b2 * vi[i] + (1 - b2) * gi * gi;
    p[i] = p[i] * keep - lr * (mi[i] / bc1) / (std::sqrt(vi[i] / bc2) + 1e-8f);
  }
}

void adamw_update(const AdamW& opt, float grad_scale, std::span<const TensorInfo> tensors, std::span<float> params,
                  std::span<const float> grads, std::span<float> m, std::span<float> v) {
  for (const auto& t : tensors)
    adamw_update(opt, t.shape.size() == 2, grad_scale, params.subspan(t.offset, t.size), grads.subspan(t.offset, t.size),
                 m.subspan(t.offset, t.size), v.subspan(t.offset, t.size));
}

}  // namespace bytes
