#include "cli.hpp"

#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <map>
#include <new>
#include <stdexcept>
#include <set>
#include <spdlog/sinks/ansicolor_sink.h>
#include <spdlog/spdlog.h>
#include <system_error>

#include "bytes/base/error.hpp"
#include "bytes/base/interrupt.hpp"
#include "bytes/base/io.hpp"
#include "bytes/base/progress.hpp"
#include "bytes_version.hpp"

namespace bytes::cli {
namespace {


void set_up_logging(const std::string& name) {
  auto mode = colour_enabled() ? spdlog::color_mode::always : spdlog::color_mode::never;
  auto sink = std::make_shared<spdlog::sinks::ansicolor_stderr_sink_mt>(mode);
  auto logger = std::make_shared<spdlog::logger>(name, sink);
  logger->set_pattern("%n: %^%l%$: %v");
  logger->set_level(spdlog::level::info);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

spdlog::level::level_enum level_for(int verbosity) {
  int level = int(spdlog::level::info) - verbosity;
  if (level < int(spdlog::level::trace)) level = spdlog::level::trace;
  if (level > int(spdlog::level::err)) level = spdlog::level::err;
  return spdlog::level::level_enum(level);
}

// coreutils' close_stdout: data that never reached its file is an error, not a silent success.
void close_stdout() {
  errno = 0;
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    throw Error(std::string("write error: stdout: ") + std::strerror(errno ? errno : EIO));
  }
}

// CLI11's help, less the old spellings of options (old_name()).
class Formatter : public CLI::Formatter {
 public:
  std::map<const CLI::Option*, std::set<std::string>> old_names;

  std::string make_option_name(const CLI::Option* option, bool positional) const override {
    const std::string names = CLI::Formatter::make_option_name(option, positional);
    const auto old = old_names.find(option);
    if (old == old_names.end()) return names;
    std::string shown;
    for (const std::string& name : CLI::detail::split(names, ','))
      if (!old->second.count(name)) shown += (shown.empty() ? "" : ",") + name;
    return shown;
  }
};

}  // namespace

void init(CLI::App& app, Common& common) {
  const std::string& name = app.get_name();
  // A flag given twice takes its last value, as in most Unix tools (and so a command line can
  // override a value from a config file).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.footer("See " + name + "(1) for the full manual, bytes(7) for shared conventions.");
  app.set_version_flag("--version", name + " " + BYTES_VERSION);
  app.formatter(std::make_shared<Formatter>());
  app.get_formatter()->column_width(30);
  app.add_flag("-q,--quiet", common.quiet, "Print less on stderr (repeat for only errors)");
  app.add_flag("-v,--verbose", common.verbose, "Print more on stderr (repeat for more)");
}

void add_json(CLI::App& app, Common& common) {
  app.add_flag("--json", common.json, "Print results as JSON on stdout, one object per line");
}

void add_threads(CLI::App& app, Common& common) {
  app.add_option("--threads", common.threads, "Worker threads (0 = every available core)")
      ->check(CLI::Range(0, 4096))->default_str("0");
}

void add_seed(CLI::App& app, Common& common) {
  app.add_option("--seed", common.seed, "Random seed: the same seed gives the same output")->check(CLI::NonNegativeNumber)->capture_default_str();
}

namespace {
// CLI11 2.3 hands an option a config file's empty array (`lr = []`) as no value at all, and its
// conversion then reads the first of none (undefined behaviour: the config fuzzer found it). A key
// without a value is refused here, as a parse error, before any option sees it.
class ConfigWithValues : public CLI::ConfigTOML {
 public:
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    auto items = CLI::ConfigTOML::from_config(input);
    for (const auto& item : items)
      if (item.inputs.empty()) throw CLI::ConversionError("the config file gives " + item.fullname() + " no value");
    return items;
  }
};
}  // namespace

void set_config(CLI::App& app, const std::string& default_file, const std::string& help) {
  app.config_formatter(std::make_shared<ConfigWithValues>());
  app.set_config("--config", default_file, help);
}

CLI::Option* add_precision(CLI::App& app, std::string& name, const std::string& help) {
  // A plain string option: CLI11 2.3's option functions read a value that a config file's empty
  // array leaves out (the config fuzzer found it); this one is converted by precision_of.
  return app.add_option("--precision", name, help)->check(CLI::IsMember({"f32", "bf16"}))->default_str("f32");
}

Precision precision_of(const std::string& name) { return name == "bf16" ? Precision::bf16 : Precision::f32; }

void to_stdout(std::string_view s) { write_stdout(s); }

void to_stdout_now(std::string_view s) {
  write_stdout(s);
  flush_stdout();
}

CLI::Option* old_name(CLI::App& app, CLI::Option* option, const std::string& name) {
  if (!option->check_name(name)) throw std::logic_error(name + " is not a name of " + option->get_name());
  std::dynamic_pointer_cast<Formatter>(app.get_formatter())->old_names[option].insert(name);
  return option;
}

int thread_count(const Common& common) {
  if (common.threads > 0) return common.threads;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? int(n) : 1;
}


int run(CLI::App& app, Common& common, int argc, char** argv, const std::function<int()>& body) {
  const std::string name = app.get_name();
  set_up_logging(name);
  auto usage_error = [&](const std::string& message) {
    spdlog::error("{} (try '{} --help')", message, name);
    return Exit::usage;
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage_error(e.what());
  }
  common.verbosity = common.verbose - common.quiet;
  spdlog::set_level(level_for(common.verbosity));
  install_interrupt_handlers();
  try {
    int code = body();
    close_stdout();
    return code;
  } catch (const Interrupted&) {
    int sig = interrupt_signal();
    spdlog::warn("interrupted by {}", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    return 128 + sig;
  } catch (const UsageError& e) {
    return usage_error(e.what());
  } catch (const std::bad_alloc&) {
    spdlog::error("out of memory");
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
  }
  return Exit::failure;
}



}  // namespace bytes::cli
