#include "bytes/kernels/bf16.hpp"

#include <immintrin.h>

#include <algorithm>
#include <mutex>

namespace bytes {
namespace {

bf16_t round_one(float f) {
  uint32_t bits;
  __builtin_memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return bf16_t((bits >> 16) | 0x40);  // a quiet NaN
  return bf16_t((bits + 0x7fffu + ((bits >> 16) & 1)) >> 16);
}

__attribute__((target("avx512f,avx512bf16,avx512bw,avx512vl"))) void to_bf16_native(const float* x, bf16_t* y, size_t n) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
    _mm512_storeu_si512(y + i, __m512i(v));
  }
  for (; i < n; ++i) y[i] = round_one(x[i]);
}

void to_bf16_plain(const float* x, bf16_t* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = round_one(x[i]);
}

// The live copies: (first weight, count, copy).
struct Registry {
  std::mutex mutex;
  struct Entry {
    const float* base;
    size_t n;
    const bf16_t* copy;
  };
  std::vector<Entry> entries;
};
Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

void to_bf16_row(const float* x, bf16_t* y, size_t n) {
  static const bool native = __builtin_cpu_supports("avx512bf16");
  native ? to_bf16_native(x, y, n) : to_bf16_plain(x, y, n);
}

void to_bf16(const float* x, bf16_t* y, size_t n) {
  constexpr size_t chunk = size_t(1) << 16;
  const int64_t chunks = int64_t((n + chunk - 1) / chunk);
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const size_t at = size_t(c) * chunk;
    to_bf16_row(x + at, y + at, std::min(chunk, n - at));
  }
}

Bf16Weights::Bf16Weights(const float* base, size_t n) : base_(base), copy_(n) {
  refresh();
  std::lock_guard lock(registry().mutex);
  registry().entries.push_back({base_, copy_.size(), copy_.data()});
}

Bf16Weights::~Bf16Weights() {
  std::lock_guard lock(registry().mutex);
  auto& e = registry().entries;
  e.erase(std::remove_if(e.begin(), e.end(), [&](const auto& x) { return x.copy == copy_.data(); }), e.end());
}

void Bf16Weights::refresh() { to_bf16(base_, copy_.data(), copy_.size()); }

const bf16_t* bf16_copy_of(const float* w) {
  std::lock_guard lock(registry().mutex);
  for (const auto& e : registry().entries)
    if (w >= e.base && w < e.base + e.n) return e.copy + (w - e.base);
  return nullptr;
}

}  // namespace bytes
