// Any text as bytes-train's config file (--config FILE, and RUN/config.toml that --resume reads),
// through the program's own options (tools/train-command.hpp): refused with a CLI11 parse error,
// bytes::UsageError or bytes::Error, or accepted with a model config the model files accept. Never a
// crash.
#include "../tools/train-command.hpp"
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static MemoryFile file;
  const std::string& path = file.hold(data, size);
  CLI::App app{"fuzz", "bytes-train"};
  bytes::TrainCommand cmd;
  cmd.define(app, path);
  try {
    std::vector<std::string> no_args;
    app.parse(no_args);
    cmd.finish();
  } catch (const CLI::Error&) {
    return 0;
  } catch (const bytes::UsageError&) {
    return 0;
  } catch (const bytes::Error&) {
    return 0;
  }
  // A model config the flags let through reads back from its JSON as itself: from_json checks every
  // field, and throws (so crashes the target) for a bad one.
  FUZZ_CHECK(bytes::Config::from_json(cmd.o.model.json()) == cmd.o.model);
  FUZZ_CHECK(!cmd.o.dataset.empty() && !cmd.o.run_dir.empty());
  FUZZ_CHECK(cmd.o.max_steps > 0 || cmd.o.max_bytes > 0 || cmd.o.max_seconds > 0 || !cmd.o.init.empty());
  return 0;
}
