// bytes-perturb --field's lines: any bytes, cut into lines as LineReader cuts them, through a
// chain of noises that change lengths and characters. Each line is refused with bytes::Error
// (and nothing written), or written back as one line of JSON that parses again, with the same
// keys in the same order and the field still a string.
#include <nlohmann/json.hpp>

#include "bytes/base/error.hpp"
#include "bytes/text/perturb.hpp"
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using bytes::NoiseKind;
  static bytes::Perturber perturber({{NoiseKind::repeat, 0.3}, {NoiseKind::drop, 0.3}, {NoiseKind::diacritics, 0.5},
                                     {NoiseKind::homoglyph, 0.5}, {NoiseKind::word_permute, 0.5}, {NoiseKind::randcase, 1.0}},
                                    1, bytes::NoiseUnit::codepoint);
  uint64_t records = 0;
  for_each_line(data, size, [&](std::string_view line) {
    std::string out;
    const uint64_t before = records;
    try {
      bytes::perturb_record(perturber, line, "text", records, out);
    } catch (const bytes::Error&) {
      FUZZ_CHECK(out.empty() && records == before);
      return;
    }
    FUZZ_CHECK(!out.empty() && out.back() == '\n' && out.find('\n') == out.size() - 1);
    if (records == before) {  // a blank line, copied
      FUZZ_CHECK(out.substr(0, out.size() - 1) == line);
      return;
    }
    const auto in = nlohmann::ordered_json::parse(line), back = nlohmann::ordered_json::parse(out);
    FUZZ_CHECK(back.is_object() && back.size() == in.size() && back["text"].is_string());
    auto a = in.begin();
    for (auto b = back.begin(); b != back.end(); ++a, ++b) FUZZ_CHECK(a.key() == b.key() && (a.key() == "text" || *a == *b));
  });
  return 0;
}
