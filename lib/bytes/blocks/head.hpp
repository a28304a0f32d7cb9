// The end every model shares: the output head (logits = y · Wᵀ over the VOCAB symbols), the
// losses of the targets, and their backward. Written once for every architecture.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "bytes/blocks/stack.hpp"
#include "bytes/kernels/matmul.hpp"

namespace bytes {

inline constexpr int32_t BOS = 256, EOW = 257, VOCAB = 258;

class Head {
 public:
  Head() = default;
  // Adds the tensor `name` ([VOCAB × d]) to the layout.
  Head(const std::string& name, int64_t d, Layout& layout);

  // The logits (rows × VOCAB) of y (rows × d).
  void forward(const float* W, const float* y, int64_t rows, Precision p);
  // The sum of the targets' losses in nats (targets < 0 are not scored); keeps each row's loss
  // and the targets for backward. The logits stay as they are.
  double score(const int32_t* targets, int64_t rows);
  // After score: turns the logits into grad_scale · ∂loss/∂logits, adds the head's weight gradient
  // into G and writes ∂loss/∂y into dy (rows × d). y is the forward's input.
  void backward(const float* W, float* G, const float* y, float grad_scale, float* dy, Precision p);
  // Generation: the logits of one row y (valid until the next call).
  const float* row(const float* W, const float* y, Precision p);

  float* logits() { return logits_.data(); }
  float* losses() { return losses_.data(); }
  size_t offset() const { return offset_; }

 private:
  size_t offset_ = 0;
  int64_t d_ = 0, rows_ = 0;
  Buffer<float> logits_, losses_, row_;
  std::vector<int32_t> targets_;
};

// x (rows × d) += c (rows × d), row r taking c's row index[r] (index null: row r): how a coarser
// level conditions a finer one. add_rows_backward is its transpose: dc[index[r]] += dx[r].
void add_rows(float* x, const float* c, const int64_t* index, int64_t rows, int64_t d);
void add_rows_backward(const float* dx, const int64_t* index, int64_t rows, int64_t d, float* dc);

}  // namespace bytes
