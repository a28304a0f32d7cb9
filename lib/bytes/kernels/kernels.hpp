// The layers of the byte models as forward/backward pairs of plain functions over row-major
// float arrays (llm.c's shape). Backward functions add into gradients (+=) so that gradient
// accumulation and residual branches need no extra buffers. Rows are tokens.
#pragma once
#include <cstdint>

#include "bytes/kernels/bf16.hpp"
#include "bytes/kernels/matmul.hpp"

namespace bytes::kernels {

// out[i] = table[tokens[i]]
void embedding_forward(const int32_t* tokens, int64_t n, const float* table, int64_t d, float* out);
// dtable[tokens[i]] += dout[i]
void embedding_backward(const int32_t* tokens, int64_t n, const float* dout, int64_t d, float* dtable);

// y = x / rms(x) * w; rstd (n) keeps 1/rms for backward. y in bf16: an activation only bf16
// products read (--precision bf16), rounded where it is made rather than by each product.
void rmsnorm_forward(const float* x, const float* w, int64_t n, int64_t d, float eps, float* y, float* rstd);
void rmsnorm_forward(const float* x, const float* w, int64_t n, int64_t d, float eps, bf16_t* y, float* rstd);
// dx += ∂/∂x, dw += ∂/∂w; dx16, where given, gets the resulting dx rounded to bf16 (a residual
// stream's gradient, which bf16 products read next).
void rmsnorm_backward(const float* dy, const float* x, const float* w, const float* rstd, int64_t n, int64_t d,
                      float* dx, float* dw, bf16_t* dx16 = nullptr);

// Rotary embedding in place on n_heads heads of size hd in each row (row stride `stride`), the
// rotate-half pairing (j, j + hd/2), angle pos · base^(−2j/hd). Rows form segments as in
// attention_forward; a row's position is pos0 + its index within its segment.
// inverse = true applies the transpose rotation (the backward of the forward). rounded, where given,
// gets each whole row (stride floats, the heads not rotated too) rounded to bf16 once rotated.
void rope(float* x, const int64_t* offsets, int64_t S, int64_t stride, int64_t n_heads, int64_t hd, float base,
          bool inverse, int64_t pos0 = 0, bf16_t* rounded = nullptr);

// Multi-head attention over S segments of rows: segment s is rows [offsets[s], offsets[s + 1]),
// and a row attends only to rows of its own segment (with causal, only to those at or before
// it). qkv rows hold [q | k | v] (3·H·hd floats), heads side by side. out (rows × H·hd), lse
// (rows × H) the log-sum-exp of each row's scores. Tiled with an online softmax: memory is
// O(T·hd) per head whatever a segment's length T; short segments are not padded to a full tile.
// With Precision::bf16, where bf16 matrix products run (bf16_native), the five products of a tile
// take bf16 operands with f32 sums, on AMX's tiles where oneDNN uses them, else with AVX512_BF16's
// dot products; the softmax stays in f32. attention_impl(Precision::bf16) names the build that runs.
// out16, where given, gets out rounded to bf16 as each row is written (for bf16 products reading it).
void attention_forward(const float* qkv, const int64_t* offsets, int64_t S, int64_t H, int64_t hd, bool causal,
                       float* out, float* lse, Precision p = Precision::f32, bf16_t* out16 = nullptr);
// dqkv (same layout as qkv) is overwritten.
void attention_backward(const float* qkv, const float* out, const float* dout, const float* lse,
                        const int64_t* offsets, int64_t S, int64_t H, int64_t hd, bool causal, float* dqkv,
                        Precision p = Precision::f32);

// One query row q (H heads of hd) against n cached keys and values (rows of H·hd, keys already
// rotated), for generation: out = softmax(q·kᵀ/√hd)·v per head.
// The attention build this CPU runs at precision p: "avx512", "avx2" or "generic" (f32 products),
// or "avx512_bf16" or "amx_bf16".
const char* attention_impl(Precision p = Precision::f32);
void attention_decode(const float* q, const float* k, const float* v, int64_t n, int64_t H, int64_t hd, float* out);

// gu rows are [gate (hid) | up (hid)]; s = silu(gate) ⊙ up.
void swiglu_forward(const float* gu, int64_t n, int64_t hid, float* s);
void swiglu_forward(const float* gu, int64_t n, int64_t hid, bf16_t* s);  // s in bf16, as rmsnorm_forward's y
// dgu is overwritten.
void swiglu_backward(const float* ds, const float* gu, int64_t n, int64_t hid, float* dgu);
// dgu in bf16: the gradient only the w1/w3 product reads (--precision bf16)
void swiglu_backward(const float* ds, const float* gu, int64_t n, int64_t hid, bf16_t* dgu);

// Softmax cross-entropy of each row of logits (n × V) against targets. Returns each row's loss
// in nats in `losses` (may be null). When grad_scale != 0, logits are overwritten with
// grad_scale · (softmax − onehot), the gradient of grad_scale · Σ loss. Rows whose target is
// negative are ignored (loss 0, gradient 0).
void cross_entropy(float* logits, const int32_t* targets, int64_t n, int64_t V, float grad_scale, float* losses);

// log-softmax of one row into out (for scoring and sampling).
void log_softmax(const float* logits, int64_t V, float* out);

}  // namespace bytes::kernels
