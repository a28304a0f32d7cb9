// Training: batches sampled from a dataset split, AdamW with warmup and cosine decay, gradient
// clipping and accumulation, validation, atomic checkpoints and bit-exact resume.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bytes/formats/dataset.hpp"
#include "bytes/models/model.hpp"

namespace bytes {

// Random windows of a split's token stream (each document is BOS + its bytes). A split up to
// memory_limit bytes is read into memory once; a larger one is read through the dataset's frames.
class Sampler {
 public:
  Sampler(const Dataset& ds, Split split, uint64_t memory_limit = 2ull << 30);
  // B windows of T + 1 tokens for this step: inputs x and targets y (x shifted by one). The same
  // (seed, step) always gives the same batch.
  void batch(uint64_t seed, uint64_t step, int64_t B, int64_t T, int32_t* x, int32_t* y);
  uint64_t bytes() const { return bytes_; }

  // The split in memory (empty when it did not fit), and where each document starts in it.
  const std::vector<uint8_t>& text() const { return memory_; }
  const std::vector<uint64_t>& doc_starts() const { return starts_; }

 private:
  void read(uint64_t offset, uint64_t n, uint8_t* out);
  const Dataset& ds_;
  Split split_;
  uint64_t bytes_ = 0;
  std::vector<uint64_t> starts_;  // where each document starts in the split's stream
  std::vector<uint8_t> memory_;   // the whole split, when it fits
};

struct TrainOptions {
  std::string dataset, run_dir;
  Config model;
  int64_t batch = 32, accum = 1;
  double lr = 1e-3, min_lr_ratio = 0.1, weight_decay = 0.1, clip = 1.0, beta1 = 0.9, beta2 = 0.95;
  int64_t warmup = 100;
  Precision precision = Precision::f32;
  uint64_t seed = 1;
  int64_t max_steps = 0;
  uint64_t max_bytes = 0;
  double max_seconds = 0;
  int64_t val_every = 200, checkpoint_every = 500, log_every = 10;
  uint64_t val_bytes = 1 << 16;
  bool resume = false;
  std::string config_text;  // the run's options as a config file, saved beside the model
};

struct TrainReport {
  int64_t step = 0;
  uint64_t bytes = 0;
  double seconds = 0, train_bpb = 0, val_bpb = -1, lr = 0, bytes_per_s = 0, ms_per_step = 0;
  // Model FLOPs (forward and backward: weights and attention, bytes-model(5)) per second of the
  // steps since the last log, the figure bytes-bench sets against the matrix-multiply peak.
  double model_flops_per_s = 0;
  int64_t total_steps = 0;  // the schedule's length (0 while a time budget is still being measured)
  nlohmann::ordered_json json() const;
  std::string line() const;  // the fixed, greppable log line
};

struct TrainHooks {
  std::function<void(const TrainReport&)> on_step;  // every step
  std::function<void(const TrainReport&)> on_log;   // every log_every steps, validations, the end
};

// Trains until the budget is spent or a signal arrives (then checkpoints and throws
// Interrupted). Returns the last report.
TrainReport train(const TrainOptions& options, const TrainHooks& hooks = {});

// A run's checkpoint (state.bin, bytes-train(1)): the counters, the AdamW moments and, in the file,
// the weights, so that a resumed run continues bit for bit.
struct TrainState {
  int64_t step = 0, total_steps = 0;
  uint64_t bytes = 0;
  double seconds = 0, train_seconds = 0;
  std::vector<float> m, v;
};
void save_state(const std::string& path, const Model& model, const TrainState& state);
// Reads state.bin into model's params and state; throws Error for a file that is not one, is
// truncated or corrupt, or was made with another model config.
void load_state(const std::string& path, Model& model, TrainState& state);

// MemAvailable of /proc/meminfo in bytes (0 when unknown).
uint64_t available_memory();

// Learning rate at a step: linear warmup, then cosine decay to min_lr_ratio · lr at total_steps.
double learning_rate(const TrainOptions& o, int64_t step, int64_t total_steps);

}  // namespace bytes
