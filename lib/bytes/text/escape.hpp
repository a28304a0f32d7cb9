// Escapes both ways: C's, as people type them (bytes-gen --stop, bytes-prep -s), for bytes a
// shell makes hard to give; and \xNN for bytes that a terminal must not see (bytes-gen --escape,
// bytes-prep words).
#pragma once
#include <string>
#include <string_view>

#include "bytes/text/utf8.hpp"

namespace bytes {

// Decodes \n \t \r \0 \\ \xHH; throws UsageError for a trailing backslash or an unknown escape.
std::string unescape(const std::string& text);

// Escaped text for terminals: printable ASCII, newline, tab and well-formed multi-byte UTF-8
// other than the C1 controls pass through; other bytes become \xNN and a backslash becomes \\.
// Streams: a character split across calls is held until it completes or breaks.
class Escaper {
 public:
  std::string put(std::string_view bytes);
  std::string finish();

 private:
  void escape_pending(std::string& out);
  utf8::Validator state_;
  std::string pending_;
};

}  // namespace bytes
