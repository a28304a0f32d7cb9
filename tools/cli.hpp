// The command-line layer every program shares: common flags, logging to stderr, exit codes,
// and the checked close of stdout. Only the programs see CLI11: the library knows nothing of it.
#pragma once
#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "bytes/kernels/matmul.hpp"

namespace bytes::cli {

enum Exit : int { ok = 0, failure = 1, usage = 2 };

struct Common {
  int quiet = 0, verbose = 0;  // counts of -q and -v
  int verbosity = 0;           // verbose - quiet; 0 = warnings and info
  bool json = false;
  int threads = 0;  // 0 = every core this process may use
  uint64_t seed = 0;
};

// Gives a program's App the man-page footer, --version, and -q/-v.
void init(CLI::App& app, Common& common);

void add_json(CLI::App& app, Common& common);
void add_threads(CLI::App& app, Common& common);
void add_seed(CLI::App& app, Common& common);
// --config FILE: options from a TOML file (a key without a value is a parse error).
void set_config(CLI::App& app, const std::string& default_file, const std::string& help);
// --precision f32|bf16 into name; precision_of reads it.
CLI::Option* add_precision(CLI::App& app, std::string& name, const std::string& help);
Precision precision_of(const std::string& name);

// Parses, sets up logging and signals, runs body, checks stdout, and maps every failure to its
// exit code with one line on stderr. body returns the exit code.
int run(CLI::App& app, Common& common, int argc, char** argv, const std::function<int()>& body);

// The thread count to use: the --threads value, or every core this process may run on.
int thread_count(const Common& common);

// Sinks for the library's output: stdout as stdio buffers it, and stdout pushed out at once (for
// a reader at the other end that waits for each piece).
void to_stdout(std::string_view s);
void to_stdout_now(std::string_view s);

// Keeps an old spelling of an option (one of its names, e.g. "-d") working for the command lines
// that use it, but out of --help: the letter now means one thing across the programs, and the man
// page says what the old spelling was. Needs the formatter init() gives the app.
CLI::Option* old_name(CLI::App& app, CLI::Option* option, const std::string& name);

}  // namespace bytes::cli
