// bytes-train's command line and config file (--config, and RUN/config.toml that --resume reads):
// defined once, for the program and for the fuzz target that reads config files through it.
#pragma once
#include <spdlog/fmt/fmt.h>

#include <charconv>
#include <string>
#include <utility>

#include "cli.hpp"
#include "model-options.hpp"
#include "bytes/base/error.hpp"
#include "bytes/base/units.hpp"
#include "bytes/runs/sizing.hpp"
#include "bytes/runs/train.hpp"

namespace bytes {

// Where --resume finds the run's options: RUN/config.toml, when no --config is given.
inline std::string resume_config(int argc, char** argv) {
  bool resume = false, has_config = false;
  std::string out;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--resume") resume = true;
    if (a == "--config" || a.rfind("--config=", 0) == 0) has_config = true;
    if ((a == "-o" || a == "--output") && i + 1 < argc) out = argv[i + 1];
    if (a.rfind("--output=", 0) == 0) out = a.substr(9);
  }
  return resume && !has_config && !out.empty() ? out + "/config.toml" : "";
}

// Whether a flag is on the command line itself, not only in a config file.
inline bool on_command_line(int argc, char** argv, const std::string& flag) {
  for (int i = 1; i < argc; ++i)
    if (std::string a = argv[i]; a == flag || a.rfind(flag + "=", 0) == 0) return true;
  return false;
}

struct TrainCommand {
  cli::Common common;
  TrainOptions o;
  std::map<std::string, std::string> model_flags;  // the model-size flags given, by field name
  std::string steps_budget, bytes_budget, time_budget, val_bytes = "64K", precision = "f32";
  std::string arch = "flat";
  // --init on the command line: it cannot go with --resume (a resumed run's config.toml names its
  // parent too, as a record).
  bool init_given = false;
  bool plan_only = false;  // --plan: print the sizes --time chooses from, train nothing
  CLI::Option* precision_option = nullptr;

  // Adds every option to app; config_default is the config file read when --config is not given.
  void define(CLI::App& app, const std::string& config_default) {
    app_ = &app;
    cli::init(app, common);
    cli::add_json(app, common);
    cli::add_threads(app, common);
    common.seed = 1;
    cli::add_seed(app, common);
    cli::set_config(app, config_default, "Read options from this TOML file (a run's config.toml repeats it)");
    app.add_option("-d,--data", o.dataset, "Dataset to train on (bytes-dataset(5)); its train split is used")
        ->required()->type_name("DATASET");
    app.add_option("-o,--output", o.run_dir, "Run directory: model, training state, config, metrics")->required()
        ->type_name("RUN");
    app.add_flag("--resume", o.resume, "Continue the run in the output directory where it stopped");
    app.add_option("--init", o.init,
                   "Start a new run from this model file's weights, architecture and sizes (size flags may only "
                   "repeat them), with a fresh optimizer, schedule and budget")->type_name("MODEL");
    // The parent's checksum, recorded in config.toml: --config RUN/config.toml checks the file is the same.
    app.add_option("--init-checksum", o.init_checksum)->group("");
    std::string archs;
    for (const Architecture* a : architectures()) archs += "; " + a->name + " (" + a->help + ")";
    arch_option_ = app.add_option("--arch", arch, "Architecture: " + archs.substr(2))
        ->check(CLI::IsMember(architecture_names()))->default_str("flat");
    add_model_options(app, model_flags);
    app.add_option("--batch", o.batch, "Sequences per micro-batch")->check(CLI::Range(1, 1 << 16))->default_str("32");
    app.add_option("--accum", o.accum, "Micro-batches per optimizer step")->check(CLI::Range(1, 1 << 16))->default_str("1");
    app.add_option("--lr", o.lr, "Peak learning rate")->check(CLI::Range(0.0, 10.0))->default_str("1e-3");
    app.add_option("--min-lr", o.min_lr_ratio, "Final learning rate as a fraction of the peak")->check(CLI::Range(0.0, 1.0))
        ->default_str("0.1");
    app.add_option("--warmup", o.warmup, "Linear warmup steps")->check(CLI::Range(int64_t(0), int64_t(1) << 40))->default_str("100");
    app.add_option("--weight-decay", o.weight_decay, "AdamW decoupled weight decay (matrices only)")
        ->check(CLI::Range(0.0, 1.0))->default_str("0.1");
    app.add_option("--clip", o.clip, "Clip the gradient's global norm (0: off)")->check(CLI::Range(0.0, 1e6))->default_str("1");
    precision_option = cli::add_precision(app, precision, "Matrix work in f32 or bf16 (fp32 master weights)");
    // Read as text, as --bytes and --time are: config.toml writes steps = "" for a run without a
    // step budget, which --resume reads back.
    app.add_option("--steps", steps_budget, "Budget: optimizer steps (0 with --init: the run made, untrained)")
        ->type_name("UINT");
    app.add_option("--bytes", bytes_budget, "Budget: training bytes (e.g. 50M)");
    app.add_option("--time", time_budget,
                   "Budget: wall time (e.g. 600, 10m, 1h); alone and with no size flag, the model size, --lr and "
                   "--warmup are chosen for it from this machine's measured speed");
    app.add_flag("--plan", plan_only, "Measure and print the sizes --time chooses from and the one it picks; train nothing");
    app.add_option("--val-every", o.val_every, "Validate every N steps (0: only at the end)")->check(CLI::NonNegativeNumber)
        ->default_str("200");
    app.add_option("--val-bytes", val_bytes, "Bytes of the val split to validate on")->default_str("64K");
    app.add_option("--checkpoint-every", o.checkpoint_every, "Checkpoint every N steps (and always at the end)")
        ->check(CLI::NonNegativeNumber)->default_str("500");
    app.add_option("--log-every", o.log_every, "Log a line every N steps")->check(CLI::PositiveNumber)->default_str("10");
  }

  // After parsing: checks what the parser cannot and fills o (throws UsageError; Error for an --init
  // file that is not a model).
  void finish() {
    // An empty value (-o "", or output = "" in a config file) satisfies the parser but names nothing.
    if (o.dataset.empty()) throw UsageError("--data must name a dataset file");
    if (o.run_dir.empty()) throw UsageError("--output must name a run directory");
    if (init_given && o.resume) throw UsageError("--init starts a new run and --resume continues one: give one of them");
    // Not stdin: the file is read more than once, and its name is the run's record of its parent.
    // (An empty one is none: a config file writes init = "" for a run from scratch.)
    if (o.init == "-") throw UsageError("--init must name a model file, not stdin");
    o.seed = common.seed;
    o.precision = cli::precision_of(precision);
    if (!bytes_budget.empty()) {
      o.max_bytes = parse_size(bytes_budget);
      if (o.max_bytes == 0) throw UsageError("--bytes must be positive");
    }
    if (!time_budget.empty()) o.max_seconds = parse_duration(time_budget);
    o.val_bytes = parse_size(val_bytes);
    if (!steps_budget.empty()) {
      const char* end = steps_budget.data() + steps_budget.size();
      auto [stop, err] = std::from_chars(steps_budget.data(), end, o.max_steps);
      if (err != std::errc() || stop != end || o.max_steps < 0)
        throw UsageError("--steps takes a whole number of steps, not '" + steps_budget + "'");
    }
    const bool zero_steps = !steps_budget.empty() && o.max_steps == 0;
    if (zero_steps && o.init.empty()) throw UsageError("--steps must be positive (0 only with --init)");
    if (o.max_steps <= 0 && o.max_bytes == 0 && o.max_seconds <= 0 && !zero_steps)
      throw UsageError("give a training budget: --steps, --bytes or --time");
    if (!o.init.empty() && !o.resume)
      from_init();
    else
      o.model = Config::make(arch, model_flags);
    if (plan_only && !sizes_to_choose())
      throw UsageError("--plan shows the sizes a time budget chooses from: give --time alone, and no size flag, --init or --resume");
  }

  // A new run with a time budget alone and no size flag: its size, --lr and --warmup (those not
  // given) are chosen by measuring (runs/sizing.hpp).
  bool sizes_to_choose() const {
    if (o.resume || !o.init.empty() || o.max_seconds <= 0 || o.max_steps > 0 || o.max_bytes > 0) return false;
    const Architecture& a = architecture(arch);
    for (const Field& f : a.fields)
      if (f.size && model_flags.count(f.name)) return false;
    return true;
  }

  // Takes the plan's pick as if its flags had been given: the run's config.toml records them, so
  // --resume makes the same model.
  void apply(const SizePlan& plan) {
    const SizePlan::Row& pick = plan.rows[plan.pick];
    o.model = pick.model;
    for (const auto& [field, value] : pick.model.flags())
      if (field->size) record(field->flag(), value);
    if (app_->get_option("--lr")->count() == 0) {
      o.lr = pick.lr;
      record("--lr", fmt::format("{}", pick.lr));
    }
    if (app_->get_option("--warmup")->count() == 0) {
      o.warmup = plan.warmup;
      record("--warmup", std::to_string(plan.warmup));
    }
    o.setup_seconds = plan.seconds;
  }

 private:
  CLI::App* app_ = nullptr;
  CLI::Option* arch_option_ = nullptr;

  // A new run from a model file: its architecture and sizes are the model's (flags may repeat them,
  // not change them). They and the file's checksum go into the run's config.toml as options, so
  // that --resume makes this model again without the file and --config checks it is the same.
  void from_init() {
    const Config parent = read_model_config(o.init);
    parent.check_agrees(arch_option_->count() > 0 ? arch : "", model_flags, "the --init model");
    o.model = parent;
    if (o.init_checksum.empty()) o.init_checksum = file_checksum(o.init);  // else train() checks it
    // (Cleared first: --ctx may have named a word model's ctx_words, recorded as --ctx-words.)
    for (CLI::Option* option : app_->get_options([](const CLI::Option* x) { return x->get_group().rfind("Model", 0) == 0; }))
      option->clear();
    record("--arch", parent.arch());
    record("--init-checksum", o.init_checksum);
    for (const auto& [field, value] : parent.flags()) record(field->flag(), value);
  }

  // Sets a flag's value as if it had been given (config_to_str writes it into config.toml).
  void record(const std::string& flag, const std::string& value) {
    CLI::Option* option = app_->get_option(flag);
    option->clear();
    option->add_result(value);
  }
};

}  // namespace bytes
