// The schedule of a run: how many steps its budget (--steps, --bytes, --time) allows, when it is
// spent, and the learning rate at each step.
#pragma once
#include <cstdint>

#include "bytes/formats/run_state.hpp"
#include "bytes/runs/train.hpp"

namespace bytes {

// Learning rate at a step: linear warmup, then cosine decay to min_lr_ratio · lr at total_steps.
double learning_rate(const TrainOptions& o, int64_t step, int64_t total_steps);

// The schedule's length from the step and byte budgets, a step training on bytes_per_step bytes
// (a byte budget rounds up to a whole step); 0 when only a time is given.
int64_t budget_steps(const TrainOptions& o, int64_t bytes_per_step);

class Schedule {
 public:
  Schedule(const TrainOptions& o, int64_t bytes_per_step);
  // From the step or byte budget; 0 for a time budget alone (measured as the run goes).
  int64_t planned_steps() const { return planned_; }
  // True when the run has done its steps or spent its time, or has no budget (an --init run made
  // at step 0).
  bool done(const TrainState& st) const;
  double lr(const TrainState& st) const;
  // After each step. A time budget alone: the schedule's length is the steps done plus those the
  // remaining time allows at the speed measured so far (the first step, slow with primitive
  // creation, left out), so the learning rate reaches its floor as the time runs out.
  void measured(TrainState& st);

 private:
  const TrainOptions& o_;
  int64_t planned_;
  double steady_start_ = 0;
};

}  // namespace bytes
