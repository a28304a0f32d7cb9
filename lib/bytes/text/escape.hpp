// Escapes as people type them (bytes-gen --stop, -s): C's, for bytes a shell makes hard to give.
#pragma once
#include <string>

namespace bytes {

// Decodes \n \t \r \0 \\ \xHH; throws UsageError for a trailing backslash or an unknown escape.
std::string unescape(const std::string& text);

}  // namespace bytes
