// bytes-prep: text in, one dataset file out; and the way back out of a dataset.
#include "cli.hpp"
#include "bytes/base/error.hpp"
#include "bytes/base/units.hpp"
#include "bytes/text/escape.hpp"
#include "bytes/text/prep_commands.hpp"
#include "prep-command.hpp"

using namespace bytes;

int main(int argc, char** argv) {
  CLI::App app{"Prepare text as a bytes dataset: files, folders or stdin in; one dataset file out", "bytes-prep"};
  cli::Common common;
  cli::init(app, common);
  cli::add_json(app, common);
  cli::add_threads(app, common);
  app.require_subcommand(0, 1);
  app.fallthrough();  // the shared flags (--json, -q, ...) also work after a subcommand

  std::vector<std::string> inputs, split_inputs[n_splits];
  std::string output, mode = "file", separator, binary = "skip", block_size = "4M";
  prep::Options opt;
  app.add_option("-o,--output", output, "Dataset file to write")->type_name("FILE");
  cli::old_name(app, app.add_option("-d,--docs", mode, "How to cut input into documents: file, line, paragraph, nul")
      ->check(CLI::IsMember({"file", "line", "paragraph", "nul"}))->default_str("file"), "-d");
  app.add_option("-s,--separator", separator, "Cut documents at this string (escapes: \\n \\t \\0 \\xHH)")
      ->type_name("STR");
  app.add_option("--val", opt.val, "Fraction of documents for val, by content hash")->check(CLI::Range(0.0, 1.0))
      ->default_str("0.1");
  app.add_option("--test", opt.test, "Fraction of documents for test, by content hash")->check(CLI::Range(0.0, 1.0))
      ->default_str("0");
  for (int s = 0; s < n_splits; ++s)
    app.add_option(std::string("--") + split_name(Split(s)) + "-input", split_inputs[s],
                   std::string("Put this file or folder wholly in ") + split_name(Split(s)) + " (repeatable)")
        ->type_name("PATH")->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_flag("--dedup", opt.dedup, "Drop documents whose exact bytes came before");
  app.add_option("--binary", binary, "Files holding NUL bytes: skip or keep")
      ->check(CLI::IsMember({"skip", "keep"}))->default_str("skip");
  app.add_option("-L,--level", opt.level, "zstd compression level")->default_str("3");
  app.add_option("--block-size", block_size, "Uncompressed bytes per zstd frame (4K to 64M)")->default_str("4M");
  app.add_option("inputs", inputs, "Files, folders, or - for stdin (default: stdin)")->type_name("INPUT");
  PrepSubcommands subcommands;
  subcommands.define(app);

  return cli::run(app, common, argc, argv, [&] {
    if (subcommands.run(common.json)) return int(cli::ok);
    if (output.empty()) throw UsageError("missing -o/--output: the dataset file to write");
    if (!separator.empty() && app.count("--docs")) throw UsageError("--separator and --docs exclude each other");
    opt.mode = separator.empty() ? prep::parse_doc_mode(mode) : prep::DocMode::separator;
    opt.separator = unescape(separator);
    if (app.count("--separator") && opt.separator.empty()) throw UsageError("--separator must not be empty");
    opt.skip_binary = binary == "skip";
    opt.threads = cli::thread_count(common);
    const uint64_t block = parse_size(block_size);
    if (block < 4096 || block > (64u << 20)) throw UsageError("--block-size must be between 4K and 64M");
    opt.block_size = uint32_t(block);
    std::vector<prep::Input> all;
    for (auto& p : inputs) all.push_back({p, std::nullopt});
    for (int s = 0; s < n_splits; ++s)
      for (auto& p : split_inputs[s]) all.push_back({p, Split(s)});
    prep::prepare_and_report(all, output, opt, common.json, cli::to_stdout);
    return int(cli::ok);
  });
}
