// The amounts people type on a command line or in a config file: sizes and durations.
#pragma once
#include <cstdint>
#include <string>

namespace bytes {

// Sizes such as 4096, 256K, 1M, 2G (powers of 1024); throws UsageError.
uint64_t parse_size(const std::string& text);
// Durations in seconds: 600, 90s, 10m, 2h; throws UsageError for anything else or ≤ 0.
double parse_duration(const std::string& text);

}  // namespace bytes
