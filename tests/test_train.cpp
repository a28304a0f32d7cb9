#include <doctest/doctest.h>

#include "bytes/base/error.hpp"
#include "bytes/runs/eval.hpp"
#include "bytes/runs/sampler.hpp"
#include "bytes/models/flat.hpp"
#include "testing.hpp"

using namespace bytes;

namespace {

// A dataset with the given train documents (and one val document).
void make_dataset(const std::string& path, const std::vector<std::string>& docs) {
  DatasetWriter w(path, {3, 4096, 1, {}});
  uint32_t src = w.add_source("t");
  for (const auto& d : docs) {
    w.begin_doc(Split::train, src);
    w.append(d.data(), d.size());
    w.end_doc();
  }
  w.begin_doc(Split::val, src);
  w.append("val", 3);
  w.end_doc();
  w.finish();
}

}  // namespace

TEST_CASE("batches are windows of BOS + document bytes, the same for the same (seed, step)") {
  testing::TempDir dir;
  make_dataset(dir / "d.bds", {"abc", "", "defgh"});
  Dataset ds(dir / "d.bds");
  for (uint64_t limit : {uint64_t(1) << 30, uint64_t(0)}) {  // in memory, and through the frames
    Sampler s(ds, Split::train, limit);
    CHECK(s.bytes() == 8);
    // The token stream, wrapping: BOS a b c BOS BOS d e f g h, BOS a …
    const std::vector<int32_t> stream = {BOS, 'a', 'b', 'c', BOS, BOS, 'd', 'e', 'f', 'g', 'h'};
    const int64_t B = 16, T = 12;
    std::vector<int32_t> x(B * T), y(B * T), x2(B * T), y2(B * T);
    s.batch(7, 3, B, T, x.data(), y.data());
    s.batch(7, 3, B, T, x2.data(), y2.data());
    CHECK(x == x2);
    CHECK(y == y2);
    for (int64_t b = 0; b < B; ++b) {
      // Each window is a stretch of the cyclic stream, and y is x shifted by one.
      bool found = false;
      for (size_t start = 0; start < stream.size() && !found; ++start) {
        bool ok = true;
        for (int64_t t = 0; t < T && ok; ++t) ok = x[size_t(b * T + t)] == stream[(start + size_t(t)) % stream.size()];
        found = ok;
      }
      CHECK(found);
      for (int64_t t = 0; t + 1 < T; ++t) CHECK(y[size_t(b * T + t)] == x[size_t(b * T + t + 1)]);
    }
    s.batch(7, 4, B, T, x2.data(), y2.data());
    CHECK(x != x2);
  }
  make_dataset(dir / "e.bds", {});
  Dataset empty(dir / "e.bds");
  CHECK_THROWS_AS(Sampler(empty, Split::train), Error);
}

TEST_CASE("scoring follows the window protocol: every byte once, windows no longer than ctx") {
  FlatModel model(testing::flat_config(64, 1, 16));
  model.init(2);
  std::string doc;
  for (int i = 0; i < 100; ++i) doc += char('a' + i % 7);
  auto u = reinterpret_cast<const uint8_t*>(doc.data());
  Scorer one{model, 16, 1}, batched{model, 16, 8}, overlapped{model, 4, 8};
  auto a = one.bits(u, doc.size()), b = batched.bits(u, doc.size()), c = overlapped.bits(u, doc.size());
  REQUIRE(a.size() == doc.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i] == doctest::Approx(b[i]).epsilon(1e-5));
    CHECK(a[i] > 0);
  }
  // The first ctx bytes have their whole history in either case, so the strides agree there.
  for (size_t i = 0; i < 16; ++i) CHECK(a[i] == doctest::Approx(c[i]).epsilon(1e-4));
  // A single byte is scored from BOS alone: the model's first-position distribution.
  std::vector<int32_t> bos = {BOS}, target = {'a'};
  double nats = model.forward(bos.data(), target.data(), 1, 1);
  CHECK(one.bits(u, 1)[0] == doctest::Approx(nats / std::log(2.0)).epsilon(1e-6));
  CHECK(zstd_bpb(u, doc.size()) < 2.0);
}

TEST_CASE("a config's flags make it again; flags given with a model file must agree with it") {
  const Config flat = Config::make("flat", {{"d_model", "64"}, {"n_layers", "1"}, {"ctx", "16"}, {"rope_base", "12345.678901234567"}});
  const Config word = testing::word_model_config(64, 1, 12, 64, 1, 64, 1);
  const Config patch = testing::patch_config("4x2", 64, 1, 64, 64, 1);
  for (const Config* c : {&flat, &word, &patch}) {
    std::map<std::string, std::string> given;
    for (const auto& [field, text] : c->flags()) given[field->name] = text;
    CHECK(Config::make(c->arch(), given) == *c);  // reals too, exactly
    c->check_agrees(c->arch(), given, "the model");
  }
  // Agreeing flags, however spelled: another form of a number, one value for every stage, --ctx
  // for a word model's context in words.
  flat.check_agrees("", {{"d_model", "64"}, {"ffn_hidden", "192"}, {"norm_eps", "0.00001"}}, "the model");
  word.check_agrees("word", {{"ctx", "12"}, {"dec_layers", "1"}}, "the model");
  patch.check_agrees("", {{"inner_d_model", "64"}, {"patch", "4x2"}}, "the model");
  // Contradicting ones name the flag, the given value and the model's.
  CHECK_THROWS_WITH_AS(flat.check_agrees("", {{"d_model", "128"}}, "the --init model"),
                       "--d-model 128 contradicts the --init model's 64", UsageError);
  CHECK_THROWS_WITH_AS(flat.check_agrees("", {{"n_layers", "2"}}, "M"), "--layers 2 contradicts M's 1", UsageError);
  CHECK_THROWS_WITH_AS(flat.check_agrees("", {{"rope_base", "12345.6789"}}, "M"),
                       "--rope-base 12345.6789 contradicts M's 12345.678901234567", UsageError);
  CHECK_THROWS_WITH_AS(flat.check_agrees("word", {}, "M"), "--arch word contradicts M, a flat model", UsageError);
  CHECK_THROWS_WITH_AS(word.check_agrees("", {{"ctx", "16"}}, "M"), "--ctx 16 contradicts M's 12", UsageError);
  CHECK_THROWS_WITH_AS(patch.check_agrees("", {{"inner_layers", "1,2"}}, "M"), "--inner-layers 1,2 contradicts M's 1,1",
                       UsageError);
  CHECK_THROWS_WITH_AS(flat.check_agrees("", {{"enc_d_model", "64"}}, "M"),
                       "--enc-d-model contradicts M: a flat model has no such setting", UsageError);
  CHECK_THROWS_WITH_AS(flat.check_agrees("", {{"n_heads", "1"}}, "M"), doctest::Contains("no such setting"), UsageError);
  CHECK_THROWS_WITH_AS(flat.check_agrees("", {{"d_model", "wide"}}, "M"), doctest::Contains("must be an integer"), UsageError);
}

TEST_CASE("--conditional lines: two strings, a blank line skipped, anything else a named error") {
  auto pair = parse_conditional(R"({"target":" to be","context":"To be, or not","n":1})");
  REQUIRE(pair);
  CHECK(pair->context == "To be, or not");
  CHECK(pair->target == " to be");
  pair = parse_conditional(R"({"context":"","target":"\u00e9\n"})");
  REQUIRE(pair);
  CHECK(pair->context.empty());
  CHECK(pair->target == "\xc3\xa9\n");
  CHECK_FALSE(parse_conditional(" \t\r"));
  CHECK_FALSE(parse_conditional(""));
  CHECK_THROWS_WITH_AS(parse_conditional("not json"), "is not JSON", Error);
  CHECK_THROWS_WITH_AS(parse_conditional(R"({"context":"a","target":"b")"), "is not JSON", Error);
  for (const char* bad : {R"({"context":"a"})", R"({"context":5,"target":"b"})", R"(["context","target"])", "7"})
    CHECK_THROWS_WITH_AS(parse_conditional(bad), doctest::Contains("needs string fields"), Error);
  const std::string deep = "{\"context\":\"a\",\"target\":\"b\",\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  CHECK_THROWS_WITH_AS(parse_conditional(deep), doctest::Contains("nested deeper"), Error);
}
