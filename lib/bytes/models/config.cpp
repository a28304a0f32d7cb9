#include "bytes/models/config.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "bytes/base/error.hpp"

namespace bytes {

std::string Field::flag() const {
  if (!flag_name.empty()) return flag_name;
  std::string f = "--" + name;
  std::replace(f.begin(), f.end(), '_', '-');
  return f;
}

const Architecture& architecture(const std::string& name) {
  std::string known;
  for (const Architecture* a : architectures()) {
    if (a->name == name) return *a;
    known += (known.empty() ? "" : ", ") + a->name;
  }
  throw UsageError("unknown architecture '" + name + "' (" + known + ")");
}

std::vector<std::string> architecture_names() {
  std::vector<std::string> names;
  for (const Architecture* a : architectures()) names.push_back(a->name);
  return names;
}

namespace {

// Sizes of the fields every architecture shares. The blocks are Llama's: heads 64 wide.
constexpr int64_t head_width = 64;

std::string text_of(const FieldValue& v) {
  struct {
    std::string operator()(int64_t x) { return std::to_string(x); }
    std::string operator()(double x) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", x);
      return buf;
    }
    std::string operator()(const std::string& s) { return s; }
    std::string operator()(const std::vector<int64_t>& xs) {
      std::string s;
      for (int64_t x : xs) {
        if (!s.empty()) s += ',';
        s += std::to_string(x);  // (not ",", + to_string(x): g++ 12 warns -Wrestrict, wrongly)
      }
      return s;
    }
  } visit;
  return std::visit(visit, v);
}

// s read whole by parse (std::stoll or std::stod): nothing left over, nothing thrown.
template <class Parse>
bool read_whole(const std::string& s, Parse parse) {
  size_t used = 0;
  try {
    parse(s, &used);
  } catch (const std::exception&) {
    return false;
  }
  return !s.empty() && used == s.size();
}

// A value as a flag gives it; throws Error naming `who`.
FieldValue parse_text(const Field& f, const std::string& text, const std::string& who) {
  auto integer = [&](const std::string& s) {
    if (!read_whole(s, [](const std::string& x, size_t* n) { return std::stoll(x, n); }))
      throw Error(who + " must be an integer: '" + text + "'");
    return int64_t(std::stoll(s));
  };
  switch (f.type) {
    case Field::Type::integer: return integer(text);
    case Field::Type::real:
      if (!read_whole(text, [](const std::string& x, size_t* n) { return std::stod(x, n); }))
        throw Error(who + " must be a number: '" + text + "'");
      return std::stod(text);
    case Field::Type::text: return text;
    case Field::Type::integers: {
      std::vector<int64_t> xs;
      for (size_t at = 0; at <= text.size();) {
        size_t comma = std::min(text.find(',', at), text.size());
        xs.push_back(integer(text.substr(at, comma - at)));
        at = comma + 1;
      }
      return xs;
    }
  }
  return {};
}

// A value as bytes-model(5)'s JSON holds it. Sizes must be JSON integers: a float such as 1e300
// has no int64 value (converting it is undefined behaviour).
FieldValue parse_json(const Field& f, const nlohmann::json& j, const std::string& who) {
  switch (f.type) {
    case Field::Type::integer:
      if (!j.is_number_integer()) throw Error(who + " must be an integer");
      return j.get<int64_t>();
    case Field::Type::real:
      if (!j.is_number()) throw Error(who + " must be a number");
      return j.get<double>();
    case Field::Type::text:
      if (!j.is_string()) throw Error(who + " must be a string");
      return j.get<std::string>();
    case Field::Type::integers:
      if (!j.is_array() || !std::all_of(j.begin(), j.end(), [](const auto& x) { return x.is_number_integer(); }))
        throw Error(who + " must be a list of integers");
      return j.get<std::vector<int64_t>>();
  }
  return {};
}

void check_value(const Field& f, const FieldValue& v, const std::string& who) {
  auto in_range = [&](double x) { return x >= f.lo && x <= f.hi; };
  auto range = [&] {
    return (f.multiple > 1 ? " a multiple of " + std::to_string(f.multiple) : std::string()) + " from " +
           text_of(FieldValue(f.lo)) + " to " + text_of(FieldValue(f.hi));
  };
  switch (f.type) {
    case Field::Type::integer:
    case Field::Type::integers: {
      const auto xs = f.type == Field::Type::integer ? std::vector<int64_t>{std::get<int64_t>(v)}
                                                     : std::get<std::vector<int64_t>>(v);
      for (int64_t x : xs)
        if (!in_range(double(x)) || x % f.multiple != 0) throw Error(who + " must be" + range() + ": " + text_of(v));
      break;
    }
    case Field::Type::real:
      if (!in_range(std::get<double>(v))) throw Error(who + " must be" + range() + ": " + text_of(v));
      break;
    case Field::Type::text:
      if (!f.choices.empty() && std::find(f.choices.begin(), f.choices.end(), std::get<std::string>(v)) == f.choices.end()) {
        std::string list;
        for (const auto& c : f.choices) list += (list.empty() ? "" : ", ") + c;
        throw Error(who + " must be one of " + list + ": '" + std::get<std::string>(v) + "'");
      }
      break;
  }
}

// Fields bytes-model format 1 held and that no architecture reads any more: the head counts of
// the inner stacks (heads are 64 wide, so widths say them).
bool retired(const std::string& key) { return key == "enc_heads" || key == "dec_heads" || key == "inner_heads"; }

}  // namespace

Config::Config() : Config(make("flat", {})) {}

const FieldValue& Config::value(const Field& f) const {
  for (const auto& [name, v] : values_)
    if (name == f.name) return v;
  throw Error("the " + arch() + " architecture has no field " + f.name);
}

void Config::build(const std::function<bool(const Field&, FieldValue&)>& take, const std::string& context) {
  values_.clear();
  for (const Field& f : arch_->fields) {
    const std::string who = context.empty() ? f.flag() : context + f.name;
    FieldValue v;
    if (f.fixed) {
      v = f.derive(*this);
      if (FieldValue given; take(f, given) && given != v) throw Error(who + " must be " + text_of(v) + ": " + text_of(given));
    } else if (!take(f, v)) {
      v = f.derive ? f.derive(*this) : parse_text(f, f.fallback, who);
    }
    if (f.count) {
      auto& xs = std::get<std::vector<int64_t>>(v);
      const size_t n = f.count(*this);
      if (xs.size() == 1 && context.empty()) xs.assign(n, xs[0]);  // one flag value for every stage
      if (xs.size() != n) throw Error(who + " needs " + std::to_string(n) + " values (one per stage): " + text_of(v));
    }
    check_value(f, v, who);
    values_.emplace_back(f.name, std::move(v));
  }
  if (arch_->check) arch_->check(*this);
}

Config Config::make(const std::string& arch, const std::map<std::string, std::string>& given) {
  Config c(&bytes::architecture(arch));
  std::map<std::string, std::string> unused = given;
  auto take = [&](const Field& f, FieldValue& v) {
    auto it = given.find(f.name);
    if (it == given.end() && !f.alias.empty()) it = given.find(f.alias);
    if (it == given.end()) return false;
    unused.erase(it->first);
    v = parse_text(f, it->second, f.flag());
    return true;
  };
  try {
    c.build(take, "");
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  if (!unused.empty()) {
    Field probe;
    probe.name = unused.begin()->first;
    throw UsageError(probe.flag() + " is not a setting of the " + arch + " architecture");
  }
  return c;
}

Config Config::from_json(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception&) {
    throw Error("bad model config: not JSON");
  }
  if (!j.is_object() || !j.contains("arch") || !j["arch"].is_string()) throw Error("bad model config: no \"arch\"");
  const Architecture* arch = nullptr;
  try {
    arch = &bytes::architecture(j["arch"].get<std::string>());
  } catch (const UsageError& e) {  // a file's fault, not the command line's
    throw Error(std::string("bad model config: ") + e.what());
  }
  Config c(arch);
  size_t used = 1;
  auto take = [&](const Field& f, FieldValue& v) {
    const std::string key = j.contains(f.name) || f.alias.empty() ? f.name : f.alias;
    if (!j.contains(key)) throw Error("bad model config: no " + f.name);
    ++used;
    v = parse_json(f, j[key], "bad model config: " + f.name);
    return true;
  };
  try {
    c.build(take, "bad model config: ");
  } catch (const Error& e) {
    const std::string what = e.what();
    throw Error(what.rfind("bad model config: ", 0) == 0 ? what : "bad model config: " + what);
  }
  for (const auto& item : j.items()) {
    const std::string& key = item.key();
    if (key != "arch" && !retired(key) &&
        std::none_of(c.arch_->fields.begin(), c.arch_->fields.end(), [&](const Field& f) { return f.name == key || f.alias == key; }))
      throw Error("bad model config: the " + c.arch() + " architecture has no field " + key);
  }
  return c;
}

std::string Config::json() const {
  nlohmann::ordered_json j = {{"arch", arch()}};
  for (const auto& field : values_) std::visit([&](const auto& x) { j[field.first] = x; }, field.second);
  return j.dump();
}

std::string Config::summary() const {
  std::string s = arch();
  for (size_t i = 0; i < values_.size(); ++i)
    if (!arch_->fields[i].derive && arch_->fields[i].type != Field::Type::real)
      s += " " + values_[i].first + " " + text_of(values_[i].second);
  return s;
}

namespace {

// A value as a flag gives it, a real in its shortest exact form so that it reads back as itself.
std::string flag_text(const FieldValue& v) {
  if (const double* x = std::get_if<double>(&v)) return nlohmann::json(*x).dump();
  return text_of(v);
}

// The flag that sets the field of this name in any architecture ("n_layers" is --layers).
std::string flag_of(const std::string& name) {
  for (const Architecture* a : architectures())
    for (const Field& f : a->fields)
      if (f.name == name) return f.flag();
  Field probe;
  probe.name = name;
  return probe.flag();
}

}  // namespace

std::vector<std::pair<const Field*, std::string>> Config::flags() const {
  std::vector<std::pair<const Field*, std::string>> out;
  for (size_t i = 0; i < values_.size(); ++i)
    if (!arch_->fields[i].fixed) out.emplace_back(&arch_->fields[i], flag_text(values_[i].second));
  return out;
}

void Config::check_agrees(const std::string& arch, const std::map<std::string, std::string>& given,
                          const std::string& whose) const {
  if (!arch.empty() && arch != this->arch())
    throw UsageError("--arch " + arch + " contradicts " + whose + ", a " + this->arch() + " model");
  for (const auto& [key, text] : given) {
    const std::string& name = key;  // (clang 14 cannot capture a structured binding in a lambda)
    const std::string flag = flag_of(name);
    const auto& fields = arch_->fields;
    const auto f = std::find_if(fields.begin(), fields.end(), [&](const Field& x) { return x.name == name || x.alias == name; });
    if (f == fields.end() || f->fixed)
      throw UsageError(flag + " contradicts " + whose + ": a " + this->arch() + " model has no such setting");
    FieldValue v;
    try {
      v = parse_text(*f, text, flag);
    } catch (const Error& e) {
      throw UsageError(e.what());
    }
    const FieldValue& have = value(*f);
    // One value given for a field of one value per stage stands for all of them, as in make().
    if (auto* xs = std::get_if<std::vector<int64_t>>(&v); xs && xs->size() == 1)
      xs->assign(std::get<std::vector<int64_t>>(have).size(), xs->front());
    if (v != have) throw UsageError(flag + " " + text + " contradicts " + whose + "'s " + flag_text(have));
  }
}

int64_t ffn_hidden_for(int64_t d) { return 64 * std::llround(8.0 * double(d) / 3.0 / 64.0); }

StackFields stack_fields(const std::string& prefix, const std::string& role, int64_t d_model, int64_t layers,
                         std::function<size_t(const Config&)> count) {
  const auto type = count ? Field::Type::integers : Field::Type::integer;
  StackFields s;
  s.d_model = {.name = prefix + "d_model", .type = type, .help = "Width of " + role + " (a multiple of 64)",
               .lo = double(head_width), .hi = double(max_width), .multiple = head_width,
               .fallback = std::to_string(d_model), .count = count, .size = true};
  s.layers = {.name = prefix.empty() ? "n_layers" : prefix + "layers", .type = type, .help = "Blocks of " + role,
              .lo = 1, .hi = double(max_layers), .fallback = std::to_string(layers), .count = count,
              .flag_name = "--" + std::string(prefix.empty() ? "" : prefix.substr(0, prefix.size() - 1) + "-") + "layers",
              .size = true};
  const Field width = s.d_model;
  if (prefix.empty())
    s.n_heads = {.name = "n_heads", .help = "Attention heads of " + role + " (64 wide)", .lo = 1,
                 .hi = double(max_width / head_width),
                 .derive = [width](const Config& c) -> FieldValue { return c.integer(width) / head_width; },
                 .fixed = true};
  s.ffn_hidden = {.name = prefix + "ffn_hidden", .type = type, .help = "SwiGLU hidden size of " + role,
                  .lo = 1, .hi = double(8 * max_width),
                  .derive = [width](const Config& c) -> FieldValue {
                    if (width.type == Field::Type::integer) return ffn_hidden_for(c.integer(width));
                    std::vector<int64_t> h;
                    for (int64_t d : c.integers(width)) h.push_back(ffn_hidden_for(d));
                    return h;
                  },
                  .count = count,
                  .size = true};
  return s;
}

Field context_field(int64_t fallback, const std::string& help) {
  return {.name = "ctx", .help = help, .lo = 2, .hi = double(max_ctx), .fallback = std::to_string(fallback)};
}

Field rope_base_field() {
  return {.name = "rope_base", .type = Field::Type::real, .help = "RoPE base", .lo = 1, .hi = 1e12, .fallback = "10000"};
}

Field vocab_field() {
  return {.name = "vocab", .help = "Symbols: the 256 bytes, BOS and EOW", .lo = 258, .hi = 258,
          .derive = [](const Config&) -> FieldValue { return int64_t(258); }, .fixed = true};
}

Field norm_eps_field() {
  return {.name = "norm_eps", .type = Field::Type::real, .help = "RMSNorm epsilon", .lo = 1e-12, .hi = 0.5,
          .fallback = "1e-05"};
}

}  // namespace bytes
