// splitmix64 (Steele, Lea and Flood; Vigna's constants), the one source of random numbers that
// must be the same on every platform: std's distributions do not promise that. Its finaliser is
// also the hash behind bytes-perturb's counter-based draws.
#pragma once
#include <cstdint>

namespace bytes {

// splitmix64's finaliser: a bijective mix of all 64 bits.
constexpr uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The golden-ratio increment between splitmix64's states.
inline constexpr uint64_t splitmix64_gamma = 0x9E3779B97F4A7C15ull;

// A small counter-based generator (splitmix64): the same seed gives the same numbers everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() { return splitmix64_mix(state_ += splitmix64_gamma); }
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }  // [0, 1), 53 bits

 private:
  uint64_t state_;
};

}  // namespace bytes
