// A stack of Llama-style blocks and its final RMSNorm, the piece every architecture is built
// from (SPEC.md "Models"): the flat model is one stack; the word model's encoder, backbone and
// decoder are three. Rows are grouped into segments (sequences); attention stays within a
// segment, causal or bidirectional. Parameters live in the model's one block, found by offset.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "bytes/base/memory.hpp"
#include "bytes/kernels/matmul.hpp"

namespace bytes {

inline constexpr int head_dim = 64;

struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;
  size_t offset, size;     // in floats, within the parameter block
  float init_scale = 1.0f;  // Model::init's: the std of a matrix's normal(0, 0.02) is scaled by it
};

// The tensors of a model in file order, each at its offset in the parameter block.
struct Layout {
  std::vector<TensorInfo> tensors;
  size_t size = 0;
  size_t add(const std::string& name, std::vector<int64_t> shape, float init_scale = 1.0f);
};

// Activation buffers grow to the largest size a model has needed and stay that size. A buffer
// that has to grow again (its model's row counts change from batch to batch: the word model's
// bytes per batch) takes a quarter more than asked, so that it grows a few times in a run rather
// than at every new largest batch, each time copying and zeroing the whole of it.
template <class V>
void grow(V& v, int64_t n) {
  if (v.size() >= size_t(n)) return;
  v.resize(v.empty() ? size_t(n) : std::max(size_t(n), v.size() + v.size() / 4));
}

struct StackShape {
  int64_t d = 0, layers = 0, hidden = 0;  // heads: d / 64
  bool causal = true;
  float rope_base = 10000.0f, eps = 1e-5f;
  int64_t heads() const { return d / head_dim; }
};

// Keys and values of the rows a stack has seen, for running one row at a time (generation),
// and the scratch rows of that one-row step.
struct KVCache {
  int64_t len = 0;          // rows cached: positions 0 … len − 1
  int64_t capacity = 0;     // rows it can hold
  std::vector<float> k, v;  // layers × capacity × d; keys after RoPE
  std::vector<float> x, a, qkv, o, gu, s;
  // A model of several stacks (the patch model): a cache per stage, the conditioning each
  // coarse stage computed for its current unit, and the tokens of the window so far.
  std::vector<KVCache> stages;
  std::vector<std::vector<float>> conds;
  std::vector<int32_t> tokens;
  void reset(int64_t layers, int64_t capacity, int64_t d);  // empties it, sized for capacity rows
};

class Stack {
 public:
  Stack() = default;
  // Adds the stack's tensors to layout: prefix + "layers.{i}.attn_norm.weight" … and prefix +
  // "norm.weight", with names and order as bytes-model(5) gives them.
  Stack(const StackShape& shape, const std::string& prefix, Layout& layout);
  const StackShape& shape() const { return shape_; }

  // x: rows × d, rows in S segments (offsets as attention_forward takes them). y (rows × d) gets
  // the normed output. Keeps what backward needs.
  void forward(const float* W, const float* x, const int64_t* offsets, int64_t S, float* y, Precision p);
  // dy: ∂loss/∂y of the last forward. Adds the parameters' gradients into G; writes ∂loss/∂x
  // into dx (rows × d).
  void backward(const float* W, float* G, const float* dy, float* dx, Precision p);
  // Generation: appends n rows of one causal sequence at positions cache.len … (an empty cache
  // takes a block as one batched forward; after that each row is one step) and writes their
  // outputs into y (n × d).
  void extend(const float* W, KVCache& cache, const float* x, int64_t n, float* y, Precision p);

  // Floats of activation memory a forward/backward over N rows needs.
  uint64_t activation_floats(int64_t N) const;
  // Model FLOPs of one row's forward and backward, without attention: 6 · weights.
  double weight_flops() const;

 private:
  struct LayerParams {
    float *attn_norm, *wqkv, *wo, *ffn_norm, *w13, *w2;
  };
  LayerParams layer(const float* block, int64_t l) const;
  void reserve(int64_t N, bool bf16_acts);
  void step(const float* W, KVCache& c, const float* x, float* y, Precision p);

  StackShape shape_;
  std::vector<size_t> layer_offset_;
  size_t norm_ = 0;

  // Activations of the last forward (vectors grow to the largest row count seen and stay).
  int64_t N_ = 0;
  std::vector<int64_t> offsets_;
  // a, bn and s are only ever operands of products: with bf16 products they are made in bf16
  // (a16, bn16, s16) and have no f32 copy. o is also read by attention's backward (in f32): with
  // bf16 products attention writes it both ways (o16 for wo's products).
  struct LayerActs {
    Buffer<float> x, a, rstd1, qkv, o, lse, hmid, bn, rstd2, gu, s;
    Buffer<bf16_t> a16, o16, bn16, s16;
  };
  std::vector<LayerActs> acts_;
  Buffer<float> top_, rstdf_;  // the last block's output and the final norm's 1/rms
  Buffer<float> dh_, ds_, dgu_, dbn_, do_, dqkv_, da_;
  // dh_, dgu_ and dqkv_ made in bf16 for the products where they run bf16
  Buffer<bf16_t> dh16_, dgu16_, dqkv16_;
};

}  // namespace bytes
