// bf16: rounding, the products that read bf16 operands, and the weight copies they read; the
// elementwise and attention kernels of each ISA build against plain scalar code.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bytes/kernels/bf16.hpp"
#include "bytes/kernels/isa.hpp"
#include "bytes/kernels/kernels.hpp"
#include "bytes/kernels/matmul.hpp"
#include "bytes/models/flat.hpp"
#include "bytes/runs/optimizer.hpp"
#include "testing.hpp"

using namespace bytes;

namespace {

float bits_to_float(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

float round_bf16(float x) {
  bf16_t h;
  to_bf16(&x, &h, 1);
  return bf16_to_float(h);
}

std::vector<float> randn(std::mt19937_64& rng, size_t n) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  return v;
}

// C = A·Bᵀ (A m×k, B n×k), in double.
std::vector<float> reference(const std::vector<float>& a, const std::vector<float>& b, int64_t m, int64_t n, int64_t k) {
  std::vector<float> c(size_t(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) s += double(a[size_t(i * k + p)]) * double(b[size_t(j * k + p)]);
      c[size_t(i * n + j)] = float(s);
    }
  return c;
}

std::vector<float> rounded(std::vector<float> v) {
  for (auto& x : v) x = round_bf16(x);
  return v;
}

double max_diff(const std::vector<float>& x, const std::vector<float>& y) {
  double d = 0;
  for (size_t i = 0; i < x.size(); ++i) d = std::max(d, double(std::fabs(x[i] - y[i])));
  return d;
}

}  // namespace

TEST_CASE("f32 to bf16 rounds to nearest, ties to even, and keeps NaN and infinities") {
  CHECK(round_bf16(1.0f) == 1.0f);
  // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: the tie goes to the even mantissa (1).
  CHECK(round_bf16(bits_to_float(0x3f808000u)) == 1.0f);
  // 1 + 3·2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
  CHECK(round_bf16(bits_to_float(0x3f818000u)) == bits_to_float(0x3f820000u));
  CHECK(round_bf16(bits_to_float(0x3f808001u)) == bits_to_float(0x3f810000u));  // above halfway: up
  CHECK(std::isinf(round_bf16(std::numeric_limits<float>::infinity())));
  CHECK(std::isnan(round_bf16(std::numeric_limits<float>::quiet_NaN())));
  CHECK(std::isnan(round_bf16(bits_to_float(0x7f800001u))));  // a NaN whose payload would round to inf
  // The vector path (32 at a time) and the tail agree with the one-value path.
  std::mt19937_64 rng(1);
  auto x = randn(rng, 1000);
  std::vector<bf16_t> h(x.size());
  to_bf16(x.data(), h.data(), x.size());
  for (size_t i = 0; i < x.size(); ++i) CHECK(bf16_to_float(h[i]) == round_bf16(x[i]));
}

TEST_CASE("a one-row product reads the weights' bf16 copy on any CPU, and only while the copy lives") {
  std::mt19937_64 rng(2);
  const int64_t n = 70, k = 300;
  auto x = randn(rng, size_t(k)), w = randn(rng, size_t(n * k));
  std::vector<float> y(static_cast<size_t>(n)), y32(static_cast<size_t>(n));
  linear(x.data(), w.data(), y32.data(), 1, k, n);
  {
    Bf16Weights copy(w.data(), w.size());
    linear(x.data(), w.data(), y.data(), 1, k, n, false, Precision::bf16);
    CHECK(max_diff(y, reference(x, rounded(w), 1, n, k)) < 1e-3);
    CHECK(max_diff(y, y32) > 1e-3);  // it really read bf16
    // A changed weight is read once the copy is refreshed.
    w[0] += 1.0f;
    linear(x.data(), w.data(), y.data(), 1, k, n, false, Precision::bf16);
    CHECK(max_diff(y, reference(x, rounded(w), 1, n, k)) > 1e-2);
    copy.refresh();
    linear(x.data(), w.data(), y.data(), 1, k, n, false, Precision::bf16);
    CHECK(max_diff(y, reference(x, rounded(w), 1, n, k)) < 1e-3);
  }
  CHECK(bf16_copy_of(w.data()) == nullptr);
}

TEST_CASE("bf16 products are timed against f32 ones only where bf16 kernels run") {
  const double speedup = bf16_speedup();
  if (!bf16_native()) {
    CHECK(speedup == 0.0);
    return;
  }
  // A ratio of two positive times: on any CPU between a tenth and twenty times (AMX: ~5×).
  CHECK(speedup > 0.1);
  CHECK(speedup < 20.0);
  CHECK(bf16_speedup() == speedup);  // measured once
}

TEST_CASE("bf16 products take bf16 operands with f32 accumulation where the CPU has bf16 kernels") {
  std::mt19937_64 rng(3);
  const int64_t m = 33, n = 70, k = 300;
  auto a = randn(rng, size_t(m * k)), b = randn(rng, size_t(n * k));
  std::vector<float> c(size_t(m * n));
  linear(a.data(), b.data(), c.data(), m, k, n, false, Precision::bf16);
  const auto want = bf16_native() ? reference(rounded(a), rounded(b), m, n, k) : reference(a, b, m, n, k);
  CHECK(max_diff(c, want) < 1e-3);
  // With a live copy of the weights, the same.
  Bf16Weights copy(b.data(), b.size());
  linear(a.data(), b.data(), c.data(), m, k, n, false, Precision::bf16);
  CHECK(max_diff(c, want) < 1e-3);
  // The backward products: dx = dy·w and dw += dyᵀ·x, on transposed operands.
  std::vector<float> dx(size_t(m * k)), dw(size_t(n * k), 1.0f);
  auto dy = randn(rng, size_t(m * n));
  linear_backward_input(dy.data(), b.data(), dx.data(), m, k, n, false, Precision::bf16);
  linear_backward_weight(dy.data(), a.data(), dw.data(), m, k, n, Precision::bf16);
  auto r = [&](const std::vector<float>& v) { return bf16_native() ? rounded(v) : v; };
  for (int64_t i = 0; i < m; i += 8)
    for (int64_t p = 0; p < k; p += 37) {
      double s = 0;
      for (int64_t j = 0; j < n; ++j) s += double(r(dy)[size_t(i * n + j)]) * double(r(b)[size_t(j * k + p)]);
      CHECK(std::fabs(dx[size_t(i * k + p)] - s) < 1e-3);
    }
  for (int64_t j = 0; j < n; j += 9)
    for (int64_t p = 0; p < k; p += 41) {
      double s = 1.0;
      for (int64_t i = 0; i < m; ++i) s += double(r(dy)[size_t(i * n + j)]) * double(r(a)[size_t(i * k + p)]);
      CHECK(std::fabs(dw[size_t(j * k + p)] - s) < 1e-3);
    }
}

TEST_CASE("products of any row count agree with the plain product: whole row blocks and a padded rest") {
  // From 1024 rows on, rows come in blocks of 64 with the rest padded in scratch (matmul.cpp):
  // forward products, their sums into C and their residuals, and weight gradients whose sum runs
  // over the rows.
  std::mt19937_64 rng(12);
  const int64_t n = 40, k = 72;
  for (Precision p : {Precision::f32, Precision::bf16}) {
    const bool half = p == Precision::bf16 && bf16_native();
    auto r = [&](const std::vector<float>& v) { return half ? rounded(v) : v; };
    const double tol = half ? 2e-3 : 1e-4;
    for (int64_t m : {1024, 1025, 1087, 1090, 1200}) {
      CAPTURE(m);
      auto a = randn(rng, size_t(m * k)), w = randn(rng, size_t(n * k)), base = randn(rng, size_t(m * n));
      const auto prod = reference(r(a), r(w), m, n, k);
      std::vector<float> c(size_t(m * n), 7.0f), acc = base, res(size_t(m * n), 7.0f);
      linear(a.data(), w.data(), c.data(), m, k, n, false, p);
      linear(a.data(), w.data(), acc.data(), m, k, n, true, p);
      linear_residual(a.data(), w.data(), base.data(), res.data(), m, k, n, p);
      double dc = 0, dacc = 0, dres = 0;
      for (size_t i = 0; i < prod.size(); ++i) {
        dc = std::max(dc, std::fabs(double(c[i]) - prod[i]));
        dacc = std::max(dacc, std::fabs(double(acc[i]) - (double(prod[i]) + base[i])));
        dres = std::max(dres, std::fabs(double(res[i]) - (double(prod[i]) + base[i])));
      }
      CHECK(dc < tol * k);
      CHECK(dacc < tol * k);
      CHECK(dres < tol * k);
      // The weight gradient dw += dyᵀ·x sums over the m rows: blocks and the padded rest.
      auto dy = randn(rng, size_t(m * n));
      std::vector<float> dw(size_t(n * k), 0.5f);
      linear_backward_weight(dy.data(), a.data(), dw.data(), m, k, n, p);
      const auto rdy = r(dy), ra = r(a);
      double ddw = 0;
      for (int64_t j = 0; j < n; ++j)
        for (int64_t q = 0; q < k; ++q) {
          double s = 0.5;
          for (int64_t i = 0; i < m; ++i) s += double(rdy[size_t(i * n + j)]) * ra[size_t(i * k + q)];
          ddw = std::max(ddw, std::fabs(dw[size_t(j * k + q)] - s));
        }
      CHECK(ddw < tol * double(m));
    }
  }
}

TEST_CASE("products read registered weights packed, as they read them plain, until the weights change") {
  std::mt19937_64 rng(13);
  const int64_t n = 80, k = 72;  // neither a whole number of the layouts' 64-column blocks
  for (Precision p : {Precision::f32, Precision::bf16}) {
    CAPTURE(precision_name(p));
    auto x = randn(rng, size_t(200 * k)), dy = randn(rng, size_t(200 * n)), w = randn(rng, size_t(n * k));
    std::unique_ptr<Bf16Weights> copy;
    if (p == Precision::bf16) copy = std::make_unique<Bf16Weights>(w.data(), w.size());
    // What the products give with w plain: a forward (w read transposed) and an input gradient.
    auto run = [&](int64_t m) {
      std::vector<float> y(size_t(m * n)), dx(size_t(m * k));
      linear(x.data(), w.data(), y.data(), m, k, n, false, p);
      linear_backward_input(dy.data(), w.data(), dx.data(), m, k, n, false, p);
      y.insert(y.end(), dx.begin(), dx.end());
      return y;
    };
    const auto plain = run(200);
    const void* base = copy ? static_cast<const void*>(copy->data()) : w.data();
    PackedWeights packs(base, w.size() * (copy ? sizeof(bf16_t) : sizeof(float)));
    run(63);  // fewer rows than a pack pays for: none made
    CHECK(packs.packs() == 0);
    const auto packed = run(200);
    CHECK(max_diff(packed, plain) <= 1e-5 * (1 + max_diff(plain, std::vector<float>(plain.size()))));
    // Where oneDNN's kernels want a blocked layout (not its AVX2 GEMM), each orientation has its pack ...
    const bool blocked = packs.packs() > 0;
    CHECK(packs.packs() == (blocked ? 2 : 0));
    for (auto& v : w) v = -v;
    if (copy) copy->refresh();
    // ... read until the weights are said to have changed.
    if (blocked) CHECK(max_diff(run(200), packed) == 0);
    packs.changed();
    const auto negated = run(200);
    for (size_t i = 0; i < negated.size(); ++i) CHECK(negated[i] == doctest::Approx(-plain[i]).epsilon(1e-5));
  }
}

TEST_CASE("large buffers start on a huge-page boundary and behave as vectors") {
  Buffer<float> big(large_block / sizeof(float) + 5, 1.0f), small(100, 2.0f);
  CHECK(reinterpret_cast<uintptr_t>(big.data()) % large_block == 0);
  CHECK(std::all_of(big.begin(), big.end(), [](float x) { return x == 1.0f; }));
  big.resize(3 * big.size(), 3.0f);  // moved into a new block
  CHECK(reinterpret_cast<uintptr_t>(big.data()) % large_block == 0);
  CHECK(big.front() == 1.0f);
  CHECK(big.back() == 3.0f);
  Buffer<float> copy = big;
  CHECK(copy == big);
  small.resize(large_block);  // from a plain block to a large one
  CHECK(small.front() == 2.0f);
  CHECK(reinterpret_cast<uintptr_t>(small.data()) % large_block == 0);
}

TEST_CASE("a model in bf16 says which precision runs, and trains differently from f32 only where bf16 runs") {
  auto train = [](Precision p, Precision& ran) {
    FlatModel model(testing::flat_config(64, 1, 32));
    model.init(1);
    ran = model.set_precision(p);
    std::vector<int32_t> tokens(64), targets(64);
    for (size_t i = 0; i < 64; ++i) tokens[i] = int32_t(i * 7 % 256), targets[i] = int32_t(i * 11 % 256);
    model.forward(tokens.data(), targets.data(), 2, 32);
    model.backward(1.0f);
    return model.grads;
  };
  Precision ran32, ran16;
  const auto g32 = train(Precision::f32, ran32), g16 = train(Precision::bf16, ran16);
  CHECK(ran32 == Precision::f32);
  CHECK(ran16 == (bf16_native() ? Precision::bf16 : Precision::f32));
  CHECK((g32 != g16) == bf16_native());
  // ... and close: bf16 rounds operands (2⁻⁹ relative), it does not change what is computed.
  double diff = 0, norm = 0;
  for (size_t i = 0; i < g32.size(); ++i) {
    diff += (double(g16[i]) - g32[i]) * (double(g16[i]) - g32[i]);
    norm += double(g32[i]) * g32[i];
  }
  CHECK(std::sqrt(diff / norm) < 3e-2);
  Precision again;
  CHECK(train(Precision::bf16, again) == g16);  // and bf16 is deterministic
}

TEST_CASE("a model's packed weights follow its optimizer steps") {
  // Three AdamW steps of a model whose products read packs (pack_weights) against one whose
  // products read the weights plain, f32 and bf16 (its copy's packs): the packs are remade after
  // each step (weights_changed).
  auto train = [](Precision p, bool packed) {
    FlatModel model(testing::flat_config(64, 1, 32));
    model.init(1);
    model.set_precision(p);
    if (packed) model.pack_weights();
    std::vector<float> m(model.params.size()), v(model.params.size());
    std::vector<int32_t> tokens(128), targets(128);
    for (size_t i = 0; i < 128; ++i) tokens[i] = int32_t(i * 7 % 256), targets[i] = int32_t(i * 11 % 256);
    for (int64_t t = 1; t <= 3; ++t) {
      std::fill(model.grads.begin(), model.grads.end(), 0.0f);
      model.forward(tokens.data(), targets.data(), 4, 32);  // 128 rows: enough to pack
      model.backward(1.0f);
      adamw_update(AdamW{.lr = 1e-2, .t = t}, 1.0f, model.tensors(), model.params, model.grads, m, v);
      model.weights_changed();
    }
    return std::vector<float>(model.params.begin(), model.params.end());
  };
  for (Precision p : {Precision::f32, Precision::bf16}) {
    CAPTURE(precision_name(p));
    CHECK(max_diff(train(p, true), train(p, false)) < 1e-5);
  }
}

namespace {

struct IsaBuild {
  const char* name;
  void (*swiglu_forward)(const float*, const float*, int64_t, float*);
  void (*swiglu_backward)(const float*, const float*, const float*, int64_t, float*, float*);
  float (*cross_entropy)(float*, int64_t, int32_t, float);
  float (*dot)(const float*, const float*, const float*, int64_t);
};

// The builds this CPU can run (generic everywhere).
std::vector<IsaBuild> runnable_builds() {
  namespace k = bytes::kernels;
#define BUILD(isa) \
  IsaBuild{#isa, k::isa::swiglu_forward_row, k::isa::swiglu_backward_row, k::isa::cross_entropy_row, k::isa::dot_row}
  std::vector<IsaBuild> b = {BUILD(generic)};
  if (k::has_avx2_fma()) b.push_back(BUILD(avx2));
  if (k::has_avx512()) b.push_back(BUILD(avx512));
#undef BUILD
  return b;
}

struct AttentionBuild {
  const char* name;
  decltype(&bytes::kernels::generic::attention_forward) forward;
  decltype(&bytes::kernels::generic::attention_backward) backward;
  bool bf16;  // products of bf16 operands
};

std::vector<AttentionBuild> runnable_attention_builds() {
  namespace k = bytes::kernels;
#define BUILD(isa, bf16) AttentionBuild{#isa, k::isa::attention_forward, k::isa::attention_backward, bf16}
  std::vector<AttentionBuild> b = {BUILD(generic, false)};
  if (k::has_avx2_fma()) b.push_back(BUILD(avx2, false));
  if (k::has_avx512()) b.push_back(BUILD(avx512, false));
  if (k::has_avx512_bf16()) b.push_back(BUILD(avx512bf16, true));
  // AMX where --precision bf16 runs it (the tile registers are lent to a process that asked)
  if (k::attention_impl(bytes::Precision::bf16) == std::string("amx_bf16")) b.push_back(BUILD(amx, true));
#undef BUILD
  return b;
}

bool near(double got, double want, double rel, double abs) { return std::fabs(got - want) <= abs + rel * std::fabs(want); }

}  // namespace

TEST_CASE("each ISA's SwiGLU and cross-entropy agree with scalar code, whole vectors and tails alike") {
  std::mt19937_64 rng(7);
  for (const IsaBuild& isa : runnable_builds()) {
    CAPTURE(isa.name);
    for (int64_t n : {1, 7, 16, 37, 64, 384}) {  // RMSNorm's sums
      CAPTURE(n);
      auto a = randn(rng, size_t(n)), b = randn(rng, size_t(n)), c = randn(rng, size_t(n));
      double ab = 0, abc = 0, scale = 0;
      for (size_t j = 0; j < size_t(n); ++j) {
        ab += double(a[j]) * b[j], abc += double(a[j]) * b[j] * c[j];
        scale += std::fabs(double(a[j]) * b[j] * c[j]) + std::fabs(double(a[j]) * b[j]);
      }
      CHECK(near(isa.dot(a.data(), b.data(), nullptr, n), ab, 0, 1e-6 * scale));
      CHECK(near(isa.dot(a.data(), b.data(), c.data(), n), abc, 0, 1e-6 * scale));
      // The same sum from a copy at another address (a resumed run's buffers lie elsewhere).
      std::vector<float> moved(size_t(n) + 3);
      std::copy(a.begin(), a.end(), moved.begin() + 3);
      CHECK(isa.dot(moved.data() + 3, b.data(), c.data(), n) == isa.dot(a.data(), b.data(), c.data(), n));
    }
    for (int64_t hid : {1, 7, 16, 37, 64}) {
      CAPTURE(hid);
      auto g = randn(rng, size_t(hid)), u = randn(rng, size_t(hid)), ds = randn(rng, size_t(hid));
      for (auto& x : g) x *= 4;
      g[0] = -100.0f;  // the extremes: no infinity, no NaN
      if (hid > 1) g[1] = 100.0f;
      const size_t n = static_cast<size_t>(hid);
      std::vector<float> s(n), dg(n), du(n);
      isa.swiglu_forward(g.data(), u.data(), hid, s.data());
      isa.swiglu_backward(ds.data(), g.data(), u.data(), hid, dg.data(), du.data());
      for (size_t j = 0; j < size_t(hid); ++j) {
        const double sig = 1.0 / (1.0 + std::exp(-double(g[j])));
        CHECK(near(s[j], double(g[j]) * sig * u[j], 1e-5, 1e-30));
        CHECK(near(du[j], double(ds[j]) * g[j] * sig, 1e-5, 1e-30));
        CHECK(near(dg[j], double(ds[j]) * u[j] * sig * (1 + g[j] * (1 - sig)), 1e-5, 1e-30));
      }
    }
    for (int64_t V : {3, 16, 258}) {
      CAPTURE(V);
      auto z = randn(rng, size_t(V));
      for (auto& x : z) x *= 8;
      z[size_t(V - 1)] = 60.0f;  // far above the rest
      for (int32_t target : {0, int32_t(V - 1)}) {
        double mx = *std::max_element(z.begin(), z.end()), sum = 0;
        for (float x : z) sum += std::exp(double(x) - mx);
        const double log_sum = std::log(sum) + mx;
        auto loss_only = z;
        CHECK(near(isa.cross_entropy(loss_only.data(), V, target, 0), log_sum - z[size_t(target)], 1e-6, 1e-5));
        CHECK(loss_only == z);  // the logits stay without a gradient to make
        auto grad = z;
        const float scale = 0.25f;
        CHECK(near(isa.cross_entropy(grad.data(), V, target, scale), log_sum - z[size_t(target)], 1e-6, 1e-5));
        for (size_t j = 0; j < size_t(V); ++j)
          CHECK(near(grad[j], scale * (std::exp(double(z[j]) - log_sum) - (int64_t(j) == target)), 1e-5, 1e-7));
      }
    }
  }
}

TEST_CASE("each ISA's attention matches the plain softmax, and their backwards agree") {
  // The dispatched build's backward is checked against finite differences in test_model.cpp; here
  // every build this CPU runs is held to plain double code (forward) and to the generic build
  // (backward). Segments of 16 rows or fewer take the short path (no tiles), longer ones the tiles:
  // {6, 16, 17, 2} has both. The bf16 build is held to the plain softmax of its bf16-rounded q, k and v, its
  // rounding of the probabilities allowed for, and its gradient to the f32 one as a whole.
  std::mt19937_64 rng(8);
  const int64_t H = 2, hd = 64, D = H * hd;
  for (const std::vector<int64_t>& lengths : std::vector<std::vector<int64_t>>{{1, 200}, {64, 3, 129}, {6, 16, 17, 2}})
    for (bool causal : {true, false}) {
      std::vector<int64_t> offsets{0};
      for (int64_t n : lengths) offsets.push_back(offsets.back() + n);
      const int64_t S = int64_t(lengths.size()), N = offsets.back();
      CAPTURE(N);
      CAPTURE(causal);
      auto qkv = randn(rng, size_t(N * 3 * D)), dout = randn(rng, size_t(N * D));
      for (auto& x : qkv) x *= 2;  // sharper softmaxes: the running maximum changes across key tiles
      std::vector<float> f32_dqkv;
      for (const AttentionBuild& isa : runnable_attention_builds()) {
        CAPTURE(isa.name);
        auto input = qkv;
        if (isa.bf16)
          for (auto& x : input) x = round_bf16(x);
        const double rel = isa.bf16 ? 1e-2 : 1e-4, abs = isa.bf16 ? 1e-2 : 1e-5;
        std::vector<float> out(size_t(N * D)), lse(size_t(N * H)), dqkv(qkv.size());
        std::vector<bytes::bf16_t> out16(out.size());
        isa.forward(qkv.data(), offsets.data(), S, H, hd, causal, out.data(), lse.data(), out16.data());
        std::vector<bytes::bf16_t> rounded(out.size());
        bytes::to_bf16(out.data(), rounded.data(), out.size());
        CHECK(out16 == rounded);  // the bf16 copy of the output, every row of it
        for (int64_t sg = 0; sg < S; ++sg)
          for (int64_t h = 0; h < H; ++h)
            for (int64_t t = offsets[size_t(sg)]; t < offsets[size_t(sg + 1)]; ++t) {
              const int64_t first = offsets[size_t(sg)], last = causal ? t : offsets[size_t(sg + 1)] - 1;
              std::vector<double> p;
              double mx = -1e300, z = 0;
              for (int64_t j = first; j <= last; ++j) {
                double dot = 0;
                for (int64_t x = 0; x < hd; ++x)
                  dot += double(input[size_t(t * 3 * D + h * hd + x)]) * input[size_t(j * 3 * D + D + h * hd + x)];
                p.push_back(dot / 8.0);
                mx = std::max(mx, p.back());
              }
              for (auto& v : p) z += (v = std::exp(v - mx));
              CHECK(near(lse[size_t(t * H + h)], mx + std::log(z), 1e-5, 1e-5));
              for (int64_t x = 0; x < hd; x += 7) {
                double o = 0;
                for (int64_t j = first; j <= last; ++j)
                  o += p[size_t(j - first)] / z * input[size_t(j * 3 * D + 2 * D + h * hd + x)];
                CHECK(near(out[size_t(t * D + h * hd + x)], o, rel, abs));
              }
            }
        isa.backward(qkv.data(), out.data(), dout.data(), lse.data(), offsets.data(), S, H, hd, causal, dqkv.data());
        if (f32_dqkv.empty()) f32_dqkv = dqkv;
        if (isa.bf16) {
          double diff = 0, norm = 0;
          for (size_t i = 0; i < dqkv.size(); ++i) {
            diff += (double(dqkv[i]) - f32_dqkv[i]) * (double(dqkv[i]) - f32_dqkv[i]);
            norm += double(f32_dqkv[i]) * f32_dqkv[i];
          }
          CHECK(std::sqrt(diff / norm) < 2e-2);
        } else {
          for (size_t i = 0; i < dqkv.size(); ++i) CHECK(near(dqkv[i], f32_dqkv[i], 1e-3, 1e-4));
        }
      }
    }
}
