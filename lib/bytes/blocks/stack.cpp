#include "bytes/blocks/stack.hpp"

#include <cmath>
#include <cstring>

#include "bytes/base/error.hpp"
#include "bytes/kernels/kernels.hpp"

namespace bytes {

namespace k = kernels;

namespace {
// Whether a pass at precision p makes its product-only activations in bf16: where bf16 products run.
bool bf16_acts(Precision p) { return p == Precision::bf16 && bf16_native(); }
}  // namespace

size_t Layout::add(const std::string& name, std::vector<int64_t> shape, float init_scale) {
  size_t n = 1;
  for (auto s : shape) n *= size_t(s);
  tensors.push_back({name, std::move(shape), size, n, init_scale});
  size += n;
  return size - n;
}

void KVCache::reset(int64_t layers, int64_t cap, int64_t d) {
  len = 0;
  if (capacity == cap && k.size() == size_t(layers * cap * d)) return;
  capacity = cap;
  k.assign(size_t(layers * cap * d), 0.0f);
  v.assign(size_t(layers * cap * d), 0.0f);
}

Stack::Stack(const StackShape& shape, const std::string& prefix, Layout& layout) : shape_(shape) {
  const int64_t d = shape.d, hid = shape.hidden;
  // Output projections start smaller the deeper their stack (GPT-2's 1/sqrt(2L)).
  const float out_scale = 1.0f / std::sqrt(2.0f * float(shape.layers));
  for (int64_t l = 0; l < shape.layers; ++l) {
    std::string p = prefix + "layers." + std::to_string(l) + ".";
    // wq, wk, wv adjacent make one [3d × d] matrix; w1, w3 one [2·hid × d]: one matmul each.
    layer_offset_.push_back(layout.add(p + "attn_norm.weight", {d}));
    layout.add(p + "attn.wq.weight", {d, d});
    layout.add(p + "attn.wk.weight", {d, d});
    layout.add(p + "attn.wv.weight", {d, d});
    layout.add(p + "attn.wo.weight", {d, d}, out_scale);
    layout.add(p + "ffn_norm.weight", {d});
    layout.add(p + "ffn.w1.weight", {hid, d});
    layout.add(p + "ffn.w3.weight", {hid, d});
    layout.add(p + "ffn.w2.weight", {d, hid}, out_scale);
  }
  norm_ = layout.add(prefix + "norm.weight", {d});
  acts_.resize(size_t(shape.layers));
}

Stack::LayerParams Stack::layer(const float* block, int64_t l) const {
  const int64_t d = shape_.d, hid = shape_.hidden;
  // Weights are only read through these views; gradients come from a writable block.
  float* p = const_cast<float*>(block) + layer_offset_[size_t(l)];
  LayerParams w;
  w.attn_norm = p;
  w.wqkv = p + d;
  w.wo = w.wqkv + 3 * d * d;
  w.ffn_norm = w.wo + d * d;
  w.w13 = w.ffn_norm + d;
  w.w2 = w.w13 + 2 * hid * d;
  return w;
}

uint64_t Stack::activation_floats(int64_t N) const {
  const int64_t d = shape_.d, hid = shape_.hidden, H = shape_.heads();
  const int64_t per_layer = d + d + 1 + 3 * d + d + H + d + d + 1 + 2 * hid + hid;
  const int64_t scratch = d + hid + 2 * hid + d + d + 3 * d + d;
  return uint64_t(N) * uint64_t(shape_.layers * per_layer + d + 1 + scratch);
}

double Stack::weight_flops() const {
  const double d = double(shape_.d), hid = double(shape_.hidden);
  return 6.0 * double(shape_.layers) * (4 * d * d + 3 * d * hid);
}

void Stack::reserve(int64_t N, bool bf16_acts) {
  N_ = N;
  const int64_t d = shape_.d, hid = shape_.hidden, H = shape_.heads();
  auto fit = [&](auto& v, int64_t width) { grow(v, N * width); };  // N rows
  for (auto& a : acts_) {
    fit(a.x, d), fit(a.rstd1, 1), fit(a.qkv, 3 * d), fit(a.o, d), fit(a.lse, H);
    fit(a.hmid, d), fit(a.rstd2, 1), fit(a.gu, 2 * hid);
    if (bf16_acts)
      fit(a.a16, d), fit(a.o16, d), fit(a.bn16, d), fit(a.s16, hid);
    else
      fit(a.a, d), fit(a.bn, d), fit(a.s, hid);
  }
  fit(top_, d), fit(rstdf_, 1);
  fit(dh_, d), fit(ds_, hid), fit(dbn_, d), fit(do_, d), fit(dqkv_, 3 * d), fit(da_, d);
  if (bf16_acts)
    fit(dh16_, d), fit(dgu16_, 2 * hid), fit(dqkv16_, 3 * d);
  else
    fit(dgu_, 2 * hid);
}

void Stack::forward(const float* W, const float* x, const int64_t* offsets, int64_t S, float* y, Precision p) {
  const int64_t N = offsets[S] - offsets[0], d = shape_.d, hid = shape_.hidden, H = shape_.heads();
  if (offsets[0] != 0) throw Error("stack rows must start at offset 0");
  const bool half = bf16_acts(p);
  reserve(N, half);
  offsets_.assign(offsets, offsets + S + 1);
  // Each block writes its output into the next block's input rows.
  if (shape_.layers > 0) std::memcpy(acts_[0].x.data(), x, size_t(N * d) * sizeof(float));
  for (int64_t l = 0; l < shape_.layers; ++l) {
    LayerParams w = layer(W, l);
    LayerActs& a = acts_[size_t(l)];
    if (half) {
      k::rmsnorm_forward(a.x.data(), w.attn_norm, N, d, shape_.eps, a.a16.data(), a.rstd1.data());
      linear(a.a16.data(), w.wqkv, a.qkv.data(), N, d, 3 * d);
    } else {
      k::rmsnorm_forward(a.x.data(), w.attn_norm, N, d, shape_.eps, a.a.data(), a.rstd1.data());
      linear(a.a.data(), w.wqkv, a.qkv.data(), N, d, 3 * d, false, p);
    }
    k::rope(a.qkv.data(), offsets, S, 3 * d, 2 * H, head_dim, shape_.rope_base, false);  // q and k: 2H heads
    k::attention_forward(a.qkv.data(), offsets, S, H, head_dim, shape_.causal, a.o.data(), a.lse.data(), p,
                         half ? a.o16.data() : nullptr);
    if (half)
      linear_residual(a.o16.data(), w.wo, a.x.data(), a.hmid.data(), N, d, d);
    else
      linear_residual(a.o.data(), w.wo, a.x.data(), a.hmid.data(), N, d, d, p);
    float* out = l + 1 < shape_.layers ? acts_[size_t(l + 1)].x.data() : top_.data();
    if (half) {
      k::rmsnorm_forward(a.hmid.data(), w.ffn_norm, N, d, shape_.eps, a.bn16.data(), a.rstd2.data());
      linear(a.bn16.data(), w.w13, a.gu.data(), N, d, 2 * hid);
      k::swiglu_forward(a.gu.data(), N, hid, a.s16.data());
      linear_residual(a.s16.data(), w.w2, a.hmid.data(), out, N, hid, d);
    } else {
      k::rmsnorm_forward(a.hmid.data(), w.ffn_norm, N, d, shape_.eps, a.bn.data(), a.rstd2.data());
      linear(a.bn.data(), w.w13, a.gu.data(), N, d, 2 * hid, false, p);
      k::swiglu_forward(a.gu.data(), N, hid, a.s.data());
      linear_residual(a.s.data(), w.w2, a.hmid.data(), out, N, hid, d, p);
    }
  }
  if (shape_.layers == 0) std::memcpy(top_.data(), x, size_t(N * d) * sizeof(float));
  k::rmsnorm_forward(top_.data(), W + norm_, N, d, shape_.eps, y, rstdf_.data());
}

void Stack::backward(const float* W, float* G, const float* dy, float* dx, Precision p) {
  const int64_t N = N_, d = shape_.d, hid = shape_.hidden, H = shape_.heads(), S = int64_t(offsets_.size()) - 1;
  const bool half = bf16_acts(p);
  float* dh = dh_.data();
  // With bf16 products, each norm's backward also rounds dh (for the next products to read).
  bf16_t* dh16 = half ? dh16_.data() : nullptr;
  std::fill(dh, dh + N * d, 0.0f);
  k::rmsnorm_backward(dy, top_.data(), W + norm_, rstdf_.data(), N, d, dh, G + norm_, dh16);
  for (int64_t l = shape_.layers - 1; l >= 0; --l) {
    LayerParams w = layer(W, l), g = layer(G, l);
    LayerActs& a = acts_[size_t(l)];
    // y = hmid + s·w2ᵀ: dh flows straight through the residual.
    if (half) {
      linear_backward(dh16, a.s16.data(), w.w2, ds_.data(), g.w2, N, hid, d);
      k::swiglu_backward(ds_.data(), a.gu.data(), N, hid, dgu16_.data());
      linear_backward(dgu16_.data(), a.bn16.data(), w.w13, dbn_.data(), g.w13, N, d, 2 * hid);
    } else {
      linear_backward(dh, a.s.data(), w.w2, ds_.data(), g.w2, N, hid, d, p);
      k::swiglu_backward(ds_.data(), a.gu.data(), N, hid, dgu_.data());
      linear_backward(dgu_.data(), a.bn.data(), w.w13, dbn_.data(), g.w13, N, d, 2 * hid, p);
    }
    k::rmsnorm_backward(dbn_.data(), a.hmid.data(), w.ffn_norm, a.rstd2.data(), N, d, dh, g.ffn_norm, dh16);
    // hmid = x + o·woᵀ
    if (half)
      linear_backward(dh16, a.o16.data(), w.wo, do_.data(), g.wo, N, d, d);
    else
      linear_backward(dh, a.o.data(), w.wo, do_.data(), g.wo, N, d, d, p);
    k::attention_backward(a.qkv.data(), a.o.data(), do_.data(), a.lse.data(), offsets_.data(), S, H, head_dim,
                          shape_.causal, dqkv_.data(), p);
    k::rope(dqkv_.data(), offsets_.data(), S, 3 * d, 2 * H, head_dim, shape_.rope_base, true, 0,
            half ? dqkv16_.data() : nullptr);
    if (half)
      linear_backward(dqkv16_.data(), a.a16.data(), w.wqkv, da_.data(), g.wqkv, N, d, 3 * d);
    else
      linear_backward(dqkv_.data(), a.a.data(), w.wqkv, da_.data(), g.wqkv, N, d, 3 * d, p);
    k::rmsnorm_backward(da_.data(), a.x.data(), w.attn_norm, a.rstd1.data(), N, d, dh, g.attn_norm,
                        l > 0 ? dh16 : nullptr);
  }
  std::memcpy(dx, dh, size_t(N * d) * sizeof(float));
}

void Stack::extend(const float* W, KVCache& c, const float* x, int64_t n, float* y, Precision p) {
  const int64_t d = shape_.d, L = shape_.layers;
  if (n < 1) throw Error("extend needs at least one row");
  if (!shape_.causal) throw Error("only a causal stack generates row by row");
  if (c.len + n > c.capacity) throw Error("the generation window outgrew the model's context");
  if (c.len > 0 || n == 1) {
    for (int64_t i = 0; i < n; ++i) step(W, c, x + i * d, y + i * d, p);
    return;
  }
  // An empty cache: one batched forward, then its keys and values go to the cache.
  const int64_t offsets[2] = {0, n};
  forward(W, x, offsets, 1, y, p);
  for (int64_t l = 0; l < L; ++l) {
    const float* qkv = acts_[size_t(l)].qkv.data();
    for (int64_t t = 0; t < n; ++t) {
      std::memcpy(c.k.data() + (l * c.capacity + t) * d, qkv + t * 3 * d + d, size_t(d) * sizeof(float));
      std::memcpy(c.v.data() + (l * c.capacity + t) * d, qkv + t * 3 * d + 2 * d, size_t(d) * sizeof(float));
    }
  }
  c.len = n;
}

// One row at position c.len: the forward of one row, attending to the cache.
void Stack::step(const float* W, KVCache& c, const float* x, float* y, Precision p) {
  const int64_t d = shape_.d, hid = shape_.hidden, H = shape_.heads(), pos = c.len;
  const int64_t one[2] = {0, 1};
  c.x.assign(x, x + d);
  c.a.resize(size_t(d));
  c.qkv.resize(size_t(3 * d));
  c.o.resize(size_t(d));
  c.gu.resize(size_t(2 * hid));
  c.s.resize(size_t(hid));
  float rstd;
  for (int64_t l = 0; l < shape_.layers; ++l) {
    LayerParams w = layer(W, l);
    float *kc = c.k.data() + l * c.capacity * d, *vc = c.v.data() + l * c.capacity * d;
    k::rmsnorm_forward(c.x.data(), w.attn_norm, 1, d, shape_.eps, c.a.data(), &rstd);
    linear(c.a.data(), w.wqkv, c.qkv.data(), 1, d, 3 * d, false, p);
    k::rope(c.qkv.data(), one, 1, 3 * d, 2 * H, head_dim, shape_.rope_base, false, pos);
    std::memcpy(kc + pos * d, c.qkv.data() + d, size_t(d) * sizeof(float));
    std::memcpy(vc + pos * d, c.qkv.data() + 2 * d, size_t(d) * sizeof(float));
    k::attention_decode(c.qkv.data(), kc, vc, pos + 1, H, head_dim, c.o.data());
    linear(c.o.data(), w.wo, c.x.data(), 1, d, d, true, p);
    k::rmsnorm_forward(c.x.data(), w.ffn_norm, 1, d, shape_.eps, c.a.data(), &rstd);
    linear(c.a.data(), w.w13, c.gu.data(), 1, d, 2 * hid, false, p);
    k::swiglu_forward(c.gu.data(), 1, hid, c.s.data());
    linear(c.s.data(), w.w2, c.x.data(), 1, hid, d, true, p);
  }
  k::rmsnorm_forward(c.x.data(), W + norm_, 1, d, shape_.eps, y, &rstd);
  c.len = pos + 1;
}

}  // namespace bytes
