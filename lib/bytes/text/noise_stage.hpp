// One stage of bytes-perturb's chain (internal to the Perturber, text/perturb.cpp): a noise type
// applied to a stream of units at its rate. Every eligible unit gets one Bernoulli trial, drawn
// from a hash of (seed, stage, stream, position): so the output depends on the input and the
// seed only, never on how the input was cut into pieces.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "bytes/text/perturb.hpp"

namespace bytes::noise {

// One unit of the stream: a code point, or a byte (raw) that is not part of well-formed UTF-8.
// In byte mode every byte is a unit and none is raw.
struct Unit {
  uint32_t c;
  bool raw;
};

constexpr size_t max_word = 256;  // longer runs are cut into words of this many characters
constexpr size_t ring_size = 64;  // recent characters that insert and substitute draw from

class Stage {
 public:
  Stage(NoiseSpec spec, uint64_t seed, size_t position, bool bytes);

  std::vector<Unit>* out = nullptr;  // where this stage writes, the next stage's input
  uint64_t units = 0, edits = 0;
  const NoiseSpec& spec() const { return spec_; }

  // A new stream (0 for the first): positions and held state start over.
  void restart(uint64_t stream);
  // The stage over a run of units (batched: one call per piece, not one per character).
  void run(const std::vector<Unit>& in);
  // The end of the stream: writes what the stage holds (half a pair, a word).
  void flush();

 private:
  template <size_t... K>
  static constexpr auto runners(std::index_sequence<K...>);
  void emit(Unit u) { out->push_back(u); }
  void emit(uint32_t c) { emit(Unit{c, false}); }
  uint64_t rand(uint64_t at, uint64_t k = 0) const;
  bool trial();
  uint64_t next_gap();
  bool text(Unit u) const;
  void remember(Unit u) { ring_[remembered_++ % ring_size] = u.c; }
  void remember_run(const std::vector<Unit>& in, size_t from, size_t to, uint64_t texts);
  uint32_t random_char(uint64_t at, uint32_t not_this) const;
  template <NoiseKind K>
  bool eligible(Unit u) const;
  template <NoiseKind K>
  void run_as(const std::vector<Unit>& in);
  template <NoiseKind K>
  void hit(Unit u);
  template <NoiseKind K>
  void process(Unit u);
  void pair(Unit u);
  void flush_word();

  NoiseSpec spec_;
  bool bytes_, always_ = false, draws_from_input_ = false;
  double inverse_log_miss_ = 0;
  uint64_t salt_ = 0, key_ = 0, index_ = 0;
  uint64_t draws_ = 0, gap_ = 0;  // random numbers drawn for gaps; eligible units until the next hit
  bool prev_raw_ = false;
  std::optional<Unit> pending_;  // swap: the first character of a pair
  std::vector<uint32_t> word_;
  uint64_t word_at_ = 0;
  bool word_after_raw_ = false;
  // The n-th text unit since the restart goes to slot n % ring_size: where a unit lies depends on
  // how many came before it only, never on how the input was cut.
  std::array<uint32_t, ring_size> ring_{};
  uint64_t remembered_ = 0;  // text units remembered since the restart, skipped ones included
};

}  // namespace bytes::noise
