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

// Model configs of the sizes the tests use, through the architectures' own field declarations
// (models/config.hpp), as bytes-train's flags would make them.
#include "bytes/models/model.hpp"

namespace testing {

inline bytes::Config flat_config(int64_t d, int64_t layers, int64_t ctx) {
  return bytes::Config::make("flat", {{"d_model", std::to_string(d)}, {"n_layers", std::to_string(layers)},
                                      {"ctx", std::to_string(ctx)}});
}

inline bytes::Config word_model_config(int64_t d, int64_t layers, int64_t ctx_words, int64_t enc_d, int64_t enc_layers,
                                       int64_t dec_d, int64_t dec_layers, int64_t cap = 32) {
  return bytes::Config::make("word", {{"d_model", std::to_string(d)},
                                      {"n_layers", std::to_string(layers)},
                                      {"ctx_words", std::to_string(ctx_words)},
                                      {"enc_d_model", std::to_string(enc_d)},
                                      {"enc_layers", std::to_string(enc_layers)},
                                      {"dec_d_model", std::to_string(dec_d)},
                                      {"dec_layers", std::to_string(dec_layers)},
                                      {"word_cap", std::to_string(cap)}});
}

inline bytes::Config patch_config(const std::string& spec, int64_t d, int64_t layers, int64_t ctx, int64_t inner_d,
                                  int64_t inner_layers) {
  return bytes::Config::make("patch", {{"patch", spec},
                                       {"d_model", std::to_string(d)},
                                       {"n_layers", std::to_string(layers)},
                                       {"ctx", std::to_string(ctx)},
                                       {"inner_d_model", std::to_string(inner_d)},
                                       {"inner_layers", std::to_string(inner_layers)}});
}

}  // namespace testing
