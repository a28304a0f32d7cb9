#include "bytes/runs/train.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <spdlog/spdlog.h>

#include "bytes/base/error.hpp"
#include "bytes/base/interrupt.hpp"
#include "bytes/base/progress.hpp"
#include "bytes/kernels/matmul.hpp"
#include "bytes/runs/checkpoint.hpp"
#include "bytes/runs/eval.hpp"
#include "bytes/runs/optimizer.hpp"
#include "bytes/runs/sampler.hpp"
#include "bytes/runs/schedule.hpp"

namespace bytes {

nlohmann::ordered_json TrainReport::json() const {
  auto round4 = [](double v) { return std::round(v * 1e4) / 1e4; };
  nlohmann::ordered_json j = {{"step", step}, {"bytes", bytes}, {"train_bpb", round4(train_bpb)}};
  if (val_bpb >= 0) j["val_bpb"] = round4(val_bpb);
  j["lr"] = lr;
  j["bytes_per_s"] = std::round(bytes_per_s);
  j["ms_per_step"] = std::round(ms_per_step * 10) / 10;
  j["model_gflop_s"] = std::round(model_flops_per_s / 1e8) / 10;
  j["precision"] = precision;
  j["seconds"] = std::round(seconds * 100) / 100;
  if (!init.empty()) {
    j["init"] = init;
    j["init_checksum"] = init_checksum;
  }
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

std::string bf16_speed_warning(double speedup) {
  if (speedup <= 0 || speedup >= 0.9) return "";
  char text[256];
  std::snprintf(text, sizeof text,
                "this CPU's bf16 products (%s) run at %.2fx the rate of its f32 ones (%s): --precision bf16 "
                "trains slower than f32 here",
                matmul_impl(Precision::bf16).c_str(), speedup, matmul_impl(Precision::f32).c_str());
  return text;
}

uint64_t available_memory() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  uint64_t kb;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return 0;
}

int64_t bytes_per_step(const TrainOptions& o, const Model& model, const Batches& batches) {
  return std::max<int64_t>(1, std::llround(double(o.batch * model.context() * o.accum) * batches.bytes_per_unit()));
}

uint64_t training_memory(const TrainOptions& o, const Model& model, const Batches& batches) {
  // Parameters, gradients and AdamW's two moments; the weights' copies the products read.
  const uint64_t n = uint64_t(model.n_params());
  const bool bf16 = o.precision == Precision::bf16;
  return model.activation_bytes(o.batch, batches.bytes_per_unit()) + 16 * n + (bf16 ? 2 * n : 0) +
         packed_weight_bytes(n, bf16 && bf16_native()) + matmul_cache_bytes;
}

namespace {

// What a step's micro-batches trained on, summed.
MicroBatch& operator+=(MicroBatch& a, const MicroBatch& b) {
  a.loss += b.loss;
  a.bytes += b.bytes;
  a.flops += b.flops;
  return a;
}

// Refuses a size that cannot fit before any work is done (training_memory).
void check_memory(const TrainOptions& o, const Model& model, const Batches& batches) {
  const int64_t B = o.batch, T = model.context();
  const uint64_t need = training_memory(o, model, batches), have = available_memory();
  if (have && need > have)
    throw Error("batch " + std::to_string(B) + " × ctx " + std::to_string(T) + " needs " + human_bytes(double(need)) +
                " of memory; " + human_bytes(double(have)) + " is available: lower --batch or --ctx");
}

// Validation text: the first val_bytes of the val split's documents, scored as documents.
std::vector<std::vector<uint8_t>> validation_docs(const Dataset& ds, uint64_t val_bytes) {
  std::vector<std::vector<uint8_t>> docs;
  uint64_t total = 0;
  for (uint64_t i = 0; i < ds.docs() && total < val_bytes; ++i) {
    auto d = ds.doc(i);
    if (d.split != Split::val) continue;
    uint64_t take = std::min(d.length, val_bytes - total);
    std::vector<uint8_t> text(take);
    ds.read(d.split, d.offset, take, text.data());
    total += take;
    docs.push_back(std::move(text));
  }
  return docs;
}

// Bits per byte of the validation text; -1 without one, or when a signal arrives (the run goes
// on to its checkpoint).
double validate(Model& model, const std::vector<std::vector<uint8_t>>& docs) {
  if (docs.empty() || interrupted()) return -1.0;
  Scorer scorer{model, 0, 8};
  double bits = 0;
  uint64_t n = 0;
  try {
    for (const auto& doc : docs) {
      for (double b : scorer.bits(doc.data(), doc.size())) bits += b;
      n += doc.size();
    }
  } catch (const Interrupted&) {
    return -1.0;
  }
  return n ? bits / double(n) : -1.0;
}

// Throughput over the steps since the last log line.
struct Window {
  double seconds = 0;
  int64_t steps = 0;
  MicroBatch work;
  void add(double dt, const MicroBatch& step) {
    seconds += dt;
    steps++;
    work += step;
  }
  void report(TrainReport& rep) const {
    rep.ms_per_step = 1000 * seconds / double(steps);
    rep.bytes_per_s = double(work.bytes) / seconds;
    rep.model_flops_per_s = work.flops / seconds;
  }
};

void progress(const TrainState& st, TrainReport& rep) {
  rep.step = st.step;
  rep.bytes = st.bytes;
  rep.seconds = st.seconds;
  rep.total_steps = st.total_steps;
}

}  // namespace

TrainReport train(const TrainOptions& o, const TrainHooks& hooks) {
  using clock = std::chrono::steady_clock;
  if (o.max_steps <= 0 && o.max_bytes == 0 && o.max_seconds <= 0 && o.init.empty())
    throw UsageError("give a training budget: --steps, --bytes or --time");
  Dataset ds(o.dataset);
  Sampler sampler(ds, Split::train);
  // The model sized but not yet allocated: what a step draws (the word model cuts the split into
  // words here) and what it costs are known before any memory is committed.
  const auto owned = make_model(o.model, false);
  Model& model = *owned;
  const auto batches = model.batches(sampler);
  const int64_t per_step = bytes_per_step(o, model, *batches);
  const auto val_docs = validation_docs(ds, o.val_bytes);
  check_memory(o, model, *batches);

  model.allocate_params();
  TrainReport rep;
  rep.init = o.init;
  // A run from a model file reads it until its first checkpoint is written, before the run
  // directory is made: a bad file leaves none.
  const bool from_parent = !o.init.empty() && !(o.resume && std::filesystem::exists(o.run_dir + "/state.bin"));
  rep.init_checksum = from_parent ? load_parent(o, model) : o.init_checksum;
  RunDirectory run(o.run_dir);
  TrainState st;
  run.start(o, model, st);
  rep.precision = precision_name(model.set_precision(o.precision));  // after the weights are in
  model.pack_weights();
  Schedule schedule(o, per_step);
  if (st.total_steps == 0) {
    st.total_steps = schedule.planned_steps();
  } else if (schedule.planned_steps() > st.total_steps) {
    // A resumed run given a larger budget (bytes-train --resume --steps N): the schedule grows to
    // it, and the learning rate follows the longer cosine from the step the run is at.
    spdlog::warn("the schedule grows from {} to {} steps: the learning rate goes from {:.3e} back up to {:.3e}",
                 st.total_steps, schedule.planned_steps(), learning_rate(o, st.step - 1, st.total_steps),
                 learning_rate(o, st.step, schedule.planned_steps()));
    st.total_steps = schedule.planned_steps();
  }
  if (st.step == 0 && st.seconds == 0) st.seconds = o.setup_seconds;

  progress(st, rep);
  const auto run_start = clock::now();
  const double seconds_before = st.seconds;
  Window window;
  while (!schedule.done(st)) {
    const auto t0 = clock::now();
    zero_grads(model.grads);
    MicroBatch step;
    for (int64_t a = 0; a < o.accum; ++a) step += batches->train(o.seed, uint64_t(st.step * o.accum + a), o.batch, o.accum);
    // Clip the global gradient norm, then AdamW with decoupled weight decay and bias correction.
    const double norm = grad_norm(model.grads);
    if (!std::isfinite(norm)) throw Error("training diverged at step " + std::to_string(st.step) + " (gradient is not finite)");
    const double lr = schedule.lr(st);
    const AdamW opt{lr, o.beta1, o.beta2, o.weight_decay, st.step + 1};
    adamw_update(opt, clip_scale(norm, o.clip), model.tensors(), model.params, model.grads, st.m, st.v);
    model.weights_changed();

    st.step++;
    st.bytes += step.bytes;
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    st.train_seconds += dt;
    st.seconds = seconds_before + std::chrono::duration<double>(clock::now() - run_start).count();
    schedule.measured(st);
    window.add(dt, step);

    progress(st, rep);
    rep.train_bpb = step.loss / double(std::max<uint64_t>(1, step.bytes)) / std::log(2.0);
    rep.lr = lr;
    window.report(rep);
    rep.val_bpb = -1;
    // The signal is read once a step: one arriving later in this step (while the metrics are
    // written) must wait for the next, or the run would stop without the checkpoint of a step it
    // has logged.
    const bool signalled = interrupted();
    const bool last = schedule.done(st) || signalled;
    if ((o.val_every > 0 && st.step % o.val_every == 0) || last) rep.val_bpb = validate(model, val_docs);
    if (hooks.on_step) hooks.on_step(rep);
    if (st.step % std::max<int64_t>(1, o.log_every) == 0 || rep.val_bpb >= 0 || last) {
      run.log(rep.json().dump() + "\n");
      if (hooks.on_log) hooks.on_log(rep);
      window = {};
    }
    if ((o.checkpoint_every > 0 && st.step % o.checkpoint_every == 0) || last) run.checkpoint(model, st);
    if (signalled) throw Interrupted();
  }
  return rep;
}

}  // namespace bytes
