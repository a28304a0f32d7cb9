#include <doctest/doctest.h>

#include "bytes/cli.hpp"
#include "bytes/base/error.hpp"

using namespace bytes;

TEST_CASE("sizes take binary suffixes and reject nonsense") {
  CHECK(cli::parse_size("4096") == 4096);
  CHECK(cli::parse_size("256K") == 256 * 1024);
  CHECK(cli::parse_size("4M") == 4u << 20);
  CHECK(cli::parse_size("2G") == 2ull << 30);
  CHECK_THROWS_AS(cli::parse_size(""), UsageError);
  CHECK_THROWS_AS(cli::parse_size("-1"), UsageError);
  CHECK_THROWS_AS(cli::parse_size("12Q"), UsageError);
  CHECK_THROWS_AS(cli::parse_size("K"), UsageError);
  CHECK_THROWS_AS(cli::parse_size("99999999999999999999T"), UsageError);
  CHECK_THROWS_AS(cli::parse_size("20000000T"), UsageError);
}

TEST_CASE("escapes decode to the bytes they name") {
  CHECK(cli::unescape("\\n%\\n") == "\n%\n");
  CHECK(cli::unescape("a\\tb\\\\") == "a\tb\\");
  CHECK(cli::unescape("\\0") == std::string(1, '\0'));
  CHECK(cli::unescape("\\xff\\x0A") == "\xff\n");
  CHECK_THROWS_AS(cli::unescape("\\"), UsageError);
  CHECK_THROWS_AS(cli::unescape("\\q"), UsageError);
  CHECK_THROWS_AS(cli::unescape("\\x4"), UsageError);
  CHECK_THROWS_AS(cli::unescape("\\xzz"), UsageError);
}

TEST_CASE("thread count follows --threads, else the cores this process may use") {
  cli::Common common;
  CHECK(cli::thread_count(common) >= 1);
  common.threads = 3;
  CHECK(cli::thread_count(common) == 3);
}
