#include "bytes/text/perturb.hpp"

#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <optional>
#include <unordered_map>
#include <utility>

#include "bytes/base/error.hpp"
#include "bytes/base/io.hpp"

namespace bytes {

const std::vector<NoiseType>& noise_types() {
  static const std::vector<NoiseType> types = {
      {NoiseKind::drop, "drop", 0.1, "character"},
      {NoiseKind::insert, "insert", 0.1, "character"},
      {NoiseKind::substitute, "substitute", 0.1, "character"},
      {NoiseKind::adm, "adm", 0.1, "character"},
      {NoiseKind::swap, "swap", 0.1, "pair of different characters"},
      {NoiseKind::typo, "typo", 0.1, "ASCII letter or digit"},
      {NoiseKind::repeat, "repeat", 0.2, "character"},
      {NoiseKind::randcase, "randcase", 1.0, "cased letter"},
      {NoiseKind::upper, "upper", 1.0, "lowercase letter"},
      {NoiseKind::lower, "lower", 1.0, "uppercase letter"},
      {NoiseKind::antspeak, "antspeak", 1.0, "character"},
      {NoiseKind::ws_drop, "ws-drop", 1.0, "space"},
      {NoiseKind::ws_insert, "ws-insert", 0.1, "character"},
      {NoiseKind::diacritics, "diacritics", 1.0, "accented character"},
      {NoiseKind::homoglyph, "homoglyph", 0.1, "character with a homoglyph"},
      {NoiseKind::inner_permute, "inner-permute", 1.0, "word of 4+ letters"},
      {NoiseKind::word_permute, "word-permute", 0.1, "word"},
      {NoiseKind::word_replace, "word-replace", 0.1, "word"},
      {NoiseKind::word_delete, "word-delete", 0.1, "word"},
  };
  return types;
}

std::string noise_name(NoiseKind kind) {
  for (const auto& t : noise_types())
    if (t.kind == kind) return t.name;
  return "?";
}

NoiseSpec parse_noise(const std::string& text) {
  const size_t colon = text.find(':');
  const std::string name = text.substr(0, colon);
  for (const auto& t : noise_types()) {
    if (name != t.name) continue;
    if (colon == std::string::npos) return {t.kind, t.default_rate};
    const std::string value = text.substr(colon + 1);
    char* end = nullptr;
    const double rate = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || !(rate >= 0 && rate <= 1))
      throw UsageError("noise rate must be a number in [0, 1]: '" + text + "'");
    return {t.kind, rate};
  }
  std::string names;
  for (const auto& t : noise_types()) names += std::string(names.empty() ? "" : ", ") + t.name;
  throw UsageError("unknown noise '" + name + "' (one of: " + names + ")");
}

namespace {

// One unit of the stream: a code point, or a byte (raw) that is not part of well-formed UTF-8.
// In byte mode every byte is a unit and none is raw.
struct Unit {
  uint32_t c;
  bool raw;
};

uint64_t mix(uint64_t z) {  // splitmix64's finaliser
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

bool is_space(uint32_t c, bool bytes) {
  if (c == ' ' || (c >= '\t' && c <= '\r')) return true;
  if (bytes || c < 0x85) return false;
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}
bool is_line_break(uint32_t c) { return (c >= '\n' && c <= '\r') || c == 0x85 || c == 0x2028 || c == 0x2029; }

uint32_t to_upper(uint32_t c, bool bytes) {
  if (c < 128) return c >= 'a' && c <= 'z' ? c - 32 : c;
  return bytes ? c : uc_toupper(c);
}
uint32_t to_lower(uint32_t c, bool bytes) {
  if (c < 128) return c >= 'A' && c <= 'Z' ? c + 32 : c;
  return bytes ? c : uc_tolower(c);
}
bool is_letter(uint32_t c, bool bytes) {
  if (c < 128) return (c | 32) >= 'a' && (c | 32) <= 'z';
  return !bytes && uc_is_alpha(c);
}

// QWERTY neighbours of the letters and digits: same row left and right, and the keys touching
// it in the rows above and below (each row sits half a key right of the one above).
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

// A character without its diacritics: canonical decomposition (NFD), nonspacing marks (Mn)
// removed, recomposed (NFC). Empty when c is itself a nonspacing mark; c when it has none.
std::u32string strip_diacritics(uint32_t c) {
  if (c < 0xC0) return std::u32string(1, char32_t(c));
  if (uc_is_general_category(c, UC_CATEGORY_Mn)) return {};
  const uint32_t in[1] = {c};
  size_t n = 0;
  uint32_t* nfd = u32_normalize(UNINORM_NFD, in, 1, nullptr, &n);
  if (!nfd) return std::u32string(1, char32_t(c));
  std::u32string kept;
  for (size_t i = 0; i < n; ++i)
    if (!uc_is_general_category(nfd[i], UC_CATEGORY_Mn)) kept += char32_t(nfd[i]);
  std::free(nfd);
  if (kept.size() == n) return std::u32string(1, char32_t(c));
  size_t m = 0;
  uint32_t* nfc = u32_normalize(UNINORM_NFC, reinterpret_cast<const uint32_t*>(kept.data()), kept.size(), nullptr, &m);
  if (!nfc) return kept;
  std::u32string out(reinterpret_cast<char32_t*>(nfc), m);
  std::free(nfc);
  return out;
}

// Appends the units as UTF-8 (raw units and byte mode: as the bytes they are).
void encode(const std::vector<Unit>& units, bool bytes, std::string& out) {
  const size_t at = out.size();
  out.resize(at + 4 * units.size());
  char* p = out.data() + at;
  for (const Unit u : units) {
    const uint32_t c = u.c;
    if (bytes || u.raw || c < 0x80) {
      *p++ = char(c);
    } else if (c < 0x800) {
      *p++ = char(0xC0 | (c >> 6));
      *p++ = char(0x80 | (c & 63));
    } else if (c < 0x10000) {
      *p++ = char(0xE0 | (c >> 12));
      *p++ = char(0x80 | ((c >> 6) & 63));
      *p++ = char(0x80 | (c & 63));
    } else {
      *p++ = char(0xF0 | (c >> 18));
      *p++ = char(0x80 | ((c >> 12) & 63));
      *p++ = char(0x80 | ((c >> 6) & 63));
      *p++ = char(0x80 | (c & 63));
    }
  }
  out.resize(size_t(p - out.data()));
}

// A letter from a to z other than not_this, uniformly from the random number r.
uint32_t other_letter(uint64_t r, uint32_t not_this) {
  const bool skip = not_this >= 'a' && not_this <= 'z';
  const uint32_t c = 'a' + uint32_t(r % (skip ? 25 : 26));
  return skip && c >= not_this ? c + 1 : c;
}

constexpr size_t max_word = 256;  // longer runs are cut into words of this many characters
constexpr size_t ring_size = 64;  // recent characters that insert and substitute draw from

class Stage {
 public:
  Stage(NoiseSpec spec, uint64_t seed, size_t position, bool bytes) : spec_(spec), bytes_(bytes) {
    salt_ = mix(seed ^ mix(0x5EEDull + position) ^ mix(0xC0DEull + uint64_t(spec.kind)));  // types hit independently
    always_ = spec.rate >= 1.0;
    inverse_log_miss_ = spec.rate > 0 && spec.rate < 1 ? 1.0 / std::log1p(-spec.rate) : 0;
    draws_from_input_ = spec.kind == NoiseKind::insert || spec.kind == NoiseKind::substitute || spec.kind == NoiseKind::adm;
  }

  std::vector<Unit>* out = nullptr;  // where this stage writes, the next stage's input
  uint64_t units = 0, edits = 0;
  const NoiseSpec& spec() const { return spec_; }

  void restart(uint64_t stream) {
    key_ = mix(salt_ ^ mix(stream + 1));
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
  static constexpr auto runners(std::index_sequence<K...>) {
    return std::array{&Stage::run_as<NoiseKind(K)>...};
  }
  // The stage over a run of units (batched: one call per piece, not one per character).
  void run(const std::vector<Unit>& in) {
    static constexpr auto by_kind = runners(std::make_index_sequence<size_t(NoiseKind::word_delete) + 1>());
    (this->*by_kind[size_t(spec_.kind)])(in);
  }

  void flush() {
    if (pending_) emit(*pending_);
    pending_.reset();
    flush_word();
  }

 private:
  void emit(Unit u) { out->push_back(u); }
  void emit(uint32_t c) { emit(Unit{c, false}); }
  uint64_t rand(uint64_t at, uint64_t k = 0) const { return mix(key_ + at * 0x9E3779B97F4A7C15ull + k * 0xD1B54A32D192ED03ull); }
  // One Bernoulli(rate) trial per eligible unit, drawn as geometric gaps between hits: one random
  // number per hit rather than one per unit, the same process at a fraction of the cost.
  bool trial() {
    if (always_) return true;
    if (gap_ > 0) {
      --gap_;
      return false;
    }
    gap_ = next_gap();
    return true;
  }
  uint64_t next_gap() {
    if (spec_.rate <= 0) return UINT64_MAX;
    const double u = double((mix(key_ ^ mix(~draws_++)) >> 11) + 1) * 0x1p-53;  // in (0, 1]
    const double gap = std::floor(std::log(u) * inverse_log_miss_);
    return gap < 0x1p63 ? uint64_t(gap) : UINT64_MAX;
  }
  bool text(Unit u) const { return !u.raw && !is_space(u.c, bytes_); }

  // The n-th text unit since the restart goes to slot n % ring_size: where a unit lies depends on
  // how many came before it only, never on how the input was cut.
  void remember(Unit u) { ring_[remembered_++ % ring_size] = u.c; }
  // A character from the recent input other than `not_this` (ByT5 draws from the input).
  uint32_t random_char(uint64_t at, uint32_t not_this) const {
    const uint64_t held = std::min<uint64_t>(remembered_, ring_size);
    for (uint64_t k = 1; k <= 4 && held; ++k) {
      uint32_t c = ring_[rand(at, k) % held];
      if (c != not_this) return c;
    }
    return other_letter(rand(at, 9), not_this);
  }

  // Whether the noise may change u: the units its rate counts.
  template <NoiseKind K>
  bool eligible(Unit u) const {
    if (u.raw) return false;
    switch (K) {
      case NoiseKind::typo: return u.c < 128 && !keyboard_neighbours()[u.c | (is_letter(u.c, true) ? 32 : 0)].empty();
      case NoiseKind::upper: return to_upper(u.c, bytes_) != u.c;
      case NoiseKind::lower: return to_lower(u.c, bytes_) != u.c;
      case NoiseKind::randcase: return to_upper(u.c, bytes_) != u.c || to_lower(u.c, bytes_) != u.c;
      case NoiseKind::ws_drop: return is_space(u.c, bytes_) && !is_line_break(u.c);
      case NoiseKind::diacritics: return !bytes_ && u.c >= 0xC0 && strip_diacritics(u.c) != std::u32string(1, char32_t(u.c));
      case NoiseKind::homoglyph: return !bytes_ && homoglyphs().count(u.c);
      case NoiseKind::inner_permute: return is_letter(u.c, bytes_);
      default: return text(u);
    }
  }

  // Types that change only the unit a trial hits (the others work on pairs and words).
  static constexpr bool unit_wise(NoiseKind k) {
    return k != NoiseKind::swap && k != NoiseKind::inner_permute && k != NoiseKind::word_permute &&
           k != NoiseKind::word_replace && k != NoiseKind::word_delete;
  }

  // One loop per noise type, so that each is compiled with its type known. Types that change
  // only the unit a trial hits copy the units between hits in one block (the gap is known).
  template <NoiseKind K>
  void run_as(const std::vector<Unit>& in) {
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
  // remember() for each of the `texts` text units of in[from, to), of which only the last
  // ring_size are stored: the ones before them are counted, so that the last land in the slots
  // that remembering one by one gives (a long run in one piece must not rotate the ring).
  void remember_run(const std::vector<Unit>& in, size_t from, size_t to, uint64_t texts) {
    size_t k = to, kept = 0;
    while (k > from && kept < ring_size)
      if (text(in[--k])) ++kept;
    remembered_ += texts - kept;
    for (; k < to; ++k)
      if (text(in[k])) remember(in[k]);
  }

  // What a trial that hits u writes instead of it; edits counts the units it changes. Deletions
  // right after a stray byte are skipped: they could join stray bytes into a character.
  template <NoiseKind K>
  void hit(Unit u) {
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
        const std::u32string plain = strip_diacritics(u.c);
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
        const std::string& keys = keyboard_neighbours()[u.c | (is_letter(u.c, true) ? 32 : 0)];
        const uint32_t k = uint32_t(keys[rand(at, 7) % keys.size()]);
        return emit(u.c >= 'A' && u.c <= 'Z' ? to_upper(k, true) : k);
      }
      case NoiseKind::homoglyph: return emit(homoglyphs().at(u.c));
      default: return emit(u);  // pair and word types do not come here
    }
  }

  // Every eligible unit gets exactly one trial, in input order: that is what makes the rate exact
  // and the output independent of everything but the seed and the input.
  template <NoiseKind K>
  void process(Unit u) {
    if constexpr (unit_wise(K)) {
      if (!eligible<K>(u)) return emit(u);
      ++units;
      if (trial()) hit<K>(u);
      else emit(u);
      if (draws_from_input_) remember(u);
      return;
    }
    const uint64_t at = index_;
    switch (K) {
      case NoiseKind::swap: {  // pairs of different text characters; a swapped pair is done
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
        return;
      }
      case NoiseKind::inner_permute:
      case NoiseKind::word_permute:
      case NoiseKind::word_replace:
      case NoiseKind::word_delete: {
        if (!eligible<K>(u)) {
          flush_word();
          return emit(u);
        }
        if (word_.empty()) {
          word_at_ = at;
          word_after_raw_ = prev_raw_;
        }
        word_.push_back(u.c);
        if (word_.size() == max_word) flush_word();
        return;
      }
      default: return;  // unit-wise types: above
    }
  }

  // Applies a word noise to the word held, then writes it.
  void flush_word() {
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
  std::array<uint32_t, ring_size> ring_{};
  uint64_t remembered_ = 0;  // text units remembered since the restart, skipped ones included
};

}  // namespace

struct Perturber::Impl {
  bool bytes;
  std::vector<std::unique_ptr<Stage>> stages;
  std::string carry;             // the start of a character cut at the end of the last piece
  std::vector<Unit> units, next;  // a piece's units, and a stage's output

  // Runs the piece held in `units` through every stage (flushing them at the end of a stream)
  // and appends the result to out.
  void run(std::string& out, bool flush) {
    for (auto& stage : stages) {
      next.clear();
      stage->out = &next;
      stage->run(units);
      if (flush) stage->flush();
      std::swap(units, next);
    }
    encode(units, bytes, out);
    units.clear();
  }
};

Perturber::Perturber(const std::vector<NoiseSpec>& chain, uint64_t seed, NoiseUnit unit) : impl_(new Impl) {
  impl_->bytes = unit == NoiseUnit::byte;
  for (const auto& spec : chain)
    if (impl_->bytes && (spec.kind == NoiseKind::diacritics || spec.kind == NoiseKind::homoglyph))
      throw UsageError(noise_name(spec.kind) + " works on characters, not on --unit byte");
  for (size_t i = 0; i < chain.size(); ++i) impl_->stages.push_back(std::make_unique<Stage>(chain[i], seed, i, impl_->bytes));
  restart(0);
}

Perturber::~Perturber() = default;

void Perturber::restart(uint64_t stream) {
  impl_->carry.clear();
  for (auto& s : impl_->stages) s->restart(stream);
}

void Perturber::feed(std::string_view in, std::string& out) {
  Impl& m = *impl_;
  std::string joined;
  if (!m.carry.empty()) {
    joined = m.carry + std::string(in);
    in = joined;
    m.carry.clear();
  }
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  const size_t n = in.size();
  m.units.reserve(n);
  for (size_t i = 0; i < n;) {
    const uint8_t b = p[i];
    if (b < 0x80 || m.bytes) {
      m.units.push_back({b, false});
      ++i;
      continue;
    }
    // The longest well-formed character at i (RFC 3629), a prefix cut by the end of the piece,
    // or a stray byte.
    int len = b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
    uint8_t lo = b == 0xE0 ? 0xA0 : b == 0xF0 ? 0x90 : 0x80, hi = b == 0xED ? 0x9F : b == 0xF4 ? 0x8F : 0xBF;
    int got = 1;
    while (len && got < len && i + size_t(got) < n) {
      const uint8_t c = p[i + size_t(got)];
      if (c < (got == 1 ? lo : 0x80) || c > (got == 1 ? hi : 0xBF)) break;
      ++got;
    }
    if (len && got == len) {
      uint32_t cp = b & (0xFF >> (len + 1));
      for (int k = 1; k < len; ++k) cp = (cp << 6) | (p[i + size_t(k)] & 63);
      m.units.push_back({cp, false});
      i += size_t(len);
    } else if (len && i + size_t(got) == n) {
      m.carry.assign(in.substr(i));  // maybe completed by the next piece
      break;
    } else {
      m.units.push_back({b, true});
      ++i;
    }
  }
  m.run(out, false);
}

void Perturber::finish(std::string& out) {
  Impl& m = *impl_;
  for (unsigned char b : m.carry) m.units.push_back({b, true});  // a character cut by the end of the stream
  m.carry.clear();
  m.run(out, true);
}

std::string perturb_pieces(std::string_view in, const std::vector<size_t>& cuts, const std::vector<NoiseSpec>& chain,
                           uint64_t seed, NoiseUnit unit) {
  Perturber p(chain, seed, unit);
  std::string out;
  size_t at = 0;
  for (size_t cut : cuts) {
    cut = std::clamp(cut, at, in.size());  // out-of-order or past-the-end cuts from a fuzzer: empty pieces
    p.feed(in.substr(at, cut - at), out);
    at = cut;
  }
  p.feed(in.substr(at), out);
  p.finish(out);
  return out;
}

void perturb_record(Perturber& perturber, std::string_view line, const std::string& field, uint64_t& records,
                    std::string& out) {
  if (blank_line(line)) {
    out.append(line).push_back('\n');
    return;
  }
  auto j = parse_json_line(line);
  const auto it = j.find(field);  // end() for a value that is not an object
  if (it == j.end() || !it->is_string()) throw Error("has no string field \"" + field + "\"");
  perturber.restart(++records);
  std::string noisy;
  perturber.feed(it->get_ref<const std::string&>(), noisy);
  perturber.finish(noisy);
  *it = std::move(noisy);
  out += j.dump();
  out += '\n';
}

std::vector<Perturber::Count> Perturber::counts() const {
  std::vector<Count> c;
  for (const auto& s : impl_->stages) c.push_back({noise_name(s->spec().kind), s->spec().rate, s->units, s->edits});
  return c;
}

}  // namespace bytes
