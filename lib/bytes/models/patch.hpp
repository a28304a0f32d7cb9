// The patch model (MEGABYTE, MBLM; SPEC.md "Models"): stages from coarse to fine, each a stack of
// blocks over units of its own size (a global stage over 8-byte patches, then one over each
// patch's bytes; or more levels: "16x4"). A coarse stage reads each unit as the concatenated
// embeddings of the previous unit's bytes, and conditions each of its children.
#pragma once
#include "bytes/models/window.hpp"

namespace bytes {

const Architecture& patch_architecture();

// Units of the next finer stage per unit of each stage, coarsest first, from a spec such as
// "16x4" (throws Error for a bad one); and the bytes a unit of each stage holds (the last is 1).
std::vector<int64_t> patch_sizes(const std::string& spec);
std::vector<int64_t> unit_bytes(const std::string& spec);

class PatchModel final : public WindowModel {
 public:
  explicit PatchModel(const Config& config, bool trainable = true);

  // Token t predicts target t; a coarse stage's unit j reads the bytes of unit j − 1, which are
  // tokens (j − 1)·unit + 1 … j·unit (the targets before unit j). A window that is not a whole
  // number of global units is padded, never scored (such a forward is for scoring only).
  double forward(const int32_t* tokens, const int32_t* targets, int64_t B, int64_t T) override;
  void backward(float grad_scale) override;
  // Each stage runs once per unit of that stage, over its own cache (cache.stages).
  const float* extend(KVCache& cache, const int32_t* tokens, int64_t n) override;

  double flops_per_byte() const override;
  double weight_bytes_per_byte() const override;
  uint64_t activation_bytes(int64_t rows, double bytes_per_unit) const override;

 private:
  // Stage k (0 the global stage, the last the bytes) and its tensors.
  struct Stage {
    Stack stack;
    int64_t d = 0, unit = 1, per_parent = 1;  // width, bytes a unit, units per parent unit
    int64_t e = 0;                            // byte embedding width (coarse stages)
    size_t embed = 0, start = 0, proj = 0, cond = 0;
    int64_t rows = 0;                         // of the last forward
    std::vector<int64_t> offsets;
    std::vector<int32_t> tokens;              // the bytes each unit's input concatenates
    Buffer<float> c, x, y, cond_out, dy, dx, dcond;
  };
  void stage_forward(size_t k, int64_t B, int64_t T);
  void stage_backward(size_t k);
  const float* step(KVCache& cache);
  const float* prefill(KVCache& cache);
  void input(const KVCache& cache, size_t k, int64_t j, float* x);
  void condition(KVCache& cache, size_t k, const float* y);

  std::vector<Stage> stages_;
  std::vector<int32_t> tokens_;  // the last forward's window, padded
  Buffer<float> x_, y_, cat_;
  int64_t T_ = 0, B_ = 0, T_in_ = 0;
};

}  // namespace bytes
