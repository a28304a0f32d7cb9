// The model-size flags of bytes-train and bytes-bench, made from the architectures' field
// declarations (models/config.hpp): one flag per field name across every architecture, its help
// and defaults from the declaration. Values are kept as given; Config::make checks them.
#pragma once
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "bytes/models/config.hpp"
#include "cli.hpp"

namespace bytes {

inline void add_model_options(CLI::App& app, std::map<std::string, std::string>& given) {
  struct Use {
    const Field* field;
    std::vector<std::string> archs, defaults;
  };
  std::vector<Use> uses;  // by field name, in the order the architectures declare them
  for (const Architecture* a : architectures())
    for (const Field& f : a->fields) {
      if (f.fixed) continue;  // not a setting
      auto it = std::find_if(uses.begin(), uses.end(), [&](const Use& u) { return u.field->name == f.name; });
      if (it == uses.end()) it = uses.insert(uses.end(), Use{&f, {}, {}});
      it->archs.push_back(a->name);
      it->defaults.push_back(f.derive ? "derived" : a->name + " " + f.fallback);
    }
  for (const Use& u : uses) {
    const Field& f = *u.field;
    const bool everywhere = u.archs.size() == architectures().size();
    auto join = [](const std::vector<std::string>& xs) {
      std::string out;
      for (const auto& x : xs) out += (out.empty() ? "" : ", ") + x;
      return out;
    };
    // One default for all, or each architecture's.
    auto value = [](const std::string& d) { return d.substr(d.find(' ') + 1); };
    const bool same = std::all_of(u.defaults.begin(), u.defaults.end(), [&](const auto& d) { return value(d) == value(u.defaults[0]); });
    const std::string help = f.help + " [default " + (f.derive ? "from the width" : same ? f.fallback : join(u.defaults)) + "]";
    std::string names = f.flag();
    // An older name kept working, unless it is another field's flag (word's ctx_words is read
    // from --ctx through that flag).
    if (!f.alias.empty() && std::none_of(uses.begin(), uses.end(), [&](const Use& o) { return o.field->name == f.alias; })) {
      Field alias;
      alias.name = f.alias;
      names += "," + alias.flag();
    }
    const char* type = f.type == Field::Type::integer ? "INT" : f.type == Field::Type::real ? "NUM"
                       : f.type == Field::Type::integers ? "INT[,INT…]" : "TEXT";
    app.add_option_function<std::string>(names, [&given, name = f.name](const std::string& v) { given[name] = v; }, help)
        ->type_name(type)
        ->group(everywhere ? "Model" : "Model (" + join(u.archs) + ")");
  }
}

}  // namespace bytes
