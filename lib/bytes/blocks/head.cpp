#include "bytes/blocks/head.hpp"

#include "bytes/kernels/kernels.hpp"

namespace bytes {

Head::Head(const std::string& name, int64_t d, Layout& layout) : offset_(layout.add(name, {VOCAB, d})), d_(d) {}

void Head::forward(const float* W, const float* y, int64_t rows, Precision p) {
  rows_ = rows;
  if (logits_.size() < size_t(rows * VOCAB)) logits_.resize(size_t(rows * VOCAB));
  linear(y, W + offset_, logits_.data(), rows, d_, VOCAB, false, p);
}

double Head::score(const int32_t* targets, int64_t rows) {
  targets_.assign(targets, targets + rows);
  losses_.resize(size_t(rows));
  // Losses only: the logits stay intact for callers; backward turns them into their gradient.
  kernels::cross_entropy(logits_.data(), targets, rows, VOCAB, 0, losses_.data());
  double total = 0;
  for (int64_t i = 0; i < rows; ++i) total += losses_[size_t(i)];
  return total;
}

void Head::backward(const float* W, float* G, const float* y, float grad_scale, float* dy, Precision p) {
  const int64_t N = int64_t(targets_.size());
  // The logits become their gradient in place.
  kernels::cross_entropy(logits_.data(), targets_.data(), N, VOCAB, grad_scale, nullptr);
  linear_backward(logits_.data(), y, W + offset_, dy, G + offset_, N, d_, VOCAB, p);
}

const float* Head::row(const float* W, const float* y, Precision p) {
  row_.resize(size_t(VOCAB));
  linear(y, W + offset_, row_.data(), 1, d_, VOCAB, false, p);
  return row_.data();
}

void add_rows(float* x, const float* c, const int64_t* index, int64_t rows, int64_t d) {
#pragma omp parallel for schedule(static) if (rows * d >= (1 << 15))
  for (int64_t r = 0; r < rows; ++r) {
    const float* cr = c + (index ? index[r] : r) * d;
    float* xr = x + r * d;
    for (int64_t j = 0; j < d; ++j) xr[j] += cr[j];
  }
}

void add_rows_backward(const float* dx, const int64_t* index, int64_t rows, int64_t d, float* dc) {
  // Serial: rows that share a conditioning row add into it in order.
  for (int64_t r = 0; r < rows; ++r) {
    float* dcr = dc + index[r] * d;
    const float* dxr = dx + r * d;
    for (int64_t j = 0; j < d; ++j) dcr[j] += dxr[j];
  }
}

}  // namespace bytes
