// Training: batches sampled from a dataset split (sampler.hpp), AdamW with gradient clipping
// (optimizer.hpp), warmup and cosine decay over a step, byte or time budget (schedule.hpp),
// gradient accumulation, validation, atomic checkpoints and bit-exact resume (checkpoint.hpp).
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bytes/models/model.hpp"

namespace bytes {

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
  // Wall time a new run spent before training (choosing its size, sizing.hpp): counted against
  // max_seconds and in the reports' seconds.
  double setup_seconds = 0;
  int64_t val_every = 200, checkpoint_every = 500, log_every = 10;
  uint64_t val_bytes = 1 << 16;
  bool resume = false;
  // A new run from a model file's weights (bytes-train --init): its path, with `model` its config.
  // init_checksum (file_checksum) is checked when given, found when not; a run resumed from its
  // state.bin reads neither the file nor its checksum, only reports them. Such a run may have no
  // budget: it is made at step 0 and not trained.
  std::string init, init_checksum;
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
  std::string precision = "f32";    // the matrix products' precision that ran
  std::string init, init_checksum;  // the parent model of a run started with --init, in every row
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

// The warning for --precision bf16 on a CPU whose bf16 products run at `speedup` (bf16_speedup())
// times the rate of its f32 ones: empty unless bf16 is clearly the slower (below 0.9×: the
// measurement moves a few percent on a shared machine). The run stays bf16, as asked: bf16 is a
// choice of numbers as well as of speed.
std::string bf16_speed_warning(double speedup);

// MemAvailable of /proc/meminfo in bytes (0 when unknown).
uint64_t available_memory();

// Bytes a step trains on: exact for byte windows; for the word model (ctx words a row) the
// split's mean word length makes the estimate that a byte budget is turned into steps with.
int64_t bytes_per_step(const TrainOptions& o, const Model& model, const Batches& batches);

// Memory a training step needs: parameters, gradients and the two AdamW moments, the activations
// of a step (the word model's from the split's mean word length) and oneDNN's primitive cache
// (bounded: matmul.hpp). train() refuses a size that needs more than is available before any work.
uint64_t training_memory(const TrainOptions& o, const Model& model, const Batches& batches);

}  // namespace bytes
