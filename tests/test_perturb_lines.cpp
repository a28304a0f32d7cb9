// bytes-perturb's run over files: the stream of the inputs is Perturber's output on their bytes,
// however many files hold them; records are perturb_record's, line by line; a file output is
// whole or absent.
#include <doctest/doctest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "bytes/base/error.hpp"
#include "bytes/text/perturb_lines.hpp"
#include "testing.hpp"

using namespace bytes;

TEST_CASE("the inputs are one stream; records are perturbed one by one; a bad one leaves no file") {
  testing::TempDir dir;
  std::mt19937_64 rng(41);
  const std::string a = testing::wordy_text(rng, 5000), b = testing::wordy_text(rng, 3000);
  testing::write_file(dir / "a.txt", a);
  testing::write_file(dir / "b.txt", b);
  const std::vector<NoiseSpec> chain = {parse_noise("typo:0.2"), parse_noise("word-delete:0.1")};

  Perturber p(chain, 7, NoiseUnit::codepoint);
  perturb_files(p, {dir / "a.txt", dir / "b.txt"}, "", dir / "out.txt");
  CHECK(testing::read_file(dir / "out.txt") == perturb_pieces(a + b, {}, chain, 7, NoiseUnit::codepoint));

  const std::string lines = "{\"id\": 1, \"text\": \"the quick brown fox\"}\n\n{\"text\": \"jumps over\", \"x\": [1]}\n";
  testing::write_file(dir / "r.jsonl", lines);
  Perturber q(chain, 7, NoiseUnit::codepoint), want_p(chain, 7, NoiseUnit::codepoint);
  perturb_files(q, {dir / "r.jsonl", dir / "r.jsonl"}, "text", dir / "r.out");
  std::string want;
  uint64_t records = 0;
  for (int twice = 0; twice < 2; ++twice)
    for (const std::string line : {"{\"id\": 1, \"text\": \"the quick brown fox\"}", "", "{\"text\": \"jumps over\", \"x\": [1]}"})
      perturb_record(want_p, line, "text", records, want);
  CHECK(records == 4);
  CHECK(testing::read_file(dir / "r.out") == want);

  testing::write_file(dir / "bad.jsonl", lines + "{\"id\": 2}\n");
  Perturber r(chain, 7, NoiseUnit::codepoint);
  const std::string where = "line 4 of " + dir / "bad.jsonl" + " ";
  CHECK_THROWS_WITH_AS(perturb_files(r, {dir / "bad.jsonl"}, "text", dir / "bad.out"),
                       doctest::Contains(where.c_str()), Error);
  CHECK(!std::filesystem::exists(dir / "bad.out"));
  CHECK_THROWS_AS(perturb_files(r, {dir / "missing.txt"}, "", dir / "m.out"), Error);
  CHECK(!std::filesystem::exists(dir / "m.out"));
}

TEST_CASE("the report has the perturber's counts; the list has every noise type") {
  Perturber p({parse_noise("drop:0.5"), parse_noise("upper")}, 3, NoiseUnit::codepoint);
  std::string out;
  p.feed("hello world, hello again", out);
  p.finish(out);
  const auto report = nlohmann::json::parse(noise_report(p))["report"];
  const auto counts = p.counts();
  REQUIRE(report.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(report[i]["noise"] == counts[i].type);
    CHECK(report[i]["rate"] == counts[i].rate);
    CHECK(report[i]["units"] == counts[i].units);
    CHECK(report[i]["edits"] == counts[i].edits);
    CHECK(report[i]["edit_rate"] == double(counts[i].edits) / double(counts[i].units));
  }
  CHECK(noise_report(Perturber({}, 0, NoiseUnit::byte)) == "{\"report\":[]}");

  const std::string list = noise_list();
  CHECK(size_t(std::count(list.begin(), list.end(), '\n')) == noise_types().size());
  CHECK(list.rfind("drop           0.", 0) == 0);
}
