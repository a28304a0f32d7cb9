// bytes-train's command line and config file (--config, and RUN/config.toml that --resume reads):
// defined once, for the program and for the fuzz target that reads config files through it.
#pragma once
#include <string>
#include <utility>

#include "cli.hpp"
#include "bytes/base/error.hpp"
#include "bytes/base/units.hpp"
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

struct TrainCommand {
  cli::Common common;
  TrainOptions o;
  int64_t d = 384, layers = 6, ctx = 0, enc_d = 256, enc_layers = 1, dec_d = 256, dec_layers = 2, word_cap = 32;
  std::string word_rule = "whitespace", patch = "8";
  int64_t inner_d = 256, inner_layers = 2;
  std::string precision = "f32", bytes_budget, time_budget, val_bytes = "64K";
  std::string arch = "flat";

  // Adds every option to app; config_default is the config file read when --config is not given.
  void define(CLI::App& app, const std::string& config_default) {
    cli::init(app, common);
    cli::add_json(app, common);
    cli::add_threads(app, common);
    common.seed = 1;
    cli::add_seed(app, common);
    app.set_config("--config", config_default, "Read options from this TOML file (a run's config.toml repeats it)");
    app.add_option("-d,--data", o.dataset, "Dataset to train on (bytes-dataset(5)); its train split is used")
        ->required()->type_name("DATASET");
    app.add_option("-o,--output", o.run_dir, "Run directory: model, training state, config, metrics")->required()
        ->type_name("RUN");
    app.add_flag("--resume", o.resume, "Continue the run in the output directory where it stopped");
    app.add_option("--arch", arch,
                   "Architecture: flat; word (HAT: byte encoder, word backbone, byte decoder); patch (MEGABYTE/MBLM)")
        ->check(CLI::IsMember({"flat", "word", "patch"}))->default_str("flat");
    app.add_option("--d-model", d, "Model width: the backbone's (word), the global stage's (patch); a multiple of 64")->check(CLI::Range(int64_t(head_dim), max_width))
        ->default_str("384");
    app.add_option("--layers", layers, "Transformer blocks (word: of the backbone; patch: of the global stage)")->check(CLI::Range(int64_t(1), max_layers))
        ->default_str("6");
    app.add_option("--ctx", ctx, "Context: bytes (flat, patch) or words (word)")->check(CLI::Range(int64_t(2), max_ctx))
        ->default_str("256, word 64, patch 1024");
    auto* word = app.add_option_group("word model", "Sizes of the word model's byte encoder and decoder, and its words");
    word->add_option("--enc-d-model", enc_d, "Encoder width (a multiple of 64)")->check(CLI::Range(int64_t(head_dim), max_width))
        ->default_str("256");
    word->add_option("--enc-layers", enc_layers, "Encoder blocks")->check(CLI::Range(int64_t(1), max_layers))->default_str("1");
    word->add_option("--dec-d-model", dec_d, "Decoder width (a multiple of 64)")->check(CLI::Range(int64_t(head_dim), max_width))
        ->default_str("256");
    word->add_option("--dec-layers", dec_layers, "Decoder blocks")->check(CLI::Range(int64_t(1), max_layers))->default_str("2");
    word->add_option("--word-rule", word_rule, "How text is cut into words: whitespace, or spacelike (SpaceByte's)")
        ->check(CLI::IsMember({"whitespace", "spacelike"}))->default_str("whitespace");
    word->add_option("--word-cap", word_cap, "Longest word in bytes; longer ones are cut at characters")
        ->check(CLI::Range(4, 4096))->default_str("32");
    auto* patch_group = app.add_option_group("patch model", "Stages of the patch model");
    patch_group->add_option("--patch", patch, "Units per stage, coarsest first: 8, 16x4, 64x8x4 (bytes are the last)")
        ->default_str("8");
    patch_group->add_option("--inner-d-model", inner_d, "Width of every stage finer than the global one (a multiple of 64)")
        ->check(CLI::Range(int64_t(head_dim), max_width))->default_str("256");
    patch_group->add_option("--inner-layers", inner_layers, "Blocks of every stage finer than the global one")
        ->check(CLI::Range(int64_t(1), max_layers))->default_str("2");
    app.add_option("--batch", o.batch, "Sequences per micro-batch")->check(CLI::Range(1, 1 << 16))->default_str("32");
    app.add_option("--accum", o.accum, "Micro-batches per optimizer step")->check(CLI::Range(1, 1 << 16))->default_str("1");
    app.add_option("--lr", o.lr, "Peak learning rate")->check(CLI::Range(0.0, 10.0))->default_str("1e-3");
    app.add_option("--min-lr", o.min_lr_ratio, "Final learning rate as a fraction of the peak")->check(CLI::Range(0.0, 1.0))
        ->default_str("0.1");
    app.add_option("--warmup", o.warmup, "Linear warmup steps")->check(CLI::Range(int64_t(0), int64_t(1) << 40))->default_str("100");
    app.add_option("--weight-decay", o.weight_decay, "AdamW decoupled weight decay (matrices only)")
        ->check(CLI::Range(0.0, 1.0))->default_str("0.1");
    app.add_option("--clip", o.clip, "Clip the gradient's global norm (0: off)")->check(CLI::Range(0.0, 1e6))->default_str("1");
    app.add_option("--precision", precision, "Matrix work in f32 or bf16 (fp32 master weights)")
        ->check(CLI::IsMember({"f32", "bf16"}))->default_str("f32");
    app.add_option("--steps", o.max_steps, "Budget: optimizer steps")->check(CLI::PositiveNumber);
    app.add_option("--bytes", bytes_budget, "Budget: training bytes (e.g. 50M)");
    app.add_option("--time", time_budget, "Budget: wall time (e.g. 600, 10m, 1h)");
    app.add_option("--val-every", o.val_every, "Validate every N steps (0: only at the end)")->check(CLI::NonNegativeNumber)
        ->default_str("200");
    app.add_option("--val-bytes", val_bytes, "Bytes of the val split to validate on")->default_str("64K");
    app.add_option("--checkpoint-every", o.checkpoint_every, "Checkpoint every N steps (and always at the end)")
        ->check(CLI::NonNegativeNumber)->default_str("500");
    app.add_option("--log-every", o.log_every, "Log a line every N steps")->check(CLI::PositiveNumber)->default_str("10");
  }

  // After parsing: checks what the parser cannot and fills o (throws UsageError).
  void finish() {
    // An empty value (-o "", or output = "" in a config file) satisfies the parser but names nothing.
    if (o.dataset.empty()) throw UsageError("--data must name a dataset file");
    if (o.run_dir.empty()) throw UsageError("--output must name a run directory");
  for (auto [flag, width] :
       {std::pair{"--d-model", d}, {"--enc-d-model", enc_d}, {"--dec-d-model", dec_d}, {"--inner-d-model", inner_d}})
    if (width % head_dim != 0) throw UsageError(std::string(flag) + " must be a multiple of 64 (heads are 64 wide)");
  if (arch == "word") {
    o.model = Config::word(d, layers, ctx > 0 ? ctx : 64, enc_d, enc_layers, dec_d, dec_layers);
    o.model.word_rule = word_rule;
    o.model.word_cap = word_cap;
  } else if (arch == "patch") {
    try {
      o.model = Config::patch_model(patch, d, layers, ctx > 0 ? ctx : 1024, inner_d, inner_layers);
      o.model.validate();
    } catch (const Error& e) {
      throw UsageError(std::string(e.what()).substr(std::string("bad model config: ").size() *
                                                    (std::string(e.what()).rfind("bad model config: ", 0) == 0)));
    }
  } else {
    o.model = Config::flat(d, layers, ctx > 0 ? ctx : 256);
  }
  ctx = o.model.ctx;
  o.seed = common.seed;
  o.precision = precision == "bf16" ? Precision::bf16 : Precision::f32;
  if (!bytes_budget.empty()) {
    o.max_bytes = parse_size(bytes_budget);
    if (o.max_bytes == 0) throw UsageError("--bytes must be positive");
  }
  if (!time_budget.empty()) o.max_seconds = parse_duration(time_budget);
  o.val_bytes = parse_size(val_bytes);
  if (o.max_steps <= 0 && o.max_bytes == 0 && o.max_seconds <= 0)
    throw UsageError("give a training budget: --steps, --bytes or --time");  }
};

}  // namespace bytes
