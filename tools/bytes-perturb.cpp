// bytes-perturb: reproducible noise, stdin (or files) to stdout, for robustness studies.
#include <unistd.h>

#include <cstdio>

#include "cli.hpp"
#include "bytes/base/error.hpp"
#include "bytes/base/io.hpp"
#include "bytes/text/perturb_lines.hpp"

using namespace bytes;

int main(int argc, char** argv) {
  CLI::App app{"Add reproducible noise to text: typos, drops, case, repeats, homoglyphs, …", "bytes-perturb"};
  cli::Common common;
  cli::init(app, common);
  cli::add_seed(app, common);
  std::vector<std::string> inputs, noises;
  std::string unit = "codepoint", field, output;
  bool report = false, list = false;
  app.add_option("input", inputs, "Files to read, one stream (default: stdin)")->type_name("FILE");
  cli::old_name(app, app.add_option("-n,--noise", noises, "Noise TYPE[:RATE]; repeat to chain, applied in order (--list shows the types)")
      ->type_name("TYPE[:RATE]")->take_all()->allow_extra_args(false), "-n");
  app.add_option("--unit", unit, "Work on Unicode code points or raw bytes")
      ->check(CLI::IsMember({"codepoint", "byte"}))->default_str("codepoint");
  app.add_option("--field", field, "Input is JSON lines: perturb only this string field of each object")
      ->type_name("NAME");
  app.add_option("-o,--output", output, "Write to FILE (whole or not at all) instead of stdout")->type_name("FILE");
  app.add_flag("--report", report, "Print the counts of edits per noise type as JSON on stderr");
  app.add_flag("--list", list, "List the noise types with their default rates");

  return cli::run(app, common, argc, argv, [&] {
    if (list) {
      write_stdout(noise_list());
      return int(cli::ok);
    }
    if (noises.empty()) throw UsageError("no --noise given (try --list)");
    std::vector<NoiseSpec> chain;
    for (const auto& n : noises) chain.push_back(parse_noise(n));
    if (!field.empty() && unit == "byte")
      throw UsageError("--field works on code points: JSON strings cannot carry the invalid UTF-8 byte noise makes");
    if (inputs.empty()) inputs.push_back("-");
    for (const auto& in : inputs)
      if (in == "-" && isatty(0)) throw UsageError("stdin is a terminal (pipe text in, or name a file)");
    Perturber perturber(chain, common.seed, unit == "byte" ? NoiseUnit::byte : NoiseUnit::codepoint);
    perturb_files(perturber, inputs, field, output);
    if (report) std::fprintf(stderr, "%s\n", noise_report(perturber).c_str());
    return int(cli::ok);
  });
}
