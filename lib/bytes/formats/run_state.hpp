// A run's checkpoint, state.bin (bytes-train(1)): the counters, the AdamW moments and the weights,
// so that a resumed run continues bit for bit. The model's config travels in it as JSON text; this
// format does not read it: the caller decides whether it is the config of the model it resumes.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bytes/base/memory.hpp"

namespace bytes {

struct TrainState {
  int64_t step = 0, total_steps = 0;
  uint64_t bytes = 0;
  double seconds = 0, train_seconds = 0;
  Buffer<float> m, v;
};

// Writes state.bin atomically and durably: config (JSON text), the counters, params, m and v.
void save_run_state(const std::string& path, std::string_view config, std::span<const float> params,
                    const TrainState& state);

// Reads state.bin into params (their count is the one the file must hold) and state. Throws Error
// for a file that is not one, is truncated or corrupt, or holds another parameter count; once the
// checksum holds and the config is JSON, check_config sees the config text and throws if it is
// not the caller's.
void load_run_state(const std::string& path, std::span<float> params, TrainState& state,
                    const std::function<void(const std::string& config)>& check_config);

}  // namespace bytes
