// bytes-perturb: reproducible noise, stdin (or files) to stdout, for robustness studies.
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "bytes/base/interrupt.hpp"
#include "bytes/base/error.hpp"
#include "bytes/base/io.hpp"
#include "bytes/text/perturb.hpp"

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
  app.add_option("-n,--noise", noises, "Noise TYPE[:RATE]; repeat to chain, applied in order (--list shows the types)")
      ->type_name("TYPE[:RATE]")->take_all()->allow_extra_args(false);
  app.add_option("--unit", unit, "Work on Unicode code points or raw bytes")
      ->check(CLI::IsMember({"codepoint", "byte"}))->default_str("codepoint");
  app.add_option("--field", field, "Input is JSON lines: perturb only this string field of each object")
      ->type_name("NAME");
  app.add_option("-o,--output", output, "Write to FILE (whole or not at all) instead of stdout")->type_name("FILE");
  app.add_flag("--report", report, "Print the counts of edits per noise type as JSON on stderr");
  app.add_flag("--list", list, "List the noise types with their default rates");

  return cli::run(app, common, argc, argv, [&] {
    if (list) {
      for (const auto& t : noise_types()) {
        char line[128];
        std::snprintf(line, sizeof line, "%-14s %4.2f  per %s\n", t.name, t.default_rate, t.per);
        write_stdout(line);
      }
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
    std::unique_ptr<AtomicFile> file;
    if (!output.empty()) file = std::make_unique<AtomicFile>(output);
    OverlappedWriter writer([&](std::string_view s) {
      if (file) return file->write(s);
      write_stdout(s);
      flush_stdout();
    });

    if (field.empty()) {
      std::vector<char> buf(1 << 20);
      for (const auto& path : inputs) {
        InputFile in(path);
        for (size_t got; (got = in.read(buf.data(), buf.size())) > 0;) {
          perturber.feed(std::string_view(buf.data(), got), writer.buffer());
          writer.submit();
          check_interrupt();
        }
      }
      perturber.finish(writer.buffer());
    } else {
      uint64_t records = 0;
      for (const auto& path : inputs) {
        LineReader lines(path);
        for (std::string line; lines.next(line);) {
          try {
            perturb_record(perturber, line, field, records, writer.buffer());
          } catch (const Error& e) {
            // A bad record ends the run after the records before it, which are complete, are out.
            writer.submit();
            writer.finish();
            throw Error("line " + std::to_string(lines.line_number()) + " of " + lines.name() + " " + e.what());
          }
          // Send what is ready when the input pauses (a co-process waits for its answer) or piles up.
          if (!lines.has_line() || writer.buffer().size() >= (1 << 20)) writer.submit();
          check_interrupt();
        }
      }
    }
    writer.submit();
    writer.finish();
    if (file) file->commit();
    if (report) {
      nlohmann::ordered_json r = nlohmann::ordered_json::array();
      for (const auto& c : perturber.counts())
        r.push_back({{"noise", c.type}, {"rate", c.rate}, {"units", c.units}, {"edits", c.edits},
                     {"edit_rate", c.units ? double(c.edits) / double(c.units) : 0.0}});
      std::fprintf(stderr, "%s\n", nlohmann::ordered_json{{"report", r}}.dump().c_str());
    }
    return int(cli::ok);
  });
}
