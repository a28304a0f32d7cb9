// Bits per byte as SPEC.md defines it, with bytes-eval's window protocol: a document is BOS +
// its bytes; windows of at most ctx tokens advance by a stride; each window scores only the
// targets not scored before. The document-ending boundary is not scored.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bytes/model.hpp"

namespace bytes {

// The window stride a requested stride gives (0: ctx/2; at most ctx): in tokens, or words for a
// word model. bytes-eval and generation slide their windows by it.
int64_t window_stride(const Config& config, int64_t stride);

struct Scorer {
  Model& model;
  int64_t stride = 0;  // 0: ctx/2
  int64_t batch = 16;  // full-length windows run this many at a time

  // Bits of each byte of doc (−log2 p of byte i given BOS and bytes < i under the protocol).
  // With top, also the byte the model found most likely at each position (ties: the lowest).
  // For a word model, a complete word's EOW bits are added to the next word's first byte (SPEC.md's
  // rule: every symbol the model must emit counts; the byte that ends the word carries them).
  std::vector<double> bits(const uint8_t* doc, size_t n, std::vector<uint8_t>* top = nullptr);

 private:
  int64_t step() const;
  std::vector<double> word_bits(const uint8_t* doc, size_t n, std::vector<uint8_t>* top);
};

// A line of bytes-eval --conditional: {"context": …, "target": …}, the strings as their UTF-8 bytes.
// Empty for a blank line. Throws Error ("is not JSON", "needs string fields …") for the caller to
// prefix with where the line is.
struct ConditionalPair {
  std::string context, target;
};
std::optional<ConditionalPair> parse_conditional(std::string_view line);

// zstd -19's bits per byte on these bytes: the floor a model must beat.
double zstd_bpb(const uint8_t* data, size_t n, int level = 19);

}  // namespace bytes
