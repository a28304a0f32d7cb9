#include "bytes/runs/prompts.hpp"

#include <spdlog/fmt/fmt.h>

#include "bytes/base/io.hpp"
#include "bytes/text/escape.hpp"

namespace bytes {

namespace {

// Generates prompt after prompt into one output, adding up what they took.
class Prompts {
 public:
  Prompts(SymbolStream& stream, const PromptOptions& options, const PromptOut& out)
      : stream_(stream), options_(options), out_(out) {}

  void run(const std::string& prompt) {
    if (options_.echo) write(prompt);
    const GenerateStats st = generate(stream_, prompt, options_.generate, [&](std::string_view s) { write(s); });
    if (options_.escape) out_(escaper_.finish());
    if (stats_.first_byte_seconds < 0 && st.first_byte_seconds >= 0) stats_.first_byte_seconds = st.first_byte_seconds;
    stats_.total.prompt_bytes += st.prompt_bytes;
    stats_.total.bytes += st.bytes;
    stats_.total.prompt_seconds += st.prompt_seconds;
    stats_.total.seconds += st.seconds;
    ++stats_.prompts;
  }
  const PromptStats& stats() const { return stats_; }

 private:
  void write(std::string_view bytes) { out_(options_.escape ? escaper_.put(bytes) : std::string(bytes)); }

  SymbolStream& stream_;
  const PromptOptions& options_;
  const PromptOut& out_;
  Escaper escaper_;
  PromptStats stats_;
};

}  // namespace

PromptStats generate_prompt(SymbolStream& stream, const std::string& prompt, const PromptOptions& options,
                            const PromptOut& out) {
  Prompts prompts(stream, options, out);
  prompts.run(prompt);
  return prompts.stats();
}

PromptStats generate_lines(SymbolStream& stream, const std::string& path, const PromptOptions& options, const PromptOut& out) {
  Prompts prompts(stream, options, out);
  LineReader reader(path);
  for (std::string line; reader.next(line);) {
    prompts.run(line);
    out("\n");
  }
  return prompts.stats();
}

std::string timing_line(const PromptStats& s, double load_seconds) {
  const double gen_seconds = s.total.seconds - s.total.prompt_seconds;
  const double first_byte = s.first_byte_seconds >= 0 ? load_seconds + s.first_byte_seconds : -1;
  return fmt::format(
      "timing prompts={} load_ms={:.1f} prompt_bytes={} prompt_ms={:.1f} first_byte_ms={:.1f} bytes={} "
      "gen_ms={:.1f} bytes_per_s={:.1f}",
      s.prompts, load_seconds * 1e3, s.total.prompt_bytes, s.total.prompt_seconds * 1e3, first_byte * 1e3,
      s.total.bytes, gen_seconds * 1e3, gen_seconds > 0 ? double(s.total.bytes) / gen_seconds : 0.0);
}

}  // namespace bytes
