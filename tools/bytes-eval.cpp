// bytes-eval: bits per byte of a model on a dataset split, a file or stdin; per-byte surprisal;
// and the bits of a target text given a context.
#include <spdlog/spdlog.h>

#include <unistd.h>

#include "cli.hpp"
#include "bytes/base/error.hpp"
#include "bytes/base/io.hpp"
#include "bytes/base/parallel.hpp"
#include "bytes/base/units.hpp"
#include "bytes/runs/conditional.hpp"
#include "bytes/runs/evaluate.hpp"

using namespace bytes;

int main(int argc, char** argv) {
  CLI::App app{"Bits per byte of a byte model on a dataset split, a file or stdin", "bytes-eval"};
  cli::Common common;
  cli::init(app, common);
  cli::add_json(app, common);
  cli::add_threads(app, common);
  EvalOptions o;
  std::string model_path, split = "val", max_bytes;
  bool per_byte = false, conditional = false;
  app.add_option("-m,--model", model_path, "Model file (a run's model.safetensors)")->required()->type_name("MODEL");
  app.add_option("input", o.input, "File to score as one document, or - for stdin (default)")->type_name("FILE");
  app.add_option("-d,--data", o.dataset, "Score the documents of a dataset split instead")->type_name("DATASET");
  app.add_option("--split", split, "Split of --data: train, val or test")
      ->check(CLI::IsMember({"train", "val", "test"}))->default_str("val");
  app.add_option("--stride", o.stride, "Window stride in tokens (default ctx/2)")->check(CLI::PositiveNumber);
  app.add_option("--max-bytes", max_bytes, "Score only the first SIZE bytes (e.g. 100K)");
  app.add_flag("--per-byte", per_byte, "Print offset, byte, bits and the most likely byte of every position (TSV, or JSON lines with --json)");
  app.add_flag("--conditional", conditional,
               "Input is JSON lines {\"context\": …, \"target\": …}: print the bits of each target given its context");

  return cli::run(app, common, argc, argv, [&] {
    set_threads(cli::thread_count(common));
    if (conditional && !o.dataset.empty()) throw UsageError("--conditional reads JSON lines, not --data");
    if (o.input == "-" && o.dataset.empty() && isatty(0))
      throw UsageError("no input given and stdin is a terminal (name a file, or --data)");
    if (!max_bytes.empty()) o.max_bytes = parse_size(max_bytes);
    o.split = parse_split(split);
    const auto owned = load_model(model_path);
    Model& model = *owned;
    if (conditional) {
      const ConditionalTotals t = score_conditional_lines(model, o.stride, o.input, cli::to_stdout);
      spdlog::info("{} targets, {} bytes, {} bits per byte given their contexts", t.targets, t.bytes, fixed4(t.bpb()));
      return int(cli::ok);
    }
    if (per_byte) o.per_byte = common.json ? EvalOptions::PerByte::json : EvalOptions::PerByte::tsv;
    const EvalResult r = evaluate(model, o, cli::to_stdout_now);  // per-byte lines as they are final
    if (per_byte) spdlog::info("{}", eval_summary(r));
    else write_stdout(eval_report(r, common.json));
    return int(cli::ok);
  });
}
