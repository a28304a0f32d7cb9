// A run directory (bytes-train(1)): one writer at a time, checkpoints that appear whole or not at
// all, and the ways a run starts: fresh, resumed from its last checkpoint, or repaired after a
// crash between two files.
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "bytes/formats/run_state.hpp"
#include "bytes/models/model.hpp"
#include "bytes/runs/train.hpp"

namespace bytes {

// state.bin of a model: throws Error, as load_run_state does, and for a state of another model config.
void save_state(const std::string& path, const Model& model, const TrainState& state);
void load_state(const std::string& path, Model& model, TrainState& state);

// The weights of a run started from a model file (o.init, bytes-train --init) into `model`, whose
// config must be the file's. Returns the file's checksum (file_checksum), which must be
// o.init_checksum when that is given. Throws Error: the model loader's for a file it refuses.
std::string load_parent(const TrainOptions& o, Model& model);

// Keeps the lines of metrics.jsonl up to `step` (a run killed after its last checkpoint logged
// steps that the resumed run will log again).
void trim_metrics(const std::string& path, int64_t step);

// Removes the temporaries that a process killed while writing one of the run's files left behind.
void remove_stale_temporaries(const std::string& dir);

// Holds an exclusive lock on the run directory while a run uses it: a second bytes-train on the
// same directory would interleave checkpoints and delete the first one's temporaries. The kernel
// drops the lock when the process dies, kill -9 included.
class RunLock {
 public:
  explicit RunLock(const std::string& dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_;
};

// The run directory of a training run, created and locked for the life of the object.
class RunDirectory {
 public:
  explicit RunDirectory(const std::string& dir);
  // The model and state the run continues from: the last checkpoint with --resume, else (or for a
  // run killed before its first checkpoint) the initial weights of o.seed and zero moments. Saves
  // o.config_text as config.toml and opens metrics.jsonl for appending. A run from a model file
  // (o.init) starts from the weights the model holds (the caller's load_parent: needed until
  // state.bin exists) and checkpoints them as its step 0 at once, so that it never needs that file
  // again.
  void start(const TrainOptions& o, Model& model, TrainState& state);
  // Appends a line to metrics.jsonl, flushed.
  void log(const std::string& line);
  // state.bin, then the model written from it.
  void checkpoint(const Model& model, const TrainState& state);

 private:
  std::string dir_, state_path_, model_path_, metrics_path_;
  RunLock lock_;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> metrics_{nullptr, std::fclose};
};

}  // namespace bytes
