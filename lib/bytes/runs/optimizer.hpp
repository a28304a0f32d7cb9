// The update of a training step as plain functions over spans of floats (llm.c's gpt2_update):
// global-norm gradient clipping and AdamW with decoupled weight decay and bias correction.
#pragma once
#include <cstdint>
#include <span>

#include "bytes/blocks/stack.hpp"

namespace bytes {

// The L2 norm of all gradients together, summed in double, in an order fixed by their count alone.
double grad_norm(std::span<const float> grads);
// Gradients to zero before a step's backward passes add into them (in parallel: tens of MB).
void zero_grads(std::span<float> grads);

// The factor that scales gradients of this norm down to max_norm: 1 when they are within it, or
// when max_norm ≤ 0 (no clipping).
float clip_scale(double norm, double max_norm);

struct AdamW {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.95, weight_decay = 0.1;
  int64_t t = 1;  // the step being taken, from 1: the bias correction's exponent
};

// One AdamW step on one tensor: gradients are g · grad_scale, the moments m and v are updated in
// place, and params decay (p ← p · (1 − lr · weight_decay), as PyTorch's AdamW) when decay is set.
// All four spans have the same length.
void adamw_update(const AdamW& opt, bool decay, float grad_scale, std::span<float> params,
                  std::span<const float> grads, std::span<float> m, std::span<float> v);

// One AdamW step on every tensor of a parameter block (params, grads, m and v alike, laid out by
// tensors): weight decay on matrices only, not on norms.
void adamw_update(const AdamW& opt, float grad_scale, std::span<const TensorInfo> tensors, std::span<float> params,
                  std::span<const float> grads, std::span<float> m, std::span<float> v);

}  // namespace bytes
