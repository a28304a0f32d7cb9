// The flat byte model of SPEC.md: embedding → L Llama-style blocks → RMSNorm → head, with its
// parameters, gradients and activations each in one contiguous block (llm.c's layout) and
// named views into them. Saved as safetensors (bytes-model(5)).
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bytes/matmul.hpp"

namespace bytes {

inline constexpr int32_t BOS = 256, EOW = 257, VOCAB = 258;
inline constexpr int head_dim = 64;

struct Config {
  std::string arch = "flat";
  int64_t d_model = 384, n_layers = 6, n_heads = 6, ffn_hidden = 1024, ctx = 256;
  double rope_base = 10000.0, norm_eps = 1e-5;
  int64_t vocab = VOCAB;

  // The SPEC's derived sizes: heads of 64, SwiGLU hidden 64·round(8d/3/64).
  static Config flat(int64_t d_model, int64_t n_layers, int64_t ctx);
  nlohmann::ordered_json to_json() const;
  static Config from_json(const nlohmann::json& j);  // throws Error on missing or bad fields
  void validate() const;                             // throws Error
};

class MappedFile;

struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;
  size_t offset, size;  // in floats, within the parameter block
};

// Keys and values of the tokens a model has seen, for generating one token at a time
// (Model::extend), and the scratch rows of that one-token step.
struct KVCache {
  int64_t len = 0;          // tokens cached: positions 0 … len − 1 of the current window
  std::vector<float> k, v;  // n_layers × ctx × d_model; keys after RoPE
  std::vector<float> x, a, qkv, o, gu, s, logits;
};

class Model {
 public:
  // trainable = false leaves params and grads empty (a model whose weights are mapped).
  explicit Model(const Config& config, bool trainable = true);

  const Config& config() const { return cfg_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  int64_t n_params() const { return n_params_; }
  // Model FLOPs per trained byte: 6 · (params − embedding) + 6 · layers · d · ctx.
  double flops_per_byte() const;

  // normal(0, 0.02), wo and w2 scaled by 1/sqrt(2L), norms 1; the same seed gives the same weights.
  void init(uint64_t seed);

  // Runs B sequences of T tokens (T <= ctx), each starting at position 0. With targets, returns
  // the sum of the per-token losses in nats (targets < 0 are not scored) and keeps what backward
  // needs; losses() then holds each token's loss. logits() holds the logits.
  double forward(const int32_t* tokens, const int32_t* targets, int64_t B, int64_t T);
  // Adds grad_scale · ∂(sum of losses)/∂params into grads. Call after forward with targets.
  void backward(float grad_scale);

  // Floats of activation memory a forward/backward over N tokens needs.
  static uint64_t arena_floats(const Config& c, int64_t N);

  const float* logits() const { return logits_; }
  const float* losses() const { return losses_; }
  Precision precision = Precision::f32;

  // Generation: appends tokens [0, n) to the cache (window positions cache.len, cache.len + 1, …)
  // and returns the logits that follow the last one. An empty cache takes the block in one
  // batched forward; after that each token is one step that reads every weight once.
  const float* extend(KVCache& cache, const int32_t* tokens, int64_t n);

  // The weights: params, or the mapped file of a model loaded with map = true.
  const float* weights() const { return mapped_ ? mapped_ : params.data(); }
  // Trainable copies; params is empty for a mapped model.
  std::vector<float> params, grads;

 private:
  struct LayerParams {
    float *attn_norm, *wqkv, *wo, *ffn_norm, *w13, *w2;
  };
  // Views of layer l in a block laid out as the parameters (weights or gradients).
  LayerParams layer(const float* block, int64_t l) const;
  void reserve(int64_t B, int64_t T);
  const float* step(KVCache& cache, int32_t token);
  friend Model load_model(const std::string& path, bool map);

  Config cfg_;
  int64_t n_params_ = 0;
  std::shared_ptr<const MappedFile> mapping_;
  const float* mapped_ = nullptr;
  std::vector<TensorInfo> tensors_;
  size_t embed_ = 0, norm_ = 0, head_ = 0;
  std::vector<size_t> layer_offset_;

  // Activations for one forward/backward, carved from one block sized for the largest B·T seen.
  std::vector<float> arena_;
  std::vector<int32_t> tokens_, targets_;
  int64_t B_ = 0, T_ = 0, capacity_ = 0;
  struct LayerActs {
    float *a, *rstd1, *qkv, *o, *lse, *hmid, *bn, *rstd2, *gu, *s;
  };
  std::vector<float*> h_;
  std::vector<LayerActs> acts_;
  float *zn_ = nullptr, *rstdf_ = nullptr, *logits_ = nullptr, *losses_ = nullptr;
  float *dh_ = nullptr, *dz_ = nullptr, *ds_ = nullptr, *dgu_ = nullptr, *dbn_ = nullptr, *do_ = nullptr,
        *dqkv_ = nullptr, *da_ = nullptr;
};

// safetensors with the config in __metadata__ (bytes-model(5)).
void save_model(const Model& model, const std::string& path);
// map = true maps the file read-only instead of copying it (for inference); the model then has
// no params to train. Files in another tensor order are copied either way.
Model load_model(const std::string& path, bool map = false);
// Reads only the config from a model file's header.
Config read_model_config(const std::string& path);

}  // namespace bytes
