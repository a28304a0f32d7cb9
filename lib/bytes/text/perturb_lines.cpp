#include "bytes/text/perturb_lines.hpp"

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "bytes/base/error.hpp"
#include "bytes/base/interrupt.hpp"
#include "bytes/base/io.hpp"

namespace bytes {

namespace {

void perturb_stream(Perturber& perturber, const std::vector<std::string>& inputs, OverlappedWriter& writer) {
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
}

void perturb_records(Perturber& perturber, const std::vector<std::string>& inputs, const std::string& field,
                     OverlappedWriter& writer) {
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

}  // namespace

void perturb_files(Perturber& perturber, const std::vector<std::string>& inputs, const std::string& field,
                   const std::string& output) {
  std::unique_ptr<AtomicFile> file;
  if (!output.empty()) file = std::make_unique<AtomicFile>(output);
  OverlappedWriter writer([&](std::string_view s) {
    if (file) return file->write(s);
    write_stdout(s);
    flush_stdout();
  });
  if (field.empty()) perturb_stream(perturber, inputs, writer);
  else perturb_records(perturber, inputs, field, writer);
  writer.submit();
  writer.finish();
  if (file) file->commit();
}

std::string noise_report(const Perturber& perturber) {
  nlohmann::ordered_json r = nlohmann::ordered_json::array();
  for (const auto& c : perturber.counts())
    r.push_back({{"noise", c.type}, {"rate", c.rate}, {"units", c.units}, {"edits", c.edits},
                 {"edit_rate", c.units ? double(c.edits) / double(c.units) : 0.0}});
  return nlohmann::ordered_json{{"report", r}}.dump();
}

std::string noise_list() {
  std::string out;
  for (const auto& t : noise_types()) {
    char line[128];
    std::snprintf(line, sizeof line, "%-14s %4.2f  per %s\n", t.name, t.default_rate, t.per);
    out += line;
  }
  return out;
}

}  // namespace bytes
