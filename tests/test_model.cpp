#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <utility>

#include "bytes/base/error.hpp"
#include "bytes/kernels/kernels.hpp"
#include "bytes/models/flat.hpp"
#include "bytes/models/model.hpp"
#include "bytes/models/patch.hpp"
#include "bytes/models/word.hpp"
#include "bytes/base/parallel.hpp"
#include "testing.hpp"

using namespace bytes;
using testing::flat_config, testing::patch_config, testing::word_model_config;
namespace k = bytes::kernels;

namespace {

std::vector<float> randn(std::mt19937_64& rng, size_t n, float scale = 1.0f) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  return v;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * double(b[i]);
  return s;
}

// Checks a kernel's backward by a directional finite difference: for the scalar L = Σ r ⊙ f(x),
// the analytic ∂L/∂x · v must match (L(x + εv) − L(x − εv)) / 2ε for a random direction v.
void check_directional(std::vector<float>& x, const std::function<std::vector<float>()>& forward,
                       const std::function<std::vector<float>(const std::vector<float>& r)>& backward,
                       std::mt19937_64& rng, double eps = 1e-2, double tol = 2e-3) {
  auto y = forward();
  auto r = randn(rng, y.size());
  auto grad = backward(r);
  // A backward that wrote nothing would pass the comparison below for any forward flat enough.
  CHECK(std::any_of(grad.begin(), grad.end(), [](float g) { return g != 0.0f; }));
  auto v = randn(rng, x.size());
  const auto x0 = x;
  for (size_t i = 0; i < x.size(); ++i) x[i] = x0[i] + float(eps) * v[i];
  double plus = dot(r, forward());
  for (size_t i = 0; i < x.size(); ++i) x[i] = x0[i] - float(eps) * v[i];
  double minus = dot(r, forward());
  x = x0;
  double numeric = (plus - minus) / (2 * eps), analytic = dot(grad, v);
  CAPTURE(numeric);
  CAPTURE(analytic);
  CHECK(std::abs(numeric - analytic) <= tol * (std::abs(numeric) + std::abs(analytic)) + 1e-4);
}

}  // namespace

TEST_CASE("the matmul wrappers compute what their names say") {
  std::mt19937_64 rng(7);
  const int64_t rows = 5, in = 7, out = 3;
  auto x = randn(rng, rows * in), w = randn(rng, out * in), dy = randn(rng, rows * out);
  std::vector<float> y(rows * out), dx(rows * in), dw(out * in, 1.0f);
  linear(x.data(), w.data(), y.data(), rows, in, out);
  linear_backward_input(dy.data(), w.data(), dx.data(), rows, in, out);
  linear_backward_weight(dy.data(), x.data(), dw.data(), rows, in, out);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double s = 0;
      for (int64_t i = 0; i < in; ++i) s += x[r * in + i] * w[o * in + i];
      CHECK(y[r * out + o] == doctest::Approx(s).epsilon(1e-5));
    }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < in; ++i) {
      double s = 0;
      for (int64_t o = 0; o < out; ++o) s += dy[r * out + o] * w[o * in + i];
      CHECK(dx[r * in + i] == doctest::Approx(s).epsilon(1e-5));
    }
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i) {
      double s = 1;
      for (int64_t r = 0; r < rows; ++r) s += dy[r * out + o] * x[r * in + i];
      CHECK(dw[o * in + i] == doctest::Approx(s).epsilon(1e-5));
    }
}

TEST_CASE("a residual product adds its branch as it writes, and leaves the branch alone") {
  std::mt19937_64 rng(11);
  for (int64_t rows : {1, 5, 64}) {  // one row takes the gemv path
    for (int64_t in : {0, 7, 96}) {
      CAPTURE(rows);
      CAPTURE(in);
      const int64_t out = 19;
      auto x = randn(rng, size_t(rows * in)), w = randn(rng, size_t(out * in)), res = randn(rng, size_t(rows * out));
      const auto res0 = res;
      std::vector<float> y(size_t(rows * out), 123.0f), plain(y.size());
      linear_residual(x.data(), w.data(), res.data(), y.data(), rows, in, out);
      linear(x.data(), w.data(), plain.data(), rows, in, out);
      CHECK(res == res0);
      for (size_t i = 0; i < y.size(); ++i) CHECK(y[i] == doctest::Approx(res[i] + plain[i]).epsilon(1e-6));
      // Accumulating into C and adding a branch at once is refused (no product means both).
      CHECK_THROWS(matmul({rows, out, in, false, true, true, res.data()}, x.data(), w.data(), y.data()));
      if (!bf16_native() || in == 0 || rows == 1) continue;  // one row reads f32 x (gemv)
      // bf16: an x made in bf16, and f32 x rounded by the call, agree
      std::vector<bf16_t> x16(x.size());
      to_bf16(x.data(), x16.data(), x.size());
      std::vector<float> y16(y.size()), yp(y.size());
      linear_residual(x16.data(), w.data(), res.data(), y16.data(), rows, in, out);
      linear_residual(x.data(), w.data(), res.data(), yp.data(), rows, in, out, Precision::bf16);
      linear(x.data(), w.data(), plain.data(), rows, in, out, false, Precision::bf16);
      CHECK(y16 == yp);
      for (size_t i = 0; i < y.size(); ++i) CHECK(y16[i] == doctest::Approx(res[i] + plain[i]).epsilon(1e-5));
    }
  }
}

TEST_CASE("rmsnorm backward agrees with finite differences") {
  std::mt19937_64 rng(1);
  const int64_t n = 5, d = 96;
  auto x = randn(rng, n * d), w = randn(rng, d, 0.5f);
  std::vector<float> rstd(n);
  auto fwd = [&] {
    std::vector<float> y(size_t(n * d));
    k::rmsnorm_forward(x.data(), w.data(), n, d, 1e-5f, y.data(), rstd.data());
    return y;
  };
  auto bwd_x = [&](const std::vector<float>& r) {
    fwd();
    std::vector<float> dx(size_t(n * d), 0.0f), dw(size_t(d), 0.0f);
    k::rmsnorm_backward(r.data(), x.data(), w.data(), rstd.data(), n, d, dx.data(), dw.data());
    return dx;
  };
  auto bwd_w = [&](const std::vector<float>& r) {
    fwd();
    std::vector<float> dx(size_t(n * d), 0.0f), dw(size_t(d), 0.0f);
    k::rmsnorm_backward(r.data(), x.data(), w.data(), rstd.data(), n, d, dx.data(), dw.data());
    return dw;
  };
  check_directional(x, fwd, bwd_x, rng);
  check_directional(w, fwd, bwd_w, rng);
  // The bf16 copy of dx is the sum (what was in dx plus this gradient), rounded.
  auto r = randn(rng, size_t(n * d)), dx = randn(rng, size_t(n * d));
  std::vector<float> dw(static_cast<size_t>(d));
  std::vector<bf16_t> dx16(dx.size()), want(dx.size());
  k::rmsnorm_backward(r.data(), x.data(), w.data(), rstd.data(), n, d, dx.data(), dw.data(), dx16.data());
  to_bf16(dx.data(), want.data(), dx.size());
  CHECK(dx16 == want);
}

TEST_CASE("swiglu and cross-entropy backward agree with finite differences") {
  std::mt19937_64 rng(2);
  const int64_t n = 4, hid = 40, V = 258;
  auto gu = randn(rng, n * 2 * hid);
  check_directional(
      gu,
      [&] {
        std::vector<float> s(size_t(n * hid));
        k::swiglu_forward(gu.data(), n, hid, s.data());
        return s;
      },
      [&](const std::vector<float>& r) {
        std::vector<float> dgu(gu.size());
        k::swiglu_backward(r.data(), gu.data(), n, hid, dgu.data());
        return dgu;
      },
      rng);
  auto logits = randn(rng, n * V, 2.0f);
  std::vector<int32_t> targets = {3, 256, -1, 100};
  check_directional(
      logits,
      [&] {
        auto z = logits;
        std::vector<float> losses(static_cast<size_t>(n));
        k::cross_entropy(z.data(), targets.data(), n, V, 0, losses.data());
        return losses;
      },
      [&](const std::vector<float>& r) {
        // Per-row weights: the gradient of Σ r_i loss_i, row by row.
        std::vector<float> g(logits.size());
        for (int64_t i = 0; i < n; ++i) {
          std::vector<float> z(logits.begin() + i * V, logits.begin() + (i + 1) * V);
          k::cross_entropy(z.data(), &targets[size_t(i)], 1, V, r[size_t(i)], nullptr);
          std::copy(z.begin(), z.end(), g.begin() + i * V);
        }
        return g;
      },
      rng);
  std::vector<float> losses(static_cast<size_t>(n));
  auto z = logits;
  k::cross_entropy(z.data(), targets.data(), n, V, 0, losses.data());
  CHECK(losses[2] == 0.0f);
  std::vector<float> lp(static_cast<size_t>(V));
  k::log_softmax(logits.data(), V, lp.data());
  CHECK(-lp[3] == doctest::Approx(losses[0]).epsilon(1e-5));
}

TEST_CASE("rope is a rotation whose inverse undoes it, with the spec's pairing") {
  std::mt19937_64 rng(3);
  const int64_t rows = 6, hd = 64, heads = 2, stride = heads * hd + 5;
  auto x = randn(rng, size_t(rows * stride));
  auto y = x;
  const std::vector<int64_t> segs{0, 3, 6};
  k::rope(y.data(), segs.data(), 2, stride, heads, hd, 10000.0f, false);
  // Row 4 is position 1: pair (j, j + 32) of head 0 turns by base^(−2j/64).
  for (int64_t j : {0, 5, 31}) {
    double a = std::pow(10000.0, -2.0 * double(j) / 64.0);
    float x1 = x[size_t(4 * stride + j)], x2 = x[size_t(4 * stride + j + 32)];
    CHECK(y[size_t(4 * stride + j)] == doctest::Approx(x1 * std::cos(a) - x2 * std::sin(a)).epsilon(1e-5));
    CHECK(y[size_t(4 * stride + j + 32)] == doctest::Approx(x2 * std::cos(a) + x1 * std::sin(a)).epsilon(1e-5));
  }
  CHECK(y[size_t(3 * stride + 7)] == x[size_t(3 * stride + 7)]);  // position 0: identity
  k::rope(y.data(), segs.data(), 2, stride, heads, hd, 10000.0f, true);
  for (size_t i = 0; i < x.size(); ++i) REQUIRE(y[i] == doctest::Approx(x[i]).epsilon(1e-5));
}

TEST_CASE("tiled attention over segments matches the plain softmax, causal or not, and its backward agrees with finite differences") {
  std::mt19937_64 rng(4);
  // Segment lengths: uniform batches as the flat model runs them, and the short, uneven ones of words.
  const std::vector<std::vector<int64_t>> layouts = {{1, 1}, {5, 5}, {64, 64}, {130, 130}, {3, 1, 17, 70, 2}};
  for (const auto& lengths : layouts)
    for (bool causal : {true, false}) {
      std::vector<int64_t> offsets{0};
      for (int64_t n : lengths) offsets.push_back(offsets.back() + n);
      const int64_t S = int64_t(lengths.size()), N = offsets.back(), H = 2, hd = 64, D = H * hd;
      CAPTURE(N);
      CAPTURE(causal);
      auto qkv = randn(rng, size_t(N * 3 * D));
      std::vector<float> out(size_t(N * D)), lse(size_t(N * H));
      k::attention_forward(qkv.data(), offsets.data(), S, H, hd, causal, out.data(), lse.data());
      for (int64_t sg = 0; sg < S; ++sg)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t t = offsets[size_t(sg)]; t < offsets[size_t(sg + 1)]; ++t) {
            // Reference: softmax over the visible keys of q·k/sqrt(hd), then the weighted sum of v.
            const int64_t first = offsets[size_t(sg)], last = causal ? t : offsets[size_t(sg + 1)] - 1;
            auto q = &qkv[size_t(t * 3 * D + h * hd)];
            std::vector<double> s;
            double mx = -1e30;
            for (int64_t j = first; j <= last; ++j) {
              auto kk = &qkv[size_t(j * 3 * D + D + h * hd)];
              double acc = 0;
              for (int64_t x = 0; x < hd; ++x) acc += double(q[x]) * kk[x];
              s.push_back(acc / 8.0);
              mx = std::max(mx, s.back());
            }
            double z = 0;
            for (auto& v : s) z += std::exp(v - mx);
            CHECK(lse[size_t(t * H + h)] == doctest::Approx(mx + std::log(z)).epsilon(1e-4));
            for (int64_t x = 0; x < hd; x += 9) {
              double o = 0;
              for (int64_t j = first; j <= last; ++j)
                o += std::exp(s[size_t(j - first)] - mx) / z * qkv[size_t(j * 3 * D + 2 * D + h * hd + x)];
              REQUIRE(out[size_t(t * D + h * hd + x)] == doctest::Approx(o).epsilon(1e-4));
            }
          }
      if (N <= 2) continue;
      check_directional(
          qkv,
          [&] {
            std::vector<float> o(size_t(N * D)), l(size_t(N * H));
            k::attention_forward(qkv.data(), offsets.data(), S, H, hd, causal, o.data(), l.data());
            return o;
          },
          [&](const std::vector<float>& r) {
            std::vector<float> o(size_t(N * D)), l(size_t(N * H)), d(qkv.size());
            k::attention_forward(qkv.data(), offsets.data(), S, H, hd, causal, o.data(), l.data());
            k::attention_backward(qkv.data(), o.data(), r.data(), l.data(), offsets.data(), S, H, hd, causal, d.data());
            return d;
          },
          rng, 1e-2, 5e-3);
    }
}

namespace {

// Every tensor's gradient (a stack's second-layer matrices left out) against a central difference of loss along a
// random direction, tensor by tensor. The model's weights are scaled up first so every path
// carries signal.
void check_model_gradients(Model& model, const std::function<double()>& loss, const std::function<void()>& backward,
                           std::mt19937_64& rng) {
  for (auto& p : model.params) p *= 2;
  loss();
  std::fill(model.grads.begin(), model.grads.end(), 0.0f);
  backward();
  const auto grads = model.grads;
  for (const auto& t : model.tensors()) {
    // The matrices of a stack's second layer run the code its first layer's already checked.
    if (t.name.find("layers.1.") != std::string::npos && t.name.find("norm") == std::string::npos) continue;
    CAPTURE(t.name);
    // A tensor whose gradient is all zeros would match a flat loss: some entry must carry signal.
    CHECK(std::any_of(grads.begin() + ptrdiff_t(t.offset), grads.begin() + ptrdiff_t(t.offset + t.size),
                      [](float g) { return g != 0.0f; }));
    auto v = randn(rng, t.size);
    double analytic = 0;
    for (size_t i = 0; i < t.size; ++i) analytic += double(grads[t.offset + i]) * v[i];
    // A step of 1% of the tensor's typical size: large against rounding.
    double sq = 0;
    for (size_t i = 0; i < t.size; ++i) sq += double(model.params[t.offset + i]) * model.params[t.offset + i];
    const double eps = 1e-2 * std::sqrt(sq / double(t.size));
    const auto saved = model.params;
    auto at = [&](double step) {
      for (size_t i = 0; i < t.size; ++i) model.params[t.offset + i] = saved[t.offset + i] + float(step) * v[i];
      return loss();
    };
    // The five-point difference: its error shrinks as eps⁴, so deep stacks' curvature does not
    // pass for a wrong gradient.
    double numeric = (8 * (at(eps) - at(-eps)) - (at(2 * eps) - at(-2 * eps))) / (12 * eps);
    model.params = saved;
    CAPTURE(numeric);
    CAPTURE(analytic);
    CHECK(std::abs(numeric - analytic) <= 1e-2 * std::abs(analytic) + 1e-4);
  }
}

// Rows of random words: lengths 1–cap, some BOS words, random complete and scored flags (never
// the first word of a row).
WordBatch random_words(std::mt19937_64& rng, int64_t rows, int64_t words, int64_t cap) {
  WordBatch batch;
  std::vector<int32_t> s;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t w = 0; w < words; ++w) {
      const bool bos = rng() % 6 == 0;
      s.assign(bos ? 1 : size_t(1 + rng() % uint64_t(cap)), BOS);
      if (!bos)
        for (auto& x : s) x = int32_t(rng() % 256);
      batch.add_word(s.data(), int64_t(s.size()), !bos && rng() % 4 != 0, w > 0 && rng() % 5 != 0);
    }
    batch.end_row();
  }
  return batch;
}

}  // namespace

TEST_CASE("the whole flat model's gradients agree with finite differences, tensor by tensor") {
  std::mt19937_64 rng(5);
  FlatModel model(flat_config(128, 2, 70));
  model.init(9);
  const int64_t B = 2, T = 70;
  std::vector<int32_t> tokens(size_t(B * T)), targets(size_t(B * T));
  for (auto& t : tokens) t = int32_t(rng() % 258);
  for (auto& t : targets) t = int32_t(rng() % 258);
  targets[5] = -1;
  check_model_gradients(
      model, [&] { return model.forward(tokens.data(), targets.data(), B, T) / double(B * T); },
      [&] { model.backward(1.0f / float(B * T)); }, rng);
}

TEST_CASE("the whole word model's gradients agree with finite differences, tensor by tensor") {
  std::mt19937_64 rng(6);
  WordModel model(word_model_config(128, 2, 16, 64, 1, 64, 2, 8));
  model.init(10);
  const WordBatch batch = random_words(rng, 3, 9, model.word_cap());
  REQUIRE(batch.dec_rows > 20);
  const double n = double(batch.dec_rows);
  check_model_gradients(
      model, [&] { return model.forward(batch) / n; }, [&] { model.backward(float(1.0 / n)); }, rng);
}

TEST_CASE("the whole patch model's gradients agree with finite differences, tensor by tensor") {
  for (const char* spec : {"4", "4x2"}) {
    CAPTURE(spec);
    std::mt19937_64 rng(7);
    PatchModel model(patch_config(spec, 64, 2, 16, 64, 1));
    model.init(12);
    const int64_t B = 2, T = 16;
    std::vector<int32_t> tokens(size_t(B * T)), targets(size_t(B * T));
    for (auto& t : tokens) t = int32_t(rng() % 257);
    for (auto& t : targets) t = int32_t(rng() % 257);
    targets[3] = -1;
    check_model_gradients(
        model, [&] { return model.forward(tokens.data(), targets.data(), B, T) / double(B * T); },
        [&] { model.backward(1.0f / float(B * T)); }, rng);
  }
}

TEST_CASE("a patch model's window is padded to whole patches without changing a scored position") {
  std::mt19937_64 rng(8);
  PatchModel model(patch_config("4x2", 64, 1, 32, 64, 1));
  model.init(13);
  for (auto& p : model.params) p *= 2;
  std::vector<int32_t> tokens(32), targets(32);
  for (auto& t : tokens) t = int32_t(rng() % 256);
  for (size_t i = 0; i + 1 < tokens.size(); ++i) targets[i] = tokens[i + 1];
  targets.back() = int32_t(rng() % 256);
  model.forward(tokens.data(), targets.data(), 1, 32);
  const std::vector<float> full(model.losses(), model.losses() + 32);
  for (int64_t T : {1, 5, 8, 19, 31}) {
    CAPTURE(T);
    model.forward(tokens.data(), targets.data(), 1, T);
    for (int64_t t = 0; t < T; ++t) REQUIRE(model.losses()[t] == doctest::Approx(full[size_t(t)]).epsilon(1e-5));
  }
  CHECK_THROWS_AS(model.backward(1.0f), Error);  // a padded forward is for scoring only
  CHECK_THROWS_WITH_AS(patch_config("4x2", 64, 1, 12, 64, 1), doctest::Contains("whole number"), UsageError);
  CHECK_THROWS_AS(patch_config("4x", 64, 1, 16, 64, 1), UsageError);
  CHECK_THROWS_AS(patch_config("1", 64, 1, 16, 64, 1), UsageError);
}

TEST_CASE("models save and load exactly, and bad files are refused by name") {
  testing::TempDir dir;
  FlatModel model(flat_config(64, 1, 16));
  model.init(1);
  save_model(model, dir / "m.safetensors");
  const auto back = load_model(dir / "m.safetensors");
  CHECK(back->params == model.params);
  CHECK(back->config() == model.config());
  CHECK(back->context() == 16);
  CHECK(read_model_config(dir / "m.safetensors") == model.config());

  std::string data = testing::read_file(dir / "m.safetensors");
  testing::write_file(dir / "cut.safetensors", data.substr(0, data.size() - 10));
  CHECK_THROWS_WITH_AS(load_model(dir / "cut.safetensors"), doctest::Contains("truncated"), Error);
  testing::write_file(dir / "junk.safetensors", "hello world, not a model");
  CHECK_THROWS_AS(load_model(dir / "junk.safetensors"), Error);
  std::string v3 = data;
  auto at = v3.find("\"format_version\":\"2\"");
  REQUIRE(at != std::string::npos);
  v3[at + 18] = '3';
  testing::write_file(dir / "v3.safetensors", v3);
  CHECK_THROWS_WITH_AS(load_model(dir / "v3.safetensors"), doctest::Contains("unsupported model format version 3"), Error);
  CHECK_THROWS_AS(flat_config(100, 1, 16), UsageError);  // heads must be 64 wide
}

TEST_CASE("memory estimate: the word model's activations follow the mean word length; sizing allocates nothing") {
  const WordModel sizes(word_model_config(256, 4, 64, 256, 1, 256, 2), false);  // no parameters or gradients
  CHECK(sizes.params.empty());
  CHECK(sizes.grads.empty());
  CHECK(sizes.n_params() > 0);
  const uint64_t at_cap = sizes.activation_bytes(32, 0), english = sizes.activation_bytes(32, 5.5);
  // Every word at the 32-byte cap was the old bound: about five times what English text needs.
  CHECK(english * 3 < at_cap);
  CHECK(sizes.activation_bytes(32, 11) > english);
  CHECK(sizes.activation_bytes(32, 1000) == at_cap);  // never past the cap
  // The flat model's does not depend on words.
  const FlatModel flat(flat_config(256, 4, 256), false);
  CHECK(flat.activation_bytes(8, 5.5) == flat.activation_bytes(8, 0));
}

namespace {

// A safetensors file: the 8-byte header length, the header, the data.
std::string safetensors(const nlohmann::json& header, const std::string& data, uint64_t length = UINT64_MAX) {
  std::string text = header.dump();
  if (length == UINT64_MAX) length = text.size();
  return std::string(reinterpret_cast<const char*>(&length), 8) + text + data;
}

// The header save_model would write for config, every tensor at its own place in the data.
nlohmann::json header_of(const Config& config) {
  nlohmann::json h;
  h["__metadata__"] = {{"format", "bytes-model"}, {"format_version", "2"}, {"config", config.json()}};
  const auto model = make_model(config, false);
  for (const auto& t : model->tensors())
    h[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {t.offset * 4, (t.offset + t.size) * 4}}};
  return h;
}

}  // namespace

TEST_CASE("a crafted model file cannot make the loader allocate more than the file holds") {
  testing::TempDir dir;
  // 256 blocks whose tensors of each shape all share one stretch of a 0.3 MB file: the loader
  // used to copy them into 2 × 67 MB of parameters and gradients (and a bigger config, into
  // gigabytes).
  const Config big = Config::make("flat", {{"d_model", "64"}, {"n_layers", "256"}, {"ctx", "16"}, {"ffn_hidden", "256"}});
  nlohmann::json h = header_of(big);
  std::map<std::vector<int64_t>, uint64_t> place;  // shape → where its one copy lies
  uint64_t end = 0;
  const auto layout = make_model(big, false);
  for (const auto& t : layout->tensors()) {
    if (!place.count(t.shape)) place[t.shape] = std::exchange(end, end + t.size * 4);
    h[t.name]["data_offsets"] = {place[t.shape], place[t.shape] + t.size * 4};
  }
  testing::write_file(dir / "shared.safetensors", safetensors(h, std::string(end, '\0')));
  CHECK_THROWS_WITH_AS(load_model(dir / "shared.safetensors"), doctest::Contains("overlap"), Error);
  CHECK_THROWS_WITH_AS(load_model(dir / "shared.safetensors", true), doctest::Contains("overlap"), Error);

  // The same model with its tensors apart loads.
  const Config small = flat_config(64, 2, 16);
  FlatModel model(small);
  model.init(3);
  save_model(model, dir / "fine.safetensors");
  CHECK(load_model(dir / "fine.safetensors")->params == model.params);

  // A header length within the file but beyond any real header is refused before it is read
  // (a JSON header takes many times its size once parsed).
  nlohmann::json padded = header_of(small);
  padded["__metadata__"]["padding"] = std::string(17 << 20, ' ');
  testing::write_file(dir / "long.safetensors", safetensors(padded, std::string(size_t(model.n_params()) * 4, '\0')));
  CHECK_THROWS_WITH_AS(load_model(dir / "long.safetensors"), doctest::Contains("header length"), Error);
}

TEST_CASE("a model config's sizes are integers within bytes-train's limits") {
  const auto good = nlohmann::ordered_json::parse(flat_config(64, 2, 16).json());
  CHECK(Config::from_json(good.dump()).json() == good.dump());
  auto with = [&](const char* key, nlohmann::json value) {
    nlohmann::ordered_json j = good;
    j[key] = value;
    return j.dump();
  };
  // Wider, deeper or longer than any model bytes-train makes (each fine before, and the tensor
  // sizes they imply reach gigabytes).
  CHECK_THROWS_WITH_AS(Config::from_json(with("d_model", 16384)), doctest::Contains("d_model"), Error);
  CHECK_THROWS_AS(Config::from_json(with("n_layers", 1000)), Error);
  CHECK_THROWS_AS(Config::from_json(with("ffn_hidden", 1 << 20)), Error);
  CHECK_THROWS_AS(Config::from_json(with("ctx", int64_t(1) << 30)), Error);
  CHECK_THROWS_AS(Config::from_json(with("rope_base", 1e300)), Error);
  // Not integers: 64.5 used to pass as 64, 1e300 had no int64 value at all.
  CHECK_THROWS_WITH_AS(Config::from_json(with("d_model", 64.5)), doctest::Contains("integer"), Error);
  CHECK_THROWS_WITH_AS(Config::from_json(with("ctx", 1e300)), doctest::Contains("integer"), Error);
  CHECK_THROWS_WITH_AS(Config::from_json(with("n_layers", "2")), doctest::Contains("bad model config"), Error);
  // Head counts and the vocabulary are written for other readers and must agree.
  CHECK_THROWS_WITH_AS(Config::from_json(with("n_heads", 2)), doctest::Contains("n_heads must be 1"), Error);
  CHECK_THROWS_AS(Config::from_json(with("vocab", 300)), Error);
  // An unknown architecture in a file is the file's error (exit 1), not a usage error.
  CHECK_THROWS_WITH_AS(Config::from_json(with("arch", "flatX")), doctest::Contains("unknown architecture"), Error);
  // A field the architecture does not have is damage, not something to ignore.
  CHECK_THROWS_WITH_AS(Config::from_json(with("enc_layers", 2)), doctest::Contains("no field enc_layers"), Error);
  auto patch = nlohmann::json::parse(patch_config("8", 64, 1, 64, 64, 1).json());
  patch["stage_embed"] = {8.5};
  CHECK_THROWS_WITH_AS(Config::from_json(patch.dump()), doctest::Contains("integers"), Error);
  // Four 6-digit patch sizes multiply past 64 bits.
  CHECK_THROWS_WITH_AS(unit_bytes("999999x999999x999999x999999"), doctest::Contains("longest context"), Error);
  CHECK(unit_bytes("4096x4096") == std::vector<int64_t>{4096 * 4096, 4096, 1});
}

TEST_CASE("bytes-model format 1 configs still load: old names, head counts and vocabulary") {
  // As bytes-train wrote them before configs were declared per architecture.
  const char* flat1 = R"({"arch":"flat","d_model":64,"n_layers":2,"n_heads":1,"ffn_hidden":192,"ctx":16,)"
                      R"("rope_base":10000.0,"norm_eps":1e-05,"vocab":258})";
  CHECK(Config::from_json(flat1) == flat_config(64, 2, 16));
  const char* word1 = R"({"arch":"word","d_model":128,"n_layers":2,"n_heads":2,"ffn_hidden":320,"ctx":16,)"
                      R"("rope_base":10000.0,"norm_eps":1e-05,"vocab":258,"enc_d_model":64,"enc_layers":1,)"
                      R"("enc_heads":1,"enc_ffn_hidden":192,"dec_d_model":64,"dec_layers":2,"dec_heads":1,)"
                      R"("dec_ffn_hidden":192,"word_rule":"whitespace","word_cap":8})";
  CHECK(Config::from_json(word1) == word_model_config(128, 2, 16, 64, 1, 64, 2, 8));
  // Every field in one place: the flags give the same config as the JSON, and back.
  const Config c = patch_config("4x2", 128, 2, 64, 64, 1);
  CHECK(Config::from_json(c.json()) == c);
  CHECK(c.summary() == "patch d_model 128 n_layers 2 ctx 64 patch 4x2 inner_d_model 64,64 inner_layers 1,1");
}

TEST_CASE("a model header of the wrong JSON types is a named error, not a JSON library exception") {
  testing::TempDir dir;
  const Config config = flat_config(64, 1, 16);
  const std::string data(size_t(make_model(config, false)->n_params()) * 4, '\0');
  auto refused = [&](nlohmann::json h, const char* what) {
    testing::write_file(dir / "m.safetensors", safetensors(h, data));
    CHECK_THROWS_WITH_AS(load_model(dir / "m.safetensors"), doctest::Contains(what), Error);
  };
  testing::write_file(dir / "ok.safetensors", safetensors(header_of(config), data));
  CHECK_NOTHROW(load_model(dir / "ok.safetensors"));
  auto h = header_of(config);
  h["__metadata__"]["format"] = 5;
  refused(h, "__metadata__");
  h = header_of(config);
  h["__metadata__"] = "bytes-model";
  refused(h, "__metadata__");
  h = header_of(config);
  h["embed.weight"] = {1, 2};
  refused(h, "embed.weight");
  h = header_of(config);
  h["embed.weight"]["shape"] = {258.0, "64"};
  refused(h, "wrong shape");
  h = header_of(config);
  h["head.weight"]["data_offsets"][1] = double(h["head.weight"]["data_offsets"][1].get<uint64_t>());
  refused(h, "bad data offsets");
  h = header_of(config);
  h["head.weight"]["data_offsets"] = {-4, 0};
  refused(h, "bad data offsets");
}

TEST_CASE("matmul keeps primitives for a bounded number of shapes, and results do not depend on it") {
  // The word model meets new row counts every step; an unbounded cache grew training by megabytes
  // a step. More distinct shapes than the cache holds, each checked against a plain product.
  std::mt19937_64 rng(9);
  std::vector<float> a(64 * 32), b(32 * 5), c;
  for (auto& x : a) x = float(int(rng() % 7) - 3);
  for (auto& x : b) x = float(int(rng() % 5) - 2);
  for (int64_t rows = 1; rows <= 64; ++rows) {
    c.assign(size_t(rows * 5), 0.0f);
    matmul({rows, 5, 8, false, false, false}, a.data(), b.data(), c.data());
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < 5; ++j) {
        float want = 0;
        for (int64_t k = 0; k < 8; ++k) want += a[size_t(i * 8 + k)] * b[size_t(k * 5 + j)];
        REQUIRE(c[size_t(i * 5 + j)] == want);
      }
  }
  // Then k varies too: more shapes than the cache holds (40 · 32 > matmul_cache_entries).
  static_assert(40 * 32 > matmul_cache_entries);
  for (int64_t k = 1; k <= 32; ++k)
    for (int64_t rows = 1; rows <= 40; ++rows) {
      c.assign(size_t(rows * 5), 0.0f);
      matmul({rows, 5, k, false, false, false}, a.data(), b.data(), c.data());
    }
  CHECK(matmul_cache_size() <= matmul_cache_entries);
  CHECK(matmul_cache_size() > 0);
}
