#include "bytes/runs/optimizer.hpp"

#include <cmath>

namespace bytes {

double grad_norm(std::span<const float> grads) {
  double sq = 0;
  for (float g : grads) sq += double(g) * g;
  return std::sqrt(sq);
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
  const int64_t n = int64_t(params.size());
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
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
