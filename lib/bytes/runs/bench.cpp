#include "bytes/runs/bench.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "bytes/base/error.hpp"
#include "bytes/base/interrupt.hpp"
#include "bytes/base/io.hpp"
#include "bytes/base/parallel.hpp"
#include "bytes/models/flat.hpp"
#include "bytes/runs/bench_kernels.hpp"
#include "bytes/runs/generate.hpp"
#include "bytes/runs/train.hpp"
#include "bytes/text/perturb.hpp"
#include "bytes/text/prep.hpp"

namespace bytes::bench {
namespace fs = std::filesystem;

namespace {

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
    // Generation reads bf16 weights on any CPU (one-row products): its bf16 rows run everywhere.
    gen_precisions_ = o.precisions;
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
    if (wants("matmul") || wants("train")) peak_ = measure_matmul(o_, flat_, precisions_, out_);
    if (wants("bandwidth") || wants("tg")) bandwidth_ = measure_bandwidth(o_, llc_, out_);
    if (wants("attention")) measure_attention(o_, flat_, precisions_, peak_, out_);
    if (wants("norm")) measure_norm(o_, flat_, out_);
    for (const auto& arch : o_.archs)
      for (Precision p : gen_precisions_) {
        const bool runs = std::count(precisions_.begin(), precisions_.end(), p) > 0;
        if (wants("train") && runs) train(arch, p);
        if ((wants("pp") && runs) || wants("tg")) generation(arch, p, wants("pp") && runs, wants("tg"));
      }
    if (wants("prep")) prep();
    if (wants("perturb")) perturb();
  }

 private:
  void emit(Row& r) { out_(r); }

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
    // The first step creates the primitives; a model whose batches vary in rows (word) grows its
    // buffers over the next (step 2 took 1.3× a steady step): steady steps are what a run is made of.
    const int warm = std::max(3, o_.warmup);
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
    model.set_precision(p);
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
      // bf16 weights are half the bytes (the little read in f32 besides, norms and an embedding
      // row, is not counted either way).
      const double reads = model.weight_bytes_per_byte() * (p == Precision::bf16 ? 0.5 : 1.0);
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
  std::vector<Precision> precisions_, gen_precisions_;
  fs::path work_;
  std::map<Precision, double> peak_;  // GFLOP/s
  double bandwidth_ = 0, zstd_ = 0, cat_ = 0;
  std::string text_, text_path_, dataset_;
  uint64_t llc_ = 0;  // bytes of the last cache level, 0 if unknown
};

}  // namespace

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
