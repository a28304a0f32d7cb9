// The --stop/-s escape parser over arbitrary text: refused with UsageError, or decoded into at
// most as many bytes, text without a backslash unchanged, and escaping the result back (in the
// parser's own escapes) decoding to the same bytes.
#include "bytes/text/escape.hpp"
#include "bytes/base/error.hpp"
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string decoded;
  try {
    decoded = bytes::unescape(text);
  } catch (const bytes::UsageError&) {
    FUZZ_CHECK(text.find('\\') != std::string::npos);
    return 0;
  }
  FUZZ_CHECK(decoded.size() <= text.size());
  if (text.find('\\') == std::string::npos) FUZZ_CHECK(decoded == text);
  std::string escaped;
  for (unsigned char c : decoded) {
    char hex[5];
    std::snprintf(hex, sizeof hex, "\\x%02x", c);
    escaped += c == '\\' ? std::string("\\\\") : c < 32 || c > 126 ? std::string(hex) : std::string(1, char(c));
  }
  FUZZ_CHECK(bytes::unescape(escaped) == decoded);
  return 0;
}
