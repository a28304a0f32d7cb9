#include "bytes/text/escape.hpp"

#include <cctype>

#include "bytes/base/error.hpp"

namespace bytes {

std::string unescape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i == text.size()) throw UsageError("trailing backslash in '" + text + "'");
    switch (text[i]) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case '0': out += '\0'; break;
      case '\\': out += '\\'; break;
      case 'x': {
        auto hex = [&](size_t j) {
          if (j >= text.size() || !std::isxdigit(static_cast<unsigned char>(text[j])))
            throw UsageError("bad \\x escape in '" + text + "' (need two hex digits)");
          return std::stoi(text.substr(j, 1), nullptr, 16);
        };
        out += char(hex(i + 1) * 16 + hex(i + 2));
        i += 2;
        break;
      }
      default: throw UsageError(std::string("unknown escape \\") + text[i] + " in '" + text + "'");
    }
  }
  return out;
}

}  // namespace bytes
