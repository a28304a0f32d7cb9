// A model size for a time budget: bytes-train --time with no size flag trains the largest of its
// architecture's rungs (Architecture::rungs, small to large) that still sees enough training bytes
// per parameter in that time on this machine, with the rung's learning rate and a warmup of a
// share of its steps. Each rung's step is measured here, on the run's own data, threads and
// precision; bytes-train(1) ("Choosing a size") gives the rule and the sweep behind it.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bytes/runs/train.hpp"

namespace bytes {

// Training bytes per parameter the chosen rung must see in the budget (from the sweep in
// bytes-train(1): below it a smaller rung ends lower).
inline constexpr double sizing_bytes_per_param = 20.0;

struct SizePlan {
  struct Row {
    Config model;
    double lr = 0;
    int64_t params = 0;
    double step_seconds = 0;  // measured; 0 where not measured (a smaller rung already fell short)
    bool too_big = false;     // its training would need more memory than is available
    double bytes = 0;         // training bytes the budget allows at that speed
    int64_t steps = 0;
    nlohmann::ordered_json json() const;
  };
  std::vector<Row> rows;
  size_t pick = 0;
  int64_t warmup = 0;
  double seconds = 0;  // spent measuring
  // The rows as a table (bytes-train --plan), the pick marked with '*'.
  std::string table() const;
  // One line: the pick and why (its speed, steps and bytes a parameter).
  std::string summary() const;
};

// Measures the rungs of `arch` (size flags from the rung, other model flags from `given`) for the
// budget o.max_seconds on o's data, batch, accum, precision and seed, and picks one. Stops at the
// first rung that falls short of bytes (the ones after it are larger and slower) or that would
// not fit in the available memory (train()'s measure).
SizePlan plan_size(const TrainOptions& o, const std::string& arch, const std::map<std::string, std::string>& given);

// Warmup steps for a run of `steps` steps: 5% of them, at least 5 and at most 100.
int64_t planned_warmup(int64_t steps);

}  // namespace bytes
