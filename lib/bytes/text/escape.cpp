#include "bytes/text/escape.hpp"

#include <cctype>

#include "bytes/base/error.hpp"
#include "bytes/text/chars.hpp"

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

void Escaper::escape_pending(std::string& out) {
  static const char hex[] = "0123456789abcdef";
  for (unsigned char b : pending_) {
    out += "\\x";
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  pending_.clear();
}

std::string Escaper::put(std::string_view bytes) {
  std::string out;
  for (unsigned char b : bytes) {
    const bool inside = state_.need > 0;
    const bool ok = state_.feed(b);
    if (inside && ok) {
      pending_ += char(b);
      if (state_.need == 0) {
        const auto c = utf8::decode(reinterpret_cast<const uint8_t*>(pending_.data()), pending_.size());
        if (chars::is_c1_control(c.code_point)) escape_pending(out);
        out += pending_;
        pending_.clear();
      }
      continue;
    }
    escape_pending(out);  // a character broken by b (nothing, between characters)
    const int len = utf8::length(b);
    if (len > 1) {
      pending_ = char(b);
    } else if (b == '\\') {
      out += "\\\\";
    } else if (len == 1 && (!chars::is_ascii_control(b) || b == '\n' || b == '\t')) {
      out += char(b);
    } else {
      pending_ = char(b);
      escape_pending(out);
    }
  }
  return out;
}

std::string Escaper::finish() {
  std::string out;
  escape_pending(out);
  state_ = {};
  return out;
}

}  // namespace bytes
