// Reproducible noise for robustness studies (bytes-perturb(1)): the noise types of the
// literature as a chain of streaming stages over characters (Unicode code points; bytes that are
// not well-formed UTF-8 pass through untouched) or raw bytes. Every random choice is a hash of
// (seed, stage, position in that stage's input), so the output depends on the input and the
// seed only: not on how the input is cut into reads, nor on anything else.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bytes {

enum class NoiseKind {
  drop, insert, substitute, adm, swap, typo, repeat, randcase, upper, lower, antspeak,
  ws_drop, ws_insert, diacritics, homoglyph, inner_permute, word_permute, word_replace, word_delete
};

struct NoiseType {
  NoiseKind kind;
  const char* name;
  double default_rate;
  const char* per;  // what the rate is a probability per: "character", "word", …
};
// Every noise type, in the order the man page lists them.
const std::vector<NoiseType>& noise_types();

struct NoiseSpec {
  NoiseKind kind;
  double rate;
};
// "drop:0.1", or a bare name for its default rate. Throws UsageError naming the problem.
NoiseSpec parse_noise(const std::string& text);
std::string noise_name(NoiseKind kind);

enum class NoiseUnit { codepoint, byte };

class Perturber {
 public:
  Perturber(const std::vector<NoiseSpec>& chain, uint64_t seed, NoiseUnit unit);
  ~Perturber();
  Perturber(const Perturber&) = delete;
  Perturber& operator=(const Perturber&) = delete;

  // Appends the noisy form of the next piece of the stream to out. Pieces may be cut anywhere,
  // even inside a character: the output is the same.
  void feed(std::string_view in, std::string& out);
  // The end of the stream: writes what stages still hold (a character split at the end, a word).
  void finish(std::string& out);
  // Starts an independent stream keyed by `stream` (e.g. the line of a JSON record): state is
  // cleared and positions restart, so a record's noise does not depend on the records before it.
  // Counts keep adding up.
  void restart(uint64_t stream);

  struct Count {
    std::string type;
    double rate;
    uint64_t units, edits;  // eligible units seen, and how many of them the noise changed
  };
  std::vector<Count> counts() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The chain's output on `in` fed as pieces cut at the offsets `cuts`, then finished. Each cut is
// clamped to [the cut before, in.size()], so any list will do (a fuzzer's too): out-of-order
// cuts give empty pieces. The output is the same for every list, the empty one included: what
// tests and fuzz targets check. Throws UsageError as Perturber does.
std::string perturb_pieces(std::string_view in, const std::vector<size_t>& cuts, const std::vector<NoiseSpec>& chain,
                           uint64_t seed, NoiseUnit unit);

// A line of bytes-perturb --field: appends it to out, newline-terminated, with its string field
// `field` perturbed and the rest re-serialised compactly in its order; a blank line as it is.
// Each record (a line that is not blank) is a stream of its own: records counts them, and the
// n-th is stream n (Perturber::restart), whatever the records before it hold. Throws Error ("is
// not JSON", "has no string field …") for the caller to prefix with where the line is; out is
// then as it was. The perturber must work on code points: JSON strings cannot carry stray bytes.
void perturb_record(Perturber& perturber, std::string_view line, const std::string& field, uint64_t& records,
                    std::string& out);

}  // namespace bytes
