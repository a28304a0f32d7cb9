#include "bytes/runs/schedule.hpp"

#include <algorithm>
#include <climits>
#include <cmath>

namespace bytes {

double learning_rate(const TrainOptions& o, int64_t step, int64_t total_steps) {
  if (o.warmup > 0 && step < o.warmup) return o.lr * double(step + 1) / double(o.warmup);
  if (total_steps <= o.warmup) return o.lr;
  double progress = std::min(1.0, double(step - o.warmup) / double(std::max<int64_t>(1, total_steps - o.warmup)));
  double min_lr = o.lr * o.min_lr_ratio;
  return min_lr + 0.5 * (o.lr - min_lr) * (1.0 + std::cos(M_PI * progress));
}

int64_t budget_steps(const TrainOptions& o, int64_t per_step) {
  int64_t s = o.max_steps > 0 ? o.max_steps : INT64_MAX;
  if (o.max_bytes > 0) s = std::min<int64_t>(s, int64_t((o.max_bytes + uint64_t(per_step) - 1) / uint64_t(per_step)));
  return s == INT64_MAX ? 0 : s;
}

Schedule::Schedule(const TrainOptions& o, int64_t bytes_per_step) : o_(o), planned_(budget_steps(o, bytes_per_step)) {}

bool Schedule::done(const TrainState& st) const {
  // No budget at all: a run from a model file made at step 0 (TrainOptions::init).
  if (planned_ == 0 && o_.max_seconds <= 0) return true;
  // A time budget takes one step at least: choosing a size (sizing.hpp) may have spent it all.
  return (planned_ != 0 && st.step >= st.total_steps) || (o_.max_seconds > 0 && st.seconds >= o_.max_seconds && st.step > 0);
}

double Schedule::lr(const TrainState& st) const {
  return learning_rate(o_, st.step, st.total_steps > 0 ? st.total_steps : INT64_MAX);
}

void Schedule::measured(TrainState& st) {
  if (planned_ != 0 || st.step < 2) return;
  if (st.step == 2) steady_start_ = st.train_seconds;
  if (st.step > 2) {
    double per = (st.train_seconds - steady_start_) / double(st.step - 2);
    st.total_steps = st.step + std::max<int64_t>(1, int64_t((o_.max_seconds - st.seconds) / per));
  }
}

}  // namespace bytes
