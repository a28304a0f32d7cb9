// bytes-train: train a byte model on a dataset from the terminal.
#include <spdlog/spdlog.h>

#include <filesystem>

#include "cli.hpp"
#include "bytes/base/error.hpp"
#include "bytes/base/io.hpp"
#include "bytes/base/parallel.hpp"
#include "bytes/base/progress.hpp"
#include "bytes/runs/train.hpp"
#include "train-command.hpp"

using namespace bytes;

int main(int argc, char** argv) {
  CLI::App app{"Train a byte model on a dataset, with checkpoints, resume and metrics", "bytes-train"};
  TrainCommand cmd;
  cmd.define(app, resume_config(argc, argv));
  cmd.init_given = on_command_line(argc, argv, "--init");
  cli::Common& common = cmd.common;
  TrainOptions& o = cmd.o;
  return cli::run(app, common, argc, argv, [&] {
    cmd.finish();
    set_threads(cli::thread_count(common));
    if (o.precision == Precision::bf16 && !bf16_native()) {
      spdlog::warn("this CPU has no bf16 matrix kernels ({}): the matrix work runs in f32", matmul_impl(Precision::f32));
      // The run's config says what ran (and a resumed run goes on in it).
      o.precision = Precision::f32;
      cmd.precision_option->clear();
      cmd.precision_option->add_result("f32");
    }
    if (o.precision == Precision::bf16)
      if (const std::string slower = bf16_speed_warning(bf16_speedup()); !slower.empty()) spdlog::warn("{}", slower);

    if (cmd.sizes_to_choose()) {
      const SizePlan plan = plan_size(o, cmd.arch, cmd.model_flags);
      if (cmd.plan_only) {
        if (common.json)
          for (size_t i = 0; i < plan.rows.size(); ++i) {
            auto j = plan.rows[i].json();
            j["pick"] = i == plan.pick;
            write_stdout(j.dump() + "\n");
          }
        else
          write_stdout(plan.table());
        return int(cli::ok);
      }
      cmd.apply(plan);
      spdlog::info("size for {}: {}; lr {}, warmup {}", cmd.time_budget, plan.summary(), o.lr, o.warmup);
    }

    o.config_text = app.config_to_str(true, false);
    if (!o.init.empty() && !o.resume) spdlog::debug("starting from {} (XXH3-64 {})", o.init, o.init_checksum);
    spdlog::debug("{} {} parameters, {} threads, matmul {}", o.model.arch(), make_model(o.model, false)->n_params(), threads(),
                  matmul_impl(o.precision));

    Progress bar("train", 0, "steps");
    TrainHooks hooks;
    hooks.on_step = [&](const TrainReport& r) {
      if (!bar.enabled()) return;
      bar.set_total(uint64_t(r.total_steps));
      char note[128];
      std::snprintf(note, sizeof note, "bpb %.3f  %.0f B/s", r.train_bpb, r.bytes_per_s);
      bar.set_note(note);
      bar.update(uint64_t(r.step));
    };
    hooks.on_log = [&](const TrainReport& r) {
      if (bar.enabled() && r.val_bpb < 0) return;
      bar.finish();
      spdlog::info("{}", r.line());
    };
    TrainReport last = train(o, hooks);
    bar.finish();
    if (common.json) write_stdout(last.json().dump() + "\n");
    spdlog::info("done: {} steps, {} bytes in {:.1f} s; model in {}/model.safetensors", last.step, last.bytes,
                 last.seconds, o.run_dir);
    return int(cli::ok);
  });
}
