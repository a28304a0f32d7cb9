#include "bytes/runs/checkpoint.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "bytes/base/error.hpp"
#include "bytes/base/io.hpp"

namespace bytes {

namespace fs = std::filesystem;

void save_state(const std::string& path, const Model& model, const TrainState& st) {
  save_run_state(path, model.config().json(), model.params, st);
}

void load_state(const std::string& path, Model& model, TrainState& st) {
  load_run_state(path, model.params, st, [&](const std::string& config) {
    if (!(Config::from_json(config) == model.config()))
      throw Error("the run in " + fs::path(path).parent_path().string() +
                  " was made with another model (its config: " + nlohmann::json::parse(config).dump() + ")");
  });
}

std::string load_parent(const TrainOptions& o, Model& model) {
  const auto parent = load_model(o.init, true);  // mapped: no second copy of the weights besides the run's
  if (!(parent->config() == model.config()))
    throw Error("the --init model is " + parent->config().summary() + ", not the run's " + model.config().summary() +
                ": " + o.init);
  const std::string checksum = file_checksum(o.init);
  if (!o.init_checksum.empty() && checksum != o.init_checksum)
    throw Error("the --init model's checksum is " + checksum + ", not the " + o.init_checksum +
                " that the run's options name (another file?): " + o.init);
  std::copy(parent->weights(), parent->weights() + parent->n_params(), model.params.begin());
  return checksum;
}

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

RunLock::RunLock(const std::string& dir) : fd_(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
  if (fd_ < 0) throw_errno("cannot open the run directory", dir);
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    throw Error("another bytes-train is using the run directory: " + dir);
  }
}

RunLock::~RunLock() { ::close(fd_); }

namespace {

// The files of a run, each written through AtomicFile (a temporary ".NAME.tmp.XXXXXX" renamed into
// place). A process killed mid-write leaves its temporary behind, as large as the model or the
// state; the next run on the directory (which holds the lock, so no writer is alive) removes them.
constexpr const char* run_files[] = {"state.bin", "model.safetensors", "metrics.jsonl", "config.toml"};

// The directory exists before the lock is taken on it.
const std::string& created(const std::string& dir) {
  fs::create_directories(dir);
  return dir;
}

}  // namespace

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

RunDirectory::RunDirectory(const std::string& dir)
    : dir_(dir),
      state_path_(dir + "/state.bin"),
      model_path_(dir + "/model.safetensors"),
      metrics_path_(dir + "/metrics.jsonl"),
      lock_(created(dir)) {
  remove_stale_temporaries(dir);
}

void RunDirectory::start(const TrainOptions& o, Model& model, TrainState& st) {
  auto fresh = [&] {
    if (o.init.empty()) model.init(o.seed);
    st.m.assign(model.params.size(), 0.0f);
    st.v.assign(model.params.size(), 0.0f);
  };
  if (o.resume && fs::exists(state_path_)) {
    load_state(state_path_, model, st);
    trim_metrics(metrics_path_, st.step);
    // state.bin is the checkpoint; model.safetensors is written from it after it. A run killed or
    // out of disk between the two has an older model or none: write the state's now, so a run
    // never claims a model it does not have (a finished run's resume only does this).
    save_model(model, model_path_);
  } else if (o.resume && !fs::exists(dir_ + "/config.toml")) {
    throw Error("nothing to resume: no state.bin in " + dir_);
  } else if (o.resume) {
    // Started (its config is written) but killed before the first checkpoint: step 0 is the last
    // complete one.
    fresh();
    trim_metrics(metrics_path_, 0);
  } else {
    if (fs::exists(state_path_))
      throw Error("run directory already holds a run (use --resume to continue it, or another directory): " + dir_);
    fresh();
    std::remove(metrics_path_.c_str());
  }
  if (!o.config_text.empty()) {
    AtomicFile conf(dir_ + "/config.toml");
    conf.write(o.config_text);
    conf.commit();
  }
  if (!o.init.empty() && !fs::exists(state_path_)) checkpoint(model, st);
  metrics_.reset(std::fopen(metrics_path_.c_str(), "a"));
  if (!metrics_) throw_errno("cannot open", metrics_path_);
}

void RunDirectory::log(const std::string& line) {
  if (std::fputs(line.c_str(), metrics_.get()) < 0 || std::fflush(metrics_.get()) != 0)
    throw_errno("write error", metrics_path_);
}

void RunDirectory::checkpoint(const Model& model, const TrainState& st) {
  save_state(state_path_, model, st);
  save_model(model, model_path_);
}

}  // namespace bytes
