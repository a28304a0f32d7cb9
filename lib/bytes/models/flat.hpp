// The flat model (SPEC.md "Models"): bytes in, one stack of blocks, bytes out —
// embedding → blocks → RMSNorm → head, as llm.c's GPT-2 with Llama's blocks.
#pragma once
#include "bytes/models/window.hpp"

namespace bytes {

const Architecture& flat_architecture();

class FlatModel final : public WindowModel {
 public:
  explicit FlatModel(const Config& config, bool trainable = true);

  double forward(const int32_t* tokens, const int32_t* targets, int64_t B, int64_t T) override;
  void backward(float grad_scale) override;
  const float* extend(KVCache& cache, const int32_t* tokens, int64_t n) override;

  // 6 · (params − embedding) + 6 · layers · d · ctx.
  double flops_per_byte() const override;
  double prompt_flops_per_byte() const override { return flops_per_byte() / 3; }  // the forward only
  int64_t width() const { return d_; }
  double weight_bytes_per_byte() const override;
  uint64_t activation_bytes(int64_t rows, double bytes_per_unit) const override;

 private:
  int64_t d_;
  size_t embed_ = 0;
  Stack body_;
  // Activations of the last forward and their gradients (vectors grow and stay).
  std::vector<int32_t> tokens_;
  Buffer<float> x_, y_, dy_, dx_;
};

}  // namespace bytes
