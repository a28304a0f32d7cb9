// bytes-gen's run: each prompt's completion is generate()'s, in order, echoed, escaped and cut
// into lines as asked; the totals add up the prompts.
#include <doctest/doctest.h>

#include "bytes/models/flat.hpp"
#include "bytes/runs/prompts.hpp"
#include "bytes/text/escape.hpp"
#include "testing.hpp"

using namespace bytes;

namespace {

std::string direct(SymbolStream& stream, const std::string& prompt, const GenerateOptions& o, GenerateStats* st = nullptr) {
  std::string out;
  const GenerateStats s = generate(stream, prompt, o, [&](std::string_view b) { out += b; });
  if (st) *st = s;
  return out;
}

}  // namespace

TEST_CASE("a prompt, or a prompt per line: generate()'s bytes, echoed and escaped on request") {
  FlatModel m(testing::flat_config(64, 1, 16));
  m.init(5);
  auto stream = open_stream(m);
  PromptOptions o;
  o.generate.max_bytes = 40;
  o.generate.seed = 9;
  std::string out;
  const auto to_out = [&](std::string_view s) { out += s; };

  GenerateStats want_stats;
  const std::string want = direct(*stream, "hello", o.generate, &want_stats);
  const PromptStats st = generate_prompt(*stream, "hello", o, to_out);
  CHECK(out == want);
  CHECK(st.prompts == 1);
  CHECK(st.total.bytes == want_stats.bytes);
  CHECK(st.total.prompt_bytes == 5);
  CHECK(st.first_byte_seconds >= 0);

  o.echo = o.escape = true;
  out.clear();
  generate_prompt(*stream, "a\\b\x01", o, to_out);
  Escaper e;
  CHECK(out == e.put("a\\b\x01" + direct(*stream, "a\\b\x01", o.generate)) + e.finish());
  CHECK(out.rfind("a\\\\b\\x01", 0) == 0);

  testing::TempDir dir;
  testing::write_file(dir / "p.txt", "one\ntwo");
  o = PromptOptions{};
  o.generate.max_bytes = 30;
  o.generate.end_at_newline = true;
  out.clear();
  const PromptStats lines = generate_lines(*stream, dir / "p.txt", o, to_out);
  CHECK(out == direct(*stream, "one", o.generate) + "\n" + direct(*stream, "two", o.generate) + "\n");
  CHECK(lines.prompts == 2);
  CHECK(lines.total.prompt_bytes == 6);
}

TEST_CASE("the timing line") {
  PromptStats s;
  s.prompts = 2;
  s.total.prompt_bytes = 10;
  s.total.bytes = 100;
  s.total.prompt_seconds = 0.5;
  s.total.seconds = 2.5;
  CHECK(timing_line(s, 0.25) ==
        "timing prompts=2 load_ms=250.0 prompt_bytes=10 prompt_ms=500.0 first_byte_ms=-1000.0 bytes=100 "
        "gen_ms=2000.0 bytes_per_s=50.0");
  s.first_byte_seconds = 0.125;
  CHECK(timing_line(s, 0.25).find(" first_byte_ms=375.0 ") != std::string::npos);
}
