#include "bytes/text/noise_stage.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <string>
#include <unordered_map>

#include "bytes/base/random.hpp"
#include "bytes/text/chars.hpp"

namespace bytes::noise {

namespace {

// QWERTY neighbours of the lowercase letters and the digits, indexed by ASCII code: same row
// left and right, and the keys touching it in the rows above and below (each row sits half a key
// right of the one above).
const std::array<std::string, 128>& keyboard_neighbours() {
  static const std::array<std::string, 128> table = [] {
    const char* rows[] = {"1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"};
    std::array<std::string, 128> t;
    auto at = [&](int r, int c) -> char {
      if (r < 0 || r > 3 || c < 0 || c >= int(std::char_traits<char>::length(rows[r]))) return 0;
      return rows[r][c];
    };
    for (int r = 0; r < 4; ++r)
      for (int c = 0; rows[r][c]; ++c) {
        std::string& n = t[size_t(rows[r][c])];
        for (char k : {at(r, c - 1), at(r, c + 1), at(r - 1, c), at(r - 1, c + 1), at(r + 1, c - 1), at(r + 1, c)})
          if (k) n += k;
      }
    return t;
  }();
  return table;
}

// Latin letters and their Cyrillic or Greek lookalikes, from Unicode's confusables data
// (UTS #39, confusables.txt): pairs whose skeletons are equal.
const std::unordered_map<uint32_t, uint32_t>& homoglyphs() {
  static const std::unordered_map<uint32_t, uint32_t> table = {
      {'a', 0x0430}, {'c', 0x0441}, {'d', 0x0501}, {'e', 0x0435}, {'h', 0x04BB}, {'i', 0x0456}, {'j', 0x0458},
      {'l', 0x04CF}, {'o', 0x043E}, {'p', 0x0440}, {'q', 0x051B}, {'s', 0x0455}, {'w', 0x051D}, {'x', 0x0445},
      {'y', 0x0443}, {'A', 0x0410}, {'B', 0x0412}, {'C', 0x0421}, {'E', 0x0415}, {'H', 0x041D}, {'I', 0x0406},
      {'J', 0x0408}, {'K', 0x041A}, {'M', 0x041C}, {'N', 0x039D}, {'O', 0x041E}, {'P', 0x0420}, {'S', 0x0405},
      {'T', 0x0422}, {'X', 0x0425}, {'Y', 0x04AE}, {'Z', 0x0396}};
  return table;
}

// A letter from a to z other than not_this, uniformly from the random number r.
uint32_t other_letter(uint64_t r, uint32_t not_this) {
  const bool skip = chars::is_ascii_lower(not_this);
  const uint32_t c = 'a' + uint32_t(r % (skip ? 25 : 26));
  return skip && c >= not_this ? c + 1 : c;
}

// In byte mode a unit is a byte: only ASCII has classes and cases.
bool is_space(uint32_t c, bool bytes) { return bytes ? chars::is_ascii_space(c) : chars::is_space(c); }
bool is_letter(uint32_t c, bool bytes) { return bytes ? chars::is_ascii_letter(c) : chars::is_letter(c); }
uint32_t to_upper(uint32_t c, bool bytes) { return bytes ? chars::ascii_upper(c) : chars::to_upper(c); }
uint32_t to_lower(uint32_t c, bool bytes) { return bytes ? chars::ascii_lower(c) : chars::to_lower(c); }

// The keys next to an ASCII letter (either case) or digit; empty for other characters.
const std::string& typo_keys(uint32_t c) { return keyboard_neighbours()[c | (chars::is_ascii_letter(c) ? 32 : 0)]; }

// Types that change only the unit a trial hits (the others work on pairs and words).
constexpr bool unit_wise(NoiseKind k) {
  return k != NoiseKind::swap && k != NoiseKind::inner_permute && k != NoiseKind::word_permute &&
         k != NoiseKind::word_replace && k != NoiseKind::word_delete;
}

}  // namespace

Stage::Stage(NoiseSpec spec, uint64_t seed, size_t position, bool bytes) : spec_(spec), bytes_(bytes) {
  const auto mix = splitmix64_mix;
  salt_ = mix(seed ^ mix(0x5EEDull + position) ^ mix(0xC0DEull + uint64_t(spec.kind)));  // types hit independently
  always_ = spec.rate >= 1.0;
  inverse_log_miss_ = spec.rate > 0 && spec.rate < 1 ? 1.0 / std::log1p(-spec.rate) : 0;
  draws_from_input_ = spec.kind == NoiseKind::insert || spec.kind == NoiseKind::substitute || spec.kind == NoiseKind::adm;
}

void Stage::restart(uint64_t stream) {
  key_ = splitmix64_mix(salt_ ^ splitmix64_mix(stream + 1));
  index_ = 0;
  draws_ = 0;
  gap_ = next_gap();
  prev_raw_ = false;
  pending_.reset();
  word_.clear();
  remembered_ = 0;
}

// The loops of every noise type, indexed by NoiseKind.
template <size_t... K>
constexpr auto Stage::runners(std::index_sequence<K...>) {
  return std::array{&Stage::run_as<NoiseKind(K)>...};
}

void Stage::run(const std::vector<Unit>& in) {
  static constexpr auto by_kind = runners(std::make_index_sequence<size_t(NoiseKind::word_delete) + 1>());
  (this->*by_kind[size_t(spec_.kind)])(in);
}

void Stage::flush() {
  if (pending_) emit(*pending_);
  pending_.reset();
  flush_word();
}

uint64_t Stage::rand(uint64_t at, uint64_t k) const {
  return splitmix64_mix(key_ + at * splitmix64_gamma + k * 0xD1B54A32D192ED03ull);
}

// One Bernoulli(rate) trial per eligible unit, drawn as geometric gaps between hits: one random
// number per hit rather than one per unit, the same process at a fraction of the cost.
bool Stage::trial() {
  if (always_) return true;
  if (gap_ > 0) {
    --gap_;
    return false;
  }
  gap_ = next_gap();
  return true;
}

uint64_t Stage::next_gap() {
  if (spec_.rate <= 0) return UINT64_MAX;
  const double u = double((splitmix64_mix(key_ ^ splitmix64_mix(~draws_++)) >> 11) + 1) * 0x1p-53;  // in (0, 1]
  const double gap = std::floor(std::log(u) * inverse_log_miss_);
  return gap < 0x1p63 ? uint64_t(gap) : UINT64_MAX;
}

bool Stage::text(Unit u) const { return !u.raw && !is_space(u.c, bytes_); }

// remember() for each of the `texts` text units of in[from, to), of which only the last
// ring_size are stored: the ones before them are counted, so that the last land in the slots
// that remembering one by one gives (a long run in one piece must not rotate the ring).
void Stage::remember_run(const std::vector<Unit>& in, size_t from, size_t to, uint64_t texts) {
  size_t k = to, kept = 0;
  while (k > from && kept < ring_size)
    if (text(in[--k])) ++kept;
  remembered_ += texts - kept;
  for (; k < to; ++k)
    if (text(in[k])) remember(in[k]);
}

// A character from the recent input other than `not_this` (ByT5 draws from the input).
uint32_t Stage::random_char(uint64_t at, uint32_t not_this) const {
  const uint64_t held = std::min<uint64_t>(remembered_, ring_size);
  for (uint64_t k = 1; k <= 4 && held; ++k) {
    uint32_t c = ring_[rand(at, k) % held];
    if (c != not_this) return c;
  }
  return other_letter(rand(at, 9), not_this);
}

// Whether the noise may change u: the units its rate counts.
template <NoiseKind K>
bool Stage::eligible(Unit u) const {
  if (u.raw) return false;
  switch (K) {
    case NoiseKind::typo: return u.c < 128 && !typo_keys(u.c).empty();
    case NoiseKind::upper: return to_upper(u.c, bytes_) != u.c;
    case NoiseKind::lower: return to_lower(u.c, bytes_) != u.c;
    case NoiseKind::randcase: return to_upper(u.c, bytes_) != u.c || to_lower(u.c, bytes_) != u.c;
    case NoiseKind::ws_drop: return is_space(u.c, bytes_) && !chars::is_line_break(u.c);
    case NoiseKind::diacritics:
      return !bytes_ && u.c >= 0xC0 && chars::strip_diacritics(u.c) != std::u32string(1, char32_t(u.c));
    case NoiseKind::homoglyph: return !bytes_ && homoglyphs().count(u.c);
    case NoiseKind::inner_permute: return is_letter(u.c, bytes_);
    default: return text(u);
  }
}

// One loop per noise type, so that each is compiled with its type known. Types that change
// only the unit a trial hits copy the units between hits in one block (the gap is known).
template <NoiseKind K>
void Stage::run_as(const std::vector<Unit>& in) {
  const size_t n = in.size();
  for (size_t i = 0; i < n;) {
    if (unit_wise(K) && !always_) {
      size_t j = i;
      uint64_t passed = 0;  // eligible units that the gap lets through
      for (; j < n; ++j)
        if (eligible<K>(in[j]) && passed++ == gap_) {
          --passed;
          break;
        }
      if (j > i) {
        out->insert(out->end(), in.begin() + long(i), in.begin() + long(j));
        if (draws_from_input_) remember_run(in, i, j, passed);  // their eligible units are the text ones
        units += passed;
        gap_ -= passed;
        index_ += j - i;
        prev_raw_ = in[j - 1].raw;
        i = j;
        if (i == n) break;
      }
    }
    process<K>(in[i]);
    prev_raw_ = in[i].raw;
    ++index_;
    ++i;
  }
}

// What a trial that hits u writes instead of it; edits counts the units it changes. Deletions
// right after a stray byte are skipped: they could join stray bytes into a character.
template <NoiseKind K>
void Stage::hit(Unit u) {
  const uint64_t at = index_;
  switch (K) {
    case NoiseKind::adm: {
      const uint64_t action = rand(at, 5) % 3;
      return action == 0 ? hit<NoiseKind::insert>(u) : action == 1 ? hit<NoiseKind::drop>(u) : hit<NoiseKind::substitute>(u);
    }
    case NoiseKind::drop:
    case NoiseKind::ws_drop:
      if (prev_raw_) return emit(u);
      ++edits;
      return;
    case NoiseKind::diacritics: {
      const std::u32string plain = chars::strip_diacritics(u.c);
      if (plain.empty() && prev_raw_) return emit(u);
      ++edits;
      for (char32_t c : plain) emit(uint32_t(c));
      return;
    }
    case NoiseKind::randcase:
    case NoiseKind::upper:
    case NoiseKind::lower: {
      const uint32_t up = to_upper(u.c, bytes_), low = to_lower(u.c, bytes_);
      const uint32_t c = K == NoiseKind::upper ? up : K == NoiseKind::lower ? low : (rand(at, 8) & 1) ? up : low;
      if (c != u.c) ++edits;
      return emit(c);
    }
    default: break;
  }
  ++edits;  // the rest always change the text
  switch (K) {
    case NoiseKind::insert: emit(u); return emit(random_char(at, 0xFFFFFFFF));
    case NoiseKind::substitute: return emit(random_char(at, u.c));
    case NoiseKind::repeat:
      emit(u);
      for (uint64_t k = 0, n = 1 + rand(at, 6) % 3; k < n; ++k) emit(u);
      return;
    case NoiseKind::antspeak: emit(to_upper(u.c, bytes_)); return emit(' ');
    case NoiseKind::ws_insert: emit(u); return emit(' ');
    case NoiseKind::typo: {
      const std::string& keys = typo_keys(u.c);
      const uint32_t k = uint32_t(keys[rand(at, 7) % keys.size()]);
      return emit(chars::is_ascii_upper(u.c) ? chars::ascii_upper(k) : k);
    }
    case NoiseKind::homoglyph: return emit(homoglyphs().at(u.c));
    default: return emit(u);  // pair and word types do not come here
  }
}

// Every eligible unit gets exactly one trial, in input order: that is what makes the rate exact
// and the output independent of everything but the seed and the input.
template <NoiseKind K>
void Stage::process(Unit u) {
  if constexpr (unit_wise(K)) {
    if (!eligible<K>(u)) return emit(u);
    ++units;
    if (trial()) hit<K>(u);
    else emit(u);
    if (draws_from_input_) remember(u);
  } else if constexpr (K == NoiseKind::swap) {
    pair(u);
  } else {  // the word types: collect the word, the noise applies when it ends
    if (!eligible<K>(u)) {
      flush_word();
      return emit(u);
    }
    if (word_.empty()) {
      word_at_ = index_;
      word_after_raw_ = prev_raw_;
    }
    word_.push_back(u.c);
    if (word_.size() == max_word) flush_word();
  }
}

// swap: pairs of different text characters; a swapped pair is done.
void Stage::pair(Unit u) {
  if (!pending_) {
    if (text(u)) pending_ = u;
    else emit(u);
    return;
  }
  const Unit first = *pending_;
  pending_.reset();
  if (!text(u)) {
    emit(first);
    emit(u);
    return;
  }
  if (first.c != u.c) {
    ++units;
    if (trial()) {
      ++edits;
      emit(u);
      emit(first);
      return;
    }
  }
  emit(first);
  pending_ = u;
}

// Applies a word noise to the word held, then writes it.
void Stage::flush_word() {
  if (word_.empty()) return;
  std::vector<uint32_t> w = word_;
  const uint64_t at = word_at_;
  auto distinct = [](auto begin, auto end) { return std::adjacent_find(begin, end, std::not_equal_to<>()) != end; };
  // Fisher–Yates on w[lo, hi); if that happens to give the same order, a rotation by one (the
  // caller made sure the range is not all one character, so the word always changes).
  auto shuffle = [&](size_t lo, size_t hi) {
    for (size_t i = hi - 1; i > lo; --i) std::swap(w[i], w[lo + rand(at, 16 + i) % (i - lo + 1)]);
    if (w == word_) std::rotate(w.begin() + long(lo), w.begin() + long(lo) + 1, w.begin() + long(hi));
  };
  switch (spec_.kind) {
    case NoiseKind::inner_permute:
      if (w.size() >= 4 && distinct(w.begin() + 1, w.end() - 1)) {
        ++units;
        if (trial()) shuffle(1, w.size() - 1);
      }
      break;
    case NoiseKind::word_permute:
      if (w.size() >= 2 && distinct(w.begin(), w.end())) {
        ++units;
        if (trial()) shuffle(0, w.size());
      }
      break;
    case NoiseKind::word_replace: {
      ++units;
      if (trial()) {
        const size_t i = rand(at, 3) % w.size();
        w[i] = other_letter(rand(at, 4), w[i]);
      }
      break;
    }
    case NoiseKind::word_delete: {
      ++units;
      const size_t i = rand(at, 3) % w.size();
      if (trial() && !(i == 0 && word_after_raw_)) w.erase(w.begin() + long(i));
      break;
    }
    default: break;
  }
  if (w != word_) ++edits;
  word_.clear();
  for (uint32_t c : w) emit(c);
}

}  // namespace bytes::noise
