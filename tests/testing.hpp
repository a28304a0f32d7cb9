// Helpers shared by the unit tests: a scratch folder and small file utilities.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

namespace testing {

// A fresh folder under $TMPDIR, removed when the test ends.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "bytes-test-XXXXXX").string();
    path = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

inline void write_file(const std::string& path, const std::string& data) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary).write(data.data(), std::streamsize(data.size()));
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

inline std::string random_bytes(std::mt19937_64& rng, size_t n, int alphabet = 256) {
  std::string s(n, '\0');
  for (auto& c : s) c = char(rng() % unsigned(alphabet));
  return s;
}

// Text with words, runs of spaces, newlines, long words for the cap and bytes outside UTF-8.
inline std::string wordy_text(std::mt19937_64& rng, size_t n) {
  static const std::string pieces[] = {"the ", "a", "b", "  ", "\n", "\xff", "\xc3\xa9", "word", "x", "...", "\t"};
  std::string s;
  while (s.size() < n) s += pieces[rng() % std::size(pieces)];
  s.resize(n);
  return s;
}

}  // namespace testing
