#include "bytes/text/perturb.hpp"

#include <algorithm>
#include <cstdlib>

#include "bytes/base/error.hpp"
#include "bytes/base/io.hpp"
#include "bytes/text/noise_stage.hpp"
#include "bytes/text/utf8.hpp"

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

using noise::Unit;

// Appends the units as UTF-8 (raw units and byte mode: as the bytes they are).
void encode(const std::vector<Unit>& units, bool bytes, std::string& out) {
  const size_t at = out.size();
  out.resize(at + 4 * units.size());
  char* p = out.data() + at;
  for (const Unit u : units) {
    if (bytes || u.raw) *p++ = char(u.c);
    else p = utf8::encode(u.c, p);
  }
  out.resize(size_t(p - out.data()));
}

}  // namespace

struct Perturber::Impl {
  bool bytes;
  std::vector<std::unique_ptr<noise::Stage>> stages;
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
  for (size_t i = 0; i < chain.size(); ++i)
    impl_->stages.push_back(std::make_unique<noise::Stage>(chain[i], seed, i, impl_->bytes));
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
    if (m.bytes) {
      m.units.push_back({p[i++], false});
      continue;
    }
    const utf8::Decoded d = utf8::decode(p + i, n - i);
    if (d.status == utf8::Decoded::cut) {
      m.carry.assign(in.substr(i));  // maybe completed by the next piece
      break;
    }
    m.units.push_back({d.code_point, d.status == utf8::Decoded::ill_formed});  // a stray byte is raw
    i += size_t(d.length);
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
