// bytes-eval --conditional's lines: any bytes, cut into lines as LineReader cuts them. Each is
// skipped as blank, refused with bytes::Error, or gives two strings of well-formed UTF-8 (JSON
// strings are Unicode: the parser must not hand over anything else).
#include "bytes/base/error.hpp"
#include "bytes/runs/eval.hpp"
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for_each_line(data, size, [](std::string_view line) {
    try {
      if (const auto pair = bytes::parse_conditional(line)) FUZZ_CHECK(valid_utf8(pair->context) && valid_utf8(pair->target));
    } catch (const bytes::Error&) {
    }
  });
  return 0;
}
