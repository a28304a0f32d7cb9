#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "cli.hpp"
#include "bytes/base/units.hpp"
#include "bytes/text/escape.hpp"
#include "bytes/base/error.hpp"
#include "bytes/base/io.hpp"
#include "testing.hpp"

using namespace bytes;

TEST_CASE("sizes take binary suffixes and reject nonsense") {
  CHECK(parse_size("4096") == 4096);
  CHECK(parse_size("256K") == 256 * 1024);
  CHECK(parse_size("4M") == 4u << 20);
  CHECK(parse_size("2G") == 2ull << 30);
  CHECK_THROWS_AS(parse_size(""), UsageError);
  CHECK_THROWS_AS(parse_size("-1"), UsageError);
  CHECK_THROWS_AS(parse_size("12Q"), UsageError);
  CHECK_THROWS_AS(parse_size("K"), UsageError);
  CHECK_THROWS_AS(parse_size("99999999999999999999T"), UsageError);
  CHECK_THROWS_AS(parse_size("20000000T"), UsageError);
}

TEST_CASE("escapes decode to the bytes they name") {
  CHECK(unescape("\\n%\\n") == "\n%\n");
  CHECK(unescape("a\\tb\\\\") == "a\tb\\");
  CHECK(unescape("\\0") == std::string(1, '\0'));
  CHECK(unescape("\\xff\\x0A") == "\xff\n");
  CHECK_THROWS_AS(unescape("\\"), UsageError);
  CHECK_THROWS_AS(unescape("\\q"), UsageError);
  CHECK_THROWS_AS(unescape("\\x4"), UsageError);
  CHECK_THROWS_AS(unescape("\\xzz"), UsageError);
}

TEST_CASE("thread count follows --threads, else the cores this process may use") {
  cli::Common common;
  CHECK(cli::thread_count(common) >= 1);
  common.threads = 3;
  CHECK(cli::thread_count(common) == 3);
}

TEST_CASE("an output that is a pipe or a device is written in place, not replaced") {
  testing::TempDir dir;
  const std::string fifo = dir / "fifo";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);  // so the writer's open returns
  REQUIRE(reader >= 0);
  {
    AtomicFile out(fifo);
    out.write("through the pipe");
    out.commit(true);
  }
  char got[64] = {};
  CHECK(::read(reader, got, sizeof got) == 16);
  CHECK(std::string(got) == "through the pipe");
  ::close(reader);
  struct stat st {};
  REQUIRE(::stat(fifo.c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));  // renaming a temporary over it made it a regular file
  CHECK(std::filesystem::directory_iterator(dir.path) != std::filesystem::directory_iterator());
  for (const auto& e : std::filesystem::directory_iterator(dir.path)) CHECK(e.path().filename() == "fifo");
}

TEST_CASE("an old spelling still parses, and --help shows only the new one") {
  CLI::App app{"test", "bytes-test"};
  cli::Common common;
  cli::init(app, common);
  std::vector<std::string> noises;
  std::string format;
  cli::old_name(app, app.add_option("-n,--noise", noises, "Noise")->take_all(), "-n");
  auto* f = app.add_option("--format,-o,--output", format, "Format");
  cli::old_name(app, cli::old_name(app, f, "-o"), "--output");
  CHECK_THROWS_AS(cli::old_name(app, f, "-x"), std::logic_error);

  const std::string help = app.help();
  CHECK(help.find("  --noise TEXT") != std::string::npos);
  CHECK(help.find("  --format TEXT") != std::string::npos);
  CHECK(help.find("-n,") == std::string::npos);
  CHECK(help.find("-o,") == std::string::npos);
  CHECK(help.find("-o ") == std::string::npos);
  CHECK(help.find("--output") == std::string::npos);

  // Old and new spellings mixed: one option, so repeats add up in order and the last value wins.
  app.parse("--noise typo -n drop -o csv --output md", false);
  CHECK(noises == std::vector<std::string>{"typo", "drop"});
  CHECK(format == "md");
  CHECK(f->get_name() == "--format");
}
