#include <doctest/doctest.h>

#include <map>

#include "bytes/base/error.hpp"
#include "bytes/text/prep.hpp"
#include "bytes/text/prep_commands.hpp"
#include "testing.hpp"

using namespace bytes;
using namespace bytes::prep;
using testing::TempDir;

namespace {

std::vector<std::string> cut(DocMode mode, const std::string& sep, const std::string& input,
                             const std::vector<size_t>& chunks) {
  std::vector<std::string> docs;
  std::string cur;
  Cutter cutter(
      mode, sep, [&](const uint8_t* p, size_t n) { cur.append(reinterpret_cast<const char*>(p), n); },
      [&] {
        docs.push_back(cur);
        cur.clear();
      });
  size_t off = 0;
  for (size_t i = 0; off < input.size(); ++i) {
    size_t n = std::min(chunks.empty() ? input.size() : chunks[i % chunks.size()], input.size() - off);
    cutter.feed(reinterpret_cast<const uint8_t*>(input.data()) + off, n);
    off += n;
  }
  cutter.finish();
  REQUIRE(cur.empty());
  return docs;
}

// The definitions of bytes-prep(1), written the slow and obvious way.
std::vector<std::string> reference(DocMode mode, const std::string& sep_arg, const std::string& input) {
  if (mode == DocMode::file) return {input};
  std::string sep = mode == DocMode::separator ? sep_arg : mode == DocMode::paragraph ? "\n\n" : doc_delimiter(mode, "");
  std::vector<std::string> docs;
  size_t start = 0;
  for (;;) {
    size_t at = input.find(sep, start);
    if (at == std::string::npos) break;
    docs.push_back(input.substr(start, at - start));
    start = at + sep.size();
  }
  if (start < input.size()) docs.push_back(input.substr(start));
  if (mode != DocMode::paragraph) return docs;
  std::vector<std::string> paragraphs;
  for (auto d : docs) {
    size_t a = d.find_first_not_of('\n');
    if (a == std::string::npos) continue;
    size_t b = d.find_last_not_of('\n');
    paragraphs.push_back(d.substr(a, b - a + 1));
  }
  return paragraphs;
}

Options small_options() {
  Options opt;
  opt.block_size = 4096;
  opt.memory_per_doc = 1000;  // so that long documents take the spill and map paths
  opt.threads = 2;
  return opt;
}

}  // namespace

TEST_CASE("documents are cut the same way whatever the read sizes") {
  std::mt19937_64 rng(11);
  const std::vector<std::pair<DocMode, std::string>> modes = {
      {DocMode::file, ""}, {DocMode::line, ""}, {DocMode::paragraph, ""}, {DocMode::nul, ""},
      {DocMode::separator, "\n%\n"}, {DocMode::separator, "aab"}, {DocMode::separator, "\xff"}};
  for (auto& [mode, sep] : modes) {
    for (int trial = 0; trial < 40; ++trial) {
      // A small alphabet of separator-ish bytes makes separators, near misses and runs common.
      std::string alphabet = std::string("\n%ab\0\xff", 6);
      std::string input;
      size_t len = rng() % 400;
      for (size_t i = 0; i < len; ++i) input += alphabet[rng() % alphabet.size()];
      auto expect = reference(mode, sep, input);
      const std::string mode_name = doc_mode_name(mode);  // clang 14 cannot capture a structured binding
      CAPTURE(mode_name);
      CAPTURE(trial);
      CHECK(cut(mode, sep, input, {}) == expect);
      CHECK(cut(mode, sep, input, {1}) == expect);
      CHECK(cut(mode, sep, input, {2, 1, 3}) == expect);
      CHECK(cut(mode, sep, input, {size_t(1 + rng() % 17), size_t(1 + rng() % 5)}) == expect);
    }
  }
}

TEST_CASE("cutting follows the documented rules on the edge cases") {
  CHECK(cut(DocMode::file, "", "", {}) == std::vector<std::string>{""});
  CHECK(cut(DocMode::line, "", "", {}).empty());
  CHECK(cut(DocMode::line, "", "a\n\nb\n", {}) == std::vector<std::string>{"a", "", "b"});
  CHECK(cut(DocMode::line, "", "a\nb", {}) == std::vector<std::string>{"a", "b"});
  CHECK(cut(DocMode::paragraph, "", "\n\none\ntwo\n\n\n\nthree\n", {}) == std::vector<std::string>{"one\ntwo", "three"});
  CHECK(cut(DocMode::separator, "\n%\n", "A\n%\nB\n%\n", {}) == std::vector<std::string>{"A", "B"});
  CHECK_THROWS_AS(Cutter(DocMode::separator, "", {}, {}), UsageError);
}

TEST_CASE("splits by content hash are close to the fractions asked for") {
  int counts[n_splits] = {};
  for (uint64_t i = 0; i < 100000; ++i) counts[int(split_for_hash(i * 0x9E3779B97F4A7C15ull, 0.1, 0.05))]++;
  CHECK(counts[1] == doctest::Approx(10000).epsilon(0.05));
  CHECK(counts[2] == doctest::Approx(5000).epsilon(0.07));
  CHECK(split_for_hash(~0ull, 0, 0) == Split::train);
  CHECK(split_for_hash(0, 1, 0) == Split::val);
}

TEST_CASE("a folder of awkward files round-trips exactly") {
  TempDir dir;
  std::mt19937_64 rng(2);
  std::map<std::string, std::string> files = {
      {"in/empty.txt", ""},
      {"in/invalid-utf8.txt", "caf\xc3 \xff\xfe end\n"},
      {"in/nul.bin", std::string("a\0b\0\0c", 6)},
      {"in/sub/deeper/huge-line.txt", std::string(50000, 'x') + "\n"},
      {"in/sub/random.dat", testing::random_bytes(rng, 20000)},
      {"in/crlf.txt", "one\r\ntwo\r\n"},
  };
  for (auto& [name, data] : files) testing::write_file(dir / name, data);
  std::filesystem::create_symlink("empty.txt", dir.path / "in/link.txt");  // not followed in folders

  Options opt = small_options();
  opt.skip_binary = false;
  auto stats = prepare({{dir / "in", std::nullopt}}, dir / "d.bds", opt);
  CHECK(stats.files == files.size());
  Dataset ds(dir / "d.bds");
  REQUIRE(ds.docs() == files.size());
  std::map<std::string, std::string> got;
  for (uint64_t i = 0; i < ds.docs(); ++i) {
    std::string src = ds.source(ds.doc(i).source);
    got[src.substr(dir.path.string().size() + 1)] = ds.read_doc(i);
  }
  CHECK(got == files);
  // Folders are walked in byte order of their paths, so the dataset is the same every time.
  CHECK(ds.source(0) == dir / "in/crlf.txt");

  // The same through line mode: each file's lines, in order.
  opt.mode = DocMode::line;
  prepare({{dir / "in/sub/deeper/huge-line.txt", std::nullopt}}, dir / "l.bds", opt);
  Dataset lines(dir / "l.bds");
  REQUIRE(lines.docs() == 1);
  CHECK(lines.read_doc(0) == std::string(50000, 'x'));
}

TEST_CASE("splits stay put when more inputs are added") {
  TempDir dir;
  std::string a, b;
  for (int i = 0; i < 300; ++i) a += "line a" + std::to_string(i) + "\n";
  for (int i = 0; i < 300; ++i) b += "line b" + std::to_string(i) + "\n";
  testing::write_file(dir / "a.txt", a);
  testing::write_file(dir / "b.txt", b);
  Options opt = small_options();
  opt.mode = DocMode::line;
  opt.val = 0.2;
  opt.test = 0.1;
  prepare({{dir / "a.txt", std::nullopt}}, dir / "1.bds", opt);
  prepare({{dir / "b.txt", std::nullopt}, {dir / "a.txt", std::nullopt}}, dir / "2.bds", opt);
  Dataset one(dir / "1.bds"), two(dir / "2.bds");
  std::map<std::string, Split> split_of;
  for (uint64_t i = 0; i < two.docs(); ++i) split_of[two.read_doc(i)] = two.doc(i).split;
  for (uint64_t i = 0; i < one.docs(); ++i) CHECK(split_of.at(one.read_doc(i)) == one.doc(i).split);
  CHECK(one.stats(Split::val).docs > 30);
  CHECK(one.stats(Split::test).docs > 10);
}

TEST_CASE("inputs named for a split go there whole; duplicates and binaries are dropped on request") {
  TempDir dir;
  testing::write_file(dir / "train.txt", "x\ny\nx\nz\n");
  testing::write_file(dir / "val.txt", "x\nv\n");
  testing::write_file(dir / "bin/blob", std::string("\x7f" "ELF\0\0\1", 7));
  testing::write_file(dir / "bin/text", "plain\n");
  Options opt = small_options();
  opt.mode = DocMode::line;
  opt.val = 0.5;
  opt.dedup = true;
  auto stats = prepare({{dir / "train.txt", Split::train}, {dir / "val.txt", Split::val}, {dir / "bin", std::nullopt}},
                       dir / "d.bds", opt);
  CHECK(stats.duplicates == 2);  // the second "x" in train.txt and the "x" in val.txt
  CHECK(stats.duplicate_bytes == 2);
  CHECK(stats.skipped_binary == 1);
  Dataset ds(dir / "d.bds");
  std::vector<std::string> docs;
  for (uint64_t i = 0; i < ds.docs(); ++i) docs.push_back(ds.read_doc(i));
  CHECK(docs == std::vector<std::string>{"x", "y", "z", "v", "plain"});
  CHECK(ds.doc(0).split == Split::train);
  CHECK(ds.doc(3).split == Split::val);
  CHECK(ds.stats(Split::train).docs + ds.stats(Split::val).docs + ds.stats(Split::test).docs == 5);
}

TEST_CASE("bad options are usage errors and leave no output") {
  TempDir dir;
  testing::write_file(dir / "a.txt", "a\n");
  Options opt = small_options();
  opt.val = 0.7;
  opt.test = 0.5;
  CHECK_THROWS_AS(prepare({{dir / "a.txt", std::nullopt}}, dir / "d.bds", opt), UsageError);
  CHECK_THROWS_AS(prepare({{dir / "missing.txt", std::nullopt}}, dir / "d.bds", small_options()), Error);
  CHECK_FALSE(std::filesystem::exists(dir / "d.bds"));
}

TEST_CASE("bytes-prep's commands: the run's report, and list, cat and words on what it wrote") {
  TempDir dir;
  testing::write_file(dir / "in/a.txt", "one\ntwo\n");
  testing::write_file(dir / "v.txt", "three\n");
  Options opt;
  opt.mode = DocMode::line;
  opt.val = 0;
  std::string out;
  const auto to_out = [&](std::string_view s) { out += s; };
  const Stats stats =
      prepare_and_report({{dir / "in", std::nullopt}, {dir / "v.txt", Split::val}}, dir / "d.bds", opt, true, to_out);
  CHECK(stats.split[0].docs == 2);
  CHECK(stats.split[1].docs == 1);
  CHECK(out == stats_json(stats, dir / "d.bds").dump() + "\n");
  out.clear();
  prepare_and_report({{dir / "in", std::nullopt}}, dir / "e.bds", opt, false, to_out);
  CHECK(out.empty());  // the text report goes to the log

  list_dataset(dir / "d.bds", true, false, to_out);
  CHECK(out.rfind(dir / "d.bds" + ": 3 documents from 2 sources, cut by line, ", 0) == 0);
  CHECK(out.find("split         docs") != std::string::npos);
  CHECK(out.find("\n2\tval\t5\t" + dir / "v.txt" + "\n") != std::string::npos);
  out.clear();
  list_dataset(dir / "d.bds", true, true, to_out);
  const size_t first_end = out.find('\n');
  const auto head = nlohmann::json::parse(out.substr(0, first_end));
  CHECK(head["docs"] == 3);
  CHECK(head["splits"]["val"]["docs"] == 1);
  CHECK(nlohmann::json::parse(out.substr(first_end + 1, out.find('\n', first_end + 1) - first_end - 1)) ==
        nlohmann::json{{"doc", 0}, {"split", "train"}, {"bytes", 3}, {"source", dir / "in/a.txt"}});

  auto cat = [&](CatOptions o) {
    out.clear();
    cat_dataset(dir / "d.bds", o, to_out);
    return out;
  };
  CHECK(cat({}) == "one\ntwo\nthree\n");  // each document with the newline that cut it
  CHECK(cat({"val"}) == "three\n");
  CHECK(cat({"all", {2, 0}}) == "three\none\n");
  CHECK(cat({"train", {}, true}) == std::string("one\0two\0", 8));
  CHECK(cat({"train", {}, false, false}) == "onetwo");
  CHECK(cat({"train", {}, false, true, "\\t|"}) == "one\t|two\t|");
  CHECK_THROWS_AS(cat({"all", {}, false, true, "\\q"}), UsageError);

  testing::write_file(dir / "w.txt", "the cat\tsat\nthere");
  out.clear();
  show_words(dir / "w.txt", WordRule::whitespace, 32, to_out);
  CHECK(out == "0\t4\tthe \n4\t4\tcat\\t\n8\t4\tsat\\n\n12\t5\tthere\n");
  CHECK_THROWS_AS(show_words(dir / "w.txt", WordRule::whitespace, 3, to_out), UsageError);
}
