#include "bytes/runs/bench_report.hpp"

#include <cstdio>

namespace bytes::bench {

std::string list_text() {
  std::string out;
  for (const auto& t : tests()) {
    char line[160];
    std::snprintf(line, sizeof line, "%-10s %s\n", t.name.c_str(), t.what.c_str());
    out += line;
  }
  return out;
}

void run_report(const Options& options, Format format, const std::function<void(std::string_view)>& out) {
  validate(options);
  const Machine m = machine();
  out(header(format, m));
  run(options, [&](const Row& row) { out(format_row(format, m, row)); });
}

}  // namespace bytes::bench
