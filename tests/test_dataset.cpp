#include <doctest/doctest.h>
#include <xxhash.h>
#include <zstd.h>

#include <sys/resource.h>

#include <cstring>

#include "bytes/formats/dataset.hpp"
#include "bytes/base/error.hpp"
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
  ds.for_each_doc([&](uint64_t i, Dataset::Doc) { ds.read_doc(i); });
}

// Every byte flipped (three ways) and every prefix: each must fail to read, naming the file.
void expect_every_flip_and_cut_detected(const std::string& good, const std::string& bad) {
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

TEST_CASE("a large index: blocks of documents, walked in order and at random") {
  TempDir dir;
  std::mt19937_64 rng(11);
  const uint64_t n = 2 * uint64_t(dataset_format::index_block_docs) + 1234;  // two whole index blocks and a part
  std::vector<Dataset::Doc> want;
  uint64_t stream[n_splits] = {};
  {
    DatasetWriter writer(dir / "d.bds", {3, 4096, 1, {}});
    for (int i = 0; i < 300; ++i) writer.add_source(std::to_string(i));
    uint32_t source = 0;
    for (uint64_t i = 0; i < n; ++i) {
      Split s = Split(rng() % 3);
      if (rng() % 100 == 0) source = uint32_t(rng() % 300);  // runs of one source, jumps both ways
      std::string doc = testing::random_bytes(rng, rng() % 20, 4);
      writer.begin_doc(s, source);
      writer.append(doc.data(), doc.size());
      writer.end_doc();
      want.push_back({s, source, stream[int(s)], doc.size()});
      stream[int(s)] += doc.size();
    }
    writer.finish();
  }
  Dataset ds(dir / "d.bds");
  REQUIRE(ds.docs() == n);
  auto same = [](const Dataset::Doc& a, const Dataset::Doc& b) {
    return a.split == b.split && a.source == b.source && a.offset == b.offset && a.length == b.length;
  };
  uint64_t seen = 0, compressed = 0;
  ds.for_each_doc([&](uint64_t i, Dataset::Doc d) {
    REQUIRE(i == seen++);
    REQUIRE(same(d, want[i]));
  });
  CHECK(seen == n);
  for (int k = 0; k < 2000; ++k) {
    uint64_t i = rng() % n;
    REQUIRE(same(ds.doc(i), want[i]));
  }
  // The index costs about a byte a document (4.3 bits of length, 1.6 of split here), not 24.
  for (int s = 0; s < n_splits; ++s) compressed += ds.stats(Split(s)).compressed;
  CHECK(ds.file_size() - compressed < 2 * n);
}

TEST_CASE("a version 1 file is still read") {
  // Written by bytes-prep 0.1.0 (version 1): --docs line --val 0.3 --test 0.3 of a.txt
  // "alpha\nbeta\n\ngamma\ndelta\n" and b.txt "epsilon\nzeta\neta\ntheta\n".
  const char* hex =
    "8942595445530d0a0100000080000000c702000000000000090000000000000003000000000000000200000000000000"
    "cd0000000000000012000000000000009800000000000000010000000000000001000000000000000700000000000000"
    "978c001975af69c2cc63ef9633181ba700000000000000003e4c7455e9c0916128b52ffd2405290000616c7068614858"
    "da1d28b52ffd240529000067616d6d61f81f801a28b52ffd241ce100006265746164656c7461657073696c6f6e7a6574"
    "61657461746865746141be19788000000000000000000000000000000012000000050000008b0a2d9b067ee630000000"
    "0000000000920000000000000000000000000000001200000005000000b780cfe4dc85b2810100000000000000a40000"
    "00000000000000000000000000290000001c000000e067a8da2be085c2020000000000000005000000612e7478740500"
    "0000622e7478747b22626c6f636b5f73697a65223a343139343330342c22637265617465645f6279223a226279746573"
    "20302e312e30222c226465647570223a66616c73652c2264656c696d69746572223a5b31305d2c22646f635f6d6f6465"
    "223a226c696e65222c22746573745f6672616374696f6e223a302e332c2276616c5f6672616374696f6e223a302e332c"
    "227a7374645f6c6576656c223a337d000000000000000005000000000000000000000000000000000000000000000004"
    "000000000000000000000002000000040000000000000000000000000000000000000002000000000000000000000005"
    "000000000000000000000001000000040000000000000005000000000000000000000002000000090000000000000007"
    "000000000000000100000002000000100000000000000004000000000000000100000002000000140000000000000003"
    "000000000000000100000002000000170000000000000005000000000000000100000002000000";
  std::string v1;
  for (const char* p = hex; *p; p += 2) v1 += char(std::stoi(std::string(p, 2), nullptr, 16));
  TempDir dir;
  testing::write_file(dir / "v1.bds", v1);
  Dataset ds(dir / "v1.bds");
  CHECK(ds.version() == 1);
  REQUIRE(ds.docs() == 9);
  const char* text[] = {"alpha", "beta", "", "gamma", "delta", "epsilon", "zeta", "eta", "theta"};
  const Split split[] = {Split::train, Split::test, Split::test, Split::val, Split::test,
                         Split::test, Split::test, Split::test, Split::test};
  for (uint64_t i = 0; i < 9; ++i) {
    CHECK(ds.read_doc(i) == text[i]);
    CHECK(ds.doc(i).split == split[i]);
    CHECK(ds.source(ds.doc(i).source) == (i < 5 ? "a.txt" : "b.txt"));
  }
  CHECK(ds.stats(Split::test).docs == 7);
  expect_every_flip_and_cut_detected(v1, dir / "bad.bds");
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
  expect_every_flip_and_cut_detected(good, dir / "bad.bds");
}

TEST_CASE("wrong magic and wrong versions are named as such") {
  TempDir dir;
  std::mt19937_64 rng(5);
  write_dataset(dir / "d.bds", rng, 5, 4096, 1);
  std::string data = testing::read_file(dir / "d.bds");
  // A later version with a valid header checksum: the reader must refuse by version, not by checksum.
  put_at<uint32_t>(data, 8, 3);
  put_at<uint64_t>(data, 120, XXH3_64bits(data.data(), 120));
  testing::write_file(dir / "v3.bds", data);
  CHECK_THROWS_WITH_AS(Dataset(dir / "v3.bds"), doctest::Contains("unsupported dataset version 3"), Error);
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
  REQUIRE(get_at<uint64_t>(data, 32) == 1);   // one frame
  REQUIRE(get_at<uint64_t>(data, 104) == 1);  // one index block
  const uint64_t tables = get_at<uint64_t>(data, 48), block_record = tables + 40;
  const uint64_t tables_size = 40 + 56 + get_at<uint64_t>(data, 56) + get_at<uint64_t>(data, 64);
  const uint32_t claim = 0xFFFFFFF0;
  put_at<uint32_t>(data, tables + 20, claim);
  // The index block, rewritten so that the last document absorbs the claim: split, length and
  // source columns.
  std::string raw = {0, 0, 0, 3, 3};
  for (uint64_t v = claim - 3 - 3; v; v >>= 7) raw += char(v >= 0x80 ? (v & 0x7f) | 0x80 : v);
  raw += std::string(3, '\0');
  std::string block(ZSTD_compressBound(raw.size()), '\0');
  block.resize(ZSTD_compress(block.data(), block.size(), raw.data(), raw.size(), 3));
  data.resize(get_at<uint64_t>(data, block_record));
  data += block;
  put_at<uint32_t>(data, block_record + 40, uint32_t(block.size()));
  put_at<uint32_t>(data, block_record + 44, uint32_t(raw.size()));
  put_at<uint64_t>(data, block_record + 48, XXH3_64bits(block.data(), block.size()));
  put_at<uint64_t>(data, 16, data.size());
  put_at<uint64_t>(data, 96, XXH3_64bits(data.data() + tables, tables_size));
  put_at<uint64_t>(data, 120, XXH3_64bits(data.data(), 120));
  testing::write_file(dir / "crafted.bds", data);
  AddressSpaceCap cap(256 << 20);
  CHECK_THROWS_WITH_AS(read_everything(dir / "crafted.bds"), doctest::Contains("more than the block size 4096"), Error);
}
