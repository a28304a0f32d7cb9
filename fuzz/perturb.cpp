// A noise chain from the fuzz bytes (stage types, rates, unit, seed) over arbitrary bytes, fed
// whole and fed in pieces cut anywhere: the outputs must be equal (the output depends on the
// input and the seed only), rate 0 must give the input back, and valid UTF-8 must stay valid
// under code-point noise.
#include <fuzzer/FuzzedDataProvider.h>

#include "bytes/base/error.hpp"
#include "bytes/text/perturb.hpp"
#include "fuzz.hpp"

namespace {

// The chain's output on `in` fed in pieces cut at `cuts` (clamped into order and into the input).
// The same as bytes::perturb_pieces of the perturb branch, which replaces it once merged.
std::string perturb_in_pieces(std::string_view in, const std::vector<size_t>& cuts, const std::vector<bytes::NoiseSpec>& chain,
                           uint64_t seed, bytes::NoiseUnit unit) {
  bytes::Perturber p(chain, seed, unit);
  std::string out;
  size_t at = 0;
  for (size_t cut : cuts) {
    cut = std::clamp(cut, at, in.size());
    p.feed(in.substr(at, cut - at), out);
    at = cut;
  }
  p.feed(in.substr(at), out);
  p.finish(out);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  const auto unit = fdp.ConsumeBool() ? bytes::NoiseUnit::byte : bytes::NoiseUnit::codepoint;
  const uint64_t seed = fdp.ConsumeIntegral<uint64_t>();
  const size_t kinds = bytes::noise_types().size();
  std::vector<bytes::NoiseSpec> chain;
  bool identity = true;
  for (int i = fdp.ConsumeIntegralInRange(1, 4); i > 0; --i) {
    const auto kind = bytes::noise_types()[fdp.ConsumeIntegralInRange<size_t>(0, kinds - 1)].kind;
    // The rates that matter most: none, always, and anything between.
    const int pick = fdp.ConsumeIntegralInRange(0, 3);
    const double rate = pick == 0 ? 0.0 : pick == 1 ? 1.0 : fdp.ConsumeProbability<double>();
    chain.push_back({kind, rate});
    identity = identity && rate == 0;
  }
  std::vector<size_t> cuts(fdp.ConsumeIntegralInRange(0, 8));
  for (auto& cut : cuts) cut = fdp.ConsumeIntegralInRange<size_t>(0, 4096);
  const std::string text = fdp.ConsumeRemainingBytesAsString();

  std::string whole;
  try {
    whole = perturb_in_pieces(text, {}, chain, seed, unit);
  } catch (const bytes::UsageError&) {
    return 0;  // diacritics and homoglyph refuse --unit byte
  }
  if (perturb_in_pieces(text, cuts, chain, seed, unit) != whole) {
    std::fprintf(stderr, "chain (%s, seed %llu):", unit == bytes::NoiseUnit::byte ? "byte" : "codepoint",
                 static_cast<unsigned long long>(seed));
    for (const auto& s : chain) std::fprintf(stderr, " %s:%g", bytes::noise_name(s.kind).c_str(), s.rate);
    std::fprintf(stderr, "; cuts:");
    for (size_t cut : cuts) std::fprintf(stderr, " %zu", cut);
    std::fprintf(stderr, "; %zu input bytes\n", text.size());
    FUZZ_CHECK(!"the output depends on where the input was cut");
  }
  if (identity) FUZZ_CHECK(whole == text);
  if (unit == bytes::NoiseUnit::codepoint && valid_utf8(text)) FUZZ_CHECK(valid_utf8(whole));
  return 0;
}
