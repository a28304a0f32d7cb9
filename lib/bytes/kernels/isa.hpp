// The kernels compiled once per ISA (vec.hpp; lib/meson.build), in a namespace each. kernels.cpp
// picks the one this CPU runs; tests call each directly.
#pragma once
#include <cstdint>

#include "bytes/kernels/cpu.hpp"

namespace bytes::kernels {

#define BYTES_ATTENTION_OF(isa)                                                                              \
  namespace isa {                                                                                              \
  void attention_forward(const float*, const int64_t*, int64_t, int64_t, int64_t, bool, float*, float*,        \
                         uint16_t*);                                                                          \
  void attention_backward(const float*, const float*, const float*, const float*, const int64_t*, int64_t,      \
                          int64_t, int64_t, bool, float*);                                                     \
  }
#define BYTES_KERNELS_OF(isa)                                                                                \
  BYTES_ATTENTION_OF(isa)                                                                                      \
  namespace isa {                                                                                              \
  /* SwiGLU over one row: s = silu(g)·u; and its gradient from ds */                                          \
  void swiglu_forward_row(const float* g, const float* u, int64_t hid, float* s);                              \
  void swiglu_backward_row(const float* ds, const float* g, const float* u, int64_t hid, float* dg, float* du); \
  /* Σ a·b (·c where c is given), lanes by index: the same wherever the rows lie */                         \
  float dot_row(const float* a, const float* b, const float* c, int64_t n);                                    \
  /* One row's loss in nats; with grad_scale != 0, z becomes grad_scale · (softmax − onehot) */                \
  float cross_entropy_row(float* z, int64_t V, int32_t target, float grad_scale);                              \
  }
BYTES_KERNELS_OF(avx512)
BYTES_KERNELS_OF(avx2)
BYTES_KERNELS_OF(generic)
BYTES_ATTENTION_OF(avx512bf16)  // its tile products in bf16 (attention.cpp's pairs)
BYTES_ATTENTION_OF(amx)         // the same on AMX tiles
#undef BYTES_KERNELS_OF
#undef BYTES_ATTENTION_OF

// The build this CPU runs, of three given in this order.
template <class F>
F for_this_cpu(F avx512, F avx2, F generic) {
  return has_avx512() ? avx512 : has_avx2_fma() ? avx2 : generic;
}

}  // namespace bytes::kernels
