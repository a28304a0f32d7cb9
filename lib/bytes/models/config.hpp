// A model's config as data. Each architecture declares its fields once (name, type, range,
// default, help); that one declaration reads and writes the config JSON of bytes-model(5), checks
// every value, and makes the size flags of bytes-train and bytes-bench. Architecture code reads a
// value through the Field object that declares it, never by spelling its name again.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace bytes {

class Config;
class Model;

// The largest sizes a config may hold (bytes-train's limits): widths of any stack, blocks per
// stack, a context. A config outside them comes from a damaged or crafted file, and its sizes
// would drive allocations.
inline constexpr int64_t max_width = 8192, max_layers = 256, max_ctx = int64_t(1) << 24;

using FieldValue = std::variant<int64_t, double, std::string, std::vector<int64_t>>;

struct Field {
  enum class Type { integer, real, text, integers };
  std::string name{};  // the JSON key; the flag is --name with '-' for '_'
  Type type = Type::integer;
  std::string help{};
  double lo = 0, hi = 0;     // integer, real and each of integers: the closed range
  int64_t multiple = 1;      // integer and integers: values are multiples of this
  std::vector<std::string> choices{};  // text: the values allowed (empty: the architecture checks)
  std::string fallback{};    // the default, as a flag would give it ("" with derive)
  // A default computed from the fields declared before this one (e.g. SwiGLU's hidden size).
  std::function<FieldValue(const Config&)> derive{};
  // integers: how many the config holds, from the fields before it; one value given as a flag
  // stands for all of them.
  std::function<size_t(const Config&)> count{};
  std::string alias{};  // an older name, read from bytes-model format 1 and accepted as a flag
  std::string flag_name{};  // the flag, when not the name's ("--layers" for n_layers)
  // Always its derived value: written for readers of the file (SPEC.md's flat config keys), checked
  // when read, never a flag.
  bool fixed = false;
  // A width, a depth or a hidden size: a flag bytes-train --time does not choose for itself
  // once one of them is given (runs/sizing.hpp).
  bool size = false;

  std::string flag() const;  // "--d-model"
};

// A model size bytes-train --time may choose (runs/sizing.hpp): size flags by field name, as
// Config::make takes them, and the peak learning rate that suits it.
struct Rung {
  std::map<std::string, std::string> flags;
  double lr = 1e-3;
};

// An architecture: its fields in order (a derived field after those it derives from), the rules
// across fields, and how to build its model. models/registry.cpp lists them all.
struct Architecture {
  std::string name, help;
  std::vector<Field> fields;
  std::function<void(const Config&)> check;  // throws Error("…") for what the fields alone allow
  std::function<std::unique_ptr<Model>(const Config&, bool trainable)> make;
  std::vector<Rung> rungs;  // small to large
};
const std::vector<const Architecture*>& architectures();
const Architecture& architecture(const std::string& name);  // throws UsageError for an unknown one
std::vector<std::string> architecture_names();

class Config {
 public:
  Config();  // the default flat model
  // From values as flags give them ("256", "16x4", "256,128"), by field name (or alias): a name
  // the architecture does not declare is refused, a missing one takes its default. Throws
  // UsageError naming the flag.
  static Config make(const std::string& arch, const std::map<std::string, std::string>& given);
  // From bytes-model(5)'s config JSON; throws Error("bad model config: …").
  static Config from_json(const std::string& text);
  std::string json() const;  // the fields in declaration order, after "arch"

  const Architecture& architecture() const { return *arch_; }
  const std::string& arch() const { return arch_->name; }
  int64_t integer(const Field& f) const { return std::get<int64_t>(value(f)); }
  double real(const Field& f) const { return std::get<double>(value(f)); }
  const std::string& text(const Field& f) const { return std::get<std::string>(value(f)); }
  const std::vector<int64_t>& integers(const Field& f) const { return std::get<std::vector<int64_t>>(value(f)); }
  // "flat d_model 384 layers 6 ctx 256": the sizes given (fields neither derived nor real), for
  // reports.
  std::string summary() const;
  // The settable fields' values as flags give them (reals exactly), in declaration order: with
  // arch(), what Config::make takes to make this config again.
  std::vector<std::pair<const Field*, std::string>> flags() const;
  // A config that comes from a model file (bytes-train --init) and the size flags given with it:
  // throws UsageError naming the first flag that contradicts it (a value of another meaning, or a
  // field this architecture does not have), the config's value and the one given. `arch` is the
  // architecture given ("" when none was), `given` the flags by field name as Config::make takes
  // them, `whose` names the config in the message ("the --init model").
  void check_agrees(const std::string& arch, const std::map<std::string, std::string>& given,
                    const std::string& whose) const;
  bool operator==(const Config& o) const { return arch_ == o.arch_ && values_ == o.values_; }

 private:
  explicit Config(const Architecture* arch) : arch_(arch) {}
  const FieldValue& value(const Field& f) const;
  // Fills every field in order from `take` (a value, or nothing for the default) and checks it.
  void build(const std::function<bool(const Field&, FieldValue&)>& take, const std::string& context);
  const Architecture* arch_;
  std::vector<std::pair<std::string, FieldValue>> values_;
};

// The fields every architecture builds on. A stack of blocks: width, depth and SwiGLU hidden size
// (derived from the width: 64·round(8d/3/64)), named prefix + "d_model", prefix + "layers", … With
// `count`, one value per stage, `count` of them. A model's main stack (prefix "") has SPEC.md's
// flat names: d_model, n_layers, n_heads (fixed: width / 64), ffn_hidden.
struct StackFields {
  Field d_model, layers, n_heads, ffn_hidden;
};
StackFields stack_fields(const std::string& prefix, const std::string& role, int64_t d_model, int64_t layers,
                         std::function<size_t(const Config&)> count = nullptr);
int64_t ffn_hidden_for(int64_t d);
// A context in bytes; RoPE's base and RMSNorm's epsilon; the vocabulary (fixed: 258).
Field context_field(int64_t fallback, const std::string& help);
Field rope_base_field();
Field norm_eps_field();
Field vocab_field();

}  // namespace bytes
