// bytes-bench's output: the list names every test; a run writes its header, then each row as it
// is measured, in the format asked for; bad options are refused before anything is written.
#include <doctest/doctest.h>

#include "bytes/base/error.hpp"
#include "bytes/runs/bench_report.hpp"

using namespace bytes;
using namespace bytes::bench;

TEST_CASE("the list, and a run reported row by row") {
  const std::string list = list_text();
  size_t at = 0;
  for (const auto& t : tests()) {
    const size_t end = list.find('\n', at);
    REQUIRE(end != std::string::npos);
    CHECK(list.substr(at, end - at) == t.name + std::string(t.name.size() < 10 ? 10 - t.name.size() : 0, ' ') + " " + t.what);
    at = end + 1;
  }
  CHECK(at == list.size());

  Options o;
  o.tests = {"norm"};
  o.model_flags = {{"d_model", "64"}, {"ctx", "16"}};
  o.batch = 1;
  o.repetitions = 2;
  o.min_seconds = 0.001;
  std::vector<std::string> pieces;
  run_report(o, Format::csv, [&](std::string_view s) { pieces.emplace_back(s); });
  REQUIRE(pieces.size() >= 2);
  const Machine m = machine();
  CHECK(pieces[0] == header(Format::csv, m));
  for (size_t i = 1; i < pieces.size(); ++i) CHECK(pieces[i].find("norm") != std::string::npos);

  o.tests = {"nonsense"};
  pieces.clear();
  CHECK_THROWS_AS(run_report(o, Format::md, [&](std::string_view s) { pieces.emplace_back(s); }), UsageError);
  CHECK(pieces.empty());
}
