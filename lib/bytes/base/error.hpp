// Errors the programs turn into exit codes: Error → 1 (runtime failure), UsageError → 2.
#pragma once
#include <stdexcept>
#include <string>

namespace bytes {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A bad flag value found after parsing (e.g. fractions that add up to more than 1).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace bytes
