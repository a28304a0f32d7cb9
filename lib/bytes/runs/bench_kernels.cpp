#include "bytes/runs/bench_kernels.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <omp.h>
#include <tuple>

#include "bytes/base/interrupt.hpp"
#include "bytes/base/random.hpp"
#include "bytes/kernels/kernels.hpp"

namespace bytes::bench {
using clock_type = std::chrono::steady_clock;

namespace {

double since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }

std::vector<float> random_floats(size_t n, uint64_t seed, float scale = 1.0f) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = float((rng.uniform() * 2 - 1) * scale);
  return v;
}

void add_peak_fraction(Row& r, const std::map<Precision, double>& peak, Precision p) {
  if (!peak.count(p)) return;
  r.ceiling = "peak " + precision_name(p);
  r.fraction = r.mean / peak.at(p);
}

}  // namespace

std::vector<double> time_calls(const Options& o, const std::function<void()>& fn) {
  for (int i = 0; i < o.warmup; ++i) fn();
  auto t = clock_type::now();
  fn();
  const double one = std::max(since(t), 1e-9);
  const int64_t calls = std::max<int64_t>(1, int64_t(std::ceil(o.min_seconds / one)));
  std::vector<double> seconds;
  for (int r = 0; r < o.repetitions; ++r) {
    check_interrupt();
    t = clock_type::now();
    for (int64_t i = 0; i < calls; ++i) fn();
    seconds.push_back(since(t) / double(calls));
  }
  return seconds;
}

std::vector<double> rates(double amount, const std::vector<double>& seconds) {
  std::vector<double> r;
  for (double s : seconds) r.push_back(amount / s);
  return r;
}

std::map<Precision, double> measure_matmul(const Options& o, const FlatModel& flat,
                                           const std::vector<Precision>& precisions, const Emit& emit) {
  const int64_t N = o.batch * flat.context(), d = flat.width(), hid = ffn_hidden_for(d), V = VOCAB;
  struct Shape {
    std::string name;
    Gemm g;
  };
  std::vector<Shape> shapes;
  for (auto [name, out, in] : {std::tuple<const char*, int64_t, int64_t>{"qkv", 3 * d, d}, {"wo", d, d},
                               {"w13", 2 * hid, d}, {"w2", d, hid}, {"head", V, d}}) {
    shapes.push_back({std::string(name) + " fwd", {N, out, in, false, true, false}});
    shapes.push_back({std::string(name) + " bwd-x", {N, in, out, false, false, false}});
    shapes.push_back({std::string(name) + " bwd-w", {out, in, N, true, false, true}});
  }
  const int64_t largest = N * std::max(2 * hid, 3 * d);
  auto a = random_floats(size_t(largest), 1), b = random_floats(size_t(largest), 2);
  std::vector<float> c(size_t(std::max(largest, 2 * hid * d)));
  std::map<Precision, double> peaks;
  for (Precision p : precisions) {
    // As a step reads its operands (bytes-bench(1)): b holds the weights of the forward and
    // input-gradient products, packed; in bf16 a and b have bf16 copies, and b's copy its packs.
    const bool half = p == Precision::bf16;
    auto a16 = half ? std::make_unique<Bf16Weights>(a.data(), a.size()) : nullptr;
    auto b16 = half ? std::make_unique<Bf16Weights>(b.data(), b.size()) : nullptr;
    PackedWeights packs(half ? static_cast<const void*>(b16->data()) : b.data(),
                        b.size() * (half ? sizeof(bf16_t) : sizeof(float)));
    std::vector<Row> rows;
    for (const auto& s : shapes) {
      Row r;
      r.test = "matmul";
      r.size = s.name + " " + std::to_string(s.g.m) + "x" + std::to_string(s.g.n) + "x" + std::to_string(s.g.k);
      r.precision = precision_name(p);
      r.unit = "GFLOP/s";
      const double flops = 2.0 * double(s.g.m) * double(s.g.n) * double(s.g.k);
      r.set(rates(flops / 1e9, time_calls(o, [&] { bytes::matmul(s.g, a.data(), b.data(), c.data(), p); })));
      rows.push_back(r);
    }
    auto best = std::max_element(rows.begin(), rows.end(), [](auto& x, auto& y) { return x.mean < y.mean; });
    Row peak = *best;
    peak.size = "peak (" + best->size + ")";
    peaks[p] = peak.mean;
    for (auto& r : rows) {
      r.ceiling = "peak " + r.precision;
      r.fraction = r.mean / peak.mean;
      emit(r);
    }
    emit(peak);
  }
  return peaks;
}

double measure_bandwidth(const Options& o, uint64_t llc, const Emit& emit) {
  const size_t n = size_t(std::max<uint64_t>(256ull << 20, 8 * llc));
  std::vector<char> src(n, 1), dst(n, 0);
  const int64_t chunk = 1 << 20, chunks = int64_t(n) / chunk;
  Row r;
  r.test = "bandwidth";
  r.size = "copy " + std::to_string(n >> 20) + " MiB";
  r.unit = "GB/s";
  r.set(rates(2.0 * double(chunks * chunk) / 1e9, time_calls(o, [&] {
#pragma omp parallel for schedule(static)
                  for (int64_t i = 0; i < chunks; ++i) std::memcpy(dst.data() + i * chunk, src.data() + i * chunk, chunk);
                })));
  emit(r);
  return r.mean * 1e9;
}

void measure_attention(const Options& o, const FlatModel& flat, const std::vector<Precision>& precisions,
                       const std::map<Precision, double>& peak, const Emit& emit) {
  const int64_t H = std::max<int64_t>(1, flat.width() / head_dim), hd = head_dim;
  // f32 always (the f32 peak is the yardstick); bf16 where a bf16 build runs for it.
  std::vector<Precision> runs{Precision::f32};
  if (std::count(precisions.begin(), precisions.end(), Precision::bf16) &&
      kernels::attention_impl(Precision::bf16) != std::string(kernels::attention_impl()))
    runs.push_back(Precision::bf16);
  for (int64_t T : o.attention_ctx)
    for (Precision p : runs) {
      const int64_t S = std::max<int64_t>(1, 4096 / T), N = S * T;
      std::vector<int64_t> offsets(size_t(S + 1)), lengths(size_t(S), T);
      for (int64_t s = 0; s <= S; ++s) offsets[size_t(s)] = s * T;
      auto qkv = random_floats(size_t(N * 3 * H * hd), 3), dout = random_floats(size_t(N * H * hd), 4);
      std::vector<float> out(size_t(N * H * hd)), lse(size_t(N * H)), dqkv(qkv.size());
      const double fwd = attention_flops(lengths, H, hd, true);
      Row f;
      f.test = "attention fwd";
      f.size = "ctx " + std::to_string(T) + " x" + std::to_string(S) + " heads " + std::to_string(H);
      f.precision = precision_name(p);
      f.unit = "GFLOP/s";
      f.set(rates(fwd / 1e9, time_calls(o, [&] {
                    kernels::attention_forward(qkv.data(), offsets.data(), S, H, hd, true, out.data(), lse.data(), p);
                  })));
      add_peak_fraction(f, peak, p);
      emit(f);
      Row b = f;
      b.test = "attention bwd";
      b.set(rates(2.5 * fwd / 1e9, time_calls(o, [&] {
                    kernels::attention_backward(qkv.data(), out.data(), dout.data(), lse.data(), offsets.data(), S,
                                                H, hd, true, dqkv.data(), p);
                  })));
      add_peak_fraction(b, peak, p);
      emit(b);
    }
}

void measure_norm(const Options& o, const FlatModel& flat, const Emit& emit) {
  const int64_t N = o.batch * flat.context(), d = flat.width();
  auto x = random_floats(size_t(N * d), 5), dy = random_floats(size_t(N * d), 6), w = random_floats(size_t(d), 7);
  std::vector<float> y(size_t(N * d)), rstd(static_cast<size_t>(N)), dx(size_t(N * d)), dw(static_cast<size_t>(d));
  const std::string size = std::to_string(N) + "x" + std::to_string(d);
  Row f;
  f.test = "rmsnorm fwd";
  f.size = size;
  f.precision = "f32";
  f.unit = "GB/s";
  f.set(rates(2.0 * double(N * d) * 4 / 1e9,
              time_calls(o, [&] { kernels::rmsnorm_forward(x.data(), w.data(), N, d, 1e-5f, y.data(), rstd.data()); })));
  emit(f);
  Row b = f;
  b.test = "rmsnorm bwd";
  b.set(rates(4.0 * double(N * d) * 4 / 1e9, time_calls(o, [&] {
                kernels::rmsnorm_backward(dy.data(), x.data(), w.data(), rstd.data(), N, d, dx.data(), dw.data());
              })));
  emit(b);
}

}  // namespace bytes::bench
