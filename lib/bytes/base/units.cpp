#include "bytes/base/units.hpp"

#include "bytes/base/error.hpp"

namespace bytes {

uint64_t parse_size(const std::string& text) {
  if (text.empty()) throw UsageError("empty size");
  size_t used = 0;
  unsigned long long value = 0;
  try {
    value = std::stoull(text, &used, 10);
  } catch (const std::exception&) {
    throw UsageError("not a size: '" + text + "'");
  }
  if (text[0] == '-') throw UsageError("not a size: '" + text + "'");
  std::string suffix = text.substr(used);
  int shift = 0;
  if (suffix == "" || suffix == "B") shift = 0;
  else if (suffix == "K" || suffix == "k" || suffix == "KiB") shift = 10;
  else if (suffix == "M" || suffix == "MiB") shift = 20;
  else if (suffix == "G" || suffix == "GiB") shift = 30;
  else if (suffix == "T" || suffix == "TiB") shift = 40;
  else throw UsageError("unknown size suffix in '" + text + "' (use K, M, G or T)");
  if (shift && value > (~0ULL >> shift)) throw UsageError("size too large: '" + text + "'");
  return uint64_t(value) << shift;
}

double parse_duration(const std::string& text) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    throw UsageError("not a duration: '" + text + "' (e.g. 600, 90s, 10m, 2h)");
  }
  std::string unit = text.substr(used);
  double scale = unit == "" || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : -1;
  if (scale < 0 || !(v > 0)) throw UsageError("not a positive duration: '" + text + "' (e.g. 600, 90s, 10m, 2h)");
  // (A year at most: a longer one, or inf, would overflow the step counts made from it.)
  if (!(v * scale <= 366.0 * 24 * 3600)) throw UsageError("a duration of at most a year, not '" + text + "'");
  return v * scale;
}

}  // namespace bytes
