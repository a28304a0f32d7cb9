// bytes-bench's output over bench.hpp: the list of tests, and a run reported row by row.
#pragma once
#include <functional>
#include <string>
#include <string_view>

#include "bytes/runs/bench.hpp"

namespace bytes::bench {

// One line per test: its name and what it measures.
std::string list_text();

// Checks the options, measures the machine, and writes the header and then each row to out as
// soon as it is measured (a long run shows its progress).
void run_report(const Options& options, Format format, const std::function<void(std::string_view)>& out);

}  // namespace bytes::bench
