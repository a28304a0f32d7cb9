// What the CPU running us can do, asked once: the kernels built for AVX-512 or AVX2+FMA (the
// attention kernel's builds, the generation gemv) run only where it says so.
#pragma once

namespace bytes::kernels {

// Whether oneDNN runs at this level or above (matmul.cpp): DNNL_MAX_CPU_ISA caps oneDNN, and our
// kernels follow it, so that the one variable gives a whole run the code paths of a lesser CPU
// (AVX2's figures measured on an AVX-512 machine: bytes(7), ENVIRONMENT).
enum class IsaLevel { avx2, avx512 };
bool onednn_runs(IsaLevel level);

inline bool has_avx2_fma() {
  static const bool yes =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && onednn_runs(IsaLevel::avx2);
  return yes;
}

inline bool has_avx512() {
  static const bool yes = has_avx2_fma() && __builtin_cpu_supports("avx512f") && onednn_runs(IsaLevel::avx512);
  return yes;
}

// AVX-512 with its bf16 dot products (the bf16 attention build).
inline bool has_avx512_bf16() {
  static const bool yes = has_avx512() && __builtin_cpu_supports("avx512bf16") &&
                          __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  return yes;
}

}  // namespace bytes::kernels
