#include <doctest/doctest.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "bytes/runs/optimizer.hpp"
#include "bytes/runs/schedule.hpp"

using namespace bytes;

namespace {

// AdamW as the paper and PyTorch's documentation write it, in double, one parameter at a time.
struct Reference {
  double lr, beta1, beta2, weight_decay;
  std::vector<double> p, m, v;
  int t = 0;
  void step(const std::vector<double>& g, const std::vector<bool>& decay) {
    ++t;
    for (size_t i = 0; i < p.size(); ++i) {
      if (decay[i]) p[i] -= lr * weight_decay * p[i];
      m[i] = beta1 * m[i] + (1 - beta1) * g[i];
      v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
      const double m_hat = m[i] / (1 - std::pow(beta1, t)), v_hat = v[i] / (1 - std::pow(beta2, t));
      p[i] -= lr * m_hat / (std::sqrt(v_hat) + 1e-8);
    }
  }
};

}  // namespace

TEST_CASE("the gradient norm is the L2 norm of all gradients; clipping scales it down to the limit") {
  const std::vector<float> g = {3, 0, -4};
  CHECK(grad_norm(g) == 5.0);
  CHECK(grad_norm(std::vector<float>{}) == 0.0);
  CHECK(clip_scale(5.0, 1.0) == 0.2f);
  CHECK(clip_scale(5.0, 5.0) == 1.0f);
  CHECK(clip_scale(5.0, 10.0) == 1.0f);
  CHECK(clip_scale(5.0, 0.0) == 1.0f);  // no clipping
  // Summed in double: in float, 4096² + 1 is 4096².
  CHECK(grad_norm(std::vector<float>{4096, 1}) == std::sqrt(16777217.0));
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  CHECK_FALSE(std::isfinite(grad_norm(std::vector<float>{1, inf})));
  CHECK_FALSE(std::isfinite(grad_norm(std::vector<float>{nan, 1})));
  // Millions of gradients (chunks on several threads, a tail): the norm, and the same bits on one
  // thread as on all; zero_grads clears every one.
  std::mt19937_64 rng(5);
  std::normal_distribution<float> normal;
  std::vector<float> big((size_t(1) << 21) + 13);
  long double want = 0;
  for (auto& x : big) x = normal(rng), want += (long double)x * x;
  const double all = grad_norm(big);
  CHECK(all == doctest::Approx(double(std::sqrt(want))).epsilon(1e-12));
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const double one = grad_norm(big);
  omp_set_num_threads(threads);
  CHECK(one == all);
  zero_grads(big);
  CHECK(std::all_of(big.begin(), big.end(), [](float x) { return x == 0.0f; }));
}

TEST_CASE("AdamW follows the direct computation over several steps, with weight decay on matrices only") {
  // Three tensors in one block: a 2 × 3 matrix, a norm of 2 and a 3 × 1 matrix.
  const std::vector<TensorInfo> tensors = {{"a", {2, 3}, 0, 6}, {"norm", {2}, 6, 2}, {"b", {3, 1}, 8, 3}};
  const size_t n = 11;
  std::vector<bool> decay(n, true);
  decay[6] = decay[7] = false;
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> p(n), m(n, 0.0f), v(n, 0.0f), g(n);
  for (float& x : p) x = normal(rng);
  Reference ref{2e-2, 0.9, 0.95, 0.1, std::vector<double>(p.begin(), p.end()), std::vector<double>(n), std::vector<double>(n)};
  const float scale = 0.5f;
  for (int64_t t = 1; t <= 5; ++t) {
    for (float& x : g) x = normal(rng);
    g[3] = 0;  // a parameter without gradient still decays
    const double lr = 2e-2 * double(t) / 5;  // as a schedule would change it
    ref.lr = lr;
    adamw_update(AdamW{lr, 0.9, 0.95, 0.1, t}, scale, tensors, p, g, m, v);
    std::vector<double> scaled(n);
    for (size_t i = 0; i < n; ++i) scaled[i] = double(g[i]) * scale;
    ref.step(scaled, decay);
    for (size_t i = 0; i < n; ++i) {
      INFO("step ", t, ", parameter ", i);
      CHECK(p[i] == doctest::Approx(ref.p[i]).epsilon(1e-5));
      CHECK(m[i] == doctest::Approx(ref.m[i]).epsilon(1e-5));
      CHECK(v[i] == doctest::Approx(ref.v[i]).epsilon(1e-5));
    }
  }
}

TEST_CASE("AdamW's first step moves each parameter by lr against its gradient's sign (bias correction)") {
  std::vector<float> p = {1, -2, 0.5f, 3}, g = {0.3f, -1e-3f, 20, -7}, m(4, 0.0f), v(4, 0.0f);
  const std::vector<float> before = p;
  adamw_update(AdamW{1e-2, 0.9, 0.95, 0.1, 1}, false, 1.0f, p, g, m, v);
  for (size_t i = 0; i < p.size(); ++i) CHECK(p[i] == doctest::Approx(before[i] - 1e-2 * (g[i] > 0 ? 1 : -1)).epsilon(1e-5));
  // Without gradient only the decay acts, and only where asked: p · (1 − lr · λ).
  std::vector<float> zero(4, 0.0f), m2(4, 0.0f), v2(4, 0.0f), q = before, r = before;
  adamw_update(AdamW{1e-2, 0.9, 0.95, 0.1, 1}, true, 1.0f, q, zero, m2, v2);
  adamw_update(AdamW{1e-2, 0.9, 0.95, 0.1, 1}, false, 1.0f, r, zero, m2, v2);
  for (size_t i = 0; i < q.size(); ++i) {
    CHECK(q[i] == doctest::Approx(before[i] * (1 - 1e-3)).epsilon(1e-6));
    CHECK(r[i] == before[i]);
  }
}

TEST_CASE("AdamW gives each parameter the same bits in its vector body as one at a time") {
  // 4·k + 3 parameters: the body takes four at a time, the tail one; a span of one is all tail.
  // Enough of them that a change in any one operation's rounding shows (reassociating one
  // product changed 2% of them).
  const size_t n = 4099;
  std::mt19937_64 rng(5);
  std::normal_distribution<float> normal;
  std::vector<float> p(n), g(n), m(n), v(n);
  // Parameters as small as a step, so that any difference in the step shows in their bits.
  for (size_t i = 0; i < n; ++i) p[i] = 1e-3f * normal(rng), g[i] = normal(rng), m[i] = 0.1f * normal(rng), v[i] = std::abs(normal(rng));
  std::vector<float> p1 = p, m1 = m, v1 = v;
  const AdamW opt{3e-3, 0.9, 0.95, 0.1, 7};
  adamw_update(opt, true, 0.7f, p, g, m, v);
  for (size_t i = 0; i < n; ++i)
    adamw_update(opt, true, 0.7f, std::span(p1).subspan(i, 1), std::span(g).subspan(i, 1), std::span(m1).subspan(i, 1),
                 std::span(v1).subspan(i, 1));
  CHECK(std::memcmp(p.data(), p1.data(), n * sizeof(float)) == 0);
  CHECK(std::memcmp(m.data(), m1.data(), n * sizeof(float)) == 0);
  CHECK(std::memcmp(v.data(), v1.data(), n * sizeof(float)) == 0);
}

TEST_CASE("the learning rate warms up linearly and decays by a cosine to its floor") {
  TrainOptions o;
  o.lr = 1e-3;
  o.warmup = 10;
  o.min_lr_ratio = 0.1;
  CHECK(learning_rate(o, 0, 110) == doctest::Approx(1e-4));
  CHECK(learning_rate(o, 9, 110) == doctest::Approx(1e-3));
  CHECK(learning_rate(o, 60, 110) == doctest::Approx(0.55e-3));
  CHECK(learning_rate(o, 110, 110) == doctest::Approx(1e-4));
  for (int s = 10; s < 110; ++s) CHECK(learning_rate(o, s + 1, 110) <= learning_rate(o, s, 110));
  // A schedule no longer than the warmup stays at the peak after it.
  CHECK(learning_rate(o, 12, 8) == 1e-3);
}

TEST_CASE("budgets: steps, bytes rounded up to whole steps, the smaller of the two, or time alone") {
  TrainOptions o;
  o.max_steps = 50;
  CHECK(budget_steps(o, 128) == 50);
  o.max_steps = 0;
  o.max_bytes = 1000;
  CHECK(budget_steps(o, 128) == 8);  // 7.8 steps
  CHECK(budget_steps(o, 125) == 8);
  o.max_steps = 5;
  CHECK(budget_steps(o, 128) == 5);
  o.max_steps = 0;
  o.max_bytes = 0;
  o.max_seconds = 60;
  CHECK(budget_steps(o, 128) == 0);
}

TEST_CASE("a schedule is done at its last step or when its time is spent") {
  TrainOptions o;
  o.max_steps = 10;
  Schedule steps(o, 64);
  TrainState st;
  st.total_steps = steps.planned_steps();
  CHECK(st.total_steps == 10);
  st.step = 9;
  CHECK_FALSE(steps.done(st));
  st.step = 10;
  CHECK(steps.done(st));
  o.max_seconds = 5;  // and a time limit: whichever comes first
  st.step = 3;
  st.seconds = 5;
  CHECK(steps.done(st));
  // The rate: after the warmup, the cosine runs over the state's total_steps.
  o.warmup = 0;
  st.step = 5;
  CHECK(steps.lr(st) == learning_rate(o, 5, 10));
}

TEST_CASE("a time budget alone re-estimates the schedule's length from the speed after step 2") {
  TrainOptions o;
  o.max_seconds = 100;
  Schedule schedule(o, 64);
  CHECK(schedule.planned_steps() == 0);
  TrainState st;
  // A slow first step (3 s), then one step a second.
  for (int64_t step = 1; step <= 2; ++step) {
    st.step = step;
    st.train_seconds = st.seconds = 3.0 + double(step - 1);
    schedule.measured(st);
    CHECK(st.total_steps == 0);  // not measured yet: the rate stays at the peak
    CHECK_FALSE(schedule.done(st));
  }
  st.step = 6;
  st.train_seconds = 8.0;  // 4 steps in 4 s since step 2
  st.seconds = 10.0;
  schedule.measured(st);
  CHECK(st.total_steps == 6 + 90);
  st.step = 95;
  st.train_seconds = st.seconds = 99.5;
  schedule.measured(st);
  CHECK(st.total_steps == 96);  // at least one more step while time is left
  st.seconds = 100;
  CHECK(schedule.done(st));
}
