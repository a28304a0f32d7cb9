#include <doctest/doctest.h>

#include <sys/resource.h>

#include <csignal>
#include <cstring>
#include <fstream>

#include "bytes/base/error.hpp"
#include "bytes/base/interrupt.hpp"
#include "bytes/formats/dataset.hpp"
#include "bytes/formats/run_state.hpp"
#include "bytes/runs/checkpoint.hpp"
#include "bytes/runs/train.hpp"
#include "bytes/models/flat.hpp"
#include "testing.hpp"

using namespace bytes;

TEST_CASE("bf16 training warns where bf16 products are clearly slower than f32 ones, and only there") {
  CHECK(bf16_speed_warning(0.0).empty());  // no bf16 kernels: a warning of its own (bytes-train)
  CHECK(bf16_speed_warning(0.93).empty());  // within a shared machine's noise of f32
  CHECK(bf16_speed_warning(1.8).empty());
  const std::string slower = bf16_speed_warning(0.49);
  CHECK(slower.find("0.49x") != std::string::npos);
  CHECK(slower.find(matmul_impl(Precision::f32)) != std::string::npos);
  CHECK(slower.find('\n') == std::string::npos);
}

TEST_CASE("the state format carries any config text and the caller's verdict on it") {
  testing::TempDir dir;
  std::vector<float> params = {1, 2, 3};
  TrainState st;
  st.step = 2;
  st.train_seconds = 0.25;
  st.m = {4, 5, 6};
  st.v = {7, 8, 9};
  save_run_state(dir / "s.bin", R"({"any":"config"})", params, st);
  std::vector<float> back(3);
  TrainState got;
  std::string seen;
  load_run_state(dir / "s.bin", back, got, [&](const std::string& config) { seen = config; });
  CHECK(seen == R"({"any":"config"})");
  CHECK(back == params);
  CHECK(got.m == st.m);
  CHECK(got.v == st.v);
  CHECK(got.step == 2);
  CHECK(got.train_seconds == 0.25);
  CHECK_THROWS_WITH_AS(load_run_state(dir / "s.bin", back, got, [](const std::string&) { throw Error("not mine"); }),
                       "not mine", Error);
  std::vector<float> four(4);
  CHECK_THROWS_WITH_AS(load_run_state(dir / "s.bin", four, got, [](const std::string&) {}),
                       doctest::Contains("does not fit this model"), Error);
  // Config text that is not JSON is the file's fault, found before the caller is asked.
  save_run_state(dir / "t.bin", "{not json", params, st);
  CHECK_THROWS_WITH_AS(load_run_state(dir / "t.bin", back, got, [](const std::string&) { throw Error("asked"); }),
                       doctest::Contains("its config is not JSON"), Error);
}

TEST_CASE("state.bin: round trip; every truncation, flipped byte and foreign size is refused") {
  testing::TempDir dir;
  const Config cfg = testing::flat_config(64, 1, 16);
  FlatModel model(cfg);
  model.init(3);
  TrainState st;
  st.step = 7;
  st.total_steps = 9;
  st.bytes = 1234;
  st.seconds = 1.5;
  st.m.assign(model.params.size(), 0.25f);
  st.v.assign(model.params.size(), 0.5f);
  save_state(dir / "state.bin", model, st);

  FlatModel back(cfg);
  TrainState got;
  load_state(dir / "state.bin", back, got);
  CHECK(back.params == model.params);
  CHECK(got.m == st.m);
  CHECK(got.v == st.v);
  CHECK(got.step == 7);
  CHECK(got.total_steps == 9);
  CHECK(got.bytes == 1234);

  const std::string good = testing::read_file(dir / "state.bin");
  auto refused = [&](const std::string& data) {
    testing::write_file(dir / "bad.bin", data);
    FlatModel m(cfg);
    TrainState s;
    try {
      load_state(dir / "bad.bin", m, s);
    } catch (const Error&) {
      return true;
    }
    return false;
  };
  for (size_t n : {size_t(0), size_t(8), size_t(23), size_t(100), good.size() - 1}) CHECK(refused(good.substr(0, n)));
  CHECK(refused(good + "x"));
  std::mt19937_64 rng(5);
  for (int i = 0; i < 200; ++i) {
    std::string bad = good;
    bad[rng() % bad.size()] ^= char(1 + rng() % 255);
    CHECK(refused(bad));
  }
  // A config length that points past the file: refused by size, nothing allocated by it.
  std::string huge = good;
  const uint32_t len = 0xFFFFFFF0u;
  std::memcpy(huge.data() + 12, &len, 4);
  CHECK(refused(huge));
  // Another model's state.
  FlatModel other(testing::flat_config(128, 1, 16));
  TrainState so;
  so.m.assign(other.params.size(), 0.0f);
  so.v.assign(other.params.size(), 0.0f);
  save_state(dir / "other.bin", other, so);
  CHECK(refused(testing::read_file(dir / "other.bin")));
}

TEST_CASE("a checkpoint that cannot be written throws, leaves no file and leaks nothing") {
  // Run under the sanitized suite, LeakSanitizer fails this test if the write error leaks (the
  // checksum state once did).
  testing::TempDir dir;
  FlatModel model(testing::flat_config(64, 1, 16));
  model.init(1);
  TrainState st;
  st.m.assign(model.params.size(), 0.0f);
  st.v.assign(model.params.size(), 0.0f);
  std::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  getrlimit(RLIMIT_FSIZE, &old);
  rlimit small = old;
  small.rlim_cur = 4096;
  setrlimit(RLIMIT_FSIZE, &small);
  CHECK_THROWS_AS(save_state(dir / "state.bin", model, st), Error);
  setrlimit(RLIMIT_FSIZE, &old);
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path), {}) == 0);
}

TEST_CASE("metrics past the checkpoint are dropped, and a line cut short with them") {
  testing::TempDir dir;
  testing::write_file(dir / "m.jsonl", "{\"step\":1}\n{\"step\":2}\n{\"step\":3}\n{\"step\":4}\n");
  trim_metrics(dir / "m.jsonl", 2);
  CHECK(testing::read_file(dir / "m.jsonl") == "{\"step\":1}\n{\"step\":2}\n");
  testing::write_file(dir / "m.jsonl", "{\"step\":1}\n{\"ste");
  trim_metrics(dir / "m.jsonl", 5);
  CHECK(testing::read_file(dir / "m.jsonl") == "{\"step\":1}\n");
  trim_metrics(dir / "none.jsonl", 5);  // no metrics yet: nothing to do
  CHECK_FALSE(std::filesystem::exists(dir / "none.jsonl"));
}

TEST_CASE("a run directory: one user at a time, its stale temporaries removed, runs started or resumed") {
  testing::TempDir dir;
  const std::string run = dir / "run";
  {
    RunDirectory first(run);
    CHECK_THROWS_WITH_AS(RunDirectory{run}, doctest::Contains("another bytes-train"), Error);
  }
  testing::write_file(run + "/.state.bin.tmp.a1B2c3", "x");
  testing::write_file(run + "/.model.safetensors.tmp.XyZ789", "x");
  testing::write_file(run + "/.state.bin.tmp.toolong", "x");
  testing::write_file(run + "/.notes.tmp.123456", "x");
  TrainOptions o;
  o.model = testing::flat_config(64, 1, 16);
  o.seed = 4;
  o.config_text = "seed=4\n";
  FlatModel model(o.model);
  TrainState st;
  RunDirectory dirs(run);
  CHECK_FALSE(std::filesystem::exists(run + "/.state.bin.tmp.a1B2c3"));
  CHECK_FALSE(std::filesystem::exists(run + "/.model.safetensors.tmp.XyZ789"));
  CHECK(std::filesystem::exists(run + "/.state.bin.tmp.toolong"));
  CHECK(std::filesystem::exists(run + "/.notes.tmp.123456"));
  dirs.start(o, model, st);
  FlatModel init(o.model);
  init.init(4);
  CHECK(model.params == init.params);
  CHECK(st.m == Buffer<float>(model.params.size(), 0.0f));
  CHECK(testing::read_file(run + "/config.toml") == "seed=4\n");
  st.step = 3;
  dirs.log("{\"step\":3}\n");
  dirs.checkpoint(model, st);
  FlatModel other(o.model);
  TrainState again;
  CHECK_THROWS_WITH_AS(dirs.start(o, other, again), doctest::Contains("already holds a run"), Error);
  o.resume = true;
  dirs.start(o, other, again);
  CHECK(other.params == model.params);
  CHECK(again.step == 3);
  CHECK(testing::read_file(run + "/metrics.jsonl") == "{\"step\":3}\n");
  RunDirectory empty(dir / "empty");
  CHECK_THROWS_WITH_AS(empty.start(o, other, again), doctest::Contains("nothing to resume"), Error);
}

namespace {

// A dataset of wordy text, train and val.
void wordy_dataset(const std::string& path, uint64_t seed) {
  DatasetWriter w(path, {3, 4096, 1, {}});
  const uint32_t src = w.add_source("t");
  std::mt19937_64 rng(seed);
  for (Split split : {Split::train, Split::val}) {
    const std::string text = testing::wordy_text(rng, 4000);
    w.begin_doc(split, src);
    w.append(text.data(), text.size());
    w.end_doc();
  }
  w.finish();
}

std::vector<nlohmann::json> metrics_rows(const std::string& run) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(run + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

}  // namespace

TEST_CASE("file_checksum is XXH3-64 of the whole file") {
  testing::TempDir dir;
  testing::write_file(dir / "empty", "");
  CHECK(file_checksum(dir / "empty") == "2d06800538d394c2");  // XXH3-64 of no bytes (xxHash's test vector)
  testing::write_file(dir / "a", "abc");
  testing::write_file(dir / "b", "abd");
  CHECK(file_checksum(dir / "a").size() == 16);
  CHECK(file_checksum(dir / "a") != file_checksum(dir / "b"));
  CHECK_THROWS_AS(file_checksum(dir / "missing"), Error);
}

TEST_CASE("an --init run starts from its parent's weights and zero moments, checkpointed at step 0") {
  testing::TempDir dir;
  wordy_dataset(dir / "d.bds", 3);
  TrainOptions o;
  o.dataset = dir / "d.bds";
  o.run_dir = dir / "parent";
  o.model = testing::flat_config(64, 1, 16);
  o.batch = 2;
  o.max_steps = 6;
  o.val_every = 0;
  o.val_bytes = 256;
  train(o);
  const std::string parent = dir / "parent/model.safetensors";

  // No budget: the run is made at step 0 and not trained; its model is the parent, byte for byte.
  TrainOptions c = o;
  c.run_dir = dir / "zero";
  c.max_steps = 0;
  c.init = parent;
  c.seed = 9;  // the weights are the parent's whatever the seed
  const TrainReport zero = train(c);
  CHECK(zero.step == 0);
  CHECK(testing::read_file(c.run_dir + "/model.safetensors") == testing::read_file(parent));
  FlatModel loaded(o.model);
  TrainState st;
  load_state(c.run_dir + "/state.bin", loaded, st);
  CHECK(loaded.params == load_model(parent)->params);
  CHECK(st.step == 0);
  CHECK(st.bytes == 0);
  CHECK(st.m == Buffer<float>(loaded.params.size(), 0.0f));
  CHECK(st.v == Buffer<float>(loaded.params.size(), 0.0f));

  // Killed after its config was written, before its step-0 checkpoint: resumed, it reads the
  // parent again (as a run from scratch starts from its seed's weights again).
  TrainOptions killed = c;
  killed.run_dir = dir / "killed";
  killed.config_text = "steps = 0\n";
  testing::write_file(killed.run_dir + "/config.toml", killed.config_text);
  killed.resume = true;
  train(killed);
  CHECK(testing::read_file(killed.run_dir + "/model.safetensors") == testing::read_file(parent));

  // Trained: every row names the parent and its checksum; a fresh schedule (warmup from step 0).
  c.run_dir = dir / "continued";
  c.max_steps = 4;
  c.log_every = 1;
  train(c);
  const auto rows = metrics_rows(c.run_dir);
  REQUIRE(rows.size() == 4);
  for (const auto& r : rows) {
    CHECK(r.at("init") == parent);
    CHECK(r.at("init_checksum") == file_checksum(parent));
  }
  CHECK(rows[0].at("lr").get<double>() == doctest::Approx(c.lr / double(c.warmup)));
  CHECK(metrics_rows(o.run_dir)[0].count("init") == 0);  // a run from scratch names none

  // A checksum the file does not have, or a model of other sizes: refused before the run directory.
  TrainOptions bad = c;
  bad.run_dir = dir / "bad";
  bad.init_checksum = "0000000000000000";
  CHECK_THROWS_WITH_AS(train(bad), doctest::Contains("checksum"), Error);
  bad.init_checksum = "";
  bad.model = testing::flat_config(128, 1, 16);
  CHECK_THROWS_WITH_AS(train(bad), doctest::Contains("not the run's"), Error);
  bad.model = o.model;
  bad.init = dir / "d.bds";
  CHECK_THROWS_AS(train(bad), Error);
  CHECK_FALSE(std::filesystem::exists(bad.run_dir));
}

// Last in this file: the interrupt flag, once set, stays set for the rest of the process.
TEST_CASE("a signal ends the run after the step it arrived in, with the checkpoint of the last logged step") {
  testing::TempDir dir;
  wordy_dataset(dir / "d.bds", 2);
  TrainOptions o;
  o.dataset = dir / "d.bds";
  o.run_dir = dir / "run";
  o.model = testing::flat_config(64, 1, 16);
  o.batch = 2;
  o.max_steps = 50;
  o.log_every = 3;
  o.val_every = 0;
  o.checkpoint_every = 0;  // only the last one
  o.val_bytes = 256;
  install_interrupt_handlers();
  TrainHooks hooks;
  int64_t logged = 0;
  double val_bpb = -1;
  // Raised after step 7 read the flag: step 8 is the last.
  hooks.on_step = [](const TrainReport& r) {
    if (r.step == 7) std::raise(SIGTERM);
  };
  hooks.on_log = [&](const TrainReport& r) {
    logged = r.step;
    val_bpb = r.val_bpb;
  };
  CHECK_THROWS_AS(train(o, hooks), Interrupted);
  CHECK(interrupted());
  CHECK(logged == 8);
  CHECK(val_bpb == -1);  // validation is skipped once a signal is in
  FlatModel model(o.model);
  TrainState st;
  load_state(o.run_dir + "/state.bin", model, st);
  CHECK(st.step == 8);
  CHECK(st.total_steps == 50);
  std::ifstream metrics(o.run_dir + "/metrics.jsonl");
  std::string line, last;
  while (std::getline(metrics, line)) last = line;
  CHECK(last.rfind("{\"step\":8,", 0) == 0);
}
