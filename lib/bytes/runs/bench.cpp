#include "bytes/runs/bench.hpp"

#include <fcntl.h>
#include <omp.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <dnnl.hpp>
#include <filesystem>
#include <fstream>
#include <map>

#include "bytes/base/interrupt.hpp"
#include "bytes/base/units.hpp"
#include "bytes/base/error.hpp"
#include "bytes/runs/generate.hpp"
#include "bytes/base/io.hpp"
#include "bytes/kernels/kernels.hpp"
#include "bytes/models/flat.hpp"
#include "bytes/base/parallel.hpp"
#include "bytes/text/perturb.hpp"
#include "bytes/text/prep.hpp"
#include "bytes/runs/train.hpp"
#include "bytes_version.hpp"

namespace bytes::bench {
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

namespace {

double since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }

std::string isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "other";
  }
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  return "unknown CPU";
}

uint64_t llc_bytes() {
  // The highest cache index of cpu0 is the last level; sizes read like "32768K".
  uint64_t best = 0;
  for (int i = 0; i < 8; ++i) {
    std::ifstream in("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/size");
    std::string s;
    if (!(in >> s)) break;
    try {
      best = std::max<uint64_t>(best, parse_size(s));
    } catch (...) {
    }
  }
  return best;
}

std::string precision_name(Precision p) { return p == Precision::bf16 ? "bf16" : "f32"; }

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}
int decimals_for(double v) {
  v = std::fabs(v);
  return v >= 100 ? 0 : v >= 10 ? 1 : v >= 1 ? 2 : 3;
}
std::string percent(double fraction) { return fixed(100 * fraction, 1) + "%"; }

// Seconds per call of fn: warm-up calls, then repetitions of enough calls each to last
// min_seconds (one call of a slow test is one repetition).
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

// rate = amount / seconds for each sample.
std::vector<double> rates(double amount, const std::vector<double>& seconds) {
  std::vector<double> r;
  for (double s : seconds) r.push_back(amount / s);
  return r;
}

std::vector<float> random_floats(size_t n, uint64_t seed, float scale = 1.0f) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = float((rng.uniform() * 2 - 1) * scale);
  return v;
}

std::vector<NoiseSpec> noise_chain(const std::string& spec) {
  std::vector<NoiseSpec> chain;
  for (size_t start = 0; start <= spec.size();) {
    size_t comma = spec.find(',', start);
    if (comma == std::string::npos) comma = spec.size();
    chain.push_back(parse_noise(spec.substr(start, comma - start)));
    start = comma + 1;
  }
  return chain;
}

// The models the train, pp and tg tests run: each architecture's defaults, with the size flags
// given that it declares.
Config model_config(const Options& o, const std::string& arch) {
  std::map<std::string, std::string> mine;
  for (const Field& f : architecture(arch).fields)
    if (auto it = o.model_flags.find(f.name); it != o.model_flags.end()) mine[f.name] = it->second;
  return Config::make(arch, mine);
}

std::string model_size(const Config& c, int64_t params) {
  return c.summary() + " (" + fixed(double(params) / 1e6, 2) + "M)";
}

class Runner {
 public:
  Runner(const Options& o, const std::function<void(const Row&)>& out)
      : o_(o), out_(out), flat_(model_config(o, "flat"), false) {
    for (Precision p : o.precisions)
      if (p == Precision::f32 || bf16_native()) precisions_.push_back(p);
    llc_ = llc_bytes();
    work_ = fs::temp_directory_path() / ("bytes-bench-" + std::to_string(getpid()));
    fs::create_directories(work_);
  }
  ~Runner() {
    std::error_code ec;
    fs::remove_all(work_, ec);
  }

  void run() {
    auto wants = [&](const std::string& t) { return std::count(o_.tests.begin(), o_.tests.end(), t) > 0; };
    if (wants("matmul") || wants("train")) matmul();
    if (wants("bandwidth") || wants("tg")) bandwidth();
    if (wants("attention")) attention();
    if (wants("norm")) norm();
    for (const auto& arch : o_.archs)
      for (Precision p : precisions_) {
        if (wants("train")) train(arch, p);
        if (wants("pp") || wants("tg")) generation(arch, p, wants("pp"), wants("tg"));
      }
    if (wants("prep")) prep();
    if (wants("perturb")) perturb();
  }

 private:
  void emit(Row& r) { out_(r); }

  // The matmuls of a flat training step at the options' size (forward, backward to the input,
  // backward to the weights of each linear layer, the head included); the peak is the best.
  void matmul() {
    const int64_t N = o_.batch * flat_.context(), d = flat_.width(), hid = ffn_hidden_for(d), V = VOCAB;
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
    for (Precision p : precisions_) {
      std::vector<Row> rows;
      for (const auto& s : shapes) {
        Row r;
        r.test = "matmul";
        r.size = s.name + " " + std::to_string(s.g.m) + "x" + std::to_string(s.g.n) + "x" + std::to_string(s.g.k);
        r.precision = precision_name(p);
        r.unit = "GFLOP/s";
        const double flops = 2.0 * double(s.g.m) * double(s.g.n) * double(s.g.k);
        r.set(rates(flops / 1e9, time_calls(o_, [&] { bytes::matmul(s.g, a.data(), b.data(), c.data(), p); })));
        rows.push_back(r);
      }
      auto best = std::max_element(rows.begin(), rows.end(), [](auto& x, auto& y) { return x.mean < y.mean; });
      Row peak = *best;
      peak.size = "peak (" + best->size + ")";
      peak_[p] = peak.mean;
      for (auto& r : rows) {
        r.ceiling = "peak " + r.precision;
        r.fraction = r.mean / peak.mean;
        emit(r);
      }
      emit(peak);
    }
  }

  // Copy bandwidth of buffers far larger than the last cache level, all threads, counted as
  // STREAM counts a copy: bytes read plus bytes written.
  void bandwidth() {
    const size_t n = size_t(std::max<uint64_t>(256ull << 20, 8 * llc_));
    std::vector<char> src(n, 1), dst(n, 0);
    const int64_t chunk = 1 << 20, chunks = int64_t(n) / chunk;
    Row r;
    r.test = "bandwidth";
    r.size = "copy " + std::to_string(n >> 20) + " MiB";
    r.unit = "GB/s";
    r.set(rates(2.0 * double(chunks * chunk) / 1e9, time_calls(o_, [&] {
#pragma omp parallel for schedule(static)
                    for (int64_t i = 0; i < chunks; ++i) std::memcpy(dst.data() + i * chunk, src.data() + i * chunk, chunk);
                  })));
    bandwidth_ = r.mean * 1e9;
    emit(r);
  }

  // The attention kernel over segments of each context length (rows: at least 4096), heads of
  // the flat model's width.
  void attention() {
    const int64_t H = std::max<int64_t>(1, flat_.width() / head_dim), hd = head_dim;
    for (int64_t T : o_.attention_ctx) {
      const int64_t S = std::max<int64_t>(1, 4096 / T), N = S * T;
      std::vector<int64_t> offsets(size_t(S + 1)), lengths(size_t(S), T);
      for (int64_t s = 0; s <= S; ++s) offsets[size_t(s)] = s * T;
      auto qkv = random_floats(size_t(N * 3 * H * hd), 3), dout = random_floats(size_t(N * H * hd), 4);
      std::vector<float> out(size_t(N * H * hd)), lse(size_t(N * H)), dqkv(qkv.size());
      const double fwd = attention_flops(lengths, H, hd, true);
      const std::string size = "ctx " + std::to_string(T) + " x" + std::to_string(S) + " heads " + std::to_string(H);
      Row f;
      f.test = "attention fwd";
      f.size = size;
      f.precision = "f32";
      f.unit = "GFLOP/s";
      f.set(rates(fwd / 1e9, time_calls(o_, [&] {
                    kernels::attention_forward(qkv.data(), offsets.data(), S, H, hd, true, out.data(), lse.data());
                  })));
      add_peak_fraction(f, Precision::f32);
      emit(f);
      Row b = f;
      b.test = "attention bwd";
      b.set(rates(2.5 * fwd / 1e9, time_calls(o_, [&] {
                    kernels::attention_backward(qkv.data(), out.data(), dout.data(), lse.data(), offsets.data(), S, H,
                                                hd, true, dqkv.data());
                  })));
      add_peak_fraction(b, Precision::f32);
      emit(b);
    }
  }

  // RMSNorm forward and backward over a training step's rows: memory-bound, so GB/s of the
  // arrays each reads and writes.
  void norm() {
    const int64_t N = o_.batch * flat_.context(), d = flat_.width();
    auto x = random_floats(size_t(N * d), 5), dy = random_floats(size_t(N * d), 6), w = random_floats(size_t(d), 7);
    std::vector<float> y(size_t(N * d)), rstd(static_cast<size_t>(N)), dx(size_t(N * d)), dw(static_cast<size_t>(d));
    const std::string size = std::to_string(N) + "x" + std::to_string(d);
    Row f;
    f.test = "rmsnorm fwd";
    f.size = size;
    f.precision = "f32";
    f.unit = "GB/s";
    f.set(rates(2.0 * double(N * d) * 4 / 1e9,
                time_calls(o_, [&] { kernels::rmsnorm_forward(x.data(), w.data(), N, d, 1e-5f, y.data(), rstd.data()); })));
    emit(f);
    Row b = f;
    b.test = "rmsnorm bwd";
    b.set(rates(4.0 * double(N * d) * 4 / 1e9, time_calls(o_, [&] {
                  kernels::rmsnorm_backward(dy.data(), x.data(), w.data(), rstd.data(), N, d, dx.data(), dw.data());
                })));
    emit(b);
  }

  // Training steps of bytes-train's own loop (train()) on a dataset of the text: bytes/s and
  // model FLOP/s of each step after the warm-up.
  void train(const std::string& arch, Precision p) {
    TrainOptions t;
    t.dataset = dataset();
    t.run_dir = (work_ / ("run-" + arch + "-" + precision_name(p))).string();
    t.model = model_config(o_, arch);
    t.batch = o_.batch;
    t.precision = p;
    t.seed = o_.seed;
    t.warmup = 10;
    const int warm = std::max(1, o_.warmup);  // the first step creates the primitives
    t.max_steps = warm + o_.repetitions;
    t.val_every = 0;
    t.val_bytes = 0;
    t.checkpoint_every = 0;
    t.log_every = 1;
    std::vector<double> bps, flops;
    TrainHooks hooks;
    hooks.on_step = [&](const TrainReport& rep) {
      if (rep.step > warm) bps.push_back(rep.bytes_per_s), flops.push_back(rep.model_flops_per_s / 1e9);
    };
    bytes::train(t, hooks);
    fs::remove_all(t.run_dir);
    const auto model = make_model(t.model, false);
    Row r;
    r.test = "train";
    r.size = model_size(t.model, model->n_params()) + " b" + std::to_string(o_.batch);
    r.precision = precision_name(p);
    r.unit = "B/s";
    r.set(bps);
    Row f;
    f.set(flops);
    r.extra["params"] = model->n_params();
    r.extra["model_gflop_s"] = f.mean;
    r.extra["model_gflop_s_sd"] = f.sd;
    r.extra["flops_per_byte"] = r.mean > 0 ? f.mean * 1e9 / r.mean : 0.0;
    if (peak_.count(p)) {
      r.ceiling = "peak " + r.precision;
      r.fraction = f.mean / peak_[p];
    }
    emit(r);
  }

  // bytes-gen's loop (generate()) on a randomly initialised model: the prompt processed as one
  // block (pp), then greedy bytes one at a time (tg).
  void generation(const std::string& arch, Precision p, bool want_pp, bool want_tg) {
    Config c = model_config(o_, arch);
    const auto owned = make_model(c);
    Model& model = *owned;
    model.init(o_.seed);
    model.precision = p;
    auto stream = open_stream(model);
    const std::string& txt = text();
    // A prompt longer than the window would be cut to its last window by the stream: pp would
    // count bytes it never processed.
    const int64_t prompt_bytes = std::min({o_.prompt_bytes, int64_t(txt.size()), model.prompt_limit()});
    std::string prompt = txt.substr(0, size_t(prompt_bytes));
    GenerateOptions g;
    g.max_bytes = o_.gen_bytes;
    g.ignore_end = true;
    g.sampling.temperature = 0;
    std::vector<double> pp, tg;
    auto once = [&] {
      GenerateStats st = generate(*stream, prompt, g, [](std::string_view) {});
      pp.push_back(double(st.prompt_bytes) / st.prompt_seconds);
      tg.push_back(double(st.bytes) / (st.seconds - st.prompt_seconds));
    };
    for (int i = 0; i < o_.warmup; ++i) once();
    pp.clear(), tg.clear();
    for (int i = 0; i < o_.repetitions; ++i) check_interrupt(), once();
    const std::string size = model_size(c, model.n_params());
    if (want_pp) {
      Row r;
      r.test = "pp" + std::to_string(prompt.size());
      r.size = size;
      r.precision = precision_name(p);
      r.unit = "B/s";
      r.set(pp);
      // The prompt's forward as model FLOP/s, where the model can count them (Model::prompt_flops_per_byte).
      if (model.prompt_flops_per_byte() > 0 && peak_.count(p)) {
        r.ceiling = "peak " + r.precision;
        r.fraction = r.mean * model.prompt_flops_per_byte() / 1e9 / peak_[p];
      }
      emit(r);
    }
    if (want_tg) {
      Row r;
      r.test = "tg" + std::to_string(o_.gen_bytes);
      r.size = size;
      r.precision = precision_name(p);
      r.unit = "B/s";
      r.set(tg);
      const double reads = model.weight_bytes_per_byte();
      if (reads > 0 && bandwidth_ > 0) {
        r.ceiling = "bandwidth limit";
        r.fraction = r.mean / (bandwidth_ / reads);
        r.extra["weight_mb_per_byte"] = reads / 1e6;
        r.extra["limit_bytes_per_s"] = bandwidth_ / reads;
        r.extra["weights_exceed_llc"] = llc_ > 0 && reads > double(llc_);
      }
      emit(r);
    }
  }

  // bytes-prep's prepare() on the text as a file, beside zstd -3 (libzstd, one thread) and cat
  // (read the file, write a copy).
  void prep() {
    const std::string in = text_file(), out = (work_ / "prep.bds").string();
    const double mb = double(text().size()) / 1e6;
    prep::Options po;
    po.threads = threads();
    Row r;
    r.test = "prep";
    r.size = "bytes-prep " + fixed(mb, 1) + " MB";
    r.unit = "MB/s";
    r.set(rates(mb, time_calls(o_, [&] { prep::prepare({{in, Split::train}}, out, po); })));
    against_baselines(r);
    emit(r);
  }

  void perturb() {
    const std::vector<NoiseSpec> chain = noise_chain(o_.noise);
    const std::string& txt = text();
    const double mb = double(txt.size()) / 1e6;
    std::string out;
    Row r;
    r.test = "perturb";
    r.size = "bytes-perturb " + o_.noise + " " + fixed(mb, 1) + " MB";
    r.unit = "MB/s";
    r.set(rates(mb, time_calls(o_, [&] {
                  Perturber pert(chain, o_.seed, NoiseUnit::codepoint);
                  out.clear();
                  for (size_t i = 0; i < txt.size(); i += 1 << 16)
                    pert.feed(std::string_view(txt).substr(i, 1 << 16), out);
                  pert.finish(out);
                })));
    against_baselines(r);
    emit(r);
  }

  void against_baselines(Row& r) {
    baselines();
    r.ceiling = "cat";
    r.fraction = r.mean / cat_;
    r.extra["zstd3_mb_s"] = zstd_;
    r.extra["cat_mb_s"] = cat_;
  }

  // zstd -3 and cat, measured once, emitted as rows of their own.
  void baselines() {
    if (cat_ > 0) return;
    const std::string& txt = text();
    const std::string in = text_file(), out = (work_ / "cat.out").string();
    const double mb = double(txt.size()) / 1e6;
    std::vector<char> dst(ZSTD_compressBound(txt.size()));
    Row z;
    z.test = "zstd -3";
    z.size = "libzstd, 1 thread, " + fixed(mb, 1) + " MB";
    z.unit = "MB/s";
    z.set(rates(mb, time_calls(o_, [&] {
                  size_t n = ZSTD_compress(dst.data(), dst.size(), txt.data(), txt.size(), 3);
                  if (ZSTD_isError(n)) throw Error(std::string("zstd: ") + ZSTD_getErrorName(n));
                })));
    zstd_ = z.mean;
    emit(z);
    Row c = z;
    c.test = "cat";
    c.size = "read + write " + fixed(mb, 1) + " MB";
    std::vector<char> buf(128 << 10);
    c.set(rates(mb, time_calls(o_, [&] {
                  int fi = ::open(in.c_str(), O_RDONLY), fo = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
                  if (fi < 0 || fo < 0) throw_errno("cannot open", fi < 0 ? in : out);
                  ssize_t n;
                  while ((n = ::read(fi, buf.data(), buf.size())) > 0)
                    if (::write(fo, buf.data(), size_t(n)) != n) throw_errno("write error", out);
                  ::close(fi), ::close(fo);
                })));
    cat_ = c.mean;
    emit(c);
  }

  void add_peak_fraction(Row& r, Precision p) {
    if (!peak_.count(p)) return;
    r.ceiling = "peak " + precision_name(p);
    r.fraction = r.mean / peak_[p];
  }

  const std::string& text() {
    if (text_.empty()) {
      if (o_.text.empty()) text_ = synthetic_text(o_.text_bytes, o_.seed);
      else text_ = read_all(o_.text);
      if (text_.empty()) throw Error("the benchmark text is empty: " + o_.text);
    }
    return text_;
  }
  std::string text_file() {
    if (text_path_.empty()) {
      text_path_ = (work_ / "text.txt").string();
      std::ofstream f(text_path_, std::ios::binary);
      if (!f.write(text().data(), std::streamsize(text().size())) || !f.flush()) throw_errno("write error", text_path_);
    }
    return text_path_;
  }
  std::string dataset() {
    if (dataset_.empty()) {
      dataset_ = (work_ / "text.bds").string();
      prep::Options po;
      po.threads = threads();
      prep::prepare({{text_file(), Split::train}}, dataset_, po);
    }
    return dataset_;
  }

  const Options& o_;
  const std::function<void(const Row&)>& out_;
  // The kernel tests' shapes are a flat training step's at the options' size.
  const FlatModel flat_;
  std::vector<Precision> precisions_;
  fs::path work_;
  std::map<Precision, double> peak_;  // GFLOP/s
  double bandwidth_ = 0, zstd_ = 0, cat_ = 0;
  std::string text_, text_path_, dataset_;
  uint64_t llc_ = 0;  // bytes of the last cache level, 0 if unknown
};

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return q + "\"";
}

}  // namespace

void Row::set(std::vector<double> values) {
  samples = std::move(values);
  mean = sd = 0;
  if (samples.empty()) return;
  for (double v : samples) mean += v;
  mean /= double(samples.size());
  if (samples.size() > 1) {
    for (double v : samples) sd += (v - mean) * (v - mean);
    sd = std::sqrt(sd / double(samples.size() - 1));
  }
}

Machine machine() {
  Machine m;
  m.cpu = cpu_model();
  m.isa = isa_name(dnnl::get_effective_cpu_isa());
  m.f32_impl = matmul_impl(Precision::f32);
  m.bf16_native = bf16_native();
  m.bf16_impl = m.bf16_native ? matmul_impl(Precision::bf16) : "";
  m.threads = threads();
  m.llc_bytes = llc_bytes();
  m.version = BYTES_VERSION;
  const dnnl_version_t* v = dnnl_version();
  m.dnnl_version = std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  return m;
}

nlohmann::ordered_json Machine::json() const {
  return {{"cpu", cpu},           {"isa", isa},       {"f32_impl", f32_impl},         {"bf16_native", bf16_native},
          {"bf16_impl", bf16_impl}, {"threads", threads}, {"llc_bytes", llc_bytes}, {"bytes_version", version},
          {"onednn_version", dnnl_version}};
}

void validate(const Options& options) {
  for (const auto& t : options.tests)
    if (std::none_of(tests().begin(), tests().end(), [&](const TestInfo& i) { return i.name == t; }))
      throw UsageError("unknown test '" + t + "' (see --list)");
  for (const auto& a : options.archs) {
    try {
      model_config(options, a);
    } catch (const UsageError& e) {
      throw UsageError("the " + a + " model: " + e.what());
    }
  }
  noise_chain(options.noise);
  if (!options.text.empty()) {
    std::ifstream in(options.text, std::ios::binary);
    if (!in) throw_errno("cannot open", options.text);
  }
}

void run(const Options& options, const std::function<void(const Row&)>& out) {
  validate(options);
  Runner(options, out).run();
}

Format parse_format(const std::string& name) {
  if (name == "md") return Format::md;
  if (name == "csv") return Format::csv;
  if (name == "json") return Format::json;
  throw UsageError("unknown output format '" + name + "' (md, csv or json)");
}

std::string header(Format f, const Machine& m) {
  if (f == Format::json) return "";
  if (f == Format::csv)
    return "test,size,precision,unit,mean,sd,repetitions,ceiling,fraction,model_gflop_s,limit_bytes_per_s,cpu,isa,"
           "threads\n";
  std::string h = "bytes-bench " + m.version + " · " + m.cpu + " · " + std::to_string(m.threads) + " threads · oneDNN " +
                  m.dnnl_version + " " + m.isa + " (f32 " + m.f32_impl + ", bf16 " +
                  (m.bf16_native ? m.bf16_impl : std::string("not native: bf16 rows skipped")) + ")";
  if (m.llc_bytes) h += " · last-level cache " + std::to_string(m.llc_bytes >> 20) + " MiB";
  return h + "\n\n| test | size | precision | mean ± sd | unit | against |\n|---|---|---|---:|---|---|\n";
}

std::string format_row(Format f, const Machine& m, const Row& r) {
  if (f == Format::json) {
    nlohmann::ordered_json j = {{"test", r.test}, {"size", r.size}, {"precision", r.precision}, {"unit", r.unit},
                                {"mean", r.mean}, {"sd", r.sd},     {"samples", r.samples}};
    if (r.fraction >= 0) j["ceiling"] = r.ceiling, j["fraction"] = r.fraction;
    for (auto& [k, v] : r.extra.items()) j[k] = v;
    j["machine"] = m.json();
    return j.dump() + "\n";
  }
  const int dec = decimals_for(r.mean);
  if (f == Format::csv) {
    std::string s;
    for (const auto& field : {r.test, r.size, r.precision, r.unit}) s += csv_field(field) + ",";
    s += fixed(r.mean, dec + 2) + "," + fixed(r.sd, dec + 2) + "," + std::to_string(r.samples.size()) + ",";
    s += csv_field(r.fraction >= 0 ? r.ceiling : "") + "," + (r.fraction >= 0 ? fixed(r.fraction, 4) : "") + ",";
    for (const char* key : {"model_gflop_s", "limit_bytes_per_s"})
      s += (r.extra.contains(key) ? fixed(r.extra[key].get<double>(), 2) : "") + ",";
    return s + csv_field(m.cpu) + "," + m.isa + "," + std::to_string(m.threads) + "\n";
  }
  std::string against;
  if (r.extra.contains("model_gflop_s"))
    against = fixed(r.extra["model_gflop_s"].get<double>(), 1) + " model GFLOP/s";
  if (r.fraction >= 0) against += (against.empty() ? "" : " = ") + percent(r.fraction) + " of " + r.ceiling;
  if (r.extra.contains("limit_bytes_per_s"))
    against += " (" + fixed(r.extra["limit_bytes_per_s"].get<double>(), 0) + " B/s" +
               (r.extra["weights_exceed_llc"].get<bool>() ? "" : "; the weights fit in the last-level cache") + ")";
  if (r.extra.contains("zstd3_mb_s"))
    against += ", " + fixed(r.mean / r.extra["zstd3_mb_s"].get<double>(), 2) + "× zstd -3";
  return "| " + r.test + " | " + r.size + " | " + r.precision + " | " + fixed(r.mean, dec) + " ± " + fixed(r.sd, dec) +
         " | " + r.unit + " | " + against + " |\n";
}

std::string synthetic_text(uint64_t n, uint64_t seed) {
  Rng rng(seed);
  // A vocabulary of pronounceable words, short ones first, drawn by Zipf's law (rank r: 1/(r+2)).
  const char* onsets[] = {"", "b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "th", "w", "st", "sh"};
  const char* vowels[] = {"a", "e", "i", "o", "u", "ea", "ou", "ai"};
  const char* codas[] = {"", "", "n", "t", "s", "r", "d", "ll", "ng", "st"};
  std::vector<std::string> vocab;
  for (int i = 0; i < 4000; ++i) {
    std::string w;
    const int syllables = 1 + int(rng.uniform() * (1 + i / 800));
    for (int s = 0; s < syllables && w.size() < 12; ++s)
      w += std::string(onsets[rng.next() % 18]) + vowels[rng.next() % 8] + codas[rng.next() % 10];
    vocab.push_back(w.substr(0, 12));
  }
  std::vector<double> cdf;
  double sum = 0;
  for (size_t r = 0; r < vocab.size(); ++r) cdf.push_back(sum += 1.0 / double(r + 2));
  std::string out;
  out.reserve(n + 16);
  bool capital = true;
  int in_line = 0;
  while (out.size() < n) {
    const double u = rng.uniform() * sum;
    std::string w = vocab[size_t(std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin())];
    if (capital) w[0] = char(std::toupper(w[0])), capital = false;
    out += w;
    const double end = rng.uniform();
    if (end < 0.06) out += '.', capital = true;
    else if (end < 0.12) out += ',';
    if (++in_line > 10 && rng.uniform() < 0.15) out += '\n', in_line = 0;
    else out += ' ';
  }
  out.resize(n);
  return out;
}

double attention_flops(const std::vector<int64_t>& lengths, int64_t heads, int64_t hd, bool causal) {
  double pairs = 0;
  for (int64_t T : lengths) pairs += causal ? double(T) * double(T + 1) / 2 : double(T) * double(T);
  return 4.0 * double(hd) * double(heads) * pairs;
}

}  // namespace bytes::bench
