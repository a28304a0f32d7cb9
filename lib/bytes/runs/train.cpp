#include "bytes/runs/train.hpp"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "bytes/base/interrupt.hpp"
#include "bytes/base/error.hpp"
#include "bytes/runs/eval.hpp"
#include "bytes/base/hash.hpp"
#include "bytes/base/io.hpp"
#include "bytes/base/progress.hpp"
#include "bytes/text/words.hpp"

namespace bytes {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Sampler

Sampler::Sampler(const Dataset& ds, Split split, uint64_t memory_limit) : ds_(ds), split_(split) {
  bytes_ = ds.stats(split).bytes;
  ds.for_each_doc([&](uint64_t, Dataset::Doc d) {
    if (d.split == split) starts_.push_back(d.offset);
  });
  if (starts_.empty() || bytes_ == 0)
    throw Error(std::string("the ") + split_name(split) + " split of " + ds.path() + " has no bytes to train on");
  if (bytes_ <= memory_limit) {
    memory_.reserve(bytes_);
    ds.for_each_frame(split, [&](const uint8_t* p, size_t n) { memory_.insert(memory_.end(), p, p + n); });
  }
}

void Sampler::read(uint64_t offset, uint64_t n, uint8_t* out) {
  if (!memory_.empty()) std::memcpy(out, memory_.data() + offset, n);
  else ds_.read(split_, offset, n, out);
}

void Sampler::batch(uint64_t seed, uint64_t step, int64_t B, int64_t T, int32_t* x, int32_t* y) {
  std::vector<int32_t> tokens(size_t(T + 1));
  std::vector<uint8_t> buf(size_t(T + 1));
  for (int64_t b = 0; b < B; ++b) {
    // Counter-based: window b of step s depends on nothing but (seed, s, b), so resume is exact.
    uint64_t key[3] = {seed, step, uint64_t(b)};
    uint64_t start = XXH3_64bits(key, sizeof key) % bytes_;
    // The window walks the stream from `start`, putting BOS before each document's first byte
    // and wrapping at the end of the split.
    auto next = std::lower_bound(starts_.begin(), starts_.end(), start);
    uint64_t pos = start;
    int64_t filled = 0;
    while (filled < T + 1) {
      uint64_t doc_start = next == starts_.end() ? bytes_ : *next;
      if (pos == doc_start && next != starts_.end()) {
        tokens[size_t(filled++)] = BOS;
        ++next;
        continue;
      }
      if (pos == bytes_) {  // wrap
        pos = 0;
        next = starts_.begin();
        continue;
      }
      uint64_t run = std::min<uint64_t>(doc_start - pos, uint64_t(T + 1 - filled));
      read(pos, run, buf.data());
      for (uint64_t i = 0; i < run; ++i) tokens[size_t(filled++)] = buf[i];
      pos += run;
    }
    std::memcpy(x + b * T, tokens.data(), size_t(T) * sizeof(int32_t));
    std::memcpy(y + b * T, tokens.data() + 1, size_t(T) * sizeof(int32_t));
  }
}

// ---------------------------------------------------------------------------------------------

double learning_rate(const TrainOptions& o, int64_t step, int64_t total_steps) {
  if (o.warmup > 0 && step < o.warmup) return o.lr * double(step + 1) / double(o.warmup);
  if (total_steps <= o.warmup) return o.lr;
  double progress = std::min(1.0, double(step - o.warmup) / double(std::max<int64_t>(1, total_steps - o.warmup)));
  double min_lr = o.lr * o.min_lr_ratio;
  return min_lr + 0.5 * (o.lr - min_lr) * (1.0 + std::cos(M_PI * progress));
}


nlohmann::ordered_json TrainReport::json() const {
  auto round4 = [](double v) { return std::round(v * 1e4) / 1e4; };
  nlohmann::ordered_json j = {{"step", step}, {"bytes", bytes}, {"train_bpb", round4(train_bpb)}};
  if (val_bpb >= 0) j["val_bpb"] = round4(val_bpb);
  j["lr"] = lr;
  j["bytes_per_s"] = std::round(bytes_per_s);
  j["ms_per_step"] = std::round(ms_per_step * 10) / 10;
  j["model_gflop_s"] = std::round(model_flops_per_s / 1e8) / 10;
  j["seconds"] = std::round(seconds * 100) / 100;
  return j;
}

std::string TrainReport::line() const {
  char buf[256];
  char val[32] = "-";
  if (val_bpb >= 0) std::snprintf(val, sizeof val, "%.4f", val_bpb);
  std::snprintf(buf, sizeof buf, "step %ld/%ld train_bpb %.4f val_bpb %s bytes/s %.0f ms/step %.1f lr %.3e", long(step),
                long(total_steps), train_bpb, val, bytes_per_s, ms_per_step, lr);
  return buf;
}

namespace {

// state.bin: everything a resumed run needs, self-contained (weights included) so that a crash
// between writing two files can never pair weights with the wrong optimizer state.
constexpr char state_magic[8] = {'\x89', 'B', 'Y', 'T', 'R', 'U', 'N', '\n'};
constexpr uint32_t state_version = 1;
// magic, version, config length; then the config; then step … parameter count; then p, m, v.
constexpr uint64_t state_head = 16, state_counters = 48;

}  // namespace

void save_state(const std::string& path, const Model& model, const TrainState& st) {
  AtomicFile out(path);
  Xxh3 h;
  auto put = [&](const void* p, size_t n) {
    out.write(p, n);
    h.update(p, n);
  };
  uint64_t n = uint64_t(model.n_params());
  std::string config = model.config().json();
  uint32_t config_len = uint32_t(config.size());
  put(state_magic, 8);
  put(&state_version, 4);
  put(&config_len, 4);
  put(config.data(), config.size());
  put(&st.step, 8);
  put(&st.total_steps, 8);
  put(&st.bytes, 8);
  put(&st.seconds, 8);
  put(&st.train_seconds, 8);
  put(&n, 8);
  put(model.params.data(), n * 4);
  put(st.m.data(), n * 4);
  put(st.v.data(), n * 4);
  uint64_t sum = h.digest();
  out.write(&sum, 8);
  out.commit(true);
}

void load_state(const std::string& path, Model& model, TrainState& st) {
  InputFile in(path);
  auto bad = [&](const std::string& what) { throw Error("bad training state (" + what + "): " + path); };
  if (!in.regular()) bad("not a regular file");
  const uint64_t size = in.size();
  // Every size is checked against the file and the model before anything is read by it: the
  // file's length must be exactly what the model's config and parameter count make it.
  uint8_t head[state_head];
  if (size < state_head + 8) bad("not a bytes training state");
  in.pread_exact(head, sizeof head, 0);
  if (std::memcmp(head, state_magic, 8) != 0) bad("not a bytes training state");
  uint32_t version, config_len;
  std::memcpy(&version, head + 8, 4);
  std::memcpy(&config_len, head + 12, 4);
  if (version != state_version)
    throw Error("unsupported training state version " + std::to_string(version) + ": " + path);
  const uint64_t n = uint64_t(model.n_params()), want = state_head + config_len + state_counters + 12 * n + 8;
  if (config_len > size || size != want) bad("its size does not fit this model: truncated or corrupt");
  Xxh3 h;
  h.update(head, sizeof head);
  uint64_t at = state_head;
  auto get = [&](void* p, size_t k) {
    // In slices, so the checksum and the copy read each slice while it is in cache.
    for (size_t done = 0; done < k;) {
      const size_t take = std::min<size_t>(k - done, 16 << 20);
      in.pread_exact(static_cast<uint8_t*>(p) + done, take, at);
      h.update(static_cast<uint8_t*>(p) + done, take);
      at += take;
      done += take;
    }
  };
  std::string config(config_len, '\0');
  get(config.data(), config_len);
  uint64_t count;
  get(&st.step, 8);
  get(&st.total_steps, 8);
  get(&st.bytes, 8);
  get(&st.seconds, 8);
  get(&st.train_seconds, 8);
  get(&count, 8);
  if (count != n) bad("parameter count");
  st.m.resize(n);
  st.v.resize(n);
  get(model.params.data(), n * 4);
  get(st.m.data(), n * 4);
  get(st.v.data(), n * 4);
  uint64_t sum;
  in.pread_exact(&sum, 8, at);
  if (h.digest() != sum) bad("checksum mismatch: truncated or corrupt");
  // Checked after the checksum: an accident is reported as one, not as another model.
  if (!(Config::from_json(config) == model.config()))
    throw Error("the run in " + fs::path(path).parent_path().string() + " was made with another model (its config: " +
                config + ")");
  if (st.step < 0 || st.total_steps < 0 || !(st.seconds >= 0) || !(st.train_seconds >= 0)) bad("counters");
}

namespace {

// Keeps the lines of metrics.jsonl up to `step` (a run killed after its last checkpoint logged
// steps that the resumed run will log again).
void trim_metrics(const std::string& path, int64_t step) {
  std::ifstream in(path);
  if (!in) return;
  std::string kept, line;
  while (std::getline(in, line)) {
    try {
      if (nlohmann::json::parse(line).at("step").get<int64_t>() > step) break;
    } catch (const std::exception&) {
      break;  // a line cut short by a crash
    }
    kept += line + "\n";
  }
  AtomicFile out(path);
  out.write(kept);
  out.commit();
}

// Holds an exclusive lock on the run directory while a run uses it: a second bytes-train on the
// same directory would interleave checkpoints and delete the first one's temporaries. The kernel
// drops the lock when the process dies, kill -9 included.
class RunLock {
 public:
  explicit RunLock(const std::string& dir) : fd_(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    if (fd_ < 0) throw_errno("cannot open the run directory", dir);
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      throw Error("another bytes-train is using the run directory: " + dir);
    }
  }
  ~RunLock() { ::close(fd_); }
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_;
};

// The files of a run, each written through AtomicFile (a temporary ".NAME.tmp.XXXXXX" renamed into
// place). A process killed mid-write leaves its temporary behind, as large as the model or the
// state; the next run on the directory (which holds the lock, so no writer is alive) removes them.
constexpr const char* run_files[] = {"state.bin", "model.safetensors", "metrics.jsonl", "config.toml"};

void remove_stale_temporaries(const std::string& dir) {
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    for (const char* file : run_files) {
      const std::string prefix = std::string(".") + file + ".tmp.";
      if (name.size() == prefix.size() + 6 && name.compare(0, prefix.size(), prefix) == 0) {
        std::error_code ec;
        fs::remove(entry.path(), ec);
        if (ec) throw Error("cannot remove a stale temporary file: " + entry.path().string() + ": " + ec.message());
      }
    }
  }
}

}  // namespace

uint64_t available_memory() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  uint64_t kb;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return 0;
}

TrainReport train(const TrainOptions& o, const TrainHooks& hooks) {
  using clock = std::chrono::steady_clock;
  if (o.max_steps <= 0 && o.max_bytes == 0 && o.max_seconds <= 0)
    throw UsageError("give a training budget: --steps, --bytes or --time");
  const int64_t B = o.batch;
  Dataset ds(o.dataset);
  Sampler sampler(ds, Split::train);
  // The model sized but not yet allocated: what a step draws (the word model cuts the split into
  // words here) and what it costs are known before any memory is committed.
  auto owned = make_model(o.model, false);
  Model& model = *owned;
  const int64_t T = model.context();
  auto batches = model.batches(sampler);
  // Bytes a step trains on: exact for byte windows; for the word model (ctx words a row) the
  // split's mean word length makes the estimate that a byte budget is turned into steps with.
  const int64_t per_step = std::max<int64_t>(1, std::llround(double(B * T * o.accum) * batches->bytes_per_unit()));
  // Validation text: the first val_bytes of the val split's documents, scored as documents.
  std::vector<std::vector<uint8_t>> val_docs;
  uint64_t val_total = 0;
  for (uint64_t i = 0; i < ds.docs() && val_total < o.val_bytes; ++i) {
    auto d = ds.doc(i);
    if (d.split != Split::val) continue;
    uint64_t take = std::min(d.length, o.val_bytes - val_total);
    std::vector<uint8_t> text(take);
    ds.read(d.split, d.offset, take, text.data());
    val_total += take;
    val_docs.push_back(std::move(text));
  }

  // Refuse a size that cannot fit before any work is done: parameters, gradients and the two
  // AdamW moments, the activations of a step (the word model's from this split's mean word
  // length) and oneDNN's primitive cache (bounded: matmul.hpp).
  {
    const uint64_t need = model.activation_bytes(B, batches->bytes_per_unit()) + 16 * uint64_t(model.n_params()) +
                          matmul_cache_bytes;
    const uint64_t have = available_memory();
    if (have && need > have)
      throw Error("batch " + std::to_string(B) + " × ctx " + std::to_string(T) + " needs " + human_bytes(double(need)) +
                  " of memory; " + human_bytes(double(have)) + " is available: lower --batch or --ctx");
  }

  fs::create_directories(o.run_dir);
  const RunLock lock(o.run_dir);
  remove_stale_temporaries(o.run_dir);
  const std::string state_path = o.run_dir + "/state.bin", model_path = o.run_dir + "/model.safetensors",
                    metrics_path = o.run_dir + "/metrics.jsonl";
  model.allocate_params();
  model.precision = o.precision;
  TrainState st;
  if (o.resume && fs::exists(state_path)) {
    load_state(state_path, model, st);
    trim_metrics(metrics_path, st.step);
    // state.bin is the checkpoint; model.safetensors is written from it after it. A run killed or
    // out of disk between the two has an older model or none: write the state's now, so a run
    // never claims a model it does not have (a finished run's resume only does this).
    save_model(model, model_path);
  } else if (o.resume && !fs::exists(o.run_dir + "/config.toml")) {
    throw Error("nothing to resume: no state.bin in " + o.run_dir);
  } else if (o.resume) {
    // Started (its config is written) but killed before the first checkpoint: step 0 is the last
    // complete one.
    model.init(o.seed);
    st.m.assign(model.params.size(), 0.0f);
    st.v.assign(model.params.size(), 0.0f);
    trim_metrics(metrics_path, 0);
  } else {
    if (fs::exists(state_path))
      throw Error("run directory already holds a run (use --resume to continue it, or another directory): " + o.run_dir);
    model.init(o.seed);
    st.m.assign(model.params.size(), 0.0f);
    st.v.assign(model.params.size(), 0.0f);
    std::remove(metrics_path.c_str());
  }
  if (!o.config_text.empty()) {
    AtomicFile conf(o.run_dir + "/config.toml");
    conf.write(o.config_text);
    conf.commit();
  }
  std::FILE* metrics = std::fopen(metrics_path.c_str(), "a");
  if (!metrics) throw_errno("cannot open", metrics_path);
  struct Closer {
    std::FILE* f;
    ~Closer() { std::fclose(f); }
  } closer{metrics};

  // The schedule's length: from the step or byte budget, or (time only) measured after a few steps.
  auto budget_steps = [&]() -> int64_t {
    int64_t s = o.max_steps > 0 ? o.max_steps : INT64_MAX;
    if (o.max_bytes > 0) s = std::min<int64_t>(s, int64_t((o.max_bytes + uint64_t(per_step) - 1) / uint64_t(per_step)));
    return s == INT64_MAX ? 0 : s;
  };
  if (st.total_steps == 0) st.total_steps = budget_steps();
  const bool time_only = budget_steps() == 0;
  double steady_start = 0;

  auto validate = [&]() {
    if (val_docs.empty() || interrupted()) return -1.0;
    Scorer scorer{model, 0, 8};
    double bits = 0;
    uint64_t n = 0;
    try {
      for (const auto& doc : val_docs) {
        for (double b : scorer.bits(doc.data(), doc.size())) bits += b;
        n += doc.size();
      }
    } catch (const Interrupted&) {
      return -1.0;  // a signal during validation: skip it and go on to the checkpoint
    }
    return n ? bits / double(n) : -1.0;
  };
  auto checkpoint = [&]() {
    save_state(state_path, model, st);
    save_model(model, model_path);
  };

  TrainReport rep;
  rep.step = st.step;
  rep.bytes = st.bytes;
  rep.seconds = st.seconds;
  rep.total_steps = st.total_steps;
  auto run_start = clock::now();
  const double seconds_before = st.seconds;
  double window_seconds = 0;
  int64_t window_steps = 0;
  uint64_t window_bytes = 0;
  double window_flops = 0;
  while (true) {
    bool done = (!time_only && st.step >= st.total_steps) || (o.max_seconds > 0 && st.seconds >= o.max_seconds);
    if (done) break;
    auto t0 = clock::now();
    std::fill(model.grads.begin(), model.grads.end(), 0.0f);
    double loss = 0;
    uint64_t step_bytes = 0;
    double step_flops = 0;
    for (int64_t a = 0; a < o.accum; ++a) {
      const MicroBatch mb = batches->train(o.seed, uint64_t(st.step * o.accum + a), B, o.accum);
      loss += mb.loss;
      step_flops += mb.flops;
      step_bytes += mb.bytes;
    }
    // Clip the global gradient norm, then AdamW with decoupled weight decay and bias correction.
    double sq = 0;
    for (float g : model.grads) sq += double(g) * g;
    const double norm = std::sqrt(sq);
    if (!std::isfinite(norm)) throw Error("training diverged at step " + std::to_string(st.step) + " (gradient is not finite)");
    const float clip_scale = o.clip > 0 && norm > o.clip ? float(o.clip / norm) : 1.0f;
    const double lr = learning_rate(o, st.step, st.total_steps > 0 ? st.total_steps : INT64_MAX);
    const int64_t t = st.step + 1;
    const float bc1 = float(1 - std::pow(o.beta1, double(t))), bc2 = float(1 - std::pow(o.beta2, double(t)));
    const float b1 = float(o.beta1), b2 = float(o.beta2), flr = float(lr);
    for (const auto& tensor : model.tensors()) {
      // Decoupled weight decay (p ← p·(1 − lr·λ), as PyTorch's AdamW) on matrices only, not norms.
      const float keep = tensor.shape.size() == 2 ? float(1 - lr * o.weight_decay) : 1.0f;
      float* p = model.params.data() + tensor.offset;
      const float* g = model.grads.data() + tensor.offset;
      float *m = st.m.data() + tensor.offset, *v = st.v.data() + tensor.offset;
      const int64_t n = int64_t(tensor.size);
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        const float gi = g[i] * clip_scale;
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        p[i] = p[i] * keep - flr * (m[i] / bc1) / (std::sqrt(v[i] / bc2) + 1e-8f);
      }
    }
    st.step++;
    st.bytes += step_bytes;
    double dt = std::chrono::duration<double>(clock::now() - t0).count();
    st.train_seconds += dt;
    st.seconds = seconds_before + std::chrono::duration<double>(clock::now() - run_start).count();
    window_seconds += dt;
    window_steps++;
    window_bytes += step_bytes;
    window_flops += step_flops;

    // A time budget alone: the schedule's length is the steps done plus those the remaining time
    // allows at the speed measured so far (the first step, slow with primitive creation, left
    // out), so the learning rate reaches its floor as the time runs out.
    if (time_only && st.step >= 2) {
      if (st.step == 2) steady_start = st.train_seconds;
      if (st.step > 2) {
        double per = (st.train_seconds - steady_start) / double(st.step - 2);
        st.total_steps = st.step + std::max<int64_t>(1, int64_t((o.max_seconds - st.seconds) / per));
      }
    }

    rep.step = st.step;
    rep.bytes = st.bytes;
    rep.seconds = st.seconds;
    rep.train_bpb = loss / double(std::max<uint64_t>(1, step_bytes)) / std::log(2.0);
    rep.lr = lr;
    rep.total_steps = st.total_steps;
    rep.ms_per_step = 1000 * window_seconds / double(window_steps);
    rep.bytes_per_s = double(window_bytes) / window_seconds;
    rep.model_flops_per_s = window_flops / window_seconds;
    rep.val_bpb = -1;
    // The signal is read once a step: one arriving later in this step (while the metrics are
    // written) must wait for the next, or the run would stop without the checkpoint of a step it
    // has logged.
    const bool signalled = interrupted();
    bool last = (!time_only && st.step >= st.total_steps) || (o.max_seconds > 0 && st.seconds >= o.max_seconds) ||
                signalled;
    if ((o.val_every > 0 && st.step % o.val_every == 0) || last) rep.val_bpb = validate();
    if (hooks.on_step) hooks.on_step(rep);
    if (st.step % std::max<int64_t>(1, o.log_every) == 0 || rep.val_bpb >= 0 || last) {
      std::string line = rep.json().dump() + "\n";
      if (std::fputs(line.c_str(), metrics) < 0 || std::fflush(metrics) != 0) throw_errno("write error", metrics_path);
      if (hooks.on_log) hooks.on_log(rep);
      window_seconds = 0;
      window_steps = 0;
      window_bytes = 0;
      window_flops = 0;
    }
    if ((o.checkpoint_every > 0 && st.step % o.checkpoint_every == 0) || last) checkpoint();
    if (signalled) throw Interrupted();
  }
  return rep;
}

}  // namespace bytes
