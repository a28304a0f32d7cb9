#include "bytes/runs/sizing.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <spdlog/fmt/fmt.h>

#include "bytes/base/error.hpp"
#include "bytes/base/interrupt.hpp"
#include "bytes/formats/dataset.hpp"
#include "bytes/runs/optimizer.hpp"
#include "bytes/runs/sampler.hpp"

namespace bytes {

nlohmann::ordered_json SizePlan::Row::json() const {
  nlohmann::ordered_json j = {{"arch", model.arch()}, {"size", model.summary()}};
  // The size flags as bytes-train takes them, to train this rung by hand.
  nlohmann::ordered_json flags = nlohmann::ordered_json::array();
  for (const auto& [field, value] : model.flags())
    if (field->size) flags.push_back(field->flag()), flags.push_back(value);
  j["flags"] = flags;
  j["params"] = params;
  j["lr"] = lr;
  if (too_big) j["too_big"] = true;
  if (step_seconds > 0) {
    j["step_seconds"] = std::round(step_seconds * 1e4) / 1e4;
    j["steps"] = steps;
    j["warmup"] = planned_warmup(steps);
    j["bytes"] = std::round(bytes);
    j["bytes_per_param"] = std::round(bytes / double(params) * 100) / 100;
  }
  return j;
}

std::string SizePlan::table() const {
  std::string out = fmt::format("  {:>10} {:>9} {:>8} {:>10} {:>7} {:>8}  {}\n", "parameters", "s/step", "steps", "bytes",
                                "B/param", "lr", "size");
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    const std::string mark = i == pick ? "* " : "  ";
    if (r.step_seconds > 0)
      out += fmt::format("{}{:>10} {:>9.4f} {:>8} {:>10.0f} {:>7.2f} {:>8}  {}\n", mark, r.params, r.step_seconds, r.steps,
                         r.bytes, r.bytes / double(r.params), r.lr, r.model.summary());
    else
      out += fmt::format("{}{:>10} {:>9} {:>8} {:>10} {:>7} {:>8}  {}{}\n", mark, r.params, "-", "-", "-", "-", r.lr,
                         r.model.summary(), r.too_big ? " (needs more memory than is available)" : "");
  }
  return out;
}

std::string SizePlan::summary() const {
  const Row& r = rows[pick];
  const auto measured = std::count_if(rows.begin(), rows.end(), [](const Row& x) { return x.step_seconds > 0; });
  return fmt::format("{} ({} parameters): {:.3f} s a step here, about {} steps, {:.2f} bytes a parameter (the rule "
                     "wants {}); {} of {} sizes measured in {:.1f} s",
                     r.model.summary(), r.params, r.step_seconds, r.steps, r.bytes / double(r.params),
                     sizing_bytes_per_param, measured, rows.size(), seconds);
}

int64_t planned_warmup(int64_t steps) { return std::clamp<int64_t>(steps / 20, 5, 100); }

namespace {

using clock = std::chrono::steady_clock;

double since(clock::time_point t0) { return std::chrono::duration<double>(clock::now() - t0).count(); }

// Seconds a training step of this model takes here: forward and backward of o.accum micro-batches
// of o.batch rows and an AdamW update, as train() runs them. One step first, untimed (it creates
// the matrix kernels), then steps until 0.2 s or 3 steps have passed.
double step_seconds(const TrainOptions& o, Model& model, Batches& batches) {
  std::vector<float> m(model.params.size()), v(model.params.size());
  auto step = [&](int64_t index) {
    std::fill(model.grads.begin(), model.grads.end(), 0.0f);
    for (int64_t a = 0; a < o.accum; ++a) batches.train(o.seed, uint64_t(index * o.accum + a), o.batch, o.accum);
    adamw_update(AdamW{.lr = 0, .t = index + 1}, 1.0f, model.tensors(), model.params, model.grads, m, v);
    model.weights_changed();
  };
  step(0);
  const auto t0 = clock::now();
  int64_t n = 0;
  while (n < 3 && (n == 0 || since(t0) < 0.2)) {
    check_interrupt();
    step(++n);
  }
  return since(t0) / double(n);
}

}  // namespace

SizePlan plan_size(const TrainOptions& o, const std::string& arch, const std::map<std::string, std::string>& given) {
  const auto start = clock::now();
  Dataset ds(o.dataset);
  Sampler sampler(ds, Split::train);
  SizePlan plan;
  const uint64_t memory = available_memory();
  bool stop = false;  // a rung fell short of bytes or of memory: the larger ones would too
  for (const Rung& rung : architecture(arch).rungs) {
    std::map<std::string, std::string> flags = given;
    for (const auto& [name, value] : rung.flags) flags[name] = value;
    SizePlan::Row row{.model = Config::make(arch, flags), .lr = rung.lr};
    const auto model = make_model(row.model, false);
    row.params = model->n_params();
    const auto batches = stop ? nullptr : model->batches(sampler);
    // (The smallest is measured whatever its need: train() refuses it with its own message.)
    if (batches && memory && !plan.rows.empty() && training_memory(o, *model, *batches) > memory) {
      row.too_big = true;
      stop = true;
    }
    if (!stop) {
      model->allocate_params();
      model->init(o.seed);
      model->set_precision(o.precision);
      model->pack_weights();
      row.step_seconds = step_seconds(o, *model, *batches);
      // The budget left once the measuring is done (an estimate: the rungs still to measure
      // take a little more).
      const double left = std::max(0.0, o.max_seconds - since(start));
      row.steps = std::max<int64_t>(1, int64_t(left / row.step_seconds));
      row.bytes = double(row.steps) * double(bytes_per_step(o, *model, *batches));
      stop = row.bytes < sizing_bytes_per_param * double(row.params);
      if (!stop || plan.rows.empty()) plan.pick = plan.rows.size();
    }
    plan.rows.push_back(std::move(row));
  }
  if (plan.rows.empty()) throw Error("the " + arch + " architecture has no sizes to choose from");
  plan.warmup = planned_warmup(plan.rows[plan.pick].steps);
  plan.seconds = since(start);
  return plan;
}

}  // namespace bytes
