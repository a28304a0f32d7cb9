#include <doctest/doctest.h>
#include <xxhash.h>

#include <sys/resource.h>

#include <cstring>

#include "bytes/dataset.hpp"
#include "bytes/error.hpp"
#include "testing.hpp"

using namespace bytes;
using testing::TempDir;

namespace {

struct Written {
  std::vector<std::string> docs;
  std::vector<Split> splits;
  std::string stream[n_splits];
};

// Documents of awkward sizes (empty, tiny, several frames long) in every split.
Written write_dataset(const std::string& path, std::mt19937_64& rng, int n_docs, uint32_t block, int threads) {
  Written w;
  DatasetWriter writer(path, {3, block, threads, {{"doc_mode", "file"}}});
  uint32_t src = writer.add_source("src/a");
  writer.add_source("src/\xff-invalid-utf8");
  for (int i = 0; i < n_docs; ++i) {
    size_t len = i % 7 == 0 ? 0 : i % 5 == 0 ? rng() % (3 * block) : rng() % 300;
    std::string doc = testing::random_bytes(rng, len, i % 2 ? 4 : 256);
    Split s = Split(rng() % 3);
    writer.begin_doc(s, src + uint32_t(i % 2));
    // Arrives in uneven pieces, as a reader's chunks would.
    for (size_t off = 0; off < doc.size();) {
      size_t piece = std::min<size_t>(doc.size() - off, 1 + rng() % 5000);
      writer.append(doc.data() + off, piece);
      off += piece;
    }
    writer.end_doc();
    w.docs.push_back(doc);
    w.splits.push_back(s);
    w.stream[int(s)] += doc;
  }
  writer.finish();
  return w;
}

template <typename T>
T get_at(const std::string& data, size_t at) {
  T v;
  std::memcpy(&v, data.data() + at, sizeof v);
  return v;
}
template <typename T>
void put_at(std::string& data, size_t at, T v) {
  std::memcpy(data.data() + at, &v, sizeof v);
}

// Caps this process's address space a little above its present size while alive, so that a
// reader that allocates by a crafted size fails with bad_alloc instead of quietly succeeding.
struct AddressSpaceCap {
  rlimit saved{};
  explicit AddressSpaceCap(uint64_t headroom) {
    getrlimit(RLIMIT_AS, &saved);
    std::ifstream status("/proc/self/status");
    uint64_t vm_kib = 0;
    for (std::string key; status >> key;)
      if (key == "VmSize:" && status >> vm_kib) break;
    REQUIRE(vm_kib > 0);
    rlimit cap{vm_kib * 1024 + headroom, saved.rlim_max};
    REQUIRE(setrlimit(RLIMIT_AS, &cap) == 0);
  }
  ~AddressSpaceCap() { setrlimit(RLIMIT_AS, &saved); }
};

// What every whole-file reader does: open, check every frame, read every document.
void read_everything(const std::string& path) {
  Dataset ds(path);
  ds.verify();
  for (uint64_t i = 0; i < ds.docs(); ++i) ds.read_doc(i);
}

}  // namespace

TEST_CASE("documents come back exactly, whole and by random access") {
  TempDir dir;
  std::mt19937_64 rng(1);
  for (int threads : {1, 3}) {
    auto w = write_dataset(dir / "d.bds", rng, 60, 4096, threads);
    Dataset ds(dir / "d.bds");
    REQUIRE(ds.docs() == w.docs.size());
    CHECK(ds.sources() == 2);
    CHECK(ds.source(1) == "src/\xff-invalid-utf8");
    CHECK(ds.meta()["doc_mode"] == "file");
    ds.verify();
    for (size_t i = 0; i < w.docs.size(); ++i) {
      CHECK(ds.doc(i).split == w.splits[i]);
      CHECK(ds.read_doc(i) == w.docs[i]);
    }
    for (int s = 0; s < n_splits; ++s) {
      const std::string& stream = w.stream[s];
      CHECK(ds.stats(Split(s)).bytes == stream.size());
      std::string whole;
      ds.for_each_frame(Split(s), [&](const uint8_t* p, size_t n) { whole.append(reinterpret_cast<const char*>(p), n); });
      CHECK(whole == stream);
      for (int k = 0; k < 200 && !stream.empty(); ++k) {
        uint64_t off = rng() % stream.size(), n = rng() % std::min<uint64_t>(stream.size() - off, 20000);
        std::string got(n, '\0');
        ds.read(Split(s), off, n, reinterpret_cast<uint8_t*>(got.data()));
        REQUIRE(got == stream.substr(off, n));
      }
      std::string past(1, '\0');
      CHECK_THROWS_AS(ds.read(Split(s), stream.size(), 1, reinterpret_cast<uint8_t*>(past.data())), Error);
    }
    CHECK_THROWS_AS(ds.doc(ds.docs()), Error);
  }
}

TEST_CASE("the file is the same for any number of compression threads") {
  TempDir dir;
  std::mt19937_64 a(7), b(7);
  write_dataset(dir / "1.bds", a, 40, 4096, 1);
  write_dataset(dir / "4.bds", b, 40, 4096, 4);
  CHECK(testing::read_file(dir / "1.bds") == testing::read_file(dir / "4.bds"));
}

TEST_CASE("every flipped byte and every truncation is detected") {
  TempDir dir;
  std::mt19937_64 rng(3);
  {
    DatasetWriter writer(dir / "d.bds", {3, 4096, 1, {{"doc_mode", "line"}}});
    uint32_t src = writer.add_source("input.txt");
    for (int i = 0; i < 12; ++i) {
      std::string doc = testing::random_bytes(rng, i == 3 ? 5000 : 40, 16);
      writer.begin_doc(Split(i % 3), src);
      writer.append(doc.data(), doc.size());
      writer.end_doc();
    }
    writer.finish();
  }
  const std::string good = testing::read_file(dir / "d.bds");
  REQUIRE(good.size() > 200);
  read_everything(dir / "d.bds");
  const std::string bad = dir / "bad.bds";
  int undetected_flips = 0, undetected_cuts = 0;
  for (size_t at = 0; at < good.size(); ++at) {
    for (unsigned char mask : {0x01, 0x80, 0xff}) {
      std::string flipped = good;
      flipped[at] = char(flipped[at] ^ mask);
      testing::write_file(bad, flipped);
      try {
        read_everything(bad);
        ++undetected_flips;
        MESSAGE("flip at byte " << at << " went unnoticed");
      } catch (const Error& e) {
        CHECK(std::string(e.what()).find(bad) != std::string::npos);
      }
    }
  }
  for (size_t len = 0; len < good.size(); ++len) {
    testing::write_file(bad, good.substr(0, len));
    try {
      read_everything(bad);
      ++undetected_cuts;
    } catch (const Error& e) {
      std::string what = e.what();
      CHECK(what.find(bad) != std::string::npos);
      if (len >= 8) CHECK(what.find("truncated") != std::string::npos);
    }
  }
  CHECK(undetected_flips == 0);
  CHECK(undetected_cuts == 0);
  testing::write_file(bad, good + "x");
  CHECK_THROWS_WITH_AS(read_everything(bad), doctest::Contains("unexpected bytes at its end"), Error);
}

TEST_CASE("wrong magic and wrong versions are named as such") {
  TempDir dir;
  std::mt19937_64 rng(5);
  write_dataset(dir / "d.bds", rng, 5, 4096, 1);
  std::string data = testing::read_file(dir / "d.bds");
  // A later version with a valid header checksum: the reader must refuse by version, not by checksum.
  uint32_t version = 2;
  std::memcpy(data.data() + 8, &version, 4);
  uint64_t sum = XXH3_64bits(data.data(), 120);
  std::memcpy(data.data() + 120, &sum, 8);
  testing::write_file(dir / "v2.bds", data);
  CHECK_THROWS_WITH_AS(Dataset(dir / "v2.bds"), doctest::Contains("unsupported dataset version 2"), Error);
  testing::write_file(dir / "text.bds", "hello, this is not a dataset at all, just text\n");
  CHECK_THROWS_WITH_AS(Dataset(dir / "text.bds"), doctest::Contains("not a bytes dataset"), Error);
  testing::write_file(dir / "empty.bds", "");
  CHECK_THROWS_WITH_AS(Dataset(dir / "empty.bds"), doctest::Contains("empty file"), Error);
  CHECK_THROWS_AS(Dataset(dir / "missing.bds"), Error);
  CHECK_THROWS_AS(Dataset(dir.path.string()), Error);
}

TEST_CASE("a writer that is not finished leaves no file behind") {
  TempDir dir;
  {
    DatasetWriter writer(dir / "d.bds", {});
    writer.begin_doc(Split::train, writer.add_source("x"));
    writer.append("abc", 3);
    writer.end_doc();
  }
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path), {}) == 0);
  CHECK_THROWS_AS(DatasetWriter(dir / "d.bds", {3, 100, 1, {}}), UsageError);
  CHECK_THROWS_AS(DatasetWriter(dir / "d.bds", {99, 4096, 1, {}}), UsageError);
}

TEST_CASE("a crafted frame size is refused before anything is allocated by it") {
  // Checksums stop accidents, not crafted files: this one claims a 4 GiB frame, and its index,
  // every checksum and every sum agree with the claim.
  TempDir dir;
  {
    DatasetWriter writer(dir / "d.bds", {3, 4096, 1, {}});
    uint32_t src = writer.add_source("x");
    for (const char* doc : {"one", "two", "three"}) {
      writer.begin_doc(Split::train, src);
      writer.append(doc, std::strlen(doc));
      writer.end_doc();
    }
    writer.finish();
  }
  std::string data = testing::read_file(dir / "d.bds");
  const uint64_t docs = get_at<uint64_t>(data, 24), tables = get_at<uint64_t>(data, 48);
  const uint64_t tables_size = get_at<uint64_t>(data, 32) * 40 + get_at<uint64_t>(data, 56) + get_at<uint64_t>(data, 64);
  const uint32_t claim = 0xFFFFFFF0, real = get_at<uint32_t>(data, tables + 20);
  put_at<uint32_t>(data, tables + 20, claim);
  const size_t last_length = data.size() - 24 + 8;  // the last document absorbs the claim
  put_at<uint64_t>(data, last_length, get_at<uint64_t>(data, last_length) + (claim - real));
  put_at<uint64_t>(data, 104, XXH3_64bits(data.data() + data.size() - 24 * docs, 24 * docs));
  put_at<uint64_t>(data, 96, XXH3_64bits(data.data() + tables, tables_size));
  put_at<uint64_t>(data, 120, XXH3_64bits(data.data(), 120));
  testing::write_file(dir / "crafted.bds", data);
  AddressSpaceCap cap(256 << 20);
  CHECK_THROWS_WITH_AS(read_everything(dir / "crafted.bds"), doctest::Contains("more than the block size 4096"), Error);
}
