// What the fuzz targets share. A target returns quietly when the code under test refuses its
// input with bytes::Error (the one way a reader may fail); any other exception escapes and
// libFuzzer reports it as a crash, as it does a sanitizer's report, a leak or a failed FUZZ_CHECK().
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

// A property the target checks; abort() makes libFuzzer keep the input that broke it.
#define FUZZ_CHECK(cond)                                                          \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                               \
    }                                                                             \
  } while (0)

// A file in memory (memfd) that readers open by name, /proc/self/fd/N: they stat, pread and
// mmap it as they would a file on disk, with no disk and no temporary to clean up.
class MemoryFile {
 public:
  MemoryFile() : fd_(memfd_create("fuzz-input", MFD_CLOEXEC)) {
    FUZZ_CHECK(fd_ >= 0);
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemoryFile() { close(fd_); }
  // The file now holds exactly these bytes; returns its name.
  const std::string& hold(const void* data, size_t n) {
    FUZZ_CHECK(ftruncate(fd_, 0) == 0);
    FUZZ_CHECK(n == 0 || pwrite(fd_, data, n, 0) == ssize_t(n));
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

// Well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or values past U+10FFFF).
inline bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = uint8_t(s[i]);
    const size_t n = b < 0x80 ? 1 : b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
    if (n == 0 || n > s.size() - i) return false;
    // The second byte's range depends on the first.
    const uint8_t lo = b == 0xE0 ? 0xA0 : b == 0xF0 ? 0x90 : 0x80, hi = b == 0xED ? 0x9F : b == 0xF4 ? 0x8F : 0xBF;
    for (size_t k = 1; k < n; ++k) {
      const auto c = uint8_t(s[i + k]);
      if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) return false;
    }
    i += n;
  }
  return true;
}

// Calls fn with each line of data as LineReader gives them: without the newline, a last line
// without one counted too.
template <typename Fn>
void for_each_line(const uint8_t* data, size_t size, Fn fn) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (size_t at = 0; at < input.size();) {
    const size_t end = std::min(input.find('\n', at), input.size());
    fn(input.substr(at, end - at));
    at = end + 1;
  }
}
